"""Constraints are built once per distinct content, errors included."""

from __future__ import annotations

import pytest

import awrs
from awrs.jobs import ConstraintCache, build_constraint


def test_same_content_same_constraint_whatever_the_key_order():
    cache = ConstraintCache()
    a = cache.get("json_schema", {"type": "integer", "minimum": 0})
    b = cache.get("json_schema", {"minimum": 0, "type": "integer"})
    assert a is b and cache.hits == 1 and cache.misses == 1
    assert cache.get("regex", "[0-9]+") is not cache.get("pattern", "[0-9]+")
    assert isinstance(cache.get("pattern", "[0-9]+"), awrs.Pattern)


def test_a_malformed_spec_is_built_once_and_fails_every_time():
    cache = ConstraintCache()
    for _ in range(3):
        with pytest.raises(awrs.ConstraintError, match="malformed schema"):
            cache.get("json_schema", {"type": "nonsense"})
    assert cache.misses == 1 and cache.hits == 2


def test_bounded_lru():
    cache = ConstraintCache(size=2)
    first = cache.get("regex", "a")
    cache.get("regex", "b")
    cache.get("regex", "c")
    assert len(cache) == 2 and cache.get("regex", "a") is not first


def test_every_kind_builds_and_bad_kinds_are_named(tmp_path):
    assert build_constraint("grammar", 'start: "a"+').accepts("aaa")
    assert not build_constraint("grammar", 'start: "a" " "* "b"', max_whitespace=2).accepts("a   b")
    sql = build_constraint("sql", "CREATE TABLE t (x INT);")
    assert sql.accepts("SELECT x FROM t")
    with pytest.raises(awrs.ConfigurationError, match="unknown constraint kind"):
        build_constraint("xml", "<a/>")
    with pytest.raises(awrs.ConfigurationError, match="regex must be a string"):
        build_constraint("regex", 5)
