"""Constraints built once per distinct spec: a small LRU keyed by the spec's canonical JSON."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

from ..errors import ConfigurationError


def build_constraint(kind: str, value, *, max_whitespace: int | None = 8,
                     sql_root: str | None = None):
    """The constraint of a record's ``(kind, value)`` spec.

    ``json_schema``: a schema object or its JSON text; ``regex`` / ``pattern``: the pattern;
    ``grammar``: Lark text; ``sql``: DDL text, a Spider ``tables.json`` entry, or the path of
    an SQLite file under ``sql_root`` (relative paths are taken from it; ``None``: paths are
    refused). Grammars and SQL bound whitespace runs by ``max_whitespace`` (``None``:
    unbounded).
    """
    import awrs

    if kind == "json_schema":
        return awrs.JSONSchema(value)
    if kind in ("regex", "pattern", "grammar") and not isinstance(value, str):
        raise ConfigurationError(f"{kind} must be a string, got {type(value).__name__}")
    if kind == "regex":
        return awrs.Regex(value)
    if kind == "pattern":
        return awrs.Pattern(value)
    if kind == "grammar":
        grammar = awrs.Grammar(value)
        return grammar if max_whitespace is None else grammar & awrs.MaxWhitespace(max_whitespace)
    if kind == "sql":
        return awrs.SQL(_sql_db(value, sql_root), max_whitespace=max_whitespace)
    raise ConfigurationError(f"unknown constraint kind {kind!r}: expected json_schema, regex, "
                             "pattern, grammar or sql")


def _sql_db(value, sql_root: str | None):
    """``value`` itself, or for text that is not DDL the SQLite file it names under
    ``sql_root``: one refusal whether the path escapes the root or names no file."""
    from ..constraints.sql.schema import looks_like_ddl

    if not isinstance(value, str) or looks_like_ddl(value):
        return value
    path = _under(value, sql_root)
    if path is None:
        shown = value if len(value) <= 200 else value[:200] + "..."
        raise ConfigurationError(
            f"sql {shown!r} is not DDL text (CREATE TABLE ...) nor an SQLite file this job may "
            f"open: expected DDL, a Spider tables.json entry, or the path of an existing file "
            f"inside the --sql-root directory" + ("" if sql_root else " (none was given)"))
    return path


def _under(value: str, sql_root: str | None) -> Path | None:
    """The existing file ``value`` names inside ``sql_root`` (symlinks and ``..`` resolved)."""
    if not sql_root:
        return None
    try:
        root = Path(sql_root).resolve(strict=True)
        path = (root / value).resolve(strict=True)
        return path if path.is_relative_to(root) and path.is_file() else None
    except (OSError, ValueError, RuntimeError):  # missing, unreadable, a NUL, a symlink loop
        return None


class ConstraintCache:
    """Constraints by content: the same schema, pattern or grammar is compiled once.

    A spec that fails to build is cached too (its error is raised again), so a malformed
    schema shared by many records costs one attempt. At most ``size`` entries are kept.
    """

    __slots__ = ("size", "max_whitespace", "sql_root", "hits", "misses", "_store")

    def __init__(self, size: int = 128, *, max_whitespace: int | None = 8,
                 sql_root: str | None = None):
        self.size, self.max_whitespace, self.sql_root = size, max_whitespace, sql_root
        self.hits = self.misses = 0
        self._store: OrderedDict[str, object] = OrderedDict()

    @staticmethod
    def key(kind: str, value) -> str:
        """The spec's canonical JSON (object keys sorted, so key order does not matter)."""
        try:
            return json.dumps([kind, value], sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"{kind} spec is not JSON data: {exc}") from None

    def get(self, kind: str, value):
        """The constraint for ``(kind, value)``, built on first use."""
        key = self.key(kind, value)
        if key in self._store:
            self.hits += 1
            self._store.move_to_end(key)
            item = self._store[key]
        else:
            self.misses += 1
            try:
                item = build_constraint(kind, value, max_whitespace=self.max_whitespace,
                                        sql_root=self.sql_root)
            except Exception as exc:  # cached, raised again for every record that uses it
                item = exc
            self._store[key] = item
            if len(self._store) > self.size:
                self._store.popitem(last=False)
        if isinstance(item, Exception):
            raise item.with_traceback(None)
        return item

    def __len__(self) -> int:
        return len(self._store)
