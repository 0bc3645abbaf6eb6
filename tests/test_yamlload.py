"""The YAML loader: plain data, and the line and column of every key and item.

Mapping values that are plain scalars are built in the mapping's own loop (the
common case of a large directory); these tests hold that path to what the general
one gives: positions, anchors and aliases, the depth limit at its boundary.
"""

from __future__ import annotations

import pytest

from keytrail.yamlload import MAX_DEPTH, YamlError, load_yaml


def test_each_key_and_item_is_located_at_its_key() -> None:
    text = "principals:\n- id: user:a\n  status: active\n  attributes: {dept: pay, level: 3}\n- id: user:b\n"
    data, loc = load_yaml(text, "d.yaml")
    assert data == {"principals": [{"id": "user:a", "status": "active", "attributes": {"dept": "pay", "level": 3}},
                                   {"id": "user:b"}]}
    assert loc.at(("principals", 0, "status")) == (3, 3)
    assert loc.at(("principals", 0, "attributes", "level")) == (4, 27)
    assert loc.at(("principals", 1)) == (5, 3)
    assert loc.at(("principals", 1, "id")) == (5, 3)


def test_an_anchored_scalar_value_can_be_aliased() -> None:
    data, loc = load_yaml("a: &x value\nb: *x\nc: [*x]\n", "a.yaml")
    assert data == {"a": "value", "b": "value", "c": ["value"]}
    assert loc.at(("b",)) == (2, 1)


def test_an_alias_to_an_unknown_anchor_is_an_error() -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml("a: 1\nb: *nope\n", "a.yaml")
    assert "unknown alias *nope" in str(caught.value)


def _nested(levels: int) -> str:
    """A mapping holding a scalar ``levels`` keys deep."""
    return "".join("  " * i + "a:" + ("\n" if i < levels - 1 else " leaf\n") for i in range(levels))


def test_a_scalar_one_level_too_deep_is_refused() -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml(_nested(MAX_DEPTH + 1), "deep.yaml")
    assert f"nested more than {MAX_DEPTH} levels deep" in str(caught.value)


def test_a_scalar_at_the_depth_limit_is_read() -> None:
    data, _ = load_yaml(_nested(MAX_DEPTH), "deep.yaml")
    for _ in range(MAX_DEPTH - 1):
        data = data["a"]
    assert data == {"a": "leaf"}


def test_plain_scalars_resolve_as_yaml_1_1_does_and_timestamps_stay_text() -> None:
    data, _ = load_yaml("a: yes\nb: 012\nc: ~\nd: '3'\ne: 2026-03-01T10:00:00Z\nf: 1.5\n", "t.yaml")
    assert data == {"a": True, "b": 10, "c": None, "d": "3", "e": "2026-03-01T10:00:00Z", "f": 1.5}
