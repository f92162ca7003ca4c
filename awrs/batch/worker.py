"""One worker of a batch job: loads the model once, turns records into output lines."""

from __future__ import annotations

from collections import deque
from typing import Iterable

from .cache import ConstraintCache
from .records import Record, error_line, result_line


class Worker:
    """Runs records on one model; a local worker process or a Ray actor holds one each.

    Args:
        model: a model folder (``None``: the embedded default), or a loaded
            :class:`~awrs.LanguageModel` (in-process use).
        threads: torch threads (``None``: torch's choice).
        raw: do not apply the chat template to text prompts.
        max_whitespace: whitespace bound for grammar and SQL constraints (``None``: unbounded).
        top: posterior entries kept on each output line.
    """

    def __init__(self, model=None, *, threads: int | None = None, raw: bool = False,
                 max_whitespace: int | None = 8, top: int = 5):
        from ..models.base import LanguageModel

        if isinstance(model, LanguageModel):
            self.lm = model
        else:
            from ..models.loading import load_model

            self.lm = load_model(model, threads=threads)
        self.raw, self.top = raw, top
        self.cache = ConstraintCache(max_whitespace=max_whitespace)
        self._pending: deque[Record] = deque()

    def ready(self) -> bool:
        """True once the model is loaded (a Ray driver waits on it)."""
        return True

    def advance(self, records: Iterable[Record] = ()) -> list[dict]:
        """Take ``records`` on, work until at least one record finishes, return the finished
        records' output lines (``[]`` when nothing is held)."""
        self._pending.extend(records)
        if not self._pending:
            return []
        return [self.run(self._pending.popleft())]

    def run(self, record: Record) -> dict:
        """One record's output line; every error of the record becomes an error line."""
        try:
            return result_line(record.id, self._generate(record), self.top)
        except Exception as exc:  # the record fails, the job goes on
            return error_line(record.id, exc)

    def _generate(self, record: Record):
        import awrs

        constraint, method = self._constraint(record)
        o = record.options
        critic = getattr(constraint, "critic", None) if method == "smc" else None
        return awrs.generate(self.lm, self._prompt(record), constraint, method=method,
                             n_particles=o["n_particles"], max_tokens=o["max_tokens"],
                             temperature=o["temperature"], seed=o["seed"], raw=self.raw,
                             critic=critic)

    def _constraint(self, record: Record):
        constraint = None if record.constraint is None else self.cache.get(*record.constraint)
        method = record.options["method"] or ("smc" if constraint is not None else "direct")
        return constraint, method

    def _prompt(self, record: Record):
        prompt = record.prompt
        return prompt if isinstance(prompt, str) else self.lm.chat(prompt)
