"""Closing hints of SQL prefixes: the open string closed, the name being typed finished from
the schema, open SELECTs given FROM and closed; Closing verifies each, so a hint it returns
completes the statement, and with them many more prefixes of real queries get a completion."""

from __future__ import annotations

import json
import random

import pytest

from awrs.constraints.closing import Closing
from awrs.constraints.sql import SQL, SchemaNames
from awrs.constraints.sql.hints import closing_hints

BYTES = [bytes([b]) for b in range(256)]
DDL = """CREATE TABLE singer ("Singer_ID" int PRIMARY KEY, Name text, "Home Town" text, Age int);
CREATE TABLE concert (concert_ID int, Singer_ID int, Year text);"""


def hints(prefix: str) -> list[str]:
    c = SQL(DDL)
    return [h.decode() for h in closing_hints(SchemaNames(c.tables, c.functions), prefix.encode())]


def completes(c: SQL, prefix: str, hint: str) -> bool:
    return c.accepts((prefix + hint).encode())


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("SELECT Name FROM singer WHERE Name = 'ab", "'"),
        ("SELECT T2.Year FROM singer AS T1 JOIN concert AS T2 ON T1.Singer_ID = T2.", "singer_id"),
        ("SELECT Name FROM", " singer"),
        ("SELECT Name FROM sin", "ger"),
        ("SELECT Name FROM singer WHERE Age > (SELECT avg(Age", ") FROM singer)"),
        ("SELECT Name FROM singer WHERE Age IN", " (1)"),
        ("SELECT Name FROM singer /* a comment", "*/"),
    ],
)
def test_the_expected_completion_is_among_the_hints(prefix, expected):
    hs = hints(prefix)
    assert expected in hs, (prefix, hs)
    assert completes(SQL(DDL), prefix, expected)


def test_hints_are_verified_so_a_wrong_guess_costs_nothing():
    c, prefix = SQL(DDL), b"SELECT Name FROM singer WHERE Age >"
    state = c.advance(c.start(), prefix)
    assert any(not c.accepts(prefix + h) for h in c.closing_hints(state))  # e.g. " name"
    tail = Closing(c, BYTES).completion(state)
    assert tail is not None and c.accepts(prefix + tail)


def test_a_split_character_is_finished_first():
    c = SQL(DDL)
    hs = closing_hints(SchemaNames(c.tables, c.functions), b"SELECT 'caf\xc3")
    assert hs and all(h.startswith(b"\x80") for h in hs)  # a valid character: \xc3\x80
    assert any(c.accepts(b"SELECT 'caf\xc3" + h) for h in hs)


def test_hints_complete_many_more_prefixes_of_real_queries(data_dir):
    path = data_dir / "spider" / "dev-open.json"
    db = data_dir / "spider" / "concert_singer.sqlite"
    if not path.exists() or not db.exists():
        pytest.skip("Spider data is absent")
    gold = [
        q["query"].encode() for q in json.loads(path.read_text()) if q["db_id"] == "concert_singer"
    ]
    rng = random.Random(0)
    cuts = [(q[: rng.randrange(1, len(q))]) for q in rng.choices(gold, k=60)]
    c = SQL(str(db))
    plain = SQL(str(db))
    plain.closing_hints = lambda state: ()  # the depth-first search alone
    found = {}
    for name, con in (("hints", c), ("plain", plain)):
        cl, n = Closing(con, BYTES), 0
        for cut in cuts:
            state = con.advance(con.start(), cut)
            assert state is not None, cut
            tail = cl.completion(state)
            if tail is not None:
                assert c.accepts(cut + tail), (cut, tail)
                n += 1
        found[name] = n
    assert found["hints"] >= 0.7 * len(cuts) and found["hints"] >= 1.5 * found["plain"], found
