"""Schema DDL runs in a sandbox: a private in-memory database, an authorizer that lets schema
statements through and nothing else, limits, and a bound on every statement."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.sql import schema
from awrs.constraints.sql.schema import connect, schema_ddl

BASE = "CREATE TABLE t (a INT, b TEXT);\n"
COUNT = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 1000000000) SELECT max(x) FROM c"
)


#: (DDL after BASE, with {tmp} a fresh folder; the statement kind its refusal names)
PROBES = [
    ("ATTACH '{tmp}/evil.db' AS e; CREATE TABLE e.x(a);", "ATTACH"),
    ("attach database '{tmp}/evil.db' as e;", "ATTACH"),
    ("AtTaCh/**/DATABASE/**/'{tmp}/evil.db'/**/AS/**/e;", "ATTACH"),
    ("/* x */ ATTACH -- c\n '{tmp}/evil.db' AS e;", "ATTACH"),
    ("VACUUM INTO '{tmp}/copy.db';", "VACUUM"),
    ("vacuum main into '{tmp}/copy.db';", "VACUUM"),
    ("VACUUM;", "VACUUM"),
    ("DETACH main;", "DETACH"),
    ("PRAGMA foreign_keys = ON;", "PRAGMA"),
    ("pragma/**/writable_schema=1;", "PRAGMA"),
    ("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;", "CREATE TRIGGER"),
    ("create temp trigger tr after insert on t begin select 1; end;", "TRIGGER"),
    ("CREATE VIRTUAL TABLE vt USING fts5(a);", "CREATE VIRTUAL TABLE"),
    ("CREATE VIRTUAL TABLE vr USING rtree(id, x0, x1);", "CREATE VIRTUAL TABLE"),
    ("INSERT INTO t VALUES (1, 'x');", "INSERT"),
    ("REPLACE INTO t VALUES (1, 'x');", "INSERT"),
    ("UPDATE t SET a = 1;", "UPDATE"),
    ("DELETE FROM t;", "DELETE"),
    ("CREATE TABLE z AS SELECT 1 AS q;", "CREATE TABLE ... AS SELECT"),
    (f"CREATE TABLE z AS {COUNT};", "CREATE TABLE ... AS SELECT"),
    ("SELECT load_extension('/tmp/x');", "SELECT"),
    ("CREATE TABLE d (a DEFAULT (load_extension('/tmp/x')));", "load_extension()"),
    ("CREATE VIEW v AS SELECT json_extract(b, '$') FROM t;", "json_extract()"),
    ("CREATE VIEW v AS SELECT b -> '$.x' FROM t;", "->()"),
    ("CREATE TABLE d (a DEFAULT (json_extract('{}', '$.a')));", "json_extract()"),
    ("CREATE TABLE d (a DEFAULT (randomblob(1000000000)));", "randomblob()"),
    ("CREATE TABLE c (a CHECK (json_valid(a)));", "json_valid()"),
    ("CREATE TABLE g (a, b AS (printf('%s', a)));", "printf()"),
    ("CREATE INDEX i ON t (zeroblob(a));", "zeroblob()"),
    ("CREATE VIEW v AS SELECT * FROM pragma_table_info('t');", "pragma_table_info"),
    ("CREATE VIEW v AS SELECT * FROM json_each('[1]');", "json_each"),
    ("CREATE TEMP TABLE tt (a);", "CREATE TEMP TABLE"),
    ("CREATE TEMPORARY VIEW tv AS SELECT 1;", "CREATE TEMP VIEW"),
    ("ALTER TABLE t ADD COLUMN c;", "ALTER TABLE"),
    ("ANALYZE;", "ANALYZE"),
    ("SAVEPOINT s;", "SAVEPOINT"),
    ("SELECT 1;", "SELECT"),
    (f"{COUNT};", "SELECT"),
]


@pytest.mark.parametrize("ddl, kind", PROBES)
def test_every_probe_is_refused_naming_its_kind_and_touches_no_file(tmp_path, ddl, kind):
    t0 = time.monotonic()
    with pytest.raises(awrs.AwrsError) as info:
        awrs.SQL(BASE + ddl.replace("{tmp}", str(tmp_path)))
    assert time.monotonic() - t0 < 2
    assert isinstance(info.value, awrs.ConstraintError)
    assert kind in str(info.value) and "not allowed in schema DDL" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_attached_file_contents_never_reach_an_error(tmp_path):
    secret = tmp_path / "secret.db"
    conn = sqlite3.connect(secret)
    conn.execute("CREATE TABLE s (v TEXT)")
    conn.execute("INSERT INTO s VALUES ('TOPSECRET')")
    conn.commit()
    conn.close()
    before = secret.read_bytes()
    for ddl in (
        f"ATTACH '{secret}' AS e; CREATE VIEW v AS SELECT json_extract(v, '$') FROM e.s;",
        f"ATTACH '{secret}' AS e; CREATE TABLE x AS SELECT json_extract(v, '$') FROM e.s;",
        f"ATTACH '{secret}' AS e; INSERT INTO e.s VALUES ('x');",
    ):
        with pytest.raises(awrs.UnsupportedFeatureError) as info:
            awrs.SQL(BASE + ddl)
        assert "TOPSECRET" not in str(info.value) and "ATTACH" in str(info.value)
    assert secret.read_bytes() == before


def test_a_statement_past_its_bound_ends_with_the_typed_error():
    conn = schema._limited(sqlite3.connect(":memory:", isolation_level=None))
    box = schema._Sandbox()
    conn.set_progress_handler(box.progress, schema._PROGRESS_EVERY)
    t0 = time.monotonic()
    with pytest.raises(awrs.ConstraintTimeoutError, match="ran past its bound"):
        box._run(conn, COUNT, "statement 1", COUNT)  # no authorizer here: it would refuse
    assert time.monotonic() - t0 < 3


def test_a_counting_view_loads_at_once_and_is_never_run():
    t0 = time.monotonic()
    c = awrs.SQL(BASE + f"CREATE VIEW v AS {COUNT};")
    assert c.accepts("SELECT * FROM v") and not c.accepts("SELECT y FROM v")
    assert time.monotonic() - t0 < 5


def test_schema_statements_and_names_like_keywords_load():
    ddl = (
        BASE
        + """
        CREATE TABLE attach_id (pragma INT, vacuum TEXT, "trigger" INT, "insert" TEXT);
        create index Attach_Idx on attach_id (lower(vacuum)) where pragma > abs(1);
        CREATE UNIQUE INDEX u ON t (a);
        CREATE TABLE IF NOT EXISTS seq (id INTEGER PRIMARY KEY AUTOINCREMENT,
            made TEXT DEFAULT (datetime('now')), at TEXT DEFAULT CURRENT_TIMESTAMP,
            n INT DEFAULT -1 CHECK (n < 100), g TEXT AS (upper(made)),
            FOREIGN KEY (n) REFERENCES t (a));
        /* a comment; with a semicolon */ -- and another;
        CREATE VIEW "v;w" AS SELECT a, count(*) AS n FROM t GROUP BY a;
        BEGIN; CREATE TABLE q (a); COMMIT;
        DROP TABLE IF EXISTS gone; CREATE TABLE gone (a); DROP TABLE gone;
        CREATE TABLE last (x) -- no final semicolon"""
    )
    conn, tables = connect(ddl)
    assert tables["attach_id"] == {"pragma", "vacuum", "trigger", "insert"}
    assert {"t", "seq", "v;w", "q", "last"} <= set(tables) and "gone" not in tables
    assert awrs.SQL(ddl).accepts('SELECT pragma FROM attach_id JOIN "v;w" ON pragma = a')


def test_limits_hold_on_the_explain_connection(tmp_path):
    c = awrs.SQL(BASE)
    assert c.conn.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED) == 0
    assert (
        c.conn.getlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH)
        == schema._LIMITS[sqlite3.SQLITE_LIMIT_SQL_LENGTH]
    )
    with pytest.raises(sqlite3.OperationalError):
        c.conn.execute(f"ATTACH '{tmp_path / 'x.db'}' AS x")  # even with no authorizer
    assert list(tmp_path.iterdir()) == []
    path = tmp_path / "f.sqlite"
    sqlite3.connect(path).executescript(BASE)
    assert awrs.SQL(path).conn.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED) == 0
    with pytest.raises(awrs.ConstraintError, match="characters"):
        connect("CREATE TABLE t (a); " + " " * (schema._MAX_DDL + 1))


def test_a_callers_memory_connection_is_replayed_in_the_sandbox():
    mem = sqlite3.connect(":memory:")
    mem.executescript(
        BASE + "INSERT INTO t VALUES (1, 'x');"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END;"
        "CREATE VIEW v AS SELECT a FROM t;"
    )
    c = awrs.SQL(mem)
    assert c.accepts("SELECT a FROM v") and c.conn is not mem
    assert c.conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
    ).fetchone() == (0,)  # the trigger is left out
    assert c.conn.execute("SELECT count(*) FROM t").fetchone() == (0,)  # rows stay behind
    bad = sqlite3.connect(":memory:")
    bad.execute("CREATE VIEW v AS SELECT json_extract('{}', '$')")
    with pytest.raises(awrs.UnsupportedFeatureError, match="json_extract"):
        awrs.SQL(bad)


def test_compile_errors_keep_sqlites_words_run_errors_do_not():
    with pytest.raises(awrs.ConstraintError, match="syntax error"):
        connect("CREATE TABLE (")
    with pytest.raises(awrs.ConstraintError, match="no such table"):
        connect("CREATE VIEW v AS SELECT a FROM nowhere;")


def test_every_spider_schema_still_loads(data_dir):
    path = data_dir / "spider" / "tables.json"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    entries = json.loads(path.read_text())
    for entry in entries:
        _, tables = connect(schema_ddl(entry))
        assert len(tables) == len(
            [t for t in entry["table_names_original"] if not t.lower().startswith("sqlite_")]
        ), entry["db_id"]
    for entry in entries[::10]:
        assert awrs.SQL(entry).tables


# -- generated DDL -----------------------------------------------------------------------------

ALLOWED = [
    "CREATE TABLE {n} (a INT, attach_id TEXT, pragma INT)",
    "CREATE TABLE IF NOT EXISTS {n} (a INTEGER PRIMARY KEY, b TEXT DEFAULT 'x' "
    "CHECK (length(b) < 9))",
    "CREATE VIEW {n} AS SELECT a, lower(b) AS lb FROM t",
    "CREATE INDEX {n} ON t (a, b)",
    "CREATE UNIQUE INDEX {n} ON t (abs(a))",
]
FORBIDDEN = [
    ("ATTACH '{f}' AS {n}", "ATTACH"),
    ("ATTACH DATABASE '{f}' AS {n}", "ATTACH"),
    ("VACUUM INTO '{f}'", "VACUUM"),
    ("PRAGMA {n}", "PRAGMA"),
    ("CREATE TRIGGER {n} AFTER INSERT ON t BEGIN SELECT 1; END", "TRIGGER"),
    ("CREATE VIRTUAL TABLE {n} USING fts5(a)", "VIRTUAL"),
    ("INSERT INTO t VALUES (1, 'a')", "INSERT"),
    ("CREATE TABLE {n} AS SELECT * FROM t", "AS SELECT"),
    ("CREATE VIEW {n} AS SELECT json_extract(b, '$') FROM t", "json_extract"),
    ("CREATE TABLE {n} (a DEFAULT (load_extension('{f}')))", "load_extension"),
]


def variant(draw, sql: str) -> str:
    """``sql`` with its keywords in random case and random blanks or comments between words."""
    words = sql.split(" ")
    out = []
    for w in words:
        if not w.startswith("'"):
            w = "".join(ch.upper() if draw(st.booleans()) else ch.lower() for ch in w)
        out.append(w)
    seps = [
        draw(st.sampled_from([" ", "  ", "\n", "\t", " /**/ ", "/* ; */", " -- ;\n"]))
        for _ in out[1:]
    ]
    return out[0] + "".join(s + w for s, w in zip(seps, out[1:], strict=True))


@st.composite
def scripts(draw, tmp: str):
    names = iter(
        f"{draw(st.sampled_from(['attach', 'pragma', 'x', 'vacuum']))}_id{i}" for i in range(100)
    )
    n_stmts = draw(st.integers(1, 4))
    stmts, bad = [], None
    for _ in range(n_stmts):
        if draw(st.integers(0, 3)) == 0 and bad is None:
            template, kind = draw(st.sampled_from(FORBIDDEN))
            bad = kind
        else:
            template = draw(st.sampled_from(ALLOWED))
        stmts.append(variant(draw, template.format(n=next(names), f=f"{tmp}/out.db")))
    return "CREATE TABLE t (a INT, b TEXT);\n" + ";\n".join(stmts) + ";", bad


@settings(
    max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_generated_ddl_loads_or_is_refused_by_kind(tmp_path, data):
    ddl, bad = data.draw(scripts(str(tmp_path)))
    if bad is None:
        _, tables = connect(ddl)
        assert "t" in tables
    else:
        with pytest.raises(awrs.UnsupportedFeatureError) as info:
            connect(ddl)
        assert bad.lower() in str(info.value).lower(), (ddl, str(info.value))
    assert list(tmp_path.iterdir()) == []
