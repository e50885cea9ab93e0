"""The embedded Heat's own pieces, without starting Heat."""
import json
import sqlite3

from dbaas_api.embedded import access_token, noauth, sqlite as heat_sqlite


def test_autoincrement_rebuild_keeps_rows_indexes_and_foreign_keys(tmp_path):
    db = tmp_path / "heat.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE stack (id VARCHAR(36) NOT NULL, raw_template_id INTEGER NOT NULL, PRIMARY KEY (id));
        CREATE TABLE resource (
            id INTEGER NOT NULL,
            stack_id VARCHAR(36) NOT NULL,
            name VARCHAR(255),
            PRIMARY KEY (id),
            FOREIGN KEY(stack_id) REFERENCES stack (id)
        );
        CREATE INDEX ix_resource_name ON resource (name);
        CREATE TABLE child (id INTEGER NOT NULL, resource_id INTEGER,
            PRIMARY KEY (id), FOREIGN KEY(resource_id) REFERENCES resource (id));
        INSERT INTO stack VALUES ('s1', 1);
        INSERT INTO resource VALUES (1, 's1', 'a'), (2, 's1', 'b');
        INSERT INTO child VALUES (1, 2);
    """)
    con.commit()
    con.close()

    heat_sqlite.use_autoincrement_ids(str(db))
    heat_sqlite.use_autoincrement_ids(str(db))  # idempotent

    con = sqlite3.connect(db)
    sql = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type='table'"))
    assert "AUTOINCREMENT" in sql["resource"] and "AUTOINCREMENT" in sql["child"]
    assert "AUTOINCREMENT" not in sql["stack"]  # not an integer id
    assert "PRIMARY KEY (id)" in sql["stack"]  # kept, though an integer column's name ends in "id"
    assert "REFERENCES resource" in sql["child"]  # not pointing at a temporary name
    assert con.execute("SELECT name FROM sqlite_master WHERE name='ix_resource_name'").fetchone()
    assert con.execute("SELECT id, name FROM resource ORDER BY id").fetchall() == [(1, "a"), (2, "b")]
    # An id, once used, is never handed out again.
    con.execute("DELETE FROM resource WHERE id = 2")
    con.execute("INSERT INTO resource (stack_id, name) VALUES ('s1', 'c')")
    assert con.execute("SELECT id FROM resource WHERE name='c'").fetchone() == (3,)


def _noauth(tmp_path):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b"ok"]

    return noauth.filter_factory({}, state_dir=str(tmp_path))(app), seen


def _call(middleware, path, token=None, method="GET"):
    answer = {}
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method}
    if token is not None:
        environ["HTTP_X_AUTH_TOKEN"] = token
    body = b"".join(middleware(environ, lambda status, headers: answer.update(status=status)))
    return answer["status"], body


def test_noauth_takes_the_project_from_the_url_and_is_not_admin(tmp_path):
    middleware, seen = _noauth(tmp_path)
    token = access_token.read(tmp_path)
    middleware({"PATH_INFO": "/v1/project-a/stacks", "HTTP_X_PROJECT_ID": "forged", "HTTP_X_AUTH_TOKEN": token},
               lambda *_: None)
    assert seen["HTTP_X_PROJECT_ID"] == "project-a"
    assert "admin" not in seen["HTTP_X_ROLES"].split(",")


def test_noauth_lets_in_only_the_installations_token(tmp_path):
    middleware, seen = _noauth(tmp_path)
    token = access_token.read(tmp_path)
    assert len(token) >= 40 and oct(access_token.path(tmp_path).stat().st_mode & 0o777) == "0o600"
    assert access_token.ensure(tmp_path) == token                   # made once, then kept
    for offered in (None, "", "dbaas-no-auth", token[:-1], token + "x", "\udcff" + token):
        status, body = _call(middleware, "/v1/svc/stacks/x/y/resources/admin_password", offered)
        assert status.startswith("401") and json.loads(body)["error"]["type"] == "Unauthorized", offered
    for method in ("POST", "PATCH", "DELETE"):
        assert _call(middleware, "/v1/svc/stacks", "wrong", method)[0].startswith("401")
    assert not seen
    assert _call(middleware, "/", None)[0].startswith("200")          # version discovery
    assert _call(middleware, "/", None, "POST")[0].startswith("401")
    assert _call(middleware, "/v1/svc/stacks", token)[0].startswith("200")


def test_make_private_leaves_only_the_instances_path_to_others(tmp_path):
    """An older installation's world-readable Heat database, logs and pids become 0600 in
    0700 directories; the state dir stays 0711 for the datastores' system users."""
    import os
    from dbaas_api.config import Settings
    from dbaas_api.embedded.lifecycle import make_private

    state = tmp_path / "state"
    for name in ("heat/heat.sqlite", "heat/heat.sqlite-wal", "logs/heat.log", "run/api.pid", "backups/b/0"):
        (state / name).parent.mkdir(parents=True, exist_ok=True)
        (state / name).write_text("x")
        os.chmod(state / name, 0o644)
        os.chmod((state / name).parent, 0o755)
    (state / "instances").mkdir(mode=0o711)
    make_private(Settings.from_env(env={}, state_dir=state))
    assert oct(state.stat().st_mode & 0o777) == "0o711"
    assert oct((state / "instances").stat().st_mode & 0o777) == "0o711"
    for directory in ("heat", "logs", "run", "backups", "backups/b"):
        assert oct((state / directory).stat().st_mode & 0o777) == "0o700", directory
    for name in ("heat/heat.sqlite", "heat/heat.sqlite-wal", "logs/heat.log", "run/api.pid", "backups/b/0"):
        assert oct((state / name).stat().st_mode & 0o777) == "0o600", name


def test_event_properties_are_masked_at_any_depth():
    from dbaas_api.embedded.redaction import MASK, masked

    properties = {"name": "app", "password": "pw", "admin_password": "apw", "databases": ["a"],
                  "port": 5432, "networks": [{"user_data": "#!/bin/sh ADMIN=pw", "port": "p"}],
                  "root_password": ""}
    assert masked(properties) == {"name": "app", "password": MASK, "admin_password": MASK, "databases": ["a"],
                                  "port": 5432, "networks": [{"user_data": MASK, "port": "p"}],
                                  "root_password": ""}
