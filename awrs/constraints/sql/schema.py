"""Schemas of the SQL constraint: connections EXPLAIN may use, and DDL from Spider entries."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from ...deadline import current as current_deadline
from ...errors import (
    ConfigurationError,
    ConstraintError,
    ConstraintTimeoutError,
    UnsupportedFeatureError,
)

__all__ = ["connect", "schema_ddl", "looks_like_ddl", "DDL_FUNCTIONS"]

_SPIDER_TYPES = {
    "text": "TEXT",
    "number": "NUMERIC",
    "time": "TEXT",
    "boolean": "BOOLEAN",
    "others": "",
}


def connect(db: Any) -> tuple[sqlite3.Connection, dict[str, set[str]]]:
    """A connection EXPLAIN may use, and the schema's tables -> column names (lower case)."""
    if isinstance(db, sqlite3.Connection):
        rows = db.execute("PRAGMA database_list").fetchall()
        path = next((r[2] for r in rows if r[1] == "main"), "")
        conn = _open_ro(path) if path else _memory("\n".join(_schema_sql(db)))
    elif isinstance(db, dict):
        conn = _memory(schema_ddl(db))
    elif isinstance(db, (str, Path)):
        # text naming CREATE TABLE / VIEW is DDL, never a path (no probe of the disk)
        conn = _memory(db) if isinstance(db, str) and looks_like_ddl(db) else _open_ro(db)
    else:
        raise ConfigurationError(
            f"db must be a SQLite file path, a sqlite3.Connection, DDL text or a Spider "
            f"tables.json entry (dict), got {type(db).__name__}"
        )
    return conn, _tables(conn)


def _open_ro(path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise ConfigurationError(
            f"db {str(path)!r} is not an existing SQLite file "
            f"(nor DDL text containing CREATE TABLE)"
        )
    conn = _limited(
        sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
    )
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ConfigurationError(f"db {str(path)!r} is not a SQLite database: {exc}") from exc
    return conn


def looks_like_ddl(text: str) -> bool:
    """Whether ``text`` is schema DDL (names CREATE TABLE / VIEW) rather than a file path."""
    return bool(_DDL.search(text))


_DDL = re.compile(r"\bcreate\s+(?:temp\w*\s+)?(?:table|view)\b", re.I)


def _memory(ddl: str) -> sqlite3.Connection:
    """A private in-memory database holding ``ddl``, loaded under :class:`_Sandbox`."""
    conn = _limited(sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None))
    box = _Sandbox()
    conn.set_authorizer(box.authorize)
    conn.set_progress_handler(box.progress, _PROGRESS_EVERY)
    try:
        box.load(conn, ddl)
    except BaseException:
        conn.close()
        raise
    conn.set_authorizer(None)
    conn.set_progress_handler(None, 0)
    return conn


def _schema_sql(conn: sqlite3.Connection) -> list[str]:
    """The schema of a caller's in-memory database, replayed under the sandbox: tables, views
    and indexes (its triggers are left out: no trigger runs where EXPLAIN does)."""
    rows = conn.execute(
        "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND "
        "name NOT LIKE 'sqlite_%' AND type != 'trigger'"
    ).fetchall()
    order = {"table": 0, "view": 1, "index": 2}
    return [sql + ";" for _, sql in sorted(rows, key=lambda r: order.get(r[0], 3))]


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
            f"column_names_original, got keys {sorted(entry)!r}"
        ) from exc
    try:
        return _ddl(tables, columns, types, pks, fks)
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigurationError(
            f"malformed Spider tables.json entry: expected column_names_original as "
            f"[table index, name] pairs indexing table_names_original, with matching "
            f"column_types and key indexes ({type(exc).__name__}: {exc})"
        ) from exc


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
        for c in flat if isinstance(flat, list) else [flat]:
            pk_by_table.setdefault(columns[c][0], []).append(_quote(columns[c][1]))
    for c1, c2 in fks:
        t1, t2 = columns[c1][0], columns[c2][0]
        per_table[t1].append(
            f"FOREIGN KEY ({_quote(columns[c1][1])}) REFERENCES "
            f"{_quote(tables[t2])} ({_quote(columns[c2][1])})"
        )
    stmts = []
    for t, name in enumerate(tables):
        if name.lower().startswith("sqlite_"):
            continue  # SQLite's internal tables (sqlite_sequence): reserved, made by SQLite
        parts = list(per_table[t]) or ['"_" TEXT']
        if pk_by_table.get(t):
            parts.insert(len(seen[t]), f"PRIMARY KEY ({', '.join(dict.fromkeys(pk_by_table[t]))})")
        stmts.append(f"CREATE TABLE {_quote(name)} ({', '.join(parts)});")
    return "\n".join(stmts)


