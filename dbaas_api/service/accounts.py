"""Databases, users, their access and root: resources of the instance's stack.

Every change goes through service/changes.py (read the stack, change the intent, re-render,
PATCH). What the instance holds is read from its stack, not from the server: the stack is
the record, and reading it needs no database connection (a replica's databases and users
are its source's record: they are replicated, docs/replication.md). A change is checked against that
record before Heat sees it (names, reserved names, duplicates, grants to databases that are
not there), so a bad request is a 4xx and leaves the stack as it was.

Passwords go to Heat as hidden parameters and come back from nowhere: no answer, log or
error here carries one; root's generated password is returned once, by enable_root.
"""
import contextlib
import re
import secrets
import string
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from urllib.parse import unquote

from dbaas_api import datastores, errors
from dbaas_api.model import RootSpec, UserSpec
from dbaas_api.service.changes import Change

USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")   # a Keystone user id, as root history keeps it

ROOT_PASSWORD_LENGTH = 32
_ROOT_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class User:
    name: str
    host: str
    databases: tuple

    @property
    def id(self):
        return f"{self.name}@{self.host}"


class AccountService:
    def __init__(self, changes):
        self.changes = changes   # the one InstanceChanges (create_app)

    # ---- databases -------------------------------------------------------------------------

    def _record(self, project_id, instance_id):
        """Whose databases and users an instance shows: its own record's, or for a replica
        its source's (the replica's server has them, replicated; a source gone: its own)."""
        current = self.changes.read(project_id, instance_id)
        if current.spec.replica_of and current.datastore.replicates_accounts:
            with contextlib.suppress(errors.NotFound):
                return self.changes.read(project_id, current.spec.replica_of)
        return current

    def list_databases(self, project_id, instance_id):
        current = self._record(project_id, instance_id)
        _need_databases(current.datastore)
        return list(current.spec.databases)

    def create_databases(self, project_id, instance_id, requested):
        def change(current):
            datastore = current.datastore
            _need_databases(datastore)
            names = []
            for index, database in enumerate(requested):
                field = f"databases[{index}].name"
                datastore.validate_database_name(database["name"], field=field)
                if database["name"] in current.spec.databases or database["name"] in names:
                    raise errors.BadRequest(f"{field}: a database named '{database['name']}' already exists.")
                names.append(database["name"])
            options = dict(current.spec.database_options, **datastore.requested_database_options(requested))
            return Change(replace(current.spec, databases=current.spec.databases + tuple(names),
                                  database_options=options))
        self.changes.apply(project_id, instance_id, change)

    def delete_database(self, project_id, instance_id, name):
        """Users granted it lose the grant in the same update (before it is dropped)."""
        def change(current):
            _need_databases(current.datastore)
            current.datastore.validate_database_name(name)
            if name not in current.spec.databases:
                raise _database_not_found(name)
            users = tuple(replace(user, databases=tuple(d for d in user.databases if d != name))
                          for user in current.spec.users)
            options = {d: value for d, value in current.spec.database_options.items() if d != name}
            return Change(replace(current.spec, users=users, database_options=options,
                                  databases=tuple(d for d in current.spec.databases if d != name)))
        self.changes.apply(project_id, instance_id, change)

    # ---- users -----------------------------------------------------------------------------

    def list_users(self, project_id, instance_id):
        current = self._record(project_id, instance_id)
        _need_users(current.datastore)
        return [_user(spec) for spec in current.spec.users]

    def get_user(self, project_id, instance_id, user_id):
        current = self._record(project_id, instance_id)
        return _user(_find_user(current, user_id))

    def user_databases(self, project_id, instance_id, user_id):
        current = self._record(project_id, instance_id)
        _need_databases(current.datastore)
        return list(_find_user(current, user_id).databases)

    def create_users(self, project_id, instance_id, requested):
        def change(current):
            datastore = current.datastore
            _need_users(datastore)
            users = []
            for index, body in enumerate(requested):
                where = f"users[{index}]"
                user = UserSpec(name=body["name"], password=body["password"], host=body.get("host") or "%",
                                databases=_granted(current, body.get("databases") or [], f"{where}.databases"))
                datastore.validate_user_name(user.name, field=f"{where}.name")
                datastore.validate_password(user.password, field=f"{where}.password")
                datastore.validate_host(user.host, field=f"{where}.host")
                if current.user(user.name, user.host) or any((u.name, u.host) == (user.name, user.host) for u in users):
                    raise errors.BadRequest(f"{where}.name: a user named '{user.name}'"
                                            f"{_at(datastore, user.host)} already exists.")
                users.append(user)
            return Change(replace(current.spec, users=current.spec.users + tuple(users)))
        self.changes.apply(project_id, instance_id, change)

    def delete_user(self, project_id, instance_id, user_id):
        def change(current):
            found = _find_user(current, user_id)
            return Change(replace(current.spec, users=tuple(u for u in current.spec.users if u is not found)))
        self.changes.apply(project_id, instance_id, change)

    def change_passwords(self, project_id, instance_id, requested):
        """PUT /users: new passwords for one or more existing users, in one update."""
        def change(current):
            new = {}
            for index, body in enumerate(requested):
                found = _find_user(current, _user_id(current.datastore, body["name"], body.get("host")))
                current.datastore.validate_password(body["password"], field=f"users[{index}].password")
                new[(found.name, found.host)] = body["password"]
            return Change(replace(current.spec, users=tuple(
                replace(u, password=new.get((u.name, u.host))) for u in current.spec.users)))
        self.changes.apply(project_id, instance_id, change)

    def update_user(self, project_id, instance_id, user_id, attributes):
        """PUT /users/{user}: a new password, name or host (Trove's update_attributes). A
        rename is done in place on the server (its grants and objects stay its own): the
        user keeps its resource, only its parameters change."""
        def change(current):
            datastore = current.datastore
            found = _find_user(current, user_id)
            name, host = attributes.get("name") or found.name, attributes.get("host") or found.host
            datastore.validate_user_name(name, field="user.name")
            datastore.validate_host(host, field="user.host")
            other = current.user(name, host)
            if other and other is not found:
                raise errors.BadRequest(f"user.name: a user named '{name}'{_at(datastore, host)} already exists.")
            password = attributes.get("password")
            if password is not None:
                datastore.validate_password(password, field="user.password")
            renamed = replace(found, name=name, host=host, password=password)
            return Change(replace(current.spec, users=tuple(renamed if u is found else u for u in current.spec.users)))
        self.changes.apply(project_id, instance_id, change)

    def grant(self, project_id, instance_id, user_id, requested):
        def change(current):
            _need_databases(current.datastore)
            found = _find_user(current, user_id)
            granted = _granted(current, requested, "databases")
            databases = found.databases + tuple(d for d in granted if d not in found.databases)
            return Change(_with_user(current.spec, replace(found, databases=databases)))
        self.changes.apply(project_id, instance_id, change)

    def revoke(self, project_id, instance_id, user_id, database):
        def change(current):
            _need_databases(current.datastore)
            found = _find_user(current, user_id)
            if database not in found.databases:
                raise _database_not_found(database)
            return Change(_with_user(current.spec, replace(
                found, databases=tuple(d for d in found.databases if d != database))))
        self.changes.apply(project_id, instance_id, change)

    # ---- root ------------------------------------------------------------------------------

    def root_enabled(self, project_id, instance_id):
        """Whether root is enabled now (Trove 26 answers false again after a disable)."""
        current = self.changes.read(project_id, instance_id)
        _need_root(current.datastore)
        return current.spec.root is not None

    def root_history(self, project_id, instance_id):
        """The RootSpec of the instance (None: root is not enabled): when and by whom."""
        current = self.changes.read(project_id, instance_id)
        _need_root(current.datastore)
        return current.spec.root

    def enable_root(self, project_id, instance_id, password=None, by=""):
        """(root user name, password): the caller's password, else a generated one. Enabling
        again sets a new password; the history keeps the first enable (as Trove's does)."""
        def change(current):
            _need_root(current.datastore)
            current.datastore.validate_password(chosen, field="password")
            first = current.spec.root if current.spec.root and current.spec.root.enabled_at else None
            at = first.enabled_at if first else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            who = first.enabled_by if first else (by if USER_ID.match(by or "") else "")
            return Change(replace(current.spec, root=RootSpec(password=chosen, enabled_at=at, enabled_by=who)))
        chosen = password or "".join(secrets.choice(_ROOT_ALPHABET) for _ in range(ROOT_PASSWORD_LENGTH))
        result = self.changes.apply(project_id, instance_id, change)
        return datastores.get(result.spec.datastore).root_user, chosen

    def disable_root(self, project_id, instance_id):
        def change(current):
            _need_root(current.datastore)
            if current.spec.root is None:
                raise errors.NotFound("Root user is not enabled on the instance.")
            return Change(replace(current.spec, root=None))
        self.changes.apply(project_id, instance_id, change)


