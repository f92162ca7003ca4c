"""SQLite SELECT statements: prefixes by ``grammars/sql.lark``, completions compiled against a schema."""

from __future__ import annotations

import importlib.resources
import os
import re
import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError, ConstraintError
from .base import IncrementalConstraint
from .whitespace import MaxWhitespace
from .grammar import Grammar

__all__ = ["SQL", "schema_ddl"]

_READ_ONLY = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
              getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
_CACHE_SIZE = 65_536

#: SQLite built-in functions the default profile may call: deterministic or harmless, and
#: bounded in cost by their inputs (no ``load_extension``, ``randomblob``, ``zeroblob``,
#: ``printf``/``format`` with unbounded widths, nor connection-state or compile-option probes).
SAFE_FUNCTIONS = frozenset("""
    abs char coalesce concat concat_ws glob hex ifnull iif instr length like likelihood likely
    lower ltrim max min nullif octet_length quote random replace round rtrim sign soundex substr
    substring trim typeof unhex unicode unlikely upper
    avg count group_concat string_agg sum total
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
    nth_value
    date time datetime julianday unixepoch strftime timediff
    acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10
    log2 mod pi pow power radians sin sinh sqrt tan tanh trunc
    json json_array json_array_length json_extract json_insert json_object json_patch
    json_remove json_replace json_set json_type json_valid json_quote json_group_array
    json_group_object json_each json_tree -> ->>
""".split())
#: SQLite's own tables, readable only with ``introspection=True``
_INTERNAL = ("sqlite_", "pragma_")
_SPIDER_TYPES = {"text": "TEXT", "number": "NUMERIC", "time": "TEXT", "boolean": "BOOLEAN",
                 "others": ""}


def sql_grammar_text() -> str:
    """The text of ``grammars/sql.lark`` (the source checkout's when there is one)."""
    local = Path(__file__).resolve().parents[2] / "grammars" / "sql.lark"
    if local.is_file():
        return local.read_text("utf-8")
    return importlib.resources.files("awrs.grammars").joinpath("sql.lark").read_text("utf-8")


def sql_grammar() -> Grammar:
    """The shipped SELECT grammar (built once per process)."""
    text = sql_grammar_text()
    return Grammar(text, parser="lalr")


