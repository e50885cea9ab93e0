"""What a list of instances needs, carried as Heat stack tags.

Heat's stack list returns tags but no parameters or outputs, so everything a list view shows
lives here and a page of instances costs one Heat call. Heat's rules shape the encoding: a tag
is at most 80 characters and cannot contain a comma (the API joins tags with commas), and Heat
may return them in any order. The instance name is free text (commas, quotes, emoji, 255
characters), so it travels as base64url chunks ``name0:...``, ``name1:...`` that decode back to
exactly what the user sent.
"""
import base64
import re
from dataclasses import dataclass

MARKER = "dbaas"
MAX_TAG_LENGTH = 80
_NAME_CHUNK = 72  # len("name99:") + 72 <= 80
_NAME_TAG = re.compile(r"^name(\d+):(.*)$")


@dataclass(frozen=True)
class InstanceTags:
    project_id: str
    datastore: str
    version: str
    flavor_id: str
    volume_size: int | None
    name: str


def owner_filter(project_id):
    """The tags every stack of ``project_id`` has: Heat's ``tags=`` filter (all must match)."""
    return [MARKER, f"project:{project_id}"]


def encode(instance):
    """InstanceTags -> list of tags, each valid for Heat."""
    tags = owner_filter(instance.project_id) + [
        f"datastore:{instance.datastore}",
        f"version:{instance.version}",
        f"flavor:{instance.flavor_id}",
    ]
    if instance.volume_size is not None:
        tags.append(f"volume:{int(instance.volume_size)}")
    tags.extend(_encode_name(instance.name))
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH or "," in tag:
            raise ValueError(f"cannot be a Heat tag: {tag!r}")
    return tags


def decode(tags):
    """Heat's tags (any order) -> InstanceTags, or None when the stack is not an instance."""
    tags = list(tags or ())
    if MARKER not in tags:
        return None
    fields, chunks = {}, {}
    for tag in tags:
        name_chunk = _NAME_TAG.match(tag)
        if name_chunk:
            chunks[int(name_chunk.group(1))] = name_chunk.group(2)
        elif ":" in tag:
            key, _, value = tag.partition(":")
            fields.setdefault(key, value)
    volume = fields.get("volume", "")
    return InstanceTags(
        project_id=fields.get("project", ""),
        datastore=fields.get("datastore", ""),
        version=fields.get("version", ""),
        flavor_id=fields.get("flavor", ""),
        volume_size=int(volume) if volume.isdigit() else None,
        name=_decode_name(chunks),
    )


def _encode_name(name):
    text = base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii").rstrip("=")
    pieces = [text[i:i + _NAME_CHUNK] for i in range(0, len(text), _NAME_CHUNK)] or [""]
    return [f"name{index}:{piece}" for index, piece in enumerate(pieces)]


def _decode_name(chunks):
    text = "".join(chunks[index] for index in sorted(chunks))
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return ""
