"""Shapes the unmodified clients send that Trove's own schema would refuse, over the FAKE
gateway and renderer (api_fakes). The real clients run in tests/e2e/test_clients.py."""
import pytest

from tests.unit.api_fakes import Harness, assert_trove_error


@pytest.mark.parametrize("flavor", ["2", 2, {"id": "2"}, "db.small"])
def test_create_accepts_openstacksdks_flavor_for_flavorref(flavor):
    api = Harness()
    response = api.post("/instances", {"instance": {"name": "sdk", "flavor": flavor, "volume": {"size": 1}}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["instance"]["flavor"]["id"] == "2"


def test_flavorref_wins_over_flavor_and_a_bad_flavor_is_400():
    api = Harness()
    both = api.post("/instances", {"instance": {"name": "x", "flavorRef": "1", "flavor": "2", "volume": {"size": 1}}})
    assert both.get_json()["instance"]["flavor"]["id"] == "1"
    bad = api.post("/instances", {"instance": {"name": "x", "flavor": {"id": "nope"}, "volume": {"size": 1}}})
    assert_trove_error(bad, 400, "badRequest")