# -- the DDL sandbox ---------------------------------------------------------------------------

#: SQLite functions schema DDL may name (CHECK, generated columns, index expressions, DEFAULT,
#: view bodies): deterministic, cheap and bounded by their inputs. No JSON (``json_extract``),
#: ``printf``, ``random``/``randomblob``/``zeroblob``, ``load_extension``, nor probes of the
#: connection.
DDL_FUNCTIONS = frozenset(
    """
    abs char coalesce concat concat_ws glob hex ifnull iif instr length like likelihood likely
    lower ltrim max min nullif octet_length quote replace round rtrim sign substr substring trim
    typeof unhex unicode unlikely upper
    avg count group_concat string_agg sum total
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
    nth_value
    date time datetime julianday unixepoch strftime timediff current_date current_time
    current_timestamp
    acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10
    log2 mod pi pow power radians sin sinh sqrt tan tanh trunc
""".split()
)

#: per-connection limits (``Connection.setlimit``) of every connection EXPLAIN uses
_LIMITS = {
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,  # no ATTACH, no VACUUM (it attaches)
    sqlite3.SQLITE_LIMIT_LENGTH: 1_000_000,  # bytes of a string, blob or row
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 1_000_000,  # bytes of one statement
    sqlite3.SQLITE_LIMIT_COLUMN: 1_000,
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 500,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 64,
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 256,
    sqlite3.SQLITE_LIMIT_FUNCTION_ARG: 64,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 1_000,
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: 1,
    sqlite3.SQLITE_LIMIT_WORKER_THREADS: 0,
}
_MAX_DDL = 8_000_000  # characters of DDL text
_PROGRESS_EVERY = 10_000  # VM instructions between progress-handler calls
_STEPS = 10_000_000  # VM instructions one statement may run
_SECONDS = 1.0  # wall time one statement may run
_LOAD_SECONDS = 10.0  # wall time the whole DDL may take

