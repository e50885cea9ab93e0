"""The API before an operator's Heat (DBAAS_HEAT_URL), without starting any server: the
plugin check at ``dbaas up`` against a fake gateway (it stands in for Heat's resource-type
list), and ``dbaas plugin-dir``."""
import socket
from pathlib import Path

import pytest

import heat_plugins
from dbaas_api import cli, errors
from dbaas_api.config import Settings
from dbaas_api.profiles import control_plane
from dbaas_api.profiles import external
from dbaas_api.profiles.external import External

LOCAL = {"resource_registry": {"DBaaS::Server": "DBaaS::Local::Server",
                               "DBaaS::ClusterMember": "DBaaS::Local::ClusterMember"}}
OPENSTACK = {"resource_registry": {"DBaaS::Server": "../drivers/openstack/server.yaml"}}


class FakeGateway:
    """Heat's resource types, or Heat not answering (``types=None``)."""
    types = set()

    def __init__(self, settings):
        pass

    def resource_types(self, prefix):
        if self.types is None:
            raise errors.ServiceUnavailable("The orchestration service is unavailable.")
        return {t for t in self.types if t.startswith(prefix)}


@pytest.fixture
def plane(tmp_path, monkeypatch):
    monkeypatch.setattr("dbaas_api.heat_gateway.HeatGateway", FakeGateway)
    monkeypatch.setattr("socket.create_connection", lambda address, timeout: _Connected())
    return control_plane(Settings.from_env(env={}, state_dir=tmp_path, heat_url="http://heat.example:8004/v1"))


class _Connected:
    def close(self):
        pass


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # nothing listens once it is closed


def test_a_heat_url_means_the_api_alone(plane):
    assert isinstance(plane, External)
    assert plane._env()["DBAAS_HEAT_URL"] == "http://heat.example:8004/v1"
    assert [row[0] for row in plane.status()] == ["api"]


def test_a_heat_with_the_plugins_passes(plane):
    FakeGateway.types = {"OS::Heat::None", "DBaaS::Database", "DBaaS::Local::Server", "DBaaS::Local::ClusterMember"}
    plane.check_plugins(LOCAL)
    FakeGateway.types = {"DBaaS::Database"}
    plane.check_plugins(OPENSTACK)   # the cloud driver's server is a nested template


@pytest.mark.parametrize("types", [{"OS::Nova::Server"}, {"DBaaS::Database"}])
def test_an_engine_without_the_plugins_is_refused_saying_what_to_do(plane, types):
    FakeGateway.types = types
    with pytest.raises(RuntimeError) as raised:
        plane.check_plugins(LOCAL)
    message = str(raised.value)
    assert "http://heat.example:8004/v1" in message and "DBaaS::Local::Server" in message
    assert "plugin_dirs" in message and "dbaas plugin-dir" in message


def test_a_heat_that_does_not_answer_is_named(plane):
    FakeGateway.types = None
    with pytest.raises(RuntimeError, match="The Heat at http://heat.example:8004/v1 .* does not answer"):
        plane.check_plugins(LOCAL)


def test_a_heat_nothing_listens_for_is_named_at_once(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    plane = control_plane(Settings.from_env(env={}, state_dir=tmp_path, heat_url=url))
    with pytest.raises(RuntimeError, match=f"The Heat at {url} .* does not answer"):
        plane.check_plugins(LOCAL)


def test_plugin_dir_prints_the_directory_heat_loads(capsys):
    assert cli.main(["plugin-dir"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed == Path(heat_plugins.__file__).resolve().parent
    assert (printed / "local_server.py").exists() and printed.is_absolute()
    assert external.PLUGIN_TYPE in (printed / "database.py").read_text()
