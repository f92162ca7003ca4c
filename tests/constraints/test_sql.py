"""SQL constraint: Spider gold queries accepted, schemas enforced, nothing but EXPLAIN ever run."""

from __future__ import annotations

import functools
import hashlib
import json
import random
import sqlite3

import pytest
from lark import Lark

import awrs
from awrs.constraints.base import Constraint
from awrs.constraints.sql import SQL, SchemaNames, schema_ddl, sql_grammar
from awrs.constraints.testing import check_prefix_monotone
from awrs.constraints.trie import VocabTrie
from awrs.errors import ConfigurationError, ConstraintError

INF = float("inf")
DDL = """CREATE TABLE singer ("Singer_ID" int PRIMARY KEY, Name text, "Home Town" text, Age int);
CREATE TABLE concert (concert_ID int, Singer_ID int, Year text);"""


@pytest.fixture(scope="module")
def spider(data_dir):
    root = data_dir / "spider"
    if not (root / "dev-open.json").exists():
        pytest.skip(f"Spider data is absent from {root}")
    dev = json.loads((root / "dev-open.json").read_text())
    tables = {t["db_id"]: t for t in json.loads((root / "tables.json").read_text())}
    return root, dev, tables


@functools.cache
def _sql_for(db_id: str, entry_json: str) -> SQL:
    return SQL(json.loads(entry_json), guide=True)


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_spider_gold_queries_accepted_from_tables_json(spider):
    _, dev, tables = spider
    sample = random.Random(0).sample(dev, 100)
    for item in sample:
        c = _sql_for(item["db_id"], json.dumps(tables[item["db_id"]]))
        q = item["query"]
        assert c.accepts(q), (item["db_id"], q)
        raw = q.encode()
        state = c.start()
        for i in range(len(raw)):
            state = c.advance(state, raw[i : i + 1])
            assert state is not None, raw[: i + 1]
        assert c.is_complete(state)
        assert all(c.guide(q[:k]) == 0.0 for k in range(0, len(q) + 1, 3)), q


def test_concert_singer_queries_compile_against_the_file(spider):
    root, dev, _ = spider
    path = root / "concert_singer.sqlite"
    before = sha(path)
    c = SQL(path)
    queries = [x["query"] for x in dev if x["db_id"] == "concert_singer"]
    assert len(queries) == 45
    assert all(c.accepts(q) for q in queries)
    for bad in [
        "DROP TABLE singer",
        "SELECT 1; SELECT 2",
        "INSERT INTO singer VALUES (1)",
        "SELECT nme FROM singer",
        "SELECT name FROM singers",
        "DELETE FROM singer",
        "SELECT * FROM singer; DROP TABLE singer",
        "UPDATE singer SET age = 1",
    ]:
        assert not c.accepts(bad), bad
        assert not c.compiles(bad) or bad.startswith("SELECT"), bad
    assert not c.accepts_prefix("DROP") and not c.accepts_prefix("SELECT 1; S")
    assert c.accepts_prefix("SELECT nme FROM singer")  # a name may still grow
    assert sha(path) == before


def test_schema_inputs_ddl_connection_and_errors(tmp_path):
    ddl = SQL(DDL)
    assert ddl.accepts(
        'SELECT T1.Name, "Home Town" FROM singer AS T1 JOIN concert USING '
        "(Singer_ID) WHERE T1.Age > 30 ORDER BY Year DESC LIMIT 2;"
    )
    assert not ddl.accepts("SELECT Town FROM singer")
    mem = sqlite3.connect(":memory:")
    mem.executescript(DDL + "INSERT INTO singer VALUES (1, 'a', 'b', 3);")
    c = SQL(mem)
    assert c.accepts("SELECT count(*) FROM singer") and not c.accepts("SELECT x FROM singer")
    assert mem.execute("SELECT count(*) FROM singer").fetchone() == (1,)
    path = tmp_path / "db.sqlite"
    fconn = sqlite3.connect(path)
    fconn.executescript(DDL)
    fconn.commit()
    before = sha(path)
    for db in (fconn, path, str(path)):
        c = SQL(db)
        assert c.accepts("SELECT Name FROM singer WHERE Age BETWEEN 1 AND 2")
        assert not c.accepts("SELECT Name FROM concert")
    assert sha(path) == before
    with pytest.raises(ConfigurationError):
        SQL(str(tmp_path / "missing.sqlite"))
    with pytest.raises(ConfigurationError):
        SQL(42)
    with pytest.raises(ConstraintError):
        SQL("CREATE TABLE (")
    with pytest.raises(ConfigurationError):
        SQL({"db_id": "x"})


