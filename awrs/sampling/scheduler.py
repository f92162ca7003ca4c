"""Continuous batching: many samplers, one batched model call per step."""

from __future__ import annotations

import time
from collections import deque

import torch

from ..errors import ConfigurationError
from ..limits import DEFAULT_CACHE_BYTES, DEFAULT_PREFILL_CHUNK
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

    Chunked prefill: a sampler whose prompt is longer than ``prefill_chunk`` tokens first has
    its prompt computed ``prefill_chunk`` tokens per step (``lm.prefill``), beside the decoding
    batch, and joins it once the whole prompt is cached; so one long prompt no longer stalls
    every other request for its whole forward, and a sampler cancelled meanwhile stops taking
    forward time at its next chunk. One prompt is prefilled at a time, in arrival order.

    Not thread-safe: drive it from one thread.

    Args:
        lm: the model every sampler uses.
        max_rows: admission bound: a waiting sampler joins only while the live rows of the
            active samplers plus its own stay within it (a sampler alone always runs).
        prefill_chunk: new prompt tokens computed per step for a long prompt (``None``: the
            whole prompt in the sampler's first step).
        max_cache_bytes: admission bound on the batch's cached state: rows times the longest
            context any of them may reach (the backend left-pads every row to it) times
            ``lm.kv_bytes_per_token()`` (a sampler alone always runs; ``None``: no bound).
    """

    def __init__(
        self,
        lm,
        max_rows: int = 64,
        *,
        prefill_chunk: int | None = DEFAULT_PREFILL_CHUNK,
        max_cache_bytes: int | None = DEFAULT_CACHE_BYTES,
    ):
        for name, value in (
            ("max_rows", max_rows),
            ("prefill_chunk", prefill_chunk),
            ("max_cache_bytes", max_cache_bytes),
        ):
            if value is None and name != "max_rows":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"{name} must be an integer >= 1, got {value!r}")
        self.lm = lm
        self.max_rows = max_rows
        self.prefill_chunk = prefill_chunk
        self.max_cache_bytes = max_cache_bytes
        self.active: list[Sampler] = []
        self.waiting: deque[Sampler] = deque()
        self.prefilling: deque[list] = deque()  # [sampler, tokens cached so far]
        self.lm_calls = 0
        self.rows_forwarded = 0
        self.prefill_calls = 0
        self._per_token = int(getattr(lm, "kv_bytes_per_token", lambda: 0)() or 0)
        self._ready: set[int] = set()  # ids of samplers whose prompt is prefilled

    def add(self, sampler: Sampler) -> None:
        """Queue ``sampler``; it joins the batch at the next step that has room."""
        if sampler.lm is not self.lm:
            raise ConfigurationError("the sampler uses another model than the scheduler's")
        self.waiting.append(sampler)

    def remove(self, sampler: Sampler) -> None:
        """Cancel ``sampler`` (a client went away): it leaves at once, its result holds what
        it has."""
        sampler.cancel()
        self._ready.discard(id(sampler))
        if sampler in self.active:
            self.active.remove(sampler)
        elif sampler in self.waiting:
            self.waiting.remove(sampler)
        else:
            self.prefilling = deque(e for e in self.prefilling if e[0] is not sampler)

    @property
    def idle(self) -> bool:
        """Nothing active, prefilling or waiting."""
        return not self.active and not self.waiting and not self.prefilling

    def step(self) -> list[Sampler]:
        """One batched forward for every active sampler; returns the samplers that ended.

        A sampler whose step raised ends too, with the exception in ``sampler.error``.
        """
        self._admit()
        work = [(s, s.contexts()) for s in self.active]
        work = [(s, c) for s, c in work if c]
        if work:
            self._forward(work)
        self._prefill()
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
        width = max((_width(s) for s in self.active), default=0)
        while self.waiting:
            nxt = self.waiting[0]
            if nxt.finished:  # nothing to do (e.g. cancelled while waiting)
                self.waiting.popleft()
                continue
            if self._needs_prefill(nxt):
                self.waiting.popleft()
                self.prefilling.append([nxt, 0])
                continue
            r, w = rows + _rows(nxt), max(width, _width(nxt))
            if self.active and (r > self.max_rows or self._over_bytes(r, w)):
                break
            self.waiting.popleft()
            self._ready.discard(id(nxt))
            self.active.append(nxt)
            rows, width = r, w

    def _over_bytes(self, rows: int, width: int) -> bool:
        return (
            self.max_cache_bytes is not None
            and rows * width * self._per_token > self.max_cache_bytes
        )

    def _needs_prefill(self, s: Sampler) -> bool:
        return (
            self.prefill_chunk is not None
            and id(s) not in self._ready
            and len(s.prompt_ids) > self.prefill_chunk
        )

    def _prefill(self) -> None:
        """One chunk of the oldest prefilling prompt; a prompt done goes back to the head of
        the waiting queue."""
        while self.prefilling and self.prefilling[0][0].finished:  # cancelled meanwhile
            self.prefilling.popleft()
        if not self.prefilling:
            return
        entry = self.prefilling[0]
        s, done = entry
        prompt = s.prompt_ids
        upto = min(done + self.prefill_chunk, len(prompt))
        t0 = time.perf_counter()
        try:
            self.lm.prefill(prompt[:upto])
        except Exception as exc:  # this request's prompt failed: it ends, the others go on
            self.prefilling.popleft()
            s.error = exc
            s.cancel()
            self.active.append(s)  # reported as done by this step
            return
        s.run.stats.lm_time += time.perf_counter() - t0
        self.prefill_calls += 1
        entry[1] = upto
        if upto >= len(prompt):
            self.prefilling.popleft()
            self._ready.add(id(s))
            self.waiting.appendleft(s)

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
            part = logp[at : at + len(cs)]
            at += len(cs)
            if s.temperature != shared:
                part = torch.log_softmax(
                    torch.as_tensor(part, dtype=torch.float32) / s.temperature, dim=-1
                )
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


def _width(s: Sampler) -> int:
    """The longest context the sampler may reach: its prompt and its whole token budget."""
    return len(s.prompt_ids) + s.max_tokens
