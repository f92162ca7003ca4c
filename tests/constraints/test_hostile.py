"""Hostile grammars and SQL schemas: an answer or a typed awrs error, in bounded time."""

from __future__ import annotations

import contextlib
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import awrs

GRAMMAR_PIECES = st.sampled_from(
    [
        "start: a",
        'a: "x" a | "y"',
        'a: a a | "x"',
        'start: "(" start ")" | ',
        "b: /[a-z]+/",
        '%ignore " "',
        "start: b*",
        "X: /(a|aa)+/",
        "start: X",
        "%import common.WS",
        "start:",
        "a: b",
        "b: a",
        'start: "a"i+',
        "S: /[^\\x00-\\x7f]+/",
        'start: S | "é"',
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(st.lists(GRAMMAR_PIECES, min_size=1, max_size=5).map("\n".join), st.text(max_size=60))
)
def test_hostile_grammars(text):
    t0 = time.perf_counter()
    try:
        g = awrs.Grammar(text)
        g.accepts_prefix(b"x(y")
        g.accepts("xy")
    except awrs.AwrsError:
        pass
    assert time.perf_counter() - t0 < 20, text


NAMES = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(
        ["sqlite_sequence", "sqlite_master", "select", 'a"b', "", " ", "pragma_x", "t" * 200]
    ),
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(NAMES, min_size=0, max_size=4),
    st.lists(st.tuples(st.integers(-2, 4), NAMES), max_size=6),
)
def test_hostile_spider_entries(tables, columns):
    entry = {
        "db_id": "x",
        "table_names_original": tables,
        "column_names_original": [[-1, "*"], *map(list, columns)],
        "column_types": ["text"] * (len(columns) + 1),
    }
    t0 = time.perf_counter()
    try:
        c = awrs.SQL(entry)
        c.accepts("SELECT 1")
    except awrs.AwrsError:
        pass
    assert time.perf_counter() - t0 < 20


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(max_size=80), st.just("CREATE TABLE t(a);" * 50)))
def test_hostile_ddl(ddl):
    t0 = time.perf_counter()
    with contextlib.suppress(awrs.AwrsError):
        awrs.SQL(ddl).accepts("SELECT a FROM t")
    assert time.perf_counter() - t0 < 20
