"""The action endpoint's dispatch over HTTP, against the FAKE gateway in api_fakes (not Heat)."""
import pytest

from tests.unit.api_fakes import Harness, assert_trove_error

INSTANCE = "6d4c3b2a-1f0e-4d9c-8b7a-000000000001"


@pytest.fixture
def api():
    return Harness()


@pytest.mark.parametrize("body", [{}, {"restart": {}, "resize": {}}, {"reboot": {}}, [], "restart"])
def test_not_exactly_one_known_action_is_400(api, body):
    assert_trove_error(api.post(f"/instances/{INSTANCE}/action", body), 400, "badRequest")
