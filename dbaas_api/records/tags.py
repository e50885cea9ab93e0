"""What a list needs, carried as Heat stack tags: one codec, driven by each kind's table.

Heat's stack list returns tags but no parameters or outputs, so everything a list view shows
lives here and a page costs one Heat call. Heat's rules shape the encoding: a tag is at most
80 characters and cannot contain a comma (the API joins tags with commas), and Heat may
return them in any order. Free text (a name, a description: commas, quotes, emoji, 255
characters) travels as base64url chunks ``name0:...``, ``name1:...`` that decode back to
exactly what the user sent.

A kind (records/instance.py, backup.py, configuration.py, cluster.py) is a frozen dataclass,
its marker tag and a table of ``Field``s, in the order the tags are written; ``Codec`` turns
one into the other both ways. A decoded field that is missing takes the dataclass's default
("" where it has none).
"""
import base64
import re
from dataclasses import MISSING, dataclass, fields

MAX_TAG_LENGTH = 80
_CHUNK = 72  # len("name99:") + 72 <= 80
_TEXT_TAG = re.compile(r"^(name|desc)(\d+):(.*)$")
_OPERATION = re.compile(r"^[A-Z_]{1,40}$")
_DEFAULT = object()  # a decoded field that is missing: the dataclass's default

# How a field is written:
VALUE = "value"        # key:value, always
OPTIONAL = "optional"  # key:value when there is a value
NUMBER = "number"      # key:<int> when not None
FLAG = "flag"          # the tag ``key`` alone when true
TEXT = "text"          # free text as key0:..., key1:... chunks (a None is left out)
OPERATION = "operation"  # key:<STATUS WORD> (op:RESIZE); anything else is refused, read as None
INDEXED = "indexed"    # a tuple as key0:a, key1:b ... (cidr0:10.0.0.0/8)
EACH = "each"          # a tuple as key:a, key:b ... (member:m1, member:m2), read back sorted


@dataclass(frozen=True)
class Field:
    attribute: str
    key: str
    how: str = VALUE


class Codec:
    def __init__(self, kind, marker, table):
        self.kind, self.marker, self.table = kind, marker, table
        self._defaults = {f.name: ("" if f.default is MISSING else f.default) for f in fields(kind)}

    def encode(self, record):
        """The record -> list of tags, each valid for Heat (ValueError for one Heat refuses)."""
        tags = [self.marker]
        for field in self.table:
            tags += _encode_field(field, getattr(record, field.attribute))
        return checked(tags)

    def decode(self, tags):
        """Heat's tags (any order) -> the record, or None when the stack is not of this kind."""
        tags = list(tags or ())
        if self.marker not in tags:
            return None
        values, chunks, flags = {}, {}, set()
        for tag in tags:
            text_chunk = _TEXT_TAG.match(tag)
            if text_chunk:
                chunks.setdefault(text_chunk.group(1), {})[int(text_chunk.group(2))] = text_chunk.group(3)
            elif ":" in tag:
                key, _, value = tag.partition(":")
                values.setdefault(key, []).append(value)
            else:
                flags.add(tag)
        decoded = {}
        for field in self.table:
            value = _decode_field(field, values, chunks, flags)
            decoded[field.attribute] = self._defaults[field.attribute] if value is _DEFAULT else value
        return self.kind(**decoded)

    def filter(self, project_id):
        """The tags every record of this kind of ``project_id`` has: Heat's ``tags=`` filter."""
        return owner_filter(project_id, self.marker)


def owner_filter(project_id, marker):
    return [marker, f"project:{project_id}"]


def _encode_field(field, value):
    if field.how == TEXT:
        return [] if value is None else encode_text(field.key, value)
    if field.how == FLAG:
        return [field.key] if value else []
    if field.how == INDEXED:
        return [f"{field.key}{index}:{item}" for index, item in enumerate(value)]
    if field.how == EACH:
        return [f"{field.key}:{item}" for item in value]
    if field.how == NUMBER:
        return [] if value is None else [f"{field.key}:{int(value)}"]
    if field.how == OPERATION:
        if value and not _OPERATION.match(value):
            raise ValueError(f"not a status: {value!r}")
        return [f"{field.key}:{value}"] if value else []
    if field.how == OPTIONAL and not value:
        return []
    return [f"{field.key}:{value}"]


def _decode_field(field, values, chunks, flags):
    """The field's value, or _DEFAULT when it is missing."""
    if field.how == TEXT:
        return decode_text(chunks[field.key]) if field.key in chunks else _DEFAULT
    if field.how == FLAG:
        return field.key in flags
    if field.how == INDEXED:
        indexed = {int(key[len(field.key):]): found[0] for key, found in values.items()
                   if key.startswith(field.key) and key[len(field.key):].isdigit()}
        return tuple(indexed[index] for index in sorted(indexed))
    if field.how == EACH:
        return tuple(sorted(values.get(field.key, ())))
    value = (values.get(field.key) or [""])[0]
    if field.how == NUMBER:
        return int(value) if value.isdigit() else None
    if field.how == OPERATION:
        return value if _OPERATION.match(value) else None
    return value or _DEFAULT


def fields_of(stack):
    """{key: value} of a stack's ``key:value`` tags (the first of each key), whatever its kind."""
    found = {}
    for tag in stack.get("tags") or ():
        key, colon, value = tag.partition(":")
        if colon:
            found.setdefault(key, value)
    return found


def checked(tags):
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH or "," in tag:
            raise ValueError(f"cannot be a Heat tag: {tag!r}")
    return tags


def encode_text(prefix, text):
    encoded = base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")
    pieces = [encoded[i:i + _CHUNK] for i in range(0, len(encoded), _CHUNK)] or [""]
    return [f"{prefix}{index}:{piece}" for index, piece in enumerate(pieces)]


def decode_text(chunks):
    text = "".join(chunks[index] for index in sorted(chunks))
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return ""
