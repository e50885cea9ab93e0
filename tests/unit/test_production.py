"""The production profile's own pieces, without starting any server."""
import socket
import time

import pytest

from dbaas_api.config import Settings
from dbaas_api.profiles import control_plane, servers
from dbaas_api.profiles.production import Production


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # nothing listens once it is closed


def _settings(tmp_path, **overrides):
    values = dict(profile="production", heat_engines=3,
                  heat_database_url="mysql+pymysql://heat:pw@127.0.0.1:3306/heat",
                  heat_transport_url="rabbit://heat:pw@127.0.0.1:5672/heat")
    values.update(overrides)
    return Settings.from_env(env={}, state_dir=tmp_path, **values)


def test_heat_conf_points_every_service_at_the_database_and_the_bus(tmp_path):
    production = control_plane(_settings(tmp_path))
    assert isinstance(production, Production) and len(production.engines) == 3
    assert production.mariadb is None and production.rabbit is None   # the operator's own
    files = production.write_config(production.engines)
    conf = files.conf.read_text()
    assert "transport_url = rabbit://heat:pw@127.0.0.1:5672/heat" in conf
    assert "connection = mysql+pymysql://heat:pw@127.0.0.1:3306/heat" in conf
    assert "convergence_engine = false" in conf and "sqlite" not in conf and "fake://" not in conf
    assert "plugin_dirs = " in conf and "num_engine_workers = 1" in conf
    assert files.conf.stat().st_mode & 0o077 == 0   # it holds both passwords
    engine_2 = (files.dir / "engine-2.conf").read_text()
    assert "host = engine-2" in engine_2 and "heat-engine-2.log" in engine_2
    assert production.engines[1].argv[1:] == ("--config-file", str(files.conf), "--config-file",
                                              str(files.dir / "engine-2.conf"))


def test_convergence_engine_is_a_setting(tmp_path):
    production = Production(_settings(tmp_path, heat_convergence=True))
    assert "convergence_engine = true" in production.write_config().conf.read_text()


def test_private_servers_when_no_urls_are_given(tmp_path):
    production = Production(_settings(tmp_path, heat_database_url="", heat_transport_url="",
                                      heat_db_port=23306, rabbit_port=25680))
    assert production.database_url.startswith("mysql+pymysql://heat:")
    assert "@127.0.0.1:23306/heat" in production.database_url
    assert production.transport_url.startswith("rabbit://heat:") and "@127.0.0.1:25680/heat" in production.transport_url
    password = (tmp_path / "rabbitmq" / "heat-password")
    assert password.stat().st_mode & 0o077 == 0 and password.read_text() in production.transport_url


def test_the_state_dir_remembers_its_profile(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "profile").write_text("production\n")
    settings = Settings.from_env(env={}, state_dir=tmp_path, heat_database_url="mysql+pymysql://h:p@x/heat",
                                 heat_transport_url="rabbit://h:p@x/heat")
    assert isinstance(control_plane(settings), Production)
    assert not isinstance(control_plane(settings, "embedded"), Production)


@pytest.mark.parametrize("probe, which", [
    (lambda port: servers.probe_rabbit(f"rabbit://heat:pw@127.0.0.1:{port}/heat", timeout=1), "RabbitMQ"),
    (lambda port: servers.probe_database(f"mysql+pymysql://heat:pw@127.0.0.1:{port}/heat", timeout=1), "MariaDB"),
])
def test_an_unreachable_backing_service_is_named_with_where_at_once(probe, which):
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(servers.Unreachable) as raised:
        probe(port)
    assert which in str(raised.value) and f"127.0.0.1:{port}" in str(raised.value)
    assert "pw" not in str(raised.value)
    assert time.monotonic() - started < 3
