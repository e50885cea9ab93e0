"""The role every datastore has: what it is (name, versions, port), which names and
passwords it can store (``validate_*``: a clear 400 instead of a crash), and which
configuration parameters users may set, per version, and what values they take
(``configuration_parameters``: rules as data, CloudNativePG style). Pure data and checks:
the renderer, the plugins and the service read the same knowledge from here."""
import math
import re
import uuid
from dataclasses import dataclass

from dbaas_api import errors

# Configuration parameter types, as Trove names them.
INTEGER, STRING, BOOLEAN, FLOAT = "integer", "string", "boolean", "float"
_PYTHON_TYPES = {INTEGER: (int,), FLOAT: (int, float), BOOLEAN: (bool,), STRING: (str,)}
MAX_STRING_VALUE = 255
# What any string value may hold when its rule names no allowed values: it ends up in a
# config file, so no quotes, backslashes, comment characters or line breaks.
SAFE_STRING = r"[A-Za-z0-9 _.,:/+@-]*"


@dataclass(frozen=True)
class Parameter:
    """One configuration parameter users may set and the rules for its value.

    ``min``/``max`` bound numbers; ``allowed`` lists the only values a string may take
    (compared case-insensitively, stored as listed here); ``pattern`` constrains other
    strings; ``restart_required`` says the running server only takes a new value when it
    restarts; ``default`` is the server's own default where the admin connection cannot
    reset a value by itself (Redis); ``option`` is the name a config file knows it by, when
    that differs (MariaDB's tx_isolation is transaction-isolation there)."""
    name: str
    type: str
    min: float | None = None
    max: float | None = None
    allowed: tuple = ()
    restart_required: bool = False
    pattern: str = SAFE_STRING
    default: object = None
    unit: str = ""
    option: str = ""

    def check(self, value, field):
        """The value as it will be stored, or errors.UnprocessableEntity saying why not."""
        if not isinstance(value, _PYTHON_TYPES[self.type]) or (self.type != BOOLEAN and isinstance(value, bool)):
            raise errors.UnprocessableEntity(
                f"{field}: must be of type {self.type}, not {_json_type(value)}.")
        if self.type == FLOAT and not math.isfinite(value):
            raise errors.UnprocessableEntity(f"{field}: must be a finite number.")
        if self.min is not None and value < self.min:
            raise errors.UnprocessableEntity(f"{field}: {value} is less than the minimum, {self.min}.")
        if self.max is not None and value > self.max:
            raise errors.UnprocessableEntity(f"{field}: {value} is greater than the maximum, {self.max}.")
        if self.type == STRING:
            return self._check_string(value, field)
        return value

    def _check_string(self, value, field):
        if self.allowed:
            for allowed in self.allowed:
                if value.casefold() == allowed.casefold():
                    return allowed
            raise errors.UnprocessableEntity(
                f"{field}: must be one of {', '.join(repr(a) for a in self.allowed)}.")
        if len(value) > MAX_STRING_VALUE or not re.fullmatch(self.pattern, value):
            raise errors.UnprocessableEntity(
                f"{field}: must be at most {MAX_STRING_VALUE} characters matching {self.pattern}.")
        return value


def parameter_rules(*parameters):
    """{name: Parameter} from Parameter objects, refusing a name given twice."""
    rules = {}
    for parameter in parameters:
        if parameter.name in rules:
            raise ValueError(f"parameter {parameter.name} is listed twice")
        rules[parameter.name] = parameter
    return rules


def _json_type(value):
    for name, kind in (("boolean", bool), ("integer", int), ("float", float), ("string", str),
                       ("object", dict), ("array", list)):
        if isinstance(value, kind):
            return name
    return "null"



