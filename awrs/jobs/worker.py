"""One worker of a batch job: loads the model once, turns records into output lines."""

from __future__ import annotations

from collections.abc import Iterable

from .cache import ConstraintCache
from .records import Record, error_line, result_line


class Worker:
    """Runs records on one model; a local worker process or a Ray actor holds one each.

    The records it holds run side by side through a
    :class:`~awrs.sampling.scheduler.Scheduler`: one batched model call per step for the live
    particles of all of them (continuous batching: a record joins or leaves at any step).

    Args:
        model: a model folder (``None``: the embedded default), or a loaded
            :class:`~awrs.LanguageModel` (in-process use).
        threads: torch threads (``None``: torch's choice).
        raw: do not apply the chat template to text prompts.
        max_whitespace: whitespace bound for grammar and SQL constraints (``None``: unbounded).
        top: posterior entries kept on each output line.
        max_rows: the scheduler's bound on rows (particles) per model call.
        sql_root: the folder whose SQLite files a record's ``sql`` may name (``None``: none).
    """

    def __init__(
        self,
        model=None,
        *,
        threads: int | None = None,
        raw: bool = False,
        max_whitespace: int | None = 8,
        top: int = 5,
        max_rows: int = 64,
        sql_root: str | None = None,
    ):
        from ..models.base import LanguageModel

        if isinstance(model, LanguageModel):
            self.lm = model
        else:
            from ..models.loading import load_model
            from ..threads import configure

            self.lm = load_model(model, threads=configure(threads))
        self.raw, self.top = raw, top
        self.cache = ConstraintCache(max_whitespace=max_whitespace, sql_root=sql_root)
        from ..sampling.scheduler import Scheduler

        self.scheduler = Scheduler(self.lm, max_rows=max_rows)
        self._records: dict[int, Record] = {}  # id(sampler) -> its record

    def ready(self) -> bool:
        """True once the model is loaded (a Ray driver waits on it)."""
        return True

    def advance(self, records: Iterable[Record] = ()) -> list[dict]:
        """Take ``records`` on, step until at least one held record finishes, and return the
        finished records' output lines (``[]`` when nothing is held)."""
        lines = []
        for record in records:
            try:
                sampler = self._sampler(record)
            except Exception as exc:  # a bad constraint or option: the record fails
                lines.append(error_line(record.id, exc))
                continue
            self._records[id(sampler)] = record
            self.scheduler.add(sampler)
        while not lines and not self.scheduler.idle:
            lines.extend(self._line(s) for s in self.scheduler.step())
        return lines

    def _line(self, sampler) -> dict:
        record = self._records.pop(id(sampler))
        if sampler.error is not None:
            return error_line(record.id, sampler.error)
        try:
            return result_line(record.id, sampler.result(), self.top)
        except Exception as exc:
            return error_line(record.id, exc)

    def _sampler(self, record: Record):
        from ..sampling.api import make_sampler

        constraint = None if record.constraint is None else self.cache.get(*record.constraint)
        method = record.options["method"] or ("smc" if constraint is not None else "direct")
        o = record.options
        # (text or chat messages: make_sampler applies the chat template to either)
        return make_sampler(
            self.lm,
            record.prompt,
            constraint,
            method=method,
            n_particles=o["n_particles"],
            max_tokens=o["max_tokens"],
            temperature=o["temperature"],
            seed=o["seed"],
            raw=self.raw,
        )
