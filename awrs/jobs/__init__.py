"""Batch jobs: constrained generation over a JSONL file of records, locally or on Ray.

``awrs.batch(records, output, ...)`` (the function :func:`batch` of this package) and
``awrs batch INPUT OUTPUT`` run every record once, write one output line per record as it
finishes, and skip on a rerun the records already in the output.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigurationError
from .cache import ConstraintCache, build_constraint
from .engine import Engine, InlineEngine
from .records import (
    CONSTRAINT_KEYS,
    Record,
    check_ids,
    error_line,
    parse_record,
    read_input,
    result_line,
)
from .worker import Worker
from .writer import OutputWriter

__all__ = [
    "batch",
    "Summary",
    "Record",
    "Worker",
    "OutputWriter",
    "ConstraintCache",
    "build_constraint",
    "parse_record",
    "result_line",
    "error_line",
    "CONSTRAINT_KEYS",
]

ENGINES = ("local", "ray")


@dataclass(slots=True)
class Summary:
    """What :func:`batch` did.

    Attributes:
        total: records in the input.
        skipped: records whose line was already in the output.
        written: lines written by this run (results and errors).
        errors: of those, error lines.
        seconds: wall time of the run.
        lines: the lines, when no output file was given (completion order).
    """

    total: int
    skipped: int = 0
    written: int = 0
    errors: int = 0
    seconds: float = 0.0
    lines: list[dict] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Records written per second."""
        return self.written / self.seconds if self.seconds else 0.0


def batch(
    records: str | os.PathLike | Iterable[dict],
    output: str | os.PathLike | None = None,
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    retries: int = 2,
    model=None,
    method: str | None = None,
    n_particles: int = 4,
    max_tokens: int = 128,
    seed: int | None = None,
    temperature: float = 1.0,
    raw: bool = False,
    max_whitespace: int | None = 8,
    top: int = 5,
    in_flight: int = 16,
    progress: bool = False,
    sql_root: str | os.PathLike | None = None,
) -> Summary:
    """Run constrained generation over records; one output line per record.

    A record is an object with ``id`` (default: its line number), ``prompt`` (text or chat
    messages), at most one constraint (``json_schema``, ``regex``, ``pattern``, ``grammar``,
    ``sql``) and options ``method``, ``n_particles``, ``max_tokens``, ``seed``,
    ``temperature``; the keyword arguments of the same names are the defaults. A line is
    ``{"id", "text", "posterior", "log_ml", "empty", "stats"}``, or ``{"id", "error": {"type",
    "message"}}`` for a record that failed (bad constraint, bad option, or a worker that crashed
    more than ``retries`` times); the other records go on.

    Args:
        records: a JSONL file path, or an iterable of record objects.
        output: the JSONL output file, appended to (ids already in it are skipped); ``None``
            returns the lines in :attr:`Summary.lines`.
        engine: ``"local"`` (worker processes) or ``"ray"``.
        workers: local: processes (default 1); ray: actors (default: the cluster's CPUs).
        address: ray only: the cluster to join (default: a local Ray instance).
        retries: times a record is rerun after its worker or actor crashed.
        model: a model folder (``None``: the default model); a loaded
            :class:`~awrs.LanguageModel` runs the job in this process (one worker).
        in_flight: records each worker holds at a time.
        progress: a progress bar (records, rate, ETA) on stderr.
        sql_root: the folder whose SQLite files a record's ``sql`` may name (a path relative
            to it, or an absolute one inside it; symlinks and ``..`` are resolved first).
            ``None``: a record's ``sql`` must be DDL text or a Spider entry, never a path.

    Raises:
        ConfigurationError: an unreadable input, a line that is not a JSON object, a duplicate
            id, or an option out of range (per-record problems become error lines instead).
        ModelLoadError: a worker could not load the model.
    """
    _check(engine, workers, retries, in_flight, address, model)
    sql_root = _sql_root(sql_root)
    objs = _objects(records)
    total = check_ids(objs() if callable(objs) else objs)
    defaults = {
        "method": method,
        "n_particles": n_particles,
        "max_tokens": max_tokens,
        "seed": seed,
        "temperature": temperature,
    }
    summary = Summary(total)
    t0 = time.perf_counter()
    with OutputWriter(output) as writer:
        todo = _todo(objs() if callable(objs) else objs, writer, defaults, summary)
        bar = _bar(total - len(writer.done), progress)

        def emit(line: dict) -> None:
            writer.write(line)
            summary.errors += "error" in line
            bar.update(1)

        try:
            parsed = _parsed(todo, emit)
            first = next(parsed, None)
            if first is not None:  # no worker is started for a job already done
                runner = _engine(
                    engine, workers, address, in_flight, model, raw, max_whitespace, top, sql_root
                )
                runner.run(itertools.chain([first], parsed), emit, retries)
        finally:
            bar.close()
        summary.written, summary.lines = writer.written, writer.lines
    summary.seconds = time.perf_counter() - t0
    return summary