class Knowledge:
    """What a datastore is and what it accepts: every datastore has this role."""

    name = ""             # registry key and Trove's datastore type
    title = ""            # how messages name it
    versions = ()         # version names offered, newest first
    default_version = ""
    port = 0              # the standard port; every instance has its own address
    supports_databases = True
    supports_users = True
    supports_user_hosts = False   # only MariaDB has 'user'@'host' accounts
    supports_root = True          # POST /root makes a superuser account named root_user
    admin_user = ""
    root_user = "root"

    # Configuration: {version: {name: Parameter}} users may set, and names they may never
    # set because the service manages them (asked for, they get a message saying so).
    configuration_parameters = {}
    blocked_parameters = frozenset()

    # Names: lengths are counted in name_length_unit ("bytes" of UTF-8 or "characters").
    # Reserved names are compared case-insensitively: refusing 'Postgres' costs nothing and
    # avoids names that read like the system's own.
    max_database_name = 64
    max_user_name = 64
    name_length_unit = "characters"
    reserved_databases = frozenset()
    reserved_users = frozenset()
    reserved_user_prefixes = ()
    reserved_database_prefixes = ()
    max_password = 255
    max_host = 255

    def version_id(self, version):
        """A stable UUID per datastore version, as Trove clients expect ids to look."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"heat-dbaas:{self.name}:{version}"))

    def datastore_id(self):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"heat-dbaas:{self.name}"))

    # ---- names and passwords -------------------------------------------------------------

    def validate_database_name(self, name, field="database"):
        if not self.supports_databases:
            raise errors.NotImplementedYet(f"{self.title} has no databases.")
        self._check_name(field, name, self.max_database_name,
                         self.reserved_databases, self.reserved_database_prefixes)
        self._check_identifier(field, name)

    def database_options(self, character_set, collate, field="database"):
        """Trove's ``character_set`` and ``collate`` of a database (either may be None) as the
        server's CREATE DATABASE takes them: (character set, collation), each None for the
        server's default; 400 naming ``<field>.character_set`` or ``.collate`` for what the
        server does not offer. A datastore that offers them overrides this."""
        for name, value in (("character_set", character_set), ("collate", collate)):
            if value:
                raise errors.BadRequest(f"field '{field}.{name}': {self.title} databases have none.")
        return None, None

    def requested_database_options(self, requested, field="databases"):
        """{name: (character_set, collate)} of a request's databases that ask for them."""
        found = {}
        for index, database in enumerate(requested):
            options = self.database_options(database.get("character_set"), database.get("collate"),
                                            field=f"{field}[{index}]")
            if any(options):
                found[database["name"]] = options
        return found

    def validate_user_name(self, name, field="user"):
        if not self.supports_users:
            raise errors.NotImplementedYet(f"{self.title} has no users.")
        self._check_name(field, name, self.max_user_name,
                         self.reserved_users, self.reserved_user_prefixes)
        self._check_identifier(field, name)

    def validate_password(self, password, field="password"):
        """Never echoes the value: messages are shown to users and end up in logs."""
        if not isinstance(password, str) or not password:
            raise errors.BadRequest(f"field '{field}': must be a non-empty string.")
        if len(password) > self.max_password:
            raise errors.BadRequest(f"field '{field}': must be at most {self.max_password} characters.")
        if "\x00" in password:
            raise errors.BadRequest(f"field '{field}': must not contain the NUL character.")

    def validate_host(self, host, field="host"):
        """'%' (anywhere) is the only host of datastores without per-host accounts."""
        if not self.supports_user_hosts:
            if host not in (None, "", "%"):
                raise errors.BadRequest(f"field '{field}': {self.title} users have no host part; use '%'.")
            return
        if not isinstance(host, str) or not host:
            raise errors.BadRequest(f"field '{field}': must be a non-empty string.")
        if len(host) > self.max_host or "\x00" in host:
            raise errors.BadRequest(
                f"field '{field}': must be at most {self.max_host} characters, without NUL.")

    def _check_name(self, field, name, limit, reserved, prefixes):
        if not isinstance(name, str) or not name:
            raise errors.BadRequest(f"field '{field}': must be a non-empty string.")
        if "\x00" in name:
            raise errors.BadRequest(f"field '{field}': must not contain the NUL character.")
        size = len(name.encode("utf-8")) if self.name_length_unit == "bytes" else len(name)
        if size > limit:
            raise errors.BadRequest(
                f"field '{field}': is {size} {self.name_length_unit} long; "
                f"{self.title} allows at most {limit}.")
        folded = name.casefold()
        if folded in reserved or folded.startswith(tuple(prefixes)):
            raise errors.BadRequest(f"field '{field}': '{name}' is reserved by {self.title}.")

    def _check_identifier(self, field, name):
        """Datastore-specific limits beyond length and reserved names (none by default)."""

    # ---- configuration parameters --------------------------------------------------------

    def parameters(self, version):
        """{name: Parameter} of ``version`` (empty when it has no configuration support)."""
        return dict(self.configuration_parameters.get(version, {}))

    def normalise_parameter(self, name):
        """The rules' spelling of a parameter name (names are case-insensitive, as in Trove)."""
        return str(name).lower()

    def parameter(self, version, name):
        found = self.parameters(version).get(self.normalise_parameter(name))
        if found is None:
            raise errors.NotFound(f"Configuration parameter '{name}' cannot be found for "
                                  f"{self.title} {version}.")
        return found

    def validate_configuration(self, version, values, field="values"):
        """The values as they will be stored ({canonical name: value}), or errors.
        UnprocessableEntity naming the first parameter that is unknown, managed by the
        service, of the wrong type or out of range (Trove answers these with 422 too)."""
        rules = self.parameters(version)
        if not rules:
            raise errors.UnprocessableEntity(
                f"Configuration groups are not supported for {self.title} {version}.")
        checked = {}
        for name, value in values.items():
            key = self.normalise_parameter(name)
            where = f"{field}.{name}"
            if key in self.blocked_parameters:
                raise errors.UnprocessableEntity(
                    f"{where}: is managed by the service and cannot be set.")
            if key not in rules:
                raise errors.UnprocessableEntity(
                    f"{where}: is not a configuration parameter of {self.title} {version} "
                    f"(GET .../datastores/{self.name}/versions/{version}/parameters lists them).")
            if key in checked:
                raise errors.UnprocessableEntity(f"{where}: is given more than once.")
            checked[key] = rules[key].check(value, where)
        return checked

    def option_name(self, name):
        """How a config file names parameter ``name`` (Parameter.option, else the name)."""
        for rules in self.configuration_parameters.values():
            if name in rules and rules[name].option:
                return rules[name].option
        return name

    def restart_required(self, version, before, after):
        """Whether going from applied values ``before`` to ``after`` changes a parameter the
        running server only takes at a restart."""
        rules = self.parameters(version)
        return any(rules[name].restart_required and before.get(name) != after.get(name)
                   for name in set(before) | set(after) if name in rules)

    def base_settings(self, flavor):
        """The settings every instance of ``flavor`` starts from (its config file's values)."""
        settings = dict(getattr(self, "STATIC_SETTINGS", {}))
        settings.update(self.flavor_settings(flavor))
        return settings

    def baseline(self, version, flavor, name):
        """The value ``name`` has when no configuration overrides it: the instance's own
        config file's, else the server's default (None: the server knows its default)."""
        for key, value in self.base_settings(flavor).items():
            if key.replace("-", "_") == name.replace("-", "_"):
                return value
        return self.parameters(version)[name].default