class SQL(IncrementalConstraint):
    """One SQLite SELECT statement that compiles against a database schema.

    Prefixes are checked by the LALR(1) grammar ``grammars/sql.lark`` (exact, incremental);
    a complete statement must also compile — ``EXPLAIN <statement>`` on a read-only
    connection to the database file, or on a private in-memory database built from the
    schema — so unknown tables and columns are rejected. The candidate is never executed:
    only ``EXPLAIN`` is run, under an authorizer that denies everything but reads, and only
    after the grammar has established a single SELECT (optionally ``WITH ...``). Results are
    cached per statement.

    Args:
        db: a path to a SQLite file (opened ``mode=ro``), a ``sqlite3.Connection`` (its file
            is reopened read-only; an in-memory database has its schema copied), DDL text
            (``CREATE TABLE ...``; run in a private in-memory database), or a Spider
            ``tables.json`` entry (a dict with ``table_names_original``,
            ``column_names_original``, ``column_types``, ...).
        critic: also build :attr:`critic`, a schema-aware log-weight of a prefix for SMC.
        max_whitespace: the longest run of whitespace bytes allowed (``None``: unbounded).
            Bounded by default, as in :class:`~awrs.JSONSchema`: with unbounded whitespace a
            model can pad a doomed statement until ``max_tokens``. 16 leaves room for a
            newline and nested indentation. Comments (``--`` to the newline, ``/* */``) are
            allowed up to 200 characters each.
        functions: the SQLite functions a statement may call (``None``: any). By default
            :data:`SAFE_FUNCTIONS`: no ``load_extension``, ``randomblob``, ``zeroblob``,
            ``printf``, nor probes of the connection.
        introspection: allow reading SQLite's own tables (``sqlite_master``,
            ``sqlite_sequence``, ``pragma_*`` table-valued functions).

    Raises:
        ConfigurationError: ``db`` is none of the above, or the file does not exist.
        ConstraintError: the DDL or schema cannot be loaded.

    The state is ``(grammar state, statement bytes so far, trailing whitespace run)``. A statement closed by ``;`` can
    only be followed by whitespace, so it is compiled right then and rejected as a prefix if it
    does not compile.
    """

    def __init__(self, db: Any, *, critic: bool = False, max_whitespace: int | None = 16,
                 functions: frozenset[str] | None = SAFE_FUNCTIONS,
                 introspection: bool = False):
        if max_whitespace is not None and max_whitespace < 1:
            raise ConfigurationError(
                f"max_whitespace must be None or >= 1, got {max_whitespace!r}")
        self.max_whitespace = max_whitespace
        self.functions = None if functions is None else frozenset(f.lower() for f in functions)
        self.introspection = bool(introspection)
        self._ws = MaxWhitespace(max_whitespace) if max_whitespace is not None else None
        self.grammar = sql_grammar()
        self.conn, self.tables = _connect(db)
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self.critic = SchemaCritic(self.tables) if critic else None

    def __repr__(self) -> str:
        return f"SQL(tables={sorted(self.tables)!r})"

    def start(self):
        return (self.grammar.start(), b"", 0)

    def advance(self, state, token: bytes):
        g = self.grammar.advance(state[0], token)
        if g is None:
            return None
        run = self._ws.advance(state[2], token) if self._ws is not None else 0
        if run is None:
            return None
        text = state[1] + token
        if text.rstrip().endswith(b";") and self.grammar.is_complete(g) and not self.compiles(text):
            return None  # closed: nothing but whitespace may follow, and it does not compile
        return (g, text, run)

    def is_complete(self, state) -> bool:
        return self.grammar.is_complete(state[0]) and self.compiles(state[1])

    def alphabet(self) -> frozenset[int]:
        return self.grammar.alphabet()

    def token_mask(self, state, trie):
        """Tokens accepted from ``state``: the grammar's mask, then the whitespace bound
        (vectorised) and the compile check for tokens holding ``;``."""
        mask = np.array(self.grammar.token_mask(state[0], trie), dtype=bool)
        if self._ws is not None:
            mask &= self._ws.token_mask(state[2], trie)
        semicolon = getattr(trie, "_semicolon", None)
        if semicolon is None:
            semicolon = trie._semicolon = np.array([b";" in t for t in trie.token_bytes])
        for tid in np.flatnonzero(mask & semicolon):
            mask[tid] = self.advance(state, trie.token_bytes[tid]) is not None
        return mask

    def compiles(self, statement: bytes | str) -> bool:
        """Whether ``EXPLAIN statement`` compiles against the schema (never executes it)."""
        key = statement.encode("utf-8") if isinstance(statement, str) else bytes(statement)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._explain(key)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return hit

    def _explain(self, statement: bytes) -> bool:
        try:
            text = statement.decode("utf-8")
        except UnicodeDecodeError:
            return False
        self.conn.set_authorizer(self._authorize)
        try:
            self.conn.execute("EXPLAIN " + text)
            return True
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError):
            return False
        finally:
            self.conn.set_authorizer(None)



    def _authorize(self, action: int, arg1, arg2, *_rest) -> int:
        """Reads only; functions from the allowlist; SQLite's own tables on opt-in."""
        ok, deny = sqlite3.SQLITE_OK, sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return ok if self.functions is None or str(arg2).lower() in self.functions else deny
        if action == sqlite3.SQLITE_READ:
            internal = str(arg1).lower().startswith(_INTERNAL)
            if arg1 == "sqlite_master" and arg2 == "ROWID":
                return ok  # a table-valued function (json_each) loading its schema
            return deny if internal and not self.introspection else ok
        if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master":
            return ok  # SQLite's check when a table-valued function loads its schema
        return ok if action in _READ_ONLY else deny


# -- schemas -----------------------------------------------------------------------------------

def _connect(db: Any) -> tuple[sqlite3.Connection, dict[str, set[str]]]:
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


