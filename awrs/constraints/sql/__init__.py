"""SQLite SELECT statements: prefixes by ``grammars/sql.lark``, completions compiled against a
schema."""

from __future__ import annotations

import importlib.resources
import sqlite3
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

from ...errors import ConfigurationError
from ..base import Completion, IncrementalConstraint
from ..grammar import Grammar
from ..whitespace import MaxWhitespace
from .hints import closing_hints
from .names import SchemaCritic as SchemaCritic  # the old name of SchemaNames
from .names import SchemaNames, may_name, schema_mask
from .schema import connect, schema_ddl

__all__ = ["SQL", "SchemaNames", "schema_ddl"]

_READ_ONLY = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
_CACHE_SIZE = 65_536

#: SQLite built-in functions the default profile may call: deterministic or harmless, and
#: bounded in cost by their inputs (no ``load_extension``, ``randomblob``, ``zeroblob``,
#: ``printf``/``format`` with unbounded widths, nor connection-state or compile-option probes).
SAFE_FUNCTIONS = frozenset(
    """
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
""".split()
)
#: SQLite's own tables, readable only with ``introspection=True``
_INTERNAL = ("sqlite_", "pragma_")


def sql_grammar_text() -> str:
    """The text of the shipped grammar ``awrs/grammars/sql.lark`` (package data)."""
    return importlib.resources.files("awrs.grammars").joinpath("sql.lark").read_text("utf-8")


def sql_grammar() -> Grammar:
    """The shipped SELECT grammar (built once per process)."""
    text = sql_grammar_text()
    return Grammar(text, parser="lalr")


class SQL(IncrementalConstraint, Completion):
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
        guide: also build :attr:`guide`, a schema-aware log-weight of a prefix that SMC
            uses as a guide (``awrs.generate(guide=...)``: a twist cancelled at completion);
            ``False``: no guide.
        schema_prefix: reject a prefix that no completion can make compile (by
            :meth:`SchemaNames.dead`): an unknown table after FROM / JOIN, an unknown
            function called, ``t.c`` where ``t`` is bound to tables without a column ``c``;
            a name still being typed is judged by whether some allowed name starts with it.
            Without it such prefixes are refused only at the end, when nothing can be done.
        strict_names: also reject, as soon as a token follows it, a bare name in an
            expression that is no column of the schema's tables nor an alias or CTE defined
            before it (implies ``schema_prefix``). This narrows the language: the output
            columns of a FROM subquery and of ``json_each`` must then be qualified (``s.c``).
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
        critic: deprecated: ``guide``.

    Raises:
        ConfigurationError: ``db`` is none of the above, or the file does not exist.
        ConstraintError: the DDL or schema cannot be loaded.

    The state is ``(grammar state, statement bytes so far, trailing whitespace run)``. A
    statement closed by ``;`` can only be followed by whitespace, so it is compiled right then
    and rejected as a prefix if it does not compile.
    """

    #: no byte search after the hints: SQL's completions come from :meth:`closing_hints` (all
    #: but 5 of 1,257 prefixes of 40 Spider gold queries, cut at the model's token boundaries;
    #: a byte search of 25 nodes closes none of the 5), while a failed search (a name no table
    #: has) would walk its whole limit, trying most bytes at each node
    closing_nodes = 0

    def __init__(
        self,
        db: Any,
        *,
        guide: bool = True,
        max_whitespace: int | None = 16,
        functions: frozenset[str] | None = SAFE_FUNCTIONS,
        introspection: bool = False,
        schema_prefix: bool = False,
        strict_names: bool = False,
        critic: bool | None = None,
    ):
        if critic is not None:
            warnings.warn(
                "SQL(critic=...) is deprecated: use SQL(guide=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            guide = critic
        if max_whitespace is not None and max_whitespace < 1:
            raise ConfigurationError(f"max_whitespace must be None or >= 1, got {max_whitespace!r}")
        self.max_whitespace = max_whitespace
        self.functions = None if functions is None else frozenset(f.lower() for f in functions)
        self.introspection = bool(introspection)
        self._ws = MaxWhitespace(max_whitespace) if max_whitespace is not None else None
        self.grammar = sql_grammar()
        self.conn, self.tables = connect(db)
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self.guide = SchemaNames(self.tables, self.functions) if guide else None
        self._schema = (
            SchemaNames(self.tables, self.functions, strict_names)
            if schema_prefix or strict_names
            else None
        )
        self._names = self._schema  # the schema's names, for closing hints (built on demand)

    def __repr__(self) -> str:
        return f"SQL(tables={sorted(self.tables)!r})"

    def start(self):
        return (self.grammar.start(), b"", 0)

    def advance(self, state, token: bytes):
        return self._advance(state, token, self._schema)

    def search_advance(self, state, token: bytes):
        """:meth:`advance` without the schema's dead-end check: a statement that compiles
        passes it at every prefix, so searches for completions need not pay for it."""
        return self._advance(state, token, None)

    def _advance(self, state, token: bytes, schema):
        g = self.grammar.advance(state[0], token)
        if g is None:
            return None
        run = self._ws.advance(state[2], token) if self._ws is not None else 0
        if run is None:
            return None
        text = state[1] + token
        if schema is not None and may_name(state[1], token) and schema.dead(text):
            return None  # no completion can compile against the schema
        if text.rstrip().endswith(b";") and self.grammar.is_complete(g) and not self.compiles(text):
            return None  # closed: nothing but whitespace may follow, and it does not compile
        return (g, text, run)

    def is_complete(self, state) -> bool:
        return self.grammar.is_complete(state[0]) and self.compiles(state[1])

    def closing_hints(self, state) -> list[bytes]:
        """Likely completions (:func:`~awrs.constraints.sql.hints.closing_hints`): the open
        string closed, the name being typed finished from the schema, parentheses closed."""
        if self._names is None:
            self._names = SchemaNames(self.tables, self.functions)
        return closing_hints(self._names, state[1])

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
        blank = getattr(trie, "_blank", None)
        if blank is None:
            blank = trie._blank = np.array([bool(t) and not t.strip() for t in trie.token_bytes])
        # the compile check of a text ending in ";": tokens holding one, and whitespace after
        # one (e.g. the newline ending a comment whose last character is ";")
        closing = semicolon | blank if state[1].rstrip().endswith(b";") else semicolon
        for tid in np.flatnonzero(mask & closing):
            mask[tid] = self.advance(state, trie.token_bytes[tid]) is not None
        if self._schema is not None:
            schema_mask(self._schema, state[1], mask & ~semicolon, mask, trie.token_bytes)
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
