"""A cluster's record, both ways: ClusterSpec <-> its ``members`` json parameter, and its tags."""
from dataclasses import dataclass

from dbaas_api import datastores
from dbaas_api.model import ClusterSpec, MemberSpec
from dbaas_api.records.stack import from_json, to_json
from dbaas_api.records.tags import EACH, OPERATION, TEXT, Codec, Field

MARKER = "dbaas-cluster"


@dataclass(frozen=True)
class ClusterTags:
    """A cluster's record: whose, which datastore, its name, and while Heat works on it
    the task under way (``op:``, e.g. GROWING_CLUSTER); ``members``: its members' keys
    (``member:<key>``), so that a member is found from its id with one stack list."""
    project_id: str
    datastore: str
    version: str
    name: str
    operation: str | None = None
    members: tuple = ()


TAGS = Codec(ClusterTags, MARKER, (
    Field("project_id", "project"), Field("datastore", "datastore"), Field("version", "version"),
    Field("operation", "op", OPERATION), Field("members", "member", EACH), Field("name", "name", TEXT)))


def parameters(spec):
    return {"datastore": spec.datastore, "datastore_version": spec.version,
            "members": to_json({member.key: {"flavor": member.flavor.id, "volume_size": member.volume_size,
                                             "role": member.role, "follows": member.follows, "index": index,
                                             "number": member.number, "share": list(member.share)}
                                for index, member in enumerate(spec.members)})}


def spec_from_stack(stack):
    """The ClusterSpec a stack holds, from its tags and its ``members`` parameter."""
    cluster_tags = TAGS.decode(stack.get("tags"))
    values = stack.get("parameters") or {}
    members = from_json(values.get("members"), {})
    ordered = sorted(members.items(), key=lambda item: item[1].get("index", 0))
    return ClusterSpec(
        project_id=cluster_tags.project_id, name=cluster_tags.name,
        datastore=values.get("datastore") or cluster_tags.datastore,
        version=values.get("datastore_version") or cluster_tags.version,
        members=tuple(MemberSpec(key=key, flavor=datastores.find_flavor(value["flavor"]),
                                 volume_size=int(value["volume_size"]), role=value["role"],
                                 follows=value.get("follows"), number=int(value.get("number", 1)),
                                 share=tuple(value.get("share") or ()))
                         for key, value in ordered))
