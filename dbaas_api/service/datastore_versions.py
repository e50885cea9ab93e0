"""Managing datastore versions (Trove's ``/mgmt/datastore-versions``, ``openstack database
datastore version create/set/delete``): the operators' records of service/catalog.py.

What a version is here: a name and an id of its own, on a datastore this service knows
(mariadb, postgresql, redis), running one of the version numbers the service knows how to
run (datastores/<name>/: the server binaries the local driver starts, the configuration
rules; any other number is a 400 naming the ones there are), an image reference (Glance
image, image tags, packages: recorded and shown as Trove shows them; the cloud driver boots
the environment's guest image and runs the datastore's container for the number), and the
active and default flags. Built-in versions take the same changes (``set --disable``,
``--default``, a name, an image) through a record of their own id; they cannot be deleted.

A record is written whole and never updated (records/datastore_version.py): a change
writes the version's new record first and then deletes the older ones, so a reader between
the two already sees the new one (the newest wins).
"""
import re
import time
import uuid
from dataclasses import replace

from dbaas_api import datastores, errors, records
from dbaas_api.service import catalog

# Image ids, names and container references: no commas or spaces (they travel as Heat tags).
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,69}$")
MAX_NAME = 255
CREATE_FIELDS = {"datastore_name", "name", "datastore_manager", "image", "image_tags", "packages", "active",
                 "default", "version", "registry_ext", "repl_strategy"}
UPDATE_FIELDS = {"name", "datastore_manager", "image", "image_tags", "packages", "active", "default",
                 "registry_ext", "repl_strategy"}


class DatastoreVersionService:
    def __init__(self, gateway, renderer):
        self.gateway = gateway
        self.renderer = renderer

    def catalog(self):
        return catalog.read(self.gateway)

    def create(self, project_id, body):
        """POST: a new version (Trove's body ``{"version": {...}}``); 400 for anything wrong,
        an unknown datastore, a number this service cannot run or a name the datastore has."""
        given = body.get("version") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise errors.BadRequest('The body must be {"version": {"datastore_name", "name", "datastore_manager", '
                                    '"active", ...}}.')
        _only(given, CREATE_FIELDS)
        datastore = _datastore(given.get("datastore_name"))
        _manager(datastore, given.get("datastore_manager"), required=True)
        name = _name(given.get("name"))
        number = _number(datastore, given.get("version", name))
        known = self.catalog()
        _unique(known, datastore, name)
        tags = records.datastore_version.VersionTags(
            version_id=str(uuid.uuid4()), datastore=datastore.name, number=number, name=name,
            active=_flag(given, "active", required=True), default=_flag(given, "default", False),
            image=_reference(given.get("image"), "image"),
            image_tags=_references(given.get("image_tags"), "image_tags"),
            packages=_references(given.get("packages"), "packages"), project_id=project_id)
        self._write(tags)
        return tags.version_id

    def update(self, project_id, version_id, body):
        """PATCH: Trove's ``edit`` (the fields at the top level of the body)."""
        if not isinstance(body, dict):
            raise errors.BadRequest(f"The body must be an object of {', '.join(sorted(UPDATE_FIELDS))}.")
        _only(body, UPDATE_FIELDS)
        known = self.catalog()
        current = known.by_id(version_id)
        _manager(current.datastore, body.get("datastore_manager"), required=False)
        name = _name(body["name"]) if "name" in body else current.name
        if name != current.name:
            _unique(known, current.datastore, name)
        default = _flag(body, "default", current.default)
        tags = records.datastore_version.VersionTags(
            version_id=current.id, datastore=current.datastore.name, number=current.number, name=name,
            active=_flag(body, "active", current.active), default=default, builtin=current.builtin,
            image=_reference(body["image"], "image") if "image" in body else current.image,
            image_tags=_references(body["image_tags"], "image_tags") if "image_tags" in body else current.image_tags,
            packages=_references(body["packages"], "packages") if "packages" in body else current.packages,
            project_id=project_id)
        self._write(tags, older=current.records)

    def delete(self, version_id):
        """DELETE: an operator's version no instance uses (400 as Trove's
        DatastoreVersionsInUse otherwise); a built-in one is 400: disable it instead."""
        current = self.catalog().by_id(version_id)
        if current.builtin:
            raise errors.BadRequest(f"Datastore version '{current.name}' is built in (dbaas_api/datastores/): it "
                                    "cannot be deleted; `datastore version set --disable` hides it from users.")
        if self.gateway.list_stacks(tags=records.instance.on_version(version_id), limit=1):
            raise errors.BadRequest(f"Datastore version '{current.name}' is in use by instance: "
                                    "delete its instances first, or disable it.")
        for stack_id in current.records:
            self.gateway.delete_stack(stack_id)

    def _write(self, tags, older=()):
        tags = replace(tags, written=time.time_ns())
        self.gateway.create_stack(name=f"dbaas-dsv-{uuid.uuid4().hex[:12]}", rendered=self.renderer.render_record(),
                                  tags=records.datastore_version.TAGS.encode(tags))
        for stack_id in older:
            self.gateway.delete_stack(stack_id)


def _only(given, allowed):
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise errors.BadRequest(f"Unknown field(s) {', '.join(unknown)}: one of {', '.join(sorted(allowed))}.")
    for name in ("registry_ext", "repl_strategy"):
        if given.get(name) not in (None, ""):
            raise errors.BadRequest(f"{name}: not supported: a datastore's guest and replication are built in.")


def _datastore(name):
    known = ", ".join(datastore.name for datastore in datastores.all())
    if not isinstance(name, str) or not name:
        raise errors.BadRequest(f"datastore_name is required: one of {known}.")
    try:
        return datastores.get(name)
    except errors.NotFound:
        raise errors.BadRequest(f"datastore_name: '{name}' is not a datastore this service runs: "
                                f"one of {known}.") from None


def _manager(datastore, manager, required):
    if manager is None and not required:
        return
    if manager != datastore.name:
        raise errors.BadRequest(f"datastore_manager: {datastore.title}'s manager is '{datastore.name}'.")


def _name(name):
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or name != name.strip():
        raise errors.BadRequest(f"name: 1 to {MAX_NAME} characters, without leading or trailing spaces.")
    return name


def _number(datastore, number):
    """The built-in version number a version runs: its binaries and rules must be here."""
    if not isinstance(number, str) or number not in datastore.versions:
        raise errors.BadRequest(
            f"version: {datastore.title} {number} cannot run here: this service runs {datastore.title} "
            f"{', '.join(datastore.versions)} (the version number is what runs; the name may be anything).")
    return number


def _unique(known, datastore, name):
    for version in known.versions(datastore, everything=True):
        if name in (version.name, version.number if version.builtin else None):
            raise errors.BadRequest(f"name: datastore {datastore.name} already has a version '{name}' "
                                    f"({version.id}).")


def _flag(given, name, default=None, required=False):
    if name not in given:
        if required:
            raise errors.BadRequest(f"{name} is required: true or false.")
        return default
    if not isinstance(given[name], bool):
        raise errors.BadRequest(f"{name}: true or false.")
    return given[name]


def _reference(value, field):
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not REFERENCE.match(value):
        raise errors.BadRequest(f"{field}: an image id or reference of 1 to 70 letters, digits and '._:/@+=-', "
                                "starting with a letter or digit.")
    return value


def _references(value, field):
    """A list (or Trove's comma-separated text) of references."""
    if value in (None, "", []):
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > 20:
        raise errors.BadRequest(f"{field}: a list of up to 20 references.")
    found = (_reference(item.strip() if isinstance(item, str) else item, field) for item in items)
    return tuple(reference for reference in found if reference)
