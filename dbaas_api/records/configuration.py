"""A configuration group's record: its values as the stack's ``values`` parameter, both
ways, and its tags."""
from dataclasses import dataclass

from dbaas_api.records.stack import from_json, to_json
from dbaas_api.records.tags import TEXT, Codec, Field

MARKER = "dbaas-configuration"


@dataclass(frozen=True)
class ConfigurationTags:
    project_id: str
    datastore: str
    version: str
    name: str
    description: str | None = None


TAGS = Codec(ConfigurationTags, MARKER, (
    Field("project_id", "project"), Field("datastore", "datastore"), Field("version", "version"),
    Field("name", "name", TEXT), Field("description", "desc", TEXT)))


def parameters(datastore, version, values):
    return {"datastore": datastore, "datastore_version": version, "values": to_json(values)}


def values_of(stack):
    """The group's values (a dict; {} for anything else)."""
    values = from_json((stack.get("parameters") or {}).get("values"), {})
    return values if isinstance(values, dict) else {}
