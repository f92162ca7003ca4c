"""The schema's dead-end check of SQL prefixes: names no completion can make compile are refused
as soon as they are written, masks agree with ``advance``, and the incremental pass of the
critic judges exactly as a fresh one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.base import Constraint
from awrs.constraints.sql import SQL, SchemaNames
from awrs.constraints.testing import check_prefix_monotone
from awrs.constraints.trie import VocabTrie

DDL = """CREATE TABLE singer ("Singer_ID" int PRIMARY KEY, Name text, "Home Town" text, Age int);
CREATE TABLE concert (concert_ID int, Singer_ID int, Year text);"""

DEAD = [
    "SELECT Name FROM song_name ",  # no such table
    "SELECT Name FROM sal",  # no table starts so
    'SELECT Name FROM "concerts.til;" ',  # a quoted name is a name
    "SELECT COLUM(Name) FROM singer",  # no such function
    "SELECT T1.Name FROM singer AS T1 WHERE T1.Year",  # singer has no Year
    "SELECT singer.Yea",
    "SELECT Name FROM singer JOIN gig ",
    "SELECT Name FROM singer, gig ",
]
ALIVE = [
    "SELECT Name FROM sin",  # still typing "singer"
    "SELECT Name FROM singer",
    "SELECT T1.Name FROM singer AS T1 JOIN concert AS T2 ON T1.Singer_ID = T2.Singer_ID",
    "SELECT Nme FROM singer",  # a bare unknown column: a FROM subquery may still define it
    "SELECT count(*) FROM singer WHERE Age IS DISTINCT FROM Age",
    "SELECT Name FROM singer -- from nowhere\n",
    "WITH c(x) AS (SELECT 1) SELECT x FROM c",
    "SELECT value FROM json_each('[1]')",
    "SELECT Name FROM main.singer",
    "SELECT Name FROM singer WHERE Name = 'from nowhere'",
    "SELECT T1.Name FROM singer AS T1 WHERE T1. Age > 1",
    "SELECT rank() OVER (ORDER BY Age) FROM singer",
]


@pytest.mark.parametrize("text", DEAD)
def test_names_no_completion_can_compile_are_refused_at_once(text):
    assert not SQL(DDL, schema_prefix=True).accepts_prefix(text), text
    assert SQL(DDL, schema_prefix=False).accepts_prefix(text), text  # grammar-only before


@pytest.mark.parametrize("text", ALIVE)
def test_prefixes_that_may_still_compile_are_kept(text):
    c = SQL(DDL, schema_prefix=True)
    raw = text.encode()
    assert all(c.accepts_prefix(raw[:i]) for i in range(len(raw) + 1)), text
    check_prefix_monotone(c, [raw])


STRICT_DEAD = [
    "SELECT Nme FROM singer",  # no column, alias nor CTE of that name
    "SELECT Name FROM singer WHERE Agee > 1",
    "SELECT x FROM (SELECT 1 AS x)",  # a subquery's column: reachable as s.x only
    "SELECT value FROM json_each('[1]')",
]
STRICT_ALIVE = [
    "SELECT Nam",  # still being typed
    "SELECT count(*) AS n FROM singer ORDER BY n",
    "SELECT TRUE, rowid FROM singer",
    "SELECT s.x FROM (SELECT 1 AS x) AS s",
    "WITH c(x) AS (SELECT 1) SELECT x FROM c",
    "WITH c AS (SELECT Age FROM singer) SELECT Age FROM c",
    "SELECT rank() OVER (ORDER BY Age ROWS UNBOUNDED PRECEDING) FROM singer",
    "SELECT Name FROM singer ORDER BY Name COLLATE NOCASE",
]


@pytest.mark.parametrize("text", STRICT_DEAD)
def test_strict_names_refuse_a_bare_name_the_schema_does_not_define(text):
    raw = text.encode()
    assert not SQL(DDL, strict_names=True).accepts_prefix(raw), text
    assert SQL(DDL, schema_prefix=True).accepts_prefix(raw), text  # only a cost without


@pytest.mark.parametrize(
    "text",
    STRICT_ALIVE
    + [
        t
        for t in ALIVE
        if t not in ("SELECT Nme FROM singer", "SELECT value FROM json_each('[1]')")
    ],
)
def test_strict_names_keep_names_defined_before_their_use(text):
    c, raw = SQL(DDL, strict_names=True), text.encode()
    assert all(c.accepts_prefix(raw[:i]) for i in range(len(raw) + 1)), text


NAME_FRAGMENTS = [
    "SELECT",
    " ",
    "FROM",
    "Name",
    "Nme",
    "x",
    "singer",
    ",",
    "AS",
    "(",
    ")",
    "1",
    "c",
    "WITH",
    "WHERE",
    "=",
]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(NAME_FRAGMENTS), max_size=12))
def test_strict_names_only_narrow_the_schema_check(parts):
    raw = "".join(parts).encode()
    if SQL(DDL, strict_names=True).accepts_prefix(raw):
        assert SQL(DDL, schema_prefix=True).accepts_prefix(raw), raw


def test_a_name_being_typed_may_still_become_a_keyword():
    c = SQL(DDL, schema_prefix=True)
    critic = SchemaNames(c.tables, c.functions)
    # "t" after "T1." is no column of singer, but it may still become THEN: judged when done
    assert not critic.dead("SELECT T1.Name FROM singer AS T1 WHERE T1.t")
    assert critic.dead("SELECT T1.Name FROM singer AS T1 WHERE T1.tx")
    assert c.accepts_prefix("SELECT Name FROM IN")  # INNER, INTERSECT, ...
    assert not c.accepts_prefix("SELECT Name FROM INx ")


def test_search_advance_skips_the_schema_check_only():
    c = SQL(DDL, schema_prefix=True)
    s = c.advance(c.start(), b"SELECT Name FROM ")
    assert c.advance(s, b"gig ") is None and c.search_advance(s, b"gig ") is not None
    assert c.search_advance(s, b"singer") == c.advance(s, b"singer")


WORDS = [
    b"SELECT",
    b" Name",
    b" FROM",
    b" singer",
    b"ger",
    b" sin",
    b" concert",
    b"(",
    b")",
    b".",
    b" AS",
    b" T1",
    b"T1",
    b"_ID",
    b"'",
    b'"',
    b"\n",
    b" ",
    b"--",
    b"*/",
    b"/*",
    b"]",
    b"[",
    b"`",
    b" json_each",
    b"_each(",
    b"COUNT(",
    b"count",
    b"OL",
    b"Age",
    b" Age",
    b" WHERE",
    b" =",
    b" 1",
    b"1",
    b",",
    b" IN",
    b"NER",
    b" JOIN",
    b"ON",
    b" ON",
    b"t",
    b" then",
    b"Yea",
    b"r",
    b" x",
    b"a",
    b"in",
    b"_in",
    b"(*)",
    b"*",
    b" gig",
    b"\xc3",
    b"\xa9",
    b"-",
    b"/",
    b"e5",
    b" DISTINCT",
    b"main",
    b" main",
]
PREFIXES = [
    b"",
    b"SELECT",
    b"SELECT ",
    b"SELECT Name FROM",
    b"SELECT Name FROM ",
    b"SELECT Name FROM sin",
    b"SELECT Name FROM singer",
    b"SELECT Name FROM singer ",
    b"SELECT T1.Name FROM singer AS T1 WHERE T1.",
    b"SELECT T1.Name FROM singer AS T1 WHERE T1.Ag",
    b"SELECT COU",
    b"SELECT Name FROM singer WHERE Name = 'ab",
    b'SELECT Name FROM "sin',
    b"SELECT Name FROM [sin",
    b"SELECT Name -- a comment",
    b"SELECT Name /* x",
    b"SELECT 12",
    b"SELECT Name FROM singer, ",
    b"WITH c(x) AS (SELECT 1) SELECT x FROM ",
    b"SELECT Name FROM IN",
    b"SELECT Name FROM singer WHERE Age IS DISTINCT FROM ",
    b"SELECT value FROM json_",
    b"SELECT Name FROM singer AS s JOIN concert AS c ON s.",
    b"SELECT max(",
    b"SELECT caf\xc3",
]


def test_masks_agree_with_advance_token_by_token():
    c = SQL(DDL, schema_prefix=True)
    trie = VocabTrie(WORDS)
    for pre in PREFIXES:
        state = c.advance(c.start(), pre)
        assert state is not None, pre
        fast = c.token_mask(state, trie)
        slow = Constraint.token_mask(c, state, trie)  # byte by byte through advance
        assert (fast == slow).all(), (pre, [WORDS[i] for i in np.flatnonzero(fast != slow)])


FRAGMENTS = [
    "SELECT",
    " ",
    "FROM",
    "WHERE",
    "(",
    ")",
    ",",
    ".",
    "AS",
    "T1",
    "T2",
    "--x\n",
    "/*c*/",
    "'s'",
    '"q"',
    '"singer"',
    "JOIN",
    "ON",
    "count",
    "=",
    "1",
    "IS",
    "DISTINCT",
    "WITH",
    "c",
    "x",
    "-",
    "/",
    "sin",
    "ger",
    "json_each",
    "singer",
    "concert",
    "Name",
    "Age",
    "Year",
    "*",
    "\n",
    "IN",
    "NER",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=24))
def test_the_incremental_pass_judges_as_a_fresh_one(parts):
    text = "".join(parts)
    c = SQL(DDL, schema_prefix=True)
    warm = SchemaNames(c.tables, c.functions)
    for i in range(len(text) + 1):  # walked prefix by prefix: resumes from checkpoints
        assert warm.walk(text[:i]) == SchemaNames(c.tables, c.functions).walk(text[:i])
    # dead stays dead: no extension of a refused prefix is accepted
    raw = text.encode()
    alive = [c.accepts_prefix(raw[:i]) for i in range(len(raw) + 1)]
    assert alive == sorted(alive, reverse=True), text


def test_critic_functions_follow_the_constraints_profile():
    assert not SQL(DDL, schema_prefix=True).accepts_prefix("SELECT load_extension(")
    assert SQL(DDL, functions=None, schema_prefix=True).accepts_prefix("SELECT anything(")
    assert awrs.SQL(DDL, functions={"abs"}, schema_prefix=True).accepts_prefix("SELECT abs(")


def test_a_character_split_across_tokens_is_judged_by_what_it_may_become():
    # every completion of the lead byte makes a name no table starts with: refused now, not
    # one token later with nothing left to write (a dead end)
    assert not SQL(DDL, schema_prefix=True).accepts_prefix(b"SELECT Name FROM sin\xc3")
    assert not SQL(DDL, schema_prefix=True).accepts_prefix(b"SELECT Name FROM \xe2\x82")
    cafe = SQL('CREATE TABLE "caf\xe9" (x int);', schema_prefix=True)
    assert cafe.accepts_prefix(b"SELECT x FROM caf\xc3")
    assert cafe.accepts_prefix("SELECT x FROM caf\xe9".encode())
    assert not cafe.accepts_prefix("SELECT x FROM caf\xe8 ".encode())
