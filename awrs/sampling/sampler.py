"""Step-able samplers: one generation that advances one batched model call at a time.

A :class:`Sampler` separates *what the next step needs* (:meth:`Sampler.contexts`) from *the
step itself* (:meth:`Sampler.step`, given the log-probabilities of those contexts), so that a
scheduler can run many samplers side by side in one batched forward
(:class:`~awrs.sampling.scheduler.Scheduler`). :func:`awrs.generate` is a loop over one
(:func:`awrs.make_sampler` makes it)::

    s = make_sampler(lm, prompt, constraint, method="smc", seed=0)
    while not s.finished:
        s.step()                      # or s.step(logp) with log-probs computed elsewhere
    result = s.result()
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from ..errors import ConfigurationError
from .population import Particle, Run, Stats, log_weights
from .resample import log_mean_exp
from .token import TokenProbs


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated sequence.

    Attributes:
        text: the decoded text (end-of-sequence token excluded).
        token_ids: the generated token ids (end-of-sequence token excluded).
        log_weight: SMC: the particle's final log weight; other methods: 0, or ``-inf`` for a
            sample that died (every candidate rejected) or that the constraint rejects (rerank).
        finished: whether the sequence ended with the end-of-sequence token.
    """

    text: str
    token_ids: tuple[int, ...]
    log_weight: float
    finished: bool


@dataclass(slots=True)
class Result:
    """What :func:`awrs.generate` returns.

    Attributes:
        text: the complete text of highest posterior probability (``None`` when empty).
        posterior: distinct complete text -> probability (duplicates merged), most probable
            first; SMC weighs particles by their weights, the other methods uniformly.
        samples: every particle or sample, finished or not, in population order.
        log_ml: SMC: estimate of the log probability that the model's output satisfies the
            constraint (with a critic: of the critic-tilted normaliser); rerank: log of the
            accepted fraction; ``nan`` for direct, awrs and mask.
        stats: a :class:`~awrs.sampling.population.Stats`.
        empty: no complete text survived (every particle dead or unfinished).
    """

    text: str | None
    posterior: dict[str, float]
    samples: list[Sample]
    log_ml: float
    stats: Stats
    empty: bool = field(default=False)


class Sampler(ABC):
    """One generation, advanced one step (one batched model call) at a time.

    Attributes:
        run: the run's context (model, prompt, constraint, RNG, statistics).
        particles: the population, in order (``ids`` generated so far, ``finished``,
            ``log_w``); read it between steps to stream partial output.
        method: the sampling method's name.
        error: the exception that ended the sampler inside a
            :class:`~awrs.sampling.scheduler.Scheduler` (``None`` otherwise).
    """

    method: str = ""

    def __init__(self, run: Run, particles: list[Particle]):
        self.run = run
        self.particles = particles
        self.step_index = 0
        self._pending: tuple[list[Particle], list[list[int]], list[int]] | None = None
        self._closed = False
        self._result: Result | None = None
        self.error: Exception | None = None

    # -- what a scheduler reads ---------------------------------------------------------
    @property
    def lm(self):
        return self.run.lm

    @property
    def temperature(self) -> float:
        return self.run.temperature

    @property
    def max_tokens(self) -> int:
        return self.run.max_tokens

    @property
    def prompt_ids(self) -> list[int]:
        return self.run.prompt

    @property
    def finished(self) -> bool:
        """No further step: the budget is spent or no particle is still extending."""
        return (
            self._closed
            or self.step_index >= self.run.max_tokens
            or not any(p.alive for p in self.particles)
        )

    def contexts(self) -> list[list[int]]:
        """The token contexts (prompt + generated ids) whose next-token log-probabilities the
        next :meth:`step` needs, one per distinct live sequence; ``[]`` when finished."""
        if self.finished:
            return []
        if self._pending is None:
            live = [p for p in self.particles if p.alive]
            contexts, index = self.run.contexts(live)
            self._pending = (live, contexts, index)
        return self._pending[1]

    # -- stepping -----------------------------------------------------------------------
    def step(self, logp=None) -> None:
        """Advance every live particle by one token.

        Args:
            logp: (len(contexts()), V) log-probabilities of the next token for
                :meth:`contexts`, at this sampler's temperature; ``None``: the sampler calls
                its model itself.
        """
        if self.finished:
            raise ConfigurationError("step() on a finished sampler: expected finished == False")
        self.contexts()  # sets _pending (not finished)
        live, contexts, index = cast(
            "tuple[list[Particle], list[list[int]], list[int]]", self._pending
        )
        self._pending = None
        if logp is None:
            logp = self.run.logprobs(contexts)
        elif len(logp) != len(contexts):
            raise ConfigurationError(
                f"step() got log-probabilities for {len(logp)} contexts, expected "
                f"{len(contexts)} (one per entry of contexts())"
            )
        probs = self.run.probs(logp, index)
        last = self.step_index == self.run.max_tokens - 1
        self._advance(probs, live, last)
        self.run.end_step(len(live))
        self.step_index += 1

    @abstractmethod
    def _advance(self, probs: TokenProbs, live: list[Particle], last: bool) -> None:
        """Extend the live particles with one token each (``last``: the budget's last step)."""

    def cancel(self) -> None:
        """Stop early: the sampler is finished and its result holds what it has."""
        self._closed = True

    # -- the outcome --------------------------------------------------------------------
    def result(self) -> Result:
        """The :class:`Result` (stops the clock; call once the sampler is finished)."""
        if self._result is None:
            self._finish()
            self.run.close()
            self._result = build_result(self.run, self.particles, self.method)
        return self._result

    def _finish(self) -> None:
        """Settle the population once the loop ends (count particles out of budget)."""
        self.run.stats.out_of_budget += sum(1 for p in self.particles if p.alive)
        if getattr(self.run, "budget", None) is not None:
            self.run.budget.flush()


def build_result(run: Run, particles: list[Particle], method: str) -> Result:
    """The :class:`Result` of a population: posterior over complete texts, log_ml, samples."""
    samples = [
        Sample(run.text(p.ids), tuple(p.ids), float(p.log_w), bool(p.finished)) for p in particles
    ]
    lw = log_weights(particles)
    ok = np.array([s.finished and s.log_weight > -math.inf for s in samples], dtype=bool)
    posterior: dict[str, float] = {}
    if ok.any():
        good = lw[ok] if method == "smc" else np.zeros(int(ok.sum()))
        w = np.exp(good - good.max())
        w /= w.sum()
        for s, wi in zip((s for s, k in zip(samples, ok, strict=True) if k), w, strict=True):
            posterior[s.text] = posterior.get(s.text, 0.0) + float(wi)
        posterior = dict(sorted(posterior.items(), key=lambda kv: -kv[1]))
    if method == "smc":
        log_ml = log_mean_exp(lw)
    elif method == "rerank":
        log_ml = math.log(ok.sum() / len(samples)) if ok.any() else -math.inf
    else:
        log_ml = math.nan
    text = next(iter(posterior)) if posterior else None
    return Result(text, posterior, samples, log_ml, run.stats, empty=not posterior)