def _check(engine, workers, retries, in_flight, address, model) -> None:
    if engine not in ENGINES:
        raise ConfigurationError(f"engine must be one of {ENGINES}, got {engine!r}")
    for name, value, low in (
        ("workers", workers, 1),
        ("retries", retries, 0),
        ("in_flight", in_flight, 1),
    ):
        if value is not None and (not isinstance(value, int) or value < low):
            raise ConfigurationError(f"{name} must be an integer >= {low}, got {value!r}")
    if address is not None and engine != "ray":
        raise ConfigurationError("address joins a Ray cluster: expected engine='ray'")
    from ..models.base import LanguageModel

    if isinstance(model, LanguageModel) and (engine != "local" or (workers or 1) > 1):
        raise ConfigurationError(
            "a loaded model runs in this process: expected engine='local' "
            "and workers=1, or a model folder for several workers"
        )


def _sql_root(sql_root) -> str | None:
    """The absolute path of the operator's ``sql_root`` folder (workers may run elsewhere)."""
    if sql_root is None:
        return None
    root = Path(sql_root).resolve()
    if not root.is_dir():
        raise ConfigurationError(f"sql_root must be an existing directory, got {str(sql_root)!r}")
    return str(root)


def _objects(records):
    """A re-iterable source of record objects (a file is read twice, never held whole)."""
    if isinstance(records, (str, os.PathLike)):
        path = Path(records)
        return lambda: (obj for _, obj in read_input(path))
    objs = []
    for n, obj in enumerate(records, 1):
        if not isinstance(obj, dict):
            raise ConfigurationError(f"record {n}: expected a dict, got {type(obj).__name__}")
        objs.append({"id": n, **obj})
    return objs


def _todo(objs, writer: OutputWriter, defaults: dict, summary: Summary):
    for obj in objs:
        if writer.has(obj["id"]):
            summary.skipped += 1
            continue
        yield obj, defaults


def _parsed(todo, emit):
    """Records ready to run; a record that does not parse gets its error line here."""
    for obj, defaults in todo:
        try:
            yield parse_record(obj, defaults)
        except ConfigurationError as exc:
            emit(error_line(obj["id"], exc))


def _bar(total: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        unit="rec",
        file=sys.stderr,
        disable=not progress,
        desc="awrs batch",
        dynamic_ncols=True,
    )


def _engine(
    engine, workers, address, in_flight, model, raw, max_whitespace, top, sql_root=None
) -> Engine:
    config = {
        "model": model,
        "raw": raw,
        "max_whitespace": max_whitespace,
        "top": top,
        "sql_root": sql_root,
    }
    from ..models.base import LanguageModel

    if isinstance(model, LanguageModel):
        return InlineEngine(Worker(**config), in_flight)
    if engine == "ray":
        from .ray_engine import RayEngine

        return RayEngine(workers, address=address, in_flight=in_flight, **config)
    from .local import LocalEngine

    return LocalEngine(workers or 1, in_flight=in_flight, **config)