# -- critic ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s+|'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?
    |[A-Za-z_\u0080-\U0010FFFF][A-Za-z0-9_$\u0080-\U0010FFFF]*|[0-9.]+(?:[eE][+-]?[0-9]+)?
    |<>|<=|>=|!=|==|\|\||<<|>>|.""", re.X)
_KEYWORDS = frozenset("""all and as asc between by case cast collate cross desc distinct else end
    escape except exists first from full glob group having in inner intersect is isnull join
    last left like limit match natural not notnull null nulls offset on or order outer recursive
    regexp right select then union using when where with""".split())
_TABLE_AFTER = frozenset({"from", "join"})
UNKNOWN_COLUMN_LOGW = -3.0


class SchemaCritic:
    """A log-weight of a SQL prefix from the schema, for SMC twisting (0 = no objection).

    ``-inf`` when a name in table position (after FROM / JOIN / a FROM-clause comma) is no
    table (nor a CTE defined earlier), or when a qualified column ``t.c`` has a qualifier
    bound to known tables (a table name or an alias defined in the prefix) and ``c`` is a
    column of none of them; an identifier still being typed at the end is judged by whether
    some name starts with it. A bare identifier in expression position that is no column of
    any table nor an alias defined so far costs ``UNKNOWN_COLUMN_LOGW`` (it may still be a
    column of a FROM subquery written later). Quoted ``"x"`` in expression position is
    ignored (SQLite reads it as a string when no column has that name).
    """

    def __init__(self, tables: dict[str, set[str]]):
        self.tables = {t.lower(): {c.lower() for c in cs} for t, cs in tables.items()}
        self.columns = set().union(*self.tables.values()) if self.tables else set()

    def __call__(self, prefix: bytes | str) -> float:
        text = prefix.decode("utf-8", "ignore") if isinstance(prefix, bytes) else prefix
        toks = [m.group() for m in _TOKEN.finditer(text)]
        ends_open = bool(toks) and not toks[-1].isspace()
        sig = [(t, i == len(toks) - 1 and ends_open) for i, t in enumerate(toks)
               if not t.isspace()]
        aliases: dict[str, set[str]] = {}
        ctes: set[str] = set()
        defined: set[str] = set()
        logw = 0.0
        clause = ["select"]
        for k, (tok, open_) in enumerate(sig):
            low = _ident(tok)
            prev = sig[k - 1][0].lower() if k else ""
            nxt = sig[k + 1][0] if k + 1 < len(sig) else ""
            if tok == "(":
                clause.append(clause[-1])
            elif tok == ")" and len(clause) > 1:
                clause.pop()
            if low is None:
                if tok.lower() in ("select", "from", "where", "group", "having", "order",
                                   "limit", "on", "using"):
                    clause[-1] = tok.lower()
                continue
            if nxt.upper() == "AS" and k + 2 < len(sig) and sig[k + 2][0] == "(":
                ctes.add(low)
                continue
            if prev in _TABLE_AFTER or (prev == "," and clause[-1] == "from"):
                known = low in self.tables or low in ctes
                if not known and (not open_ or not any(
                        n.startswith(low) for n in (*self.tables, *ctes))):
                    return float("-inf")
                alias = _ident(nxt) if nxt.lower() != "as" else (
                    _ident(sig[k + 2][0]) if k + 2 < len(sig) else None)
                if alias:
                    aliases.setdefault(alias, set()).add(low)
                continue
            if prev in ("as", ")", "collate") or (k and _ident(sig[k - 1][0]) is not None
                                                 and prev != "."):
                defined.add(low)
                continue
            if nxt == "." or nxt == "(":
                continue
            if prev == "." and k >= 2:
                qual = _ident(sig[k - 2][0])
                bound = aliases.get(qual) or ({qual} if qual in self.tables else None)
                if bound and all(t in self.tables for t in bound):
                    cols = set().union(*(self.tables[t] for t in bound))
                    if low not in cols and (not open_ or not any(c.startswith(low) for c in cols)):
                        return float("-inf")
                continue
            if tok.startswith('"') or open_:
                continue
            if low not in self.columns and low not in defined and low not in aliases:
                logw += UNKNOWN_COLUMN_LOGW
        return logw


def _ident(tok: str) -> str | None:
    """The lower-cased identifier a token names (None for keywords, literals, punctuation)."""
    if not tok:
        return None
    c = tok[0]
    if c == '"' or c == "`":
        return tok[1:-1].replace(c * 2, c).lower() if len(tok) > 1 and tok[-1] == c else \
            tok[1:].lower()
    if c == "[":
        return tok[1:].rstrip("]").lower()
    if c.isalpha() or c == "_" or ord(c) >= 0x80:
        low = tok.lower()
        return None if low in _KEYWORDS else low
    return None
