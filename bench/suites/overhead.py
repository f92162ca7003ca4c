"""The overhead suite: the micro-benchmarks of the earlier issues, run in one place."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import io
import math
import sys
import time
from pathlib import Path

from . import Item, Score, Spec, Suite

BENCH = Path(__file__).resolve().parent.parent
#: benchmark module -> (what it measures, quick command-line arguments); with ``--limit`` the
#: quick arguments are used, without it each module runs with its own (full) defaults
MODULES = {
    "backend": (
        "model backend vs `model.generate` (ms per step)",
        ["--batches", "1", "8", "--tokens", "32", "--repeat", "2"],
    ),
    "sampler": (
        "sampler overhead per particle-token, checks per token, SMC vs direct",
        ["--threads", "1", "--max-tokens", "16"],
    ),
    "regex": (
        "regex constraint: DFA construction, per-token advance, full masks",
        ["--repeat", "2", "--masks", "5"],
    ),
    "grammar": (
        "grammar and SQL constraints: construction and per-token advance times",
        ["--json", "30", "--candidates", "10"],
    ),
    "json_schema": (
        "JSON-schema constraint: correctness, construction and check times vs llguidance",
        ["--limit", "300", "--timing-schemas", "30"],
    ),
    "scaling": ("best-of-k scaling model (analytic, no LM)", ["--quick"]),
}


class OverheadSuite(Suite):
    """Runs ``bench.<module>.main(argv)`` for each micro-benchmark, capturing its output."""

    name = "overhead"
    metric = ""
    version = "1"
    generative = False

    def items(self, limit=None):
        return [Item(n, (), {"argv": tuple(MODULES[n][1]) if limit else ()}) for n in MODULES]

    def constraint(self, item):  # pragma: no cover - not a generation suite
        raise NotImplementedError("the overhead suite has no constraints")

    def spec(self, item, constraint=None):  # pragma: no cover
        return Spec("none", None)

    def score(self, item, text):  # pragma: no cover
        return Score(True, math.nan)

    @staticmethod
    def settings(item: Item) -> dict:
        path = BENCH / f"{item.id}.py"
        digest = hashlib.sha1(path.read_bytes()).hexdigest()[:10] if path.exists() else "absent"
        return {"module": item.id, "argv": list(item.data["argv"]), "source": digest}

    def run_all(self, runner) -> None:
        """Run every present module not yet recorded; missing ones become problems."""
        from tqdm import tqdm

        from bench.store import FAILED, Row, settings_hash

        items = self.items(runner.limit)
        runner.plan.items[self.name] = items
        for item in tqdm(items, desc=self.name, unit="bench", file=sys.stderr, dynamic_ncols=True):
            path = BENCH / f"{item.id}.py"
            if not path.exists():
                runner.plan.problems.append(
                    f"overhead: bench/{item.id}.py is missing ({MODULES[item.id][0]})"
                )
                continue
            h = settings_hash(self.settings(item))
            key = (self.name, "bench", item.id, 0, h)
            if runner.store.done(key, runner.retry_failed):
                continue
            row = Row(self.name, "bench", item.id, 0, h)
            t0 = time.perf_counter()
            try:
                row.text = call_main(item.id, list(item.data["argv"]))
                row.has_output = row.finished = row.valid = True
            except BaseException as exc:  # SystemExit from argparse included
                if isinstance(exc, KeyboardInterrupt):
                    raise
                row.status, row.reason = FAILED, f"{type(exc).__name__}: {exc}"[:500]
            row.wall_s = time.perf_counter() - t0
            runner.store.add(row)

    def report_section(self, store, plan, hashes) -> list[str]:
        from bench.store import OK, settings_hash

        lines = ["## overhead", ""]
        for item in plan.items.get(self.name, []):
            what = MODULES[item.id][0]
            lines.append(f"### bench/{item.id}.py: {what}")
            lines.append("")
            h = settings_hash(self.settings(item))
            row = next(
                (
                    r
                    for r in store.rows()
                    if r.suite == self.name and r.item == item.id and r.settings == h
                ),
                None,
            )
            if not (BENCH / f"{item.id}.py").exists():
                lines += ["Not present: this micro-benchmark has not been written yet.", ""]
            elif row is None:
                lines += ["Not run.", ""]
            elif row.status != OK:
                lines += [f"Failed after {row.wall_s:.1f} s: {row.reason}", ""]
            else:
                body = [
                    "###" + ln if ln.startswith("#") else ln  # below this section's level
                    for ln in row.text.strip().splitlines()
                ]
                lines += [
                    f"`python -m bench.{item.id} {' '.join(item.data['argv'])}` "
                    f"({row.wall_s:.1f} s):",
                    "",
                    *body,
                    "",
                ]
        return lines


def call_main(module: str, argv: list[str]) -> str:
    """Import ``bench.<module>``, call its ``main(argv)`` and return what it printed."""
    mod = importlib.import_module(f"bench.{module}")
    main = getattr(mod, "main", None)
    if main is None:
        raise AttributeError(f"bench.{module} has no main(argv) function")
    buf, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
            if inspect.signature(main).parameters:
                main(argv)
            else:
                main()
    except SystemExit as exc:  # argparse refusing the arguments, or an explicit exit
        if exc.code not in (None, 0):
            raise RuntimeError(f"exit status {exc.code}: {err.getvalue().strip()[-300:]}") from exc
    return buf.getvalue()


SUITE = OverheadSuite()
