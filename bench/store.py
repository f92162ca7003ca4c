"""A resumable CSV of benchmark samples, keyed by suite, method, item, seed and settings hash."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from awrs.errors import ConfigurationError

#: statuses a row may carry
OK, FAILED, UNSUPPORTED = "ok", "failed", "unsupported"


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A short stable hash of a settings mapping (JSON with sorted keys)."""
    text = json.dumps(dict(settings), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


@dataclass(slots=True)
class Row:
    """One benchmark sample: a method run on one item with one seed.

    ``text`` is the selected output (empty when there is none, see ``has_output``); ``valid``
    says whether it satisfies the item's constraint by an independent check; ``score`` is the
    suite's primary metric for it and ``score_post`` its expectation under the method's
    posterior (SMC / rerank); ``metrics`` holds the suite's other per-sample metrics.
    """

    suite: str
    method: str
    item: str
    seed: int
    settings: str
    status: str = OK
    reason: str = ""
    has_output: bool = False
    text: str = ""
    finished: bool = False
    valid: bool = False
    score: float = math.nan
    score_post: float = math.nan
    tokens: int = 0
    wall_s: float = math.nan
    build_s: float = math.nan
    evals: float = math.nan
    log_ml: float = math.nan
    particles: int = 1
    metrics: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, int, str]:
        return (self.suite, self.method, self.item, self.seed, self.settings)

    def to_csv(self) -> dict[str, str]:
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, dict):
                v = json.dumps(v, sort_keys=True, default=str)
            elif isinstance(v, bool):
                v = int(v)
            elif isinstance(v, float) and math.isnan(v):
                v = ""
            out[k] = v
        return out

    @classmethod
    def from_csv(cls, rec: Mapping[str, str]) -> Row:
        kw: dict[str, Any] = {}
        for f in fields(cls):
            raw = rec.get(f.name, "")
            if f.type == "int":
                kw[f.name] = int(raw or 0)
            elif f.type == "float":
                kw[f.name] = float(raw) if raw not in ("", None) else math.nan
            elif f.type == "bool":
                kw[f.name] = raw in ("1", "True", "true")
            elif f.type == "dict":
                kw[f.name] = json.loads(raw) if raw else {}
            else:
                kw[f.name] = raw or ""
        return cls(**kw)


COLUMNS = [f.name for f in fields(Row)]


class Store:
    """Rows of one output folder's ``samples.csv``; appended and flushed one row at a time.

    A rerun with the same settings finds finished keys with :meth:`done` and skips them, so
    an interrupted run resumes where it stopped. A row recorded again (``--retry-failed``)
    replaces the earlier one when the file is read back.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._rows: dict[tuple, Row] = {}
        if self.path.exists() and self.path.stat().st_size:
            self._load()

    def _load(self) -> None:
        with self.path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames != COLUMNS:
                raise ConfigurationError(
                    f"{self.path} has columns {reader.fieldnames}, expected {COLUMNS}; it was "
                    "written by another version of the harness: use a new --out folder"
                )
            for rec in reader:
                row = Row.from_csv(rec)
                self._rows[row.key] = row

    def done(self, key: tuple, retry_failed: bool = False) -> bool:
        """Whether a row with this key exists (failed rows count unless ``retry_failed``)."""
        row = self._rows.get(key)
        return row is not None and not (retry_failed and row.status == FAILED)

    def add(self, row: Row) -> None:
        """Append a row to the CSV (flushed at once) and to memory."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row.to_csv())
        self._rows[row.key] = row

    def rows(self) -> Iterator[Row]:
        return iter(list(self._rows.values()))

    def __len__(self) -> int:
        return len(self._rows)
