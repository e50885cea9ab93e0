"""dbaas_api/records tags: every instance field survives Heat's tag rules and any tag order."""
import random

import pytest

from dbaas_api.records import configuration, instance

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
    return instance.InstanceTags(**values)


@pytest.mark.parametrize("name", NAMES)
def test_any_name_round_trips_in_any_order(name):
    encoded = instance.TAGS.encode(sample(name))
    for seed in range(5):
        shuffled = list(encoded)
        random.Random(seed).shuffle(shuffled)
        assert instance.TAGS.decode(shuffled) == sample(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_tag_is_valid_for_heat(name):
    for tag in instance.TAGS.encode(sample(name)):
        assert len(tag) <= 80 and "," not in tag, tag


def test_a_long_name_spans_ordered_chunks_beyond_nine():
    encoded = instance.TAGS.encode(sample("🐘" * 255))
    chunks = [t for t in encoded if t.startswith("name")]
    assert len(chunks) > 10  # name10 sorts before name2 as text: decode must sort by number
    assert instance.TAGS.decode(sorted(encoded)).name == "🐘" * 255


def test_fields_are_plain_tags_heat_can_filter_on():
    encoded = instance.TAGS.encode(sample())
    assert encoded[:6] == ["dbaas", "project:proj-a", "datastore:postgresql", "version:15",
                           "flavor:2", "volume:10"]
    assert instance.owners("proj-a") == ["dbaas", "project:proj-a"]


def test_a_stack_without_the_marker_is_not_an_instance():
    assert instance.TAGS.decode(["project:proj-a", "name0:ZGIx"]) is None
    assert instance.TAGS.decode(None) is None
    assert instance.TAGS.decode([]) is None


def test_unknown_tags_are_ignored_and_missing_ones_are_empty():
    decoded = instance.TAGS.decode(["dbaas", "project:p", "future:thing", "name0:ZGIx"])
    assert decoded == instance.InstanceTags("p", "", "", "", None, "db1")


def test_a_value_heat_would_refuse_is_refused_here():
    with pytest.raises(ValueError):
        instance.TAGS.encode(sample(project_id="p" * 80))
    with pytest.raises(ValueError):
        instance.TAGS.encode(sample(version="1,2"))


# ---- what a change adds, and configuration groups ------------------------------------------

def test_operation_restart_and_configuration_round_trip():
    full = sample(operation="ACTIVE", restart_required=True,
                  configuration_id="6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d")
    encoded = instance.TAGS.encode(full)
    assert {"op:ACTIVE", "restart-required", "configuration:6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"} <= set(encoded)
    assert instance.TAGS.decode(list(reversed(encoded))) == full
    assert instance.with_configuration("p", "c1") == ["dbaas", "project:p", "configuration:c1"]


def test_an_operation_is_a_status_word_or_nothing():
    with pytest.raises(ValueError):
        instance.TAGS.encode(sample(operation="resize,now"))
    assert instance.TAGS.decode(["dbaas", "op:no good"]).operation is None


@pytest.mark.parametrize("name", NAMES)
def test_configuration_groups_round_trip_and_are_not_instances(name):
    group = configuration.ConfigurationTags(project_id="p", datastore="mariadb", version="10.11", name=name,
                                   description=name[::-1])
    encoded = configuration.TAGS.encode(group)
    assert all(len(t) <= 80 and "," not in t for t in encoded)
    assert configuration.TAGS.decode(sorted(encoded)) == group
    assert instance.TAGS.decode(encoded) is None and configuration.TAGS.decode(instance.TAGS.encode(sample())) is None
    assert encoded[:2] == configuration.TAGS.filter("p")


def test_a_group_without_description_has_none_and_an_empty_one_stays_empty():
    bare = configuration.ConfigurationTags("p", "redis", "7", "g")
    assert configuration.TAGS.decode(configuration.TAGS.encode(bare)).description is None
    empty = configuration.ConfigurationTags("p", "redis", "7", "g", "")
    assert configuration.TAGS.decode(configuration.TAGS.encode(empty)).description == ""