_A = sqlite3
_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", 33)
#: statements DDL may run (in the main database): schema only, and BEGIN / COMMIT
_SCHEMA = {
    _A.SQLITE_CREATE_TABLE,
    _A.SQLITE_CREATE_INDEX,
    _A.SQLITE_CREATE_VIEW,
    _A.SQLITE_DROP_TABLE,
    _A.SQLITE_DROP_INDEX,
    _A.SQLITE_DROP_VIEW,
    _A.SQLITE_REINDEX,
    _A.SQLITE_TRANSACTION,
}
#: what SQLite writes itself when it runs a schema statement
_INTERNAL_TABLES = {
    "sqlite_master",
    "sqlite_schema",
    "sqlite_temp_master",
    "sqlite_temp_schema",
    "sqlite_sequence",
}
#: the statement kind a refused action stands for, in error messages
_KINDS = {
    _A.SQLITE_ATTACH: "ATTACH",
    _A.SQLITE_DETACH: "DETACH",
    _A.SQLITE_PRAGMA: "PRAGMA",
    _A.SQLITE_INSERT: "INSERT",
    _A.SQLITE_UPDATE: "UPDATE",
    _A.SQLITE_DELETE: "DELETE",
    _A.SQLITE_SELECT: "SELECT",
    _RECURSIVE: "WITH RECURSIVE",
    _A.SQLITE_ANALYZE: "ANALYZE",
    _A.SQLITE_ALTER_TABLE: "ALTER TABLE",
    _A.SQLITE_SAVEPOINT: "SAVEPOINT",
    _A.SQLITE_CREATE_TRIGGER: "CREATE TRIGGER",
    _A.SQLITE_DROP_TRIGGER: "DROP TRIGGER",
    _A.SQLITE_CREATE_VTABLE: "CREATE VIRTUAL TABLE",
    _A.SQLITE_DROP_VTABLE: "DROP VIRTUAL TABLE",
    _A.SQLITE_CREATE_TEMP_TABLE: "CREATE TEMP TABLE",
    _A.SQLITE_CREATE_TEMP_INDEX: "CREATE TEMP INDEX",
    _A.SQLITE_CREATE_TEMP_VIEW: "CREATE TEMP VIEW",
    _A.SQLITE_CREATE_TEMP_TRIGGER: "CREATE TEMP TRIGGER",
    _A.SQLITE_DROP_TEMP_TABLE: "DROP TEMP TABLE",
    _A.SQLITE_DROP_TEMP_INDEX: "DROP TEMP INDEX",
    _A.SQLITE_DROP_TEMP_VIEW: "DROP TEMP VIEW",
    _A.SQLITE_DROP_TEMP_TRIGGER: "DROP TEMP TRIGGER",
}
_ALLOWED = "only CREATE TABLE / INDEX / VIEW (and DROP of them) run, into a private database"
_ALLOWED_CALLS = (
    "expected calls of deterministic built-ins only (abs, lower, substr, date, "
    "count, ...: awrs.constraints.sql.schema.DDL_FUNCTIONS)"
)
_ALLOWED_READS = "expected a view body that reads only the schema's own tables and views"


def _limited(conn: sqlite3.Connection) -> sqlite3.Connection:
    """``conn`` with :data:`_LIMITS` set and extension loading off."""
    for limit, value in _LIMITS.items():
        conn.setlimit(limit, value)
    if hasattr(conn, "enable_load_extension"):
        conn.enable_load_extension(False)
    return conn


