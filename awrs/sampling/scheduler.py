"""Continuous batching: many samplers, one batched model call per step."""

from __future__ import annotations

import time
from collections import deque

import torch

from ..errors import ConfigurationError
from .population import call_lm
from .sampler import Sampler


class Scheduler:
    """Runs many :class:`~awrs.sampling.sampler.Sampler` objects over one model.

    Each :meth:`step` gathers the live rows of every active sampler into one
    ``next_token_logprobs`` call and lets each sampler consume its own rows. A sampler added
    with :meth:`add` joins at the next step; one that finishes leaves (continuous batching).
    Rows of a sampler keep extending their own contexts, so a backend that reuses the KV cache
    of its last batch (the Hugging Face backend) runs one incremental forward per step.

    When every active sampler has the same temperature the call is made at that temperature
    (results then equal the sampler run alone, up to the backend's batched-vs-alone float
    noise); otherwise it is made at temperature 1 and each sampler's rows are re-normalised
    at its own temperature (``log_softmax(logp / T)``, the same distribution).

    Not thread-safe: drive it from one thread.

    Args:
        lm: the model every sampler uses.
        max_rows: admission bound: a waiting sampler joins only while the live rows of the
            active samplers plus its own stay within it (a sampler alone always runs).
    """

    def __init__(self, lm, max_rows: int = 64):
        if not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 1:
            raise ConfigurationError(f"max_rows must be an integer >= 1, got {max_rows!r}")
        self.lm = lm
        self.max_rows = max_rows
        self.active: list[Sampler] = []
        self.waiting: deque[Sampler] = deque()
        self.lm_calls = 0
        self.rows_forwarded = 0

    def add(self, sampler: Sampler) -> None:
        """Queue ``sampler``; it joins the batch at the next step that has room."""
        if sampler.lm is not self.lm:
            raise ConfigurationError("the sampler uses another model than the scheduler's")
        self.waiting.append(sampler)

    def remove(self, sampler: Sampler) -> None:
        """Cancel ``sampler`` (a client went away): it leaves at once, its result holds what
        it has."""
        sampler.cancel()
        if sampler in self.active:
            self.active.remove(sampler)
        elif sampler in self.waiting:
            self.waiting.remove(sampler)

    @property
    def idle(self) -> bool:
        """Nothing active and nothing waiting."""
        return not self.active and not self.waiting

    def step(self) -> list[Sampler]:
        """One batched forward for every active sampler; returns the samplers that ended.

        A sampler whose step raised ends too, with the exception in ``sampler.error``.
        """
        self._admit()
        work = [(s, s.contexts()) for s in self.active]
        work = [(s, c) for s, c in work if c]
        if work:
            self._forward(work)
        done = [s for s in self.active if s.finished or s.error is not None]
        if done:
            self.active = [s for s in self.active if s not in done]
        return done

    def run(self) -> list[Sampler]:
        """Step until every sampler ended; returns them in the order they ended."""
        out: list[Sampler] = []
        while not self.idle:
            out.extend(self.step())
        return out

    # -- internals ------------------------------------------------------------------------
    def _admit(self) -> None:
        rows = sum(_rows(s) for s in self.active)
        while self.waiting:
            nxt = self.waiting[0]
            if self.active and rows + _rows(nxt) > self.max_rows:
                break
            self.waiting.popleft()
            if nxt.finished:  # nothing to do (e.g. cancelled while waiting)
                continue
            self.active.append(nxt)
            rows += _rows(nxt)

    def _forward(self, work: list[tuple[Sampler, list[list[int]]]]) -> None:
        temps = {s.temperature for s, _ in work}
        shared = temps.pop() if len(temps) == 1 else 1.0
        contexts = [c for _, cs in work for c in cs]
        t0 = time.perf_counter()
        logp = call_lm(self.lm, contexts, shared)
        seconds = time.perf_counter() - t0
        self.lm_calls += 1
        self.rows_forwarded += len(contexts)
        at = 0
        for s, cs in work:
            part = logp[at:at + len(cs)]
            at += len(cs)
            if s.temperature != shared:
                part = torch.log_softmax(torch.as_tensor(part, dtype=torch.float32)
                                         / s.temperature, dim=-1)
            stats = s.run.stats
            stats.lm_calls += 1
            stats.lm_time += seconds * len(cs) / len(contexts)
            try:
                s.step(part)
            except Exception as exc:  # one failing request must not stop the others
                s.error = exc
                s.cancel()


def _rows(s: Sampler) -> int:
    return sum(1 for p in s.particles if p.alive)
