"""What a create request means: every field checked against the registry (datastore,
version, flavor, sizes, names, grants, configuration group, networks) before anything
reaches the renderer or Heat, so a bad request never leaves a half-made stack behind.
Instances, replicas and cluster members are all made from specs built here."""
from dbaas_api import errors
from dbaas_api.model import InstanceSpec, UserSpec
from dbaas_api.service import access as access_rules
from dbaas_api.service import catalog, networks

REGION = "RegionOne"

# Trove create fields whose meaning we cannot honour yet: refuse rather than ignore them.
NOT_IMPLEMENTED_FIELDS = {
    "modules": "Modules",
    "locality": "Server-group locality",
    "availability_zone": "Availability zones",
}


class CreateSpecs:
    def __init__(self, settings, configurations):
        self.settings = settings
        self.configurations = configurations

    def instance(self, project_id, body):
        """The InstanceSpec a (shape-validated) create body asks for, every field checked."""
        _refuse_unsupported(body)
        chosen = catalog.requested_version(body.get("datastore") or {}, known=catalog.read(self.configurations.gateway))
        datastore, version = chosen.datastore, chosen.number
        access = access_rules.requested(body.get("access") or {})
        access_rules.check_driver(access, datastore, self.settings)
        databases, options = _databases(datastore, body.get("databases") or [])
        reference = body.get("configuration") or body.get("configuration_id")
        configuration = None
        if reference:
            try:
                configuration = self.configurations.spec_for(project_id, reference, datastore.name, version)
            except errors.NotFound as exc:
                raise errors.BadRequest(f"configuration: {exc.message}") from None
        return InstanceSpec(
            project_id=project_id,
            name=body["name"],
            datastore=datastore.name,
            version=version,
            flavor=catalog.find_flavor_ref(flavor_ref(body)),
            volume_size=self.volume_size(body.get("volume")),
            databases=databases,
            database_options=options,
            users=_users(datastore, body.get("users") or [], databases),
            configuration=configuration,
            started_with=dict(configuration.values) if configuration else {},
            access=access,
            placement=networks.load(self.settings.networks_file).placement(
                body.get("nics"), (body.get("volume") or {}).get("type")),
            version_id=None if chosen.builtin else chosen.id,
        )

    def volume_size(self, volume):
        if not volume or volume.get("size") is None:
            raise errors.BadRequest("volume.size is required (in GB).")
        size = int(volume["size"])
        if size < 1:
            raise errors.BadRequest("volume.size must be at least 1 GB.")
        if size > self.settings.max_volume_size:
            raise errors.BadRequest(
                f"volume.size {size} GB exceeds the maximum of {self.settings.max_volume_size} GB.")
        return size


def _refuse_unsupported(body):
    for field, feature in NOT_IMPLEMENTED_FIELDS.items():
        if body.get(field):
            raise errors.NotImplementedYet(f"{feature} ('{field}') is not supported yet.")
    if body.get("replica_count") not in (None, 1) and body.get("replica_of") is None:
        raise errors.BadRequest("replica_count is only valid when creating replicas.")
    if body.get("region_name") not in (None, REGION):
        raise errors.BadRequest(f"Unknown region '{body['region_name']}'; this service is '{REGION}'.")


def flavor_ref(body):
    """Trove's ``flavorRef``; openstacksdk's create_instance sends its Instance.flavor instead
    (``"flavor": id`` or ``{"id": ...}``), which Trove ignores: accept it when flavorRef is absent."""
    if body.get("flavorRef") is not None:
        return body["flavorRef"]
    flavor = body.get("flavor")
    return flavor.get("id") if isinstance(flavor, dict) else flavor


def _databases(datastore, requested):
    """(names, {name: (character_set, collate)}) of a create's ``databases``."""
    if requested and not datastore.supports_databases:
        raise errors.BadRequest(f"Datastore '{datastore.name}' has no databases: remove 'databases'.")
    names = [database["name"] for database in requested]
    for database in requested:
        _validate(datastore, "validate_database_name", database["name"])
    _refuse_duplicates("Database", names)
    return tuple(names), datastore.requested_database_options(requested)


def _users(datastore, requested, databases):
    if requested and not datastore.supports_users:
        raise errors.BadRequest(f"Datastore '{datastore.name}' has no users: remove 'users'.")
    users = []
    for user in requested:
        _validate(datastore, "validate_user_name", user["name"])
        _validate(datastore, "validate_password", user["password"])
        _validate(datastore, "validate_host", user.get("host") or "%")
        granted = tuple(database["name"] for database in user.get("databases") or [])
        if granted and not datastore.supports_databases:
            raise errors.BadRequest(
                f"Datastore '{datastore.name}' has no databases: remove 'databases' from user '{user['name']}'.")
        for name in granted:
            if name not in databases:
                raise errors.BadRequest(
                    f"User '{user['name']}' is granted database '{name}', which is not in 'databases'.")
        _refuse_duplicates(f"Database of user '{user['name']}'", granted)
        users.append(UserSpec(name=user["name"], password=user["password"], databases=granted,
                              **({"host": user["host"]} if user.get("host") else {})))
    # MariaDB's 'app'@'%' and 'app'@'10.%' are two accounts.
    _refuse_duplicates("User", [user.name if user.host == "%" else f"{user.name}@{user.host}" for user in users])
    return tuple(users)


def _validate(datastore, validator, value):
    """Run the datastore's own check when it has one (they raise errors.BadRequest)."""
    check = getattr(datastore, validator, None)
    if check is not None:
        check(value)


def _refuse_duplicates(what, names):
    seen = set()
    for name in names:
        if name in seen:
            raise errors.BadRequest(f"{what} '{name}' is listed more than once.")
        seen.add(name)
