"""The text-to-SQL suite: Spider questions with the schema in the prompt.

Execution accuracy on ``concert_singer`` (the generated query's rows equal the gold query's rows
on ``concert_singer.sqlite``) and executability on the other open databases (``EXPLAIN`` on an
empty database built from ``tables.json``). The scoring databases are built here, independently
of ``awrs.SQL``, so that the validity check does not share code with the constraint under test.
"""

from __future__ import annotations

import collections
import json
import math
import sqlite3
from functools import cache

from bench.common import data_path

from . import Item, Score, Spec, Suite
from .patterns import subset

EXEC_DB = "concert_singer"
SYSTEM = "You are an expert in SQLite. You answer with one SQL query and nothing else."
INSTRUCTION = (
    "Database schema:\n{ddl}\n\nWrite one SQLite query that answers the question below. "
    "Reply with the query only.\n\nQuestion: {question}"
)
_TYPES = {
    "number": "NUMERIC",
    "text": "TEXT",
    "time": "TEXT",
    "boolean": "INTEGER",
    "others": "TEXT",
}
#: SQLite virtual-machine steps a scored query may take before it is aborted
MAX_STEPS = 5_000_000
#: SQL generation policies (``smc@POLICY``): ``awrs.SQL`` options. ``default`` is the
#: constraint's default (with the schema critic that smc uses as a guide); ``nocritic``
#: leaves the critic out, ``prefix`` / ``strict`` add the schema's dead-end check on prefixes.
POLICIES = {
    "default": {},
    "nocritic": {"guide": False},
    "prefix": {"schema_prefix": True},
    "strict": {"strict_names": True},
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ddl(entry: dict) -> str:
    """CREATE TABLE statements of a ``tables.json`` entry (types, primary and foreign keys)."""
    cols = entry["column_names_original"]
    types = entry["column_types"]
    tables = entry["table_names_original"]
    pks = set()
    for pk in entry["primary_keys"]:
        pks.update(pk if isinstance(pk, list) else [pk])
    out = []
    for t, table in enumerate(tables):
        if table.lower().startswith("sqlite_"):
            continue  # SQLite's internal tables (sqlite_sequence) exist by themselves
        lines = [
            f"  {_quote(name)} {_TYPES.get(types[c], 'TEXT')}"
            for c, (ti, name) in enumerate(cols)
            if ti == t
        ]
        keys = [_quote(cols[c][1]) for c in sorted(pks) if cols[c][0] == t]
        if keys:
            lines.append(f"  PRIMARY KEY ({', '.join(keys)})")
        for src, dst in entry["foreign_keys"]:
            if cols[src][0] == t:
                lines.append(
                    f"  FOREIGN KEY ({_quote(cols[src][1])}) REFERENCES "
                    f"{_quote(tables[cols[dst][0]])} ({_quote(cols[dst][1])})"
                )
        out.append(f"CREATE TABLE {_quote(table)} (\n" + ",\n".join(lines) + "\n);")
    return "\n".join(out)


@cache
def schemas() -> dict[str, dict]:
    """``tables.json`` entries by database id."""
    return {e["db_id"]: e for e in json.loads(data_path("spider", "tables.json").read_text())}


@cache
def empty_db(db_id: str) -> sqlite3.Connection:
    """An in-memory database with the tables of ``db_id`` and no rows."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.executescript(ddl(schemas()[db_id]))
    return conn


class ExecDB:
    """The populated concert_singer database, read-only, with a bound on query work."""

    def __init__(self):
        path = data_path("spider", f"{EXEC_DB}.sqlite")
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.conn.text_factory = lambda b: b.decode("utf-8", errors="replace")
        self._steps = 0
        self.conn.set_progress_handler(self._guard, 1000)

    def _guard(self) -> int:
        self._steps += 1000
        return 1 if self._steps > MAX_STEPS else 0

    def run(self, query: str) -> list[tuple]:
        """All result rows of ``query`` (aborted past ``MAX_STEPS`` VM steps)."""
        self._steps = 0
        return self.conn.execute(query).fetchall()


def _norm(v):
    return round(v, 6) if isinstance(v, float) and math.isfinite(v) else v


def same_result(pred: list[tuple], gold: list[tuple], ordered: bool) -> bool:
    """Whether two result sets are equal (as lists when ``ordered``, else as multisets)."""
    p = [tuple(map(_norm, r)) for r in pred]
    g = [tuple(map(_norm, r)) for r in gold]
    return p == g if ordered else collections.Counter(p) == collections.Counter(g)


def explain(db_id: str, query: str) -> str:
    """ "" when ``query`` compiles on the empty ``db_id`` database, else the error message."""
    try:
        empty_db(db_id).execute("EXPLAIN " + query)
    except (sqlite3.Error, sqlite3.Warning, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    return ""


class SQLSuite(Suite):
    """Spider dev questions; score: execution accuracy on concert_singer (None elsewhere).

    ``limit`` N takes ceil(N/2) concert_singer questions and N//2 from the other databases
    (a fixed shuffled order).
    """

    name = "sql"
    metric = "exec_acc"
    version = "1"
    extra_metrics = ("executable",)
    policies = POLICIES

    def __init__(self):
        self._exec_conn = None

    def items(self, limit=None):
        questions = json.loads(data_path("spider", "dev-open.json").read_text())
        tables = schemas()
        exec_q = [q for q in questions if q["db_id"] == EXEC_DB]
        other_q = [q for q in questions if q["db_id"] != EXEC_DB and q["db_id"] in tables]
        n_exec = None if limit is None else (limit + 1) // 2
        n_other = None if limit is None else limit // 2
        picked = [exec_q[i] for i in subset(len(exec_q), n_exec)] + [
            other_q[i] for i in subset(len(other_q), n_other)
        ]
        index = {id(q): i for i, q in enumerate(questions)}
        return [self._item(q, index[id(q)]) for q in picked]

    @staticmethod
    def _item(q: dict, i: int) -> Item:
        from awrs.constraints.sql import schema_ddl  # the prompt shows awrs's DDL of the schema

        text = INSTRUCTION.format(ddl=schema_ddl(schemas()[q["db_id"]]), question=q["question"])
        msgs = ({"role": "system", "content": SYSTEM}, {"role": "user", "content": text})
        return Item(
            f"{q['db_id']}-{i:03d}",
            msgs,
            {"db_id": q["db_id"], "question": q["question"], "gold": q["query"]},
        )

    def constraint(self, item, policy: str | None = None):
        """``awrs.SQL`` of the item's schema under a policy of :data:`POLICIES`."""
        from awrs.request import ConstraintSpec

        entry = schemas()[item.data["db_id"]]
        return ConstraintSpec("sql", entry, POLICIES[policy or "default"]).build()

    def spec(self, item, constraint=None):
        # the grammar of awrs.SQL (peers get its syntax, not the schema check at the end)
        from awrs.constraints.sql import sql_grammar_text

        return Spec("lark", sql_grammar_text(), constraint)

    def no_output_score(self, item):
        return 0.0 if item.data["db_id"] == EXEC_DB else math.nan

    def score(self, item, text):
        query = text.strip()
        err = explain(item.data["db_id"], query) if query else "empty query"
        metrics: dict = {"executable": float(not err)}
        if err:
            metrics["error"] = err
        if item.data["db_id"] != EXEC_DB:
            return Score(not err, math.nan, metrics)
        if err:
            return Score(False, 0.0, metrics)
        if self._exec_conn is None:
            self._exec_conn = ExecDB()
        gold = self._exec_conn.run(item.data["gold"])
        try:
            pred = self._exec_conn.run(query)
        except (sqlite3.Error, sqlite3.Warning, ValueError) as exc:
            metrics["error"] = f"{type(exc).__name__}: {exc}"[:200]
            return Score(True, 0.0, metrics)
        ordered = "order by" in item.data["gold"].lower()
        return Score(True, float(same_result(pred, gold, ordered)), metrics)


SUITE = SQLSuite()