def test_schema_ddl_from_tables_json(spider):
    _, _, tables = spider
    for entry in list(tables.values())[:40]:
        conn = sqlite3.connect(":memory:")
        conn.executescript(schema_ddl(entry))
        got = {r[0].lower() for r in conn.execute("SELECT name FROM sqlite_master")}
        assert got >= {t.lower() for t in entry["table_names_original"]}


def test_grammar_agrees_with_lark_on_mutated_queries(spider):
    _, dev, _ = spider
    text = sql_grammar().text
    ref = Lark(text, parser="lalr")
    g = sql_grammar()
    rng = random.Random(1)
    pool = list("abSELCTFROMWHJIN ()*,.'\"=<>!|0123-`[];") + ["select", " from ", " on ", "é"]
    for _ in range(400):
        s = rng.choice(dev)["query"]
        for _ in range(rng.randint(1, 3)):
            p = rng.randrange(len(s) + 1)
            s = s[:p] + s[p + 1 :] if rng.random() < 0.5 else s[:p] + rng.choice(pool) + s[p:]
        try:
            ref.parse(s)
            ok = True
        except Exception:
            ok = False
        assert g.accepts(s) == ok, s


def test_sql_features_and_prefix_contract():
    c = SQL(DDL)
    for q in [
        "SELECT DISTINCT Name FROM singer WHERE Name LIKE 'it''s%' OR Name NOT LIKE '%x'",
        "SELECT Name FROM singer WHERE Singer_ID IN (SELECT Singer_ID FROM concert) "
        "AND NOT EXISTS (SELECT 1 FROM concert WHERE Year IS NOT NULL)",
        "SELECT CASE WHEN Age > 3 THEN 'old' ELSE 'young' END AS k, count(DISTINCT Name) "
        "FROM singer GROUP BY k HAVING count(*) >= 1 ORDER BY 1 ASC LIMIT 1 OFFSET 2",
        "SELECT Name FROM singer UNION ALL SELECT Year FROM concert EXCEPT SELECT 'a'",
        "select s.name from singer s natural join concert cross join "
        "(select 1 as one) as t where (age + 1) * 2 - -3 % 4 <> 5",
        "SELECT [Name], `Age` FROM singer LEFT OUTER JOIN concert ON singer.Singer_ID = "
        "concert.Singer_ID WHERE Age NOT BETWEEN 1 AND 2 AND Year IS NULL",
        "WITH x AS (SELECT Age FROM singer) SELECT max(Age) FROM x;",
        "SELECT (SELECT max(Age) FROM singer), 1.5e3, X'0A', NULL INTERSECT SELECT 1, 2, 3, 4",
    ]:
        assert c.accepts(q), q
    check_prefix_monotone(c, [b"SELECT Name FROM singer WHERE Age > 1", b"SELECT 'caf\xc3\xa9'"])
    trie = VocabTrie(
        [
            b"SELECT",
            b" Name",
            b" FROM",
            b" singer",
            b"x",
            b"'",
            b";",
            b" WHERE",
            b" (",
            b"Name,",
            b"\xc3",
            b"*",
        ]
    )
    for pre in (b"", b"SELECT", b"SELECT Name", b"SELECT Name FROM singer"):
        state = c.advance(c.start(), pre)
        assert (c.token_mask(state, trie) == Constraint.token_mask(c, state, trie)).all(), pre


def test_critic_flags_unknown_names():
    critic = SQL(DDL, guide=True).guide
    assert isinstance(critic, SchemaNames) and SQL(DDL, guide=False).guide is None
    assert isinstance(SQL(DDL).guide, SchemaNames)  # on by default: smc's guide
    from awrs.constraints.sql import SchemaCritic

    assert SchemaCritic is SchemaNames  # the old name, kept one release
    assert critic("SELECT T1.Name FROM singer AS T1 WHERE T1.Age") == 0.0
    assert critic("SELECT T1.Name FROM singer AS T1 WHERE T1.Ag") == 0.0  # still typing
    assert critic("SELECT T1.Name FROM singer AS T1 WHERE T1.Agx") == -INF
    assert critic("SELECT T1.Name FROM singer AS T1 WHERE T1.Year = 1") == -INF
    assert critic("SELECT Name FROM singers ") == -INF
    assert critic("SELECT Name FROM sin") == 0.0
    assert critic("SELECT Nme FROM singer") < 0.0
    assert critic('SELECT Name FROM singer WHERE Name = "Joe"') == 0.0
    assert critic("SELECT count(*) AS n FROM singer ORDER BY n") == 0.0


