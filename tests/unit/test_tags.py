"""dbaas_api.tags: every instance field survives Heat's tag rules and any tag order."""
import random

import pytest

from dbaas_api import tags

NAMES = [
    "db1",
    "a,b,c",                                   # commas would split Heat's tag list
    "it's \"quoted\"",
    "{{ 7*7 }} {% raw %} ${HOME} $(rm -rf /) `id`; DROP TABLE users; --",
    "key: value\n- list\n&anchor *alias !!python/object",
    "🐘 éléphant 数据库 🚀",
    "🐘" * 255,                                # 255 four-byte characters: the longest name
    "x" * 255,
    " leading and trailing ",
    "=padding==",
]


def sample(name="db1", **fields):
    values = dict(project_id="proj-a", datastore="postgresql", version="15",
                  flavor_id="2", volume_size=10, name=name)
    values.update(fields)
    return tags.InstanceTags(**values)


@pytest.mark.parametrize("name", NAMES)
def test_any_name_round_trips_in_any_order(name):
    encoded = tags.encode(sample(name))
    for seed in range(5):
        shuffled = list(encoded)
        random.Random(seed).shuffle(shuffled)
        assert tags.decode(shuffled) == sample(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_tag_is_valid_for_heat(name):
    for tag in tags.encode(sample(name)):
        assert len(tag) <= 80 and "," not in tag, tag


def test_a_long_name_spans_ordered_chunks_beyond_nine():
    encoded = tags.encode(sample("🐘" * 255))
    chunks = [t for t in encoded if t.startswith("name")]
    assert len(chunks) > 10  # name10 sorts before name2 as text: decode must sort by number
    assert tags.decode(sorted(encoded)).name == "🐘" * 255


def test_fields_are_plain_tags_heat_can_filter_on():
    encoded = tags.encode(sample())
    assert encoded[:6] == ["dbaas", "project:proj-a", "datastore:postgresql", "version:15",
                           "flavor:2", "volume:10"]
    assert tags.owner_filter("proj-a") == ["dbaas", "project:proj-a"]


def test_a_stack_without_the_marker_is_not_an_instance():
    assert tags.decode(["project:proj-a", "name0:ZGIx"]) is None
    assert tags.decode(None) is None
    assert tags.decode([]) is None


def test_unknown_tags_are_ignored_and_missing_ones_are_empty():
    decoded = tags.decode(["dbaas", "project:p", "future:thing", "name0:ZGIx"])
    assert decoded == tags.InstanceTags("p", "", "", "", None, "db1")


def test_a_value_heat_would_refuse_is_refused_here():
    with pytest.raises(ValueError):
        tags.encode(sample(project_id="p" * 80))
    with pytest.raises(ValueError):
        tags.encode(sample(version="1,2"))


# ---- what a change adds, and configuration groups ------------------------------------------

def test_operation_restart_and_configuration_round_trip():
    full = sample(operation="ACTIVE", restart_required=True,
                  configuration_id="6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d")
    encoded = tags.encode(full)
    assert {"op:ACTIVE", "restart-required", "configuration:6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"} <= set(encoded)
    assert tags.decode(list(reversed(encoded))) == full
    assert tags.configuration_filter("p", "c1") == ["dbaas", "project:p", "configuration:c1"]


def test_an_operation_is_a_status_word_or_nothing():
    with pytest.raises(ValueError):
        tags.encode(sample(operation="resize,now"))
    assert tags.decode(["dbaas", "op:no good"]).operation is None


@pytest.mark.parametrize("name", NAMES)
def test_configuration_groups_round_trip_and_are_not_instances(name):
    group = tags.ConfigurationTags(project_id="p", datastore="mariadb", version="10.11", name=name,
                                   description=name[::-1])
    encoded = tags.encode_configuration(group)
    assert all(len(t) <= 80 and "," not in t for t in encoded)
    assert tags.decode_configuration(sorted(encoded)) == group
    assert tags.decode(encoded) is None and tags.decode_configuration(tags.encode(sample())) is None
    assert encoded[:2] == tags.owner_filter("p", tags.CONFIGURATION_MARKER)


def test_a_group_without_description_has_none_and_an_empty_one_stays_empty():
    bare = tags.ConfigurationTags("p", "redis", "7", "g")
    assert tags.decode_configuration(tags.encode_configuration(bare)).description is None
    empty = tags.ConfigurationTags("p", "redis", "7", "g", "")
    assert tags.decode_configuration(tags.encode_configuration(empty)).description == ""