class _Sandbox:
    """Authorizer and progress handler of a DDL connection, which runs one statement at a time.

    Statements run: CREATE / DROP of tables, indexes and views in the main database (plus the
    writes to ``sqlite_master`` SQLite makes for them), BEGIN / COMMIT. Everything else is
    denied when SQLite compiles it — ATTACH, DETACH, PRAGMA, VACUUM, INSERT, ``CREATE TABLE
    ... AS SELECT``, triggers, virtual tables, temp objects, functions outside
    :data:`DDL_FUNCTIONS` — and the refusal names the statement kind. View bodies and DEFAULT
    expressions (which SQLite compiles only when used) are then compiled once under the same
    rules. A statement past :data:`_STEPS` VM steps or :data:`_SECONDS` is stopped.
    """

    def __init__(self):
        self.body = False  # compiling view bodies and DEFAULTs rather than running DDL
        self.names: set[str] = set()  # the user's tables and views, which bodies may read
        self.load_until = time.monotonic() + _LOAD_SECONDS
        self.begin("statement 1")

    def begin(self, where: str) -> None:
        """Reset the per-statement state before ``where`` runs."""
        self.where = where
        self.refused: str | None = None  # the kind of the first statement refused
        self.stopped: Exception | None = None  # why the statement was stopped
        self.created = False  # a CREATE TABLE seen in this statement: a SELECT then is CTAS
        self.dropped: str | None = (
            None  # the table a DROP TABLE in this statement drops (and empties)
        )
        self.steps, self.until = 0, time.monotonic() + _SECONDS

    # -- SQLite callbacks ----------------------------------------------------------------------
    def authorize(self, action: int, arg1, arg2, db, _inner) -> int:
        """SQLite's authorizer: OK for what :meth:`_refusal` lets through, else DENY."""
        try:
            kind = self._refusal(action, arg1, arg2, db)
        except Exception:  # never let a callback error pass as OK
            kind = f"SQLite action {action}"
        if kind is None:
            return sqlite3.SQLITE_OK
        if self.refused is None:
            self.refused = kind
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        """SQLite's progress handler: non-zero (stop) past the bounds or the request deadline."""
        self.steps += _PROGRESS_EVERY
        now = time.monotonic()
        if self.steps > _STEPS or now > self.until or now > self.load_until:
            self.stopped = self._timeout()
            return 1
        deadline = current_deadline()
        if deadline is not None and deadline.expired():
            self.stopped = deadline.error()
            return 1
        return 0

    def _timeout(self) -> ConstraintTimeoutError:
        return ConstraintTimeoutError(
            f"schema DDL {self.where} ran past its bound ({_STEPS:,} SQLite VM steps or "
            f"{_SECONDS:g} s per statement, {_LOAD_SECONDS:g} s in all): expected DDL that "
            f"only declares tables, indexes and views"
        )

    def _refusal(self, action: int, arg1, arg2, db) -> str | None:
        """``None`` for an allowed action, else the statement kind it stands for."""
        if action == sqlite3.SQLITE_FUNCTION:
            name = str(arg2).lower()
            return None if name in DDL_FUNCTIONS else f"the function {_short(name)}()"
        if self.body:
            return self._body_refusal(action, arg1, db)
        if action == sqlite3.SQLITE_CREATE_TABLE:
            self.created = True
        if action == sqlite3.SQLITE_DROP_TABLE:
            self.dropped = arg1
        if action == sqlite3.SQLITE_DELETE and arg1 == self.dropped and db == "main":
            return None  # DROP TABLE emptying the table it drops
        if action in _SCHEMA:
            return None if db in (None, "main") else f"{_KINDS.get(action, 'DDL')} in {db}"
        if (
            action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE)
            and str(arg1).lower() in _INTERNAL_TABLES
        ):
            return None  # SQLite recording a schema statement (its kind is authorized apart)
        if action == sqlite3.SQLITE_READ and db == "main":
            return None  # CHECK / generated / index expressions reading their table
        if action == sqlite3.SQLITE_SELECT and self.created:
            return "CREATE TABLE ... AS SELECT"
        return _KINDS.get(action, f"SQLite action {action}")

    def _body_refusal(self, action: int, arg1, db) -> str | None:
        """Refusals while compiling a view body or a DEFAULT: reads of the user's tables only."""
        if action in (sqlite3.SQLITE_SELECT, _RECURSIVE):
            return None
        if action == sqlite3.SQLITE_READ:
            name = str(arg1).lower()
            return None if db == "main" and name in self.names else f"reading {_short(name)}"
        return _KINDS.get(action, f"SQLite action {action}")

    # -- running -------------------------------------------------------------------------------
    def load(self, conn: sqlite3.Connection, ddl: str) -> None:
        """Run ``ddl`` statement by statement, then compile the view bodies and DEFAULTs."""
        if len(ddl) > _MAX_DDL:
            raise ConstraintError(
                f"schema DDL of {len(ddl):,} characters: expected at most {_MAX_DDL:,}"
            )
        for n, stmt in enumerate(_statements(ddl), 1):
            where = f"statement {n}"
            self._run(conn, "EXPLAIN " + stmt, where, stmt, compile_only=True)
            self._run(conn, stmt, where, stmt)
        self._check_bodies(conn)

    def _run(
        self, conn: sqlite3.Connection, sql: str, where: str, stmt: str, compile_only: bool = False
    ) -> None:
        if time.monotonic() > self.load_until:
            raise self._timeout()
        deadline = current_deadline()
        if deadline is not None:
            deadline.check()
        self.begin(where)
        try:
            conn.execute(sql)
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError) as exc:
            raise self._error(exc, stmt, compile_only) from None

    def _error(self, exc: Exception, stmt: str, compile_only: bool) -> Exception:
        """The error of a failed statement: never SQLite's text from running it (it may
        hold data); its compile-time text (syntax, names) only."""
        if self.stopped is not None:
            return self.stopped
        if self.refused is not None:
            kind = "VACUUM" if _lead(stmt) == "VACUUM" else self.refused
            expected = (
                _ALLOWED_CALLS
                if kind.startswith("the function")
                else _ALLOWED_READS
                if kind.startswith("reading")
                else _ALLOWED
            )
            return UnsupportedFeatureError(
                f"{kind} is not allowed in schema DDL ({self.where}): {expected}"
            )
        if compile_only or not isinstance(exc, sqlite3.Error):
            return ConstraintError(
                f"the schema DDL does not load into SQLite ({self.where}): {_short(str(exc), 200)}"
            )
        code = getattr(exc, "sqlite_errorname", type(exc).__name__)
        return ConstraintError(
            f"the schema DDL does not load into SQLite ({self.where} failed when run: {code})"
        )

    def _check_bodies(self, conn: sqlite3.Connection) -> None:
        """Compile every view body and DEFAULT expression under the body rules."""
        conn.set_authorizer(None)  # the sandbox's own reads of its schema
        rows = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN "
            "('table', 'view') AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        defaults = [
            (t, col, d)
            for kind, t in rows
            if kind == "table"
            for _, col, _, _, d, *_ in conn.execute(f"PRAGMA table_xinfo({_quote(t)})").fetchall()
            if d is not None
        ]
        conn.set_authorizer(self.authorize)
        self.body, self.names = True, {name.lower() for _, name in rows}
        for kind, name in rows:
            if kind == "view":
                self._run(
                    conn,
                    f"EXPLAIN SELECT * FROM {_quote(name)}",
                    f"view {_short(name)}",
                    "SELECT",
                    compile_only=True,
                )
        for table, col, expr in defaults:
            try:
                self._run(
                    conn,
                    f"EXPLAIN SELECT ({expr})",
                    f"DEFAULT of {_short(table)}.{_short(col)}",
                    "SELECT",
                    compile_only=True,
                )
            except (UnsupportedFeatureError, ConstraintTimeoutError):
                raise
            except ConstraintError:
                pass  # a DEFAULT SQLite took that does not read as a bare SELECT ("text")