def test_lazy_export():
    assert awrs.SQL is SQL


@pytest.mark.slow
def test_tokenized_gold_queries(spider, default_lm):
    _, dev, tables = spider
    for item in random.Random(2).sample(dev, 30):
        c = _sql_for(item["db_id"], json.dumps(tables[item["db_id"]]))
        state = c.start()
        for tid in default_lm.encode(item["query"]):
            state = c.advance(state, default_lm.vocab[tid])
            assert state is not None
        assert c.is_complete(state)


def test_closed_statement_must_compile_at_the_semicolon():
    c = awrs.SQL("CREATE TABLE singer (Name TEXT, Age INT);")
    assert c.accepts_prefix("SELECT nope FROM singer")  # a column may still be renamed away
    assert not c.accepts_prefix("SELECT nope FROM singer;")  # only whitespace could follow
    assert c.accepts_prefix("SELECT Name FROM singer; ")
    assert c.accepts_prefix("SELECT ';' FROM singer")  # a semicolon inside a string is text
    check_prefix_monotone(c, [b"SELECT Name FROM singer;", b"SELECT x FROM singer;  "])


def test_whitespace_runs_are_bounded():
    c = awrs.SQL("CREATE TABLE t (a INT);", max_whitespace=3)
    assert c.accepts("SELECT   a FROM t")
    assert not c.accepts_prefix("SELECT    a")
    assert awrs.SQL("CREATE TABLE t (a INT);", max_whitespace=None).accepts_prefix(
        "SELECT" + " " * 50
    )
    with pytest.raises(awrs.ConfigurationError, match="max_whitespace"):
        awrs.SQL("CREATE TABLE t (a INT);", max_whitespace=0)


def test_token_mask_applies_whitespace_bound_and_semicolon_check():
    c = awrs.SQL("CREATE TABLE t (a INT);", max_whitespace=3)
    trie = VocabTrie([b"SELECT", b" a", b"  ", b"   ", b" x", b";", b" FROM", b" t", b"\n;"])
    for pre in (b"SELECT", b"SELECT  ", b"SELECT a", b"SELECT x FROM t", b"SELECT a FROM t"):
        state = c.advance(c.start(), pre)
        assert (c.token_mask(state, trie) == Constraint.token_mask(c, state, trie)).all(), pre


def test_token_mask_checks_whitespace_after_a_comment_ending_in_a_semicolon():
    # the newline ending "-- x y;" leaves a text ending in ";": the statement is closed, and an
    # aggregate in WHERE does not compile, so advance refuses it; the mask must agree (it had
    # accepted it, and SMC then drew a token whose state was None)
    c = awrs.SQL("CREATE TABLE t (a INT);")
    trie = VocabTrie([b"\n", b"\n  ", b" ", b"x", b";", b"\n;"])
    for pre, ok in (
        (b"SELECT a FROM t WHERE SUM(a) > 1 -- x y;", False),
        (b"SELECT a FROM t -- x y;", True),
    ):
        state = c.advance(c.start(), pre)
        mask = c.token_mask(state, trie)
        assert (mask == Constraint.token_mask(c, state, trie)).all(), pre
        assert bool(mask[0]) is ok, pre


# -- SQLite SELECT beyond the basics, the safe profile, internal tables ------------------------

