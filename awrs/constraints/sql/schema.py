"""Schemas of the SQL constraint: connections EXPLAIN may use, and DDL from Spider entries."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError, ConstraintError

__all__ = ["connect", "schema_ddl"]

_SPIDER_TYPES = {"text": "TEXT", "number": "NUMERIC", "time": "TEXT", "boolean": "BOOLEAN",
                 "others": ""}


def connect(db: Any) -> tuple[sqlite3.Connection, dict[str, set[str]]]:
    """A connection EXPLAIN may use, and the schema's tables -> column names (lower case)."""
    if isinstance(db, sqlite3.Connection):
        rows = db.execute("PRAGMA database_list").fetchall()
        path = next((r[2] for r in rows if r[1] == "main"), "")
        conn = _open_ro(path) if path else _memory("\n".join(_schema_sql(db)))
    elif isinstance(db, dict):
        conn = _memory(schema_ddl(db))
    elif isinstance(db, (str, Path)):
        if isinstance(db, Path) or os.path.exists(db) or not re.search(
                r"\bcreate\s+(?:temp\w*\s+)?(?:table|view)\b", db, re.I):
            conn = _open_ro(db)
        else:
            conn = _memory(db)
    else:
        raise ConfigurationError(
            f"db must be a SQLite file path, a sqlite3.Connection, DDL text or a Spider "
            f"tables.json entry (dict), got {type(db).__name__}")
    return conn, _tables(conn)


def _open_ro(path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise ConfigurationError(f"db {str(path)!r} is not an existing SQLite file "
                                 f"(nor DDL text containing CREATE TABLE)")
    conn = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True,
                           check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ConfigurationError(f"db {str(path)!r} is not a SQLite database: {exc}") from exc
    return conn


def _memory(ddl: str) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        conn.executescript(ddl)
    except (sqlite3.Error, ValueError, OverflowError) as exc:
        raise ConstraintError(f"the schema DDL does not load into SQLite: {exc}") from exc
    return conn


def _schema_sql(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND "
                        "name NOT LIKE 'sqlite_%'").fetchall()
    order = {"table": 0, "view": 1, "index": 2, "trigger": 3}
    return [sql + ";" for _, sql in sorted(rows, key=lambda r: order.get(r[0], 4))]


def _tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    names = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    for (name,) in names.fetchall():
        if name.lower().startswith("sqlite_"):
            continue
        cols = conn.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
        out[name.lower()] = {c[1].lower() for c in cols}
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema_ddl(entry: dict) -> str:
    """``CREATE TABLE`` statements for a Spider ``tables.json`` entry (types and keys kept).

    Raises:
        ConfigurationError: the entry lacks the Spider fields.
    """
    try:
        tables = entry["table_names_original"]
        columns = entry["column_names_original"]
        types = entry.get("column_types", ["text"] * len(columns))
        pks = entry.get("primary_keys", [])
        fks = entry.get("foreign_keys", [])
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"expected a Spider tables.json entry with table_names_original and "
            f"column_names_original, got keys {sorted(entry)!r}") from exc
    try:
        return _ddl(tables, columns, types, pks, fks)
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigurationError(
            f"malformed Spider tables.json entry: expected column_names_original as "
            f"[table index, name] pairs indexing table_names_original, with matching "
            f"column_types and key indexes ({type(exc).__name__}: {exc})") from exc


def _ddl(tables, columns, types, pks, fks) -> str:
    if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
        raise TypeError("table_names_original must be a list of str")
    per_table: list[list[str]] = [[] for _ in tables]
    seen: list[set[str]] = [set() for _ in tables]
    for i, (t, name) in enumerate(columns):
        if t < 0 or name.lower() in seen[t]:  # (t beyond the tables raises IndexError)
            continue  # "*" and case-insensitive duplicates name the same SQLite column
        seen[t].add(name.lower())
        kind = _SPIDER_TYPES.get(str(types[i]).lower(), "")
        per_table[t].append(f"{_quote(name)} {kind}".rstrip())
    pk_by_table: dict[int, list[str]] = {}
    for flat in pks:
        for c in (flat if isinstance(flat, list) else [flat]):
            pk_by_table.setdefault(columns[c][0], []).append(_quote(columns[c][1]))
    for c1, c2 in fks:
        t1, t2 = columns[c1][0], columns[c2][0]
        per_table[t1].append(f"FOREIGN KEY ({_quote(columns[c1][1])}) REFERENCES "
                             f"{_quote(tables[t2])} ({_quote(columns[c2][1])})")
    stmts = []
    for t, name in enumerate(tables):
        if name.lower().startswith("sqlite_"):
            continue  # SQLite's internal tables (sqlite_sequence): reserved, made by SQLite
        parts = list(per_table[t]) or ['"_" TEXT']
        if pk_by_table.get(t):
            parts.insert(len(seen[t]), f"PRIMARY KEY ({', '.join(dict.fromkeys(pk_by_table[t]))})")
        stmts.append(f"CREATE TABLE {_quote(name)} ({', '.join(parts)});")
    return "\n".join(stmts)