_SIGNIFICANT = re.compile(r"""['"`\[;]|--|/\*""")
_CLOSE = {"'": "'", '"': '"', "`": "`", "[": "]", "--": "\n", "/*": "*/"}
_BLANK = re.compile(r"(?:\s|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*", re.S)


def _statements(ddl: str):
    """The statements of ``ddl`` one at a time: split at each ``;`` outside quotes and
    comments (one linear scan), blank and comment-only pieces skipped; the last statement
    gets a ``;`` if it lacks one."""
    start = i = 0
    while (m := _SIGNIFICANT.search(ddl, i)) is not None:
        tok = m.group()
        if tok == ";":
            if _has_code(ddl[start : m.end()]):
                yield ddl[start : m.end()]
            start = i = m.end()
            continue
        end = ddl.find(_CLOSE[tok], m.end())
        i = len(ddl) if end < 0 else end + len(_CLOSE[tok])
    if _has_code(ddl[start:]):
        yield ddl[start:] + "\n;"


def _code_start(stmt: str) -> int:
    """Where ``stmt``'s leading whitespace and comments end."""
    m = _BLANK.match(stmt)
    assert m is not None  # the pattern matches the empty string
    return m.end()


def _has_code(stmt: str) -> bool:
    """Whether ``stmt`` holds more than whitespace, comments and ``;``."""
    return stmt[_code_start(stmt) :].strip() not in ("", ";")


def _lead(stmt: str) -> str:
    """The statement's first word in upper case (whitespace and comments skipped)."""
    m = re.match(r"[A-Za-z]{1,20}", stmt[_code_start(stmt) :])
    return m.group().upper() if m else ""


def _short(text: str, n: int = 64) -> str:
    """``text`` cut to ``n`` characters, for error messages."""
    return text if len(text) <= n else text[:n] + "..."
