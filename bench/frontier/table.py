"""The frontier's tables: one row per (method, budget, item), and their summary per budget."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..metrics import bootstrap_ci

#: the columns of ``frontier.csv``, in order
COLUMNS = (
    "suite",
    "method",
    "budget",
    "items",
    "score",
    "ci_lo",
    "ci_hi",
    "no_output",
    "particle_tokens",
    "lm_rows",
    "wall_s",
)


@dataclass(slots=True)
class ItemRow:
    """One method (``METHOD`` or ``METHOD/SELECTION``) at one budget on one item."""

    suite: str
    method: str
    budget: int
    item: str
    seed: int
    settings: str
    score: float = 0.0
    output: bool = False
    valid_samples: int = 0
    particle_tokens: int = 0
    lm_rows: int = 0
    wall_s: float = 0.0
    reason: str = ""
    text: str = ""

    @property
    def key(self) -> tuple[str, str, int, str, int, str]:
        return (self.suite, self.method, self.budget, self.item, self.seed, self.settings)


_TYPES = {f.name: f.type for f in fields(ItemRow)}


def _parse(rec: dict[str, str]) -> ItemRow:
    out: dict[str, object] = {}
    for name, kind in _TYPES.items():
        v = rec.get(name, "")
        if kind == "int":
            out[name] = int(v or 0)
        elif kind == "float":
            out[name] = float(v) if v else math.nan
        elif kind == "bool":
            out[name] = v in ("1", "True", "true")
        else:
            out[name] = v
    return ItemRow(**out)  # type: ignore[arg-type]


class ItemTable:
    """``frontier-items.csv``: item rows appended as they finish (what ``--resume`` keeps).

    Opened without ``resume`` it starts empty; with it, rows cut by a crash are dropped.
    """

    def __init__(self, path: Path, resume: bool, read_only: bool = False):
        self.path = path
        self.rows: dict[tuple, ItemRow] = {}
        if resume and path.is_file():
            with path.open(newline="", encoding="utf-8") as fh:
                for rec in csv.DictReader(fh):
                    try:
                        row = _parse(rec)
                    except (TypeError, ValueError):
                        continue  # a line cut by a crash: redone
                    self.rows[row.key] = row
        if read_only:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(_TYPES))
            writer.writeheader()
            for row in self.rows.values():
                writer.writerow(_record(row))

    def has(self, key: tuple) -> bool:
        return key in self.rows

    def add(self, rows: Iterable[ItemRow]) -> None:
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(_TYPES))
            for row in rows:
                self.rows[row.key] = row
                writer.writerow(_record(row))


def _record(row: ItemRow) -> dict[str, object]:
    rec = asdict(row)
    rec["output"] = int(row.output)
    rec["text"] = row.text[:300].replace("\r", " ")
    rec["reason"] = " ".join(row.reason.split())
    return rec


@dataclass(frozen=True, slots=True)
class Point:
    """One row of ``frontier.csv``: a method at a budget, summed or averaged over items."""

    suite: str
    method: str
    budget: int
    items: int
    score: float
    ci_lo: float
    ci_hi: float
    no_output: int
    particle_tokens: int
    lm_rows: int
    wall_s: float


def summarize(rows: Sequence[ItemRow], order: Sequence[str] = ()) -> list[Point]:
    """One point per (suite, method, budget): mean score with a 95 % bootstrap over items
    (a run without output scores 0), costs summed over items."""
    groups: dict[tuple[str, str, int], list[ItemRow]] = defaultdict(list)
    for row in rows:
        groups[row.suite, row.method, row.budget].append(row)
    rank = {m: i for i, m in enumerate(order)}
    out = []
    for (suite, method, budget), rs in groups.items():
        iv = bootstrap_ci([r.score for r in rs])
        out.append(
            Point(
                suite,
                method,
                budget,
                len(rs),
                iv.value,
                iv.lo,
                iv.hi,
                sum(not r.output for r in rs),
                sum(r.particle_tokens for r in rs),
                sum(r.lm_rows for r in rs),
                round(sum(r.wall_s for r in rs), 3),
            )
        )
    out.sort(key=lambda p: (p.suite, rank.get(p.method, len(rank)), p.method, p.budget))
    return out


def cross_fit(rows: Sequence[ItemRow]) -> list[ItemRow]:
    """``METHOD/RULE@cv`` rows: on each item, the row of the temperature (``METHOD/RULE@T``)
    that scores best on the *other* items at the same budget (leave one out; ties: the
    lowest temperature)."""
    groups: dict[tuple[str, str, int], dict[float, dict[str, ItemRow]]] = defaultdict(dict)
    for r in rows:
        name, at, t = r.method.rpartition("@")
        if not at or t == "cv":
            continue
        groups[r.suite, name, r.budget].setdefault(float(t), {})[r.item] = r
    out = []
    for (_, name, _), by_t in groups.items():
        temps = sorted(by_t)
        if len(temps) < 2:
            continue
        items = set.intersection(*(set(v) for v in by_t.values()))
        totals = {t: sum(by_t[t][i].score for i in items) for t in temps}
        for item in sorted(items):
            best = max(temps, key=lambda t: (totals[t] - by_t[t][item].score, -t))
            out.append(replace(by_t[best][item], method=f"{name}@cv"))
    return out


def write_points(path: Path, points: Sequence[Point]) -> None:
    """Write ``frontier.csv`` (scores to 4 decimals)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for p in points:
            rec = asdict(p)
            for k in ("score", "ci_lo", "ci_hi"):
                rec[k] = round(rec[k], 4)
            writer.writerow([rec[c] for c in COLUMNS])


def read_points(path: Path) -> list[Point]:
    """The rows of a ``frontier.csv``."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            Point(
                r["suite"],
                r["method"],
                int(r["budget"]),
                int(r["items"]),
                float(r["score"]),
                float(r["ci_lo"]),
                float(r["ci_hi"]),
                int(r["no_output"]),
                int(r["particle_tokens"]),
                int(r["lm_rows"]),
                float(r["wall_s"]),
            )
            for r in csv.DictReader(fh)
        ]
