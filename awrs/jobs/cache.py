"""Constraints built once per distinct spec: a small LRU keyed by the spec's canonical JSON."""

from __future__ import annotations

import json
from collections import OrderedDict

from ..errors import ConfigurationError
from ..request import ConstraintSpec


def build_constraint(
    kind: str, value, *, max_whitespace: int | None = 8, sql_root: str | None = None
):
    """The constraint of a record's ``(kind, value)`` spec.

    ``json_schema``: a schema object or its JSON text; ``regex`` / ``pattern``: the pattern;
    ``grammar``: Lark text; ``sql``: DDL text, a Spider ``tables.json`` entry, or the path of
    an SQLite file under ``sql_root`` (relative paths are taken from it; ``None``: paths are
    refused). Grammars and SQL bound whitespace runs by ``max_whitespace`` (``None``:
    unbounded). See :class:`~awrs.request.ConstraintSpec`.
    """
    settings = {"max_whitespace": max_whitespace, "sql_root": sql_root}
    return ConstraintSpec(kind, value, settings).build()


class ConstraintCache:
    """Constraints by content: the same schema, pattern or grammar is compiled once.

    A spec that fails to build is cached too (its error is raised again), so a malformed
    schema shared by many records costs one attempt. At most ``size`` entries are kept.
    """

    __slots__ = ("size", "max_whitespace", "sql_root", "hits", "misses", "_store")

    def __init__(
        self, size: int = 128, *, max_whitespace: int | None = 8, sql_root: str | None = None
    ):
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
                item = build_constraint(
                    kind, value, max_whitespace=self.max_whitespace, sql_root=self.sql_root
                )
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