def _user(spec):
    return User(name=spec.name, host=spec.host, databases=tuple(spec.databases))


def _with_user(spec, user):
    return replace(spec, users=tuple(user if (u.name, u.host) == (user.name, user.host) else u
                                     for u in spec.users))


def _granted(current, requested, field):
    """Names of the databases in ``requested`` ([{"name"}]), each one the instance has."""
    names = []
    if requested and not current.datastore.supports_databases:
        raise errors.BadRequest(f"{field}: {current.datastore.title} has no databases.")
    for index, database in enumerate(requested):
        name = database["name"]
        if name not in current.spec.databases:
            raise errors.BadRequest(f"{field}[{index}].name: the instance has no database named '{name}'.")
        if name in names:
            raise errors.BadRequest(f"{field}[{index}].name: '{name}' is listed more than once.")
        names.append(name)
    return tuple(names)


def _find_user(current, user_id):
    """The user a URL names: 'name' or 'name@host' (as Trove reads it: the last '@' splits,
    a missing host is '%'). Where users have no host part, a name with '@' in it is that name."""
    datastore = current.datastore
    _need_users(datastore)
    text = unquote(user_id)
    candidates = [(text, "%")]
    if "@" in text and not text.endswith("@"):
        name, _, host = text.rpartition("@")
        candidates.insert(0 if datastore.supports_user_hosts else 1, (name, host))
    for name, host in candidates:
        found = current.user(name, host)
        if found:
            return found
    raise errors.NotFound(f"User '{text}' cannot be found on the instance.")


def _user_id(datastore, name, host):
    return f"{name}@{host}" if host and datastore.supports_user_hosts else name


def _at(datastore, host):
    return f"@'{host}'" if datastore.supports_user_hosts else ""


def _database_not_found(name):
    return errors.NotFound(f"Database '{name}' cannot be found on the instance.")


def _need_databases(datastore):
    if not datastore.supports_databases:
        raise errors.NotImplementedYet(f"{datastore.title} has no databases: this operation does not apply.")


def _need_users(datastore):
    if not datastore.supports_users:
        raise errors.NotImplementedYet(f"{datastore.title} has no users: this operation does not apply.")


def _need_root(datastore):
    if not datastore.supports_root:
        raise errors.NotImplementedYet(f"{datastore.title} has no root user: enabling root does not apply.")