MODERN = [
    "SELECT name, rank() OVER (PARTITION BY country ORDER BY age DESC) FROM singer",
    "SELECT name, sum(age) OVER w FROM singer WINDOW w AS (ORDER BY age ROWS BETWEEN 1 "
    "PRECEDING AND CURRENT ROW)",
    "SELECT avg(age) OVER (ORDER BY age RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED "
    "FOLLOWING EXCLUDE TIES) FROM singer",
    "SELECT count(*) OVER (w ROWS 2 PRECEDING) FROM singer WINDOW w AS (PARTITION BY country)",
    "SELECT lag(age, 1) OVER (ORDER BY age GROUPS BETWEEN CURRENT ROW AND 2 FOLLOWING "
    "EXCLUDE NO OTHERS) FROM singer",
    "SELECT count(*) FILTER (WHERE age > 30) FROM singer",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT * FROM (VALUES (1), (2))",
    "SELECT 1 UNION ALL VALUES (2)",
    "SELECT name FROM singer WHERE age IS NOT DISTINCT FROM 30",
    "SELECT name FROM singer WHERE age IS DISTINCT FROM NULL",
    "SELECT name -- the name\nFROM singer /* all of them */ WHERE age > 20;",
    "/* lead */ SELECT 1",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c",
    "WITH t AS MATERIALIZED (SELECT 1) SELECT * FROM t",
    "WITH t AS NOT MATERIALIZED (SELECT 1) SELECT * FROM t",
    "SELECT value FROM json_each('[1,2]')",
    "SELECT '{\"a\":1}' ->> '$.a', '{\"a\":1}' -> '$.a'",
    "SELECT name FROM singer NOT INDEXED",
    "SELECT\n    s.name,\n    s.age\nFROM\n    singer AS s\nWHERE\n    s.age > 20\n"
    "ORDER BY\n    s.age DESC;",
    "SELECT name\nFROM singer\nWHERE singer_id IN (\n        SELECT singer_id\n"
    "        FROM singer_in_concert\n    );",
]


@pytest.mark.parametrize("q", MODERN)
def test_sqlite_select_features_compile_on_sqlite(spider, q):
    root, _, _ = spider
    c = _concert(root)
    assert c.accepts(q), q
    assert sqlite3.connect(":memory:").execute("SELECT 1")  # sanity of the module
    raw = q.encode()
    assert all(c.accepts_prefix(raw[:i]) for i in range(len(raw) + 1))


@functools.cache
def _concert(root) -> SQL:
    return SQL(root / "concert_singer.sqlite")


@pytest.mark.parametrize(
    "q",
    [
        "SELECT load_extension('/tmp/x')",
        "SELECT randomblob(1000000000)",
        "SELECT zeroblob(1000000000)",
        "SELECT name FROM sqlite_master",
        "SELECT * FROM sqlite_schema",
        "SELECT * FROM pragma_table_info('singer')",
        "SELECT * FROM pragma_database_list",
        "SELECT sqlite_compileoption_get(0)",
        "SELECT printf('%.*c', 1000000000, 'x')",
        "SELECT last_insert_rowid()",
    ],
)
def test_default_profile_refuses_unsafe_calls_and_introspection(spider, q):
    root, _, _ = spider
    assert not _concert(root).accepts(q), q


def test_profile_opt_ins(spider):
    root, _, _ = spider
    c = SQL(root / "concert_singer.sqlite", functions=None, introspection=True)
    assert c.accepts("SELECT name FROM sqlite_master")
    assert c.accepts("SELECT * FROM pragma_table_info('singer')")
    assert c.accepts("SELECT randomblob(4)")
    assert SQL(root / "concert_singer.sqlite", functions={"abs"}).accepts("SELECT abs(-1)")
    assert not SQL(root / "concert_singer.sqlite", functions={"abs"}).accepts("SELECT max(1)")


def test_spider_entries_with_sqlite_sequence_load(spider):
    _, dev, tables = spider
    entries = [
        t
        for t in tables.values()
        if "sqlite_sequence" in (n.lower() for n in t["table_names_original"])
    ]
    assert len(entries) >= 3
    for entry in entries:
        c = SQL(entry)
        assert "sqlite_sequence" not in c.tables
        queries = [x["query"] for x in dev if x["db_id"] == entry["db_id"]]
        assert all(c.accepts(q) for q in queries), entry["db_id"]
        real = [n for n in entry["table_names_original"] if not n.startswith("sqlite_")]
        assert c.accepts(f'SELECT count(*) FROM "{real[0]}"')


def test_comments_are_bounded():
    c = SQL("CREATE TABLE t (a INTEGER);")
    assert c.accepts("SELECT a FROM t -- " + "x" * 150 + "\n")
    assert not c.accepts_prefix("SELECT a FROM t -- " + "x" * 250)
    assert not c.accepts_prefix("SELECT a /* " + "x" * 250)
