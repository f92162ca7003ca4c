"""Particles, run statistics, and the per-run context shared by every sampling method."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .budget import BudgetPolicy
from .tables import ModelTables
from .token import Checker, TokenProbs, padded, token_probs


@dataclass(slots=True)
class Particle:
    """One sequence being generated: token ids (EOS excluded), constraint state, log weight.

    ``twist`` is the critic's value currently included in ``log_w`` (removed at the next
    step); ``budget_twist`` likewise for the budget twist, which only the run's
    :class:`~awrs.sampling.budget.BudgetPolicy` sets and removes (when the particle finishes).
    States are immutable, so copies made by resampling share them.
    """

    ids: list[int]
    state: Any
    log_w: float = 0.0
    twist: float = 0.0
    finished: bool = False
    budget_twist: float = 0.0

    @property
    def alive(self) -> bool:
        """Still extending: not finished and not dead (weight 0)."""
        return not self.finished and self.log_w > -math.inf

    def copy(self) -> Particle:
        return Particle(
            list(self.ids), self.state, self.log_w, self.twist, self.finished, self.budget_twist
        )


@dataclass(slots=True)
class Stats:
    """What a run did and how long it took.

    Attributes:
        method: the sampling method.
        seed: the seed that reproduces the run.
        n_particles: particles (SMC) or independent samples (other methods).
        steps: decoding steps (one batched model call each).
        tokens: particle-tokens sampled, end-of-sequence tokens included.
        evaluations: constraint evaluations at each step, all particles together.
        ess: SMC only: effective sample size after each step's reweighting.
        resampled: SMC only: the steps (0-based) after which the particles were resampled.
        lm_calls: batched ``next_token_logprobs`` calls.
        wall_time: seconds for the whole run.
        lm_time: seconds inside ``next_token_logprobs``.
        constraint_time: seconds inside the constraint's methods.
        dead: particles that reached a dead end: no token (end of sequence included) extends
            their prefix under the constraint (or ``max_rejects`` was exceeded).
        out_of_budget: particles that were still unfinished when ``max_tokens`` was reached
            (SMC: the end of sequence forced there was not accepted).
        candidates: candidates the rejection kernel checked (memo hits included).
        fallbacks: particle-steps that finished on the state's exact token mask.
        masks: exact token masks computed for those fallbacks.
        budget_pruned: distinct (state, token) candidates that the constraint accepted but
            budget feasibility rejected (the text could not finish within ``max_tokens``).
        budget_dead: particles "pruned to completion": every candidate was rejected and the
            budget rejected some of them (not counted in ``dead``).
        budget_forced: of ``budget_pruned``, the candidates rejected because their known
            completion (:class:`~awrs.constraints.closing.Closing`) no longer fits, while the
            sound lower bound alone would have kept them (closing).

    The ``budget_*`` counts are kept by the run's :class:`~awrs.sampling.budget.Budget`.
    """

    method: str
    seed: int
    n_particles: int
    steps: int = 0
    tokens: int = 0
    evaluations: list[int] = field(default_factory=list)
    ess: list[float] = field(default_factory=list)
    resampled: list[int] = field(default_factory=list)
    lm_calls: int = 0
    wall_time: float = 0.0
    lm_time: float = 0.0
    constraint_time: float = 0.0
    dead: int = 0
    out_of_budget: int = 0
    candidates: int = 0
    fallbacks: int = 0
    masks: int = 0
    # budget feasibility (counted by the run's Budget)
    budget_pruned: int = 0
    budget_dead: int = 0
    budget_forced: int = 0

    @property
    def total_evaluations(self) -> int:
        return int(sum(self.evaluations))

    @property
    def evaluations_per_token(self) -> float:
        """Constraint evaluations per sampled particle-token."""
        return self.total_evaluations / self.tokens if self.tokens else 0.0

    @property
    def sampler_time(self) -> float:
        """Seconds outside the model forward and the constraint (the sampler's own overhead)."""
        return max(self.wall_time - self.lm_time - self.constraint_time, 0.0)


class Run:
    """The context of one call to :func:`awrs.generate`: model, prompt, RNG, checks, statistics."""

    def __init__(
        self,
        lm,
        prompt_ids: list[int],
        constraint,
        *,
        temperature: float,
        max_tokens: int,
        rng,
        stats: Stats,
        progress: bool = False,
        prune: bool = True,
    ):
        self.lm = lm
        self.prompt = list(prompt_ids)
        self.constraint = constraint
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.rng = rng
        self.stats = stats
        self.eos = sorted(lm.eos_token_ids)
        self.eos_set = frozenset(self.eos)
        self.tables = ModelTables.of(lm)
        self.checker = Checker(constraint, lm, self.tables) if constraint is not None else None
        self.keep = (
            padded(self.tables.pruning_mask(constraint))
            if (constraint is not None and prune)
            else None
        )
        #: the budget policy (:class:`~awrs.sampling.budget.Budget` when budget feasibility
        #: is on; the base class, which changes nothing, by default)
        self.budget: BudgetPolicy = BudgetPolicy()
        self._t0 = time.perf_counter()
        self._evals_before = 0
        self._extra_evals = 0
        self._bar = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=max_tokens, desc=stats.method, unit="tok", leave=False)

    def start_state(self):
        """The constraint's initial state (``None`` without a constraint)."""
        return self.checker.start() if self.checker is not None else None

    def contexts(self, particles: Sequence[Particle]) -> tuple[list[list[int]], list[int]]:
        """The distinct contexts of ``particles`` and, for each particle, its row among them.

        Particles with the same tokens (copies made by resampling, or all of them at the
        first step) share one row.
        """
        rows: dict[tuple[int, ...], int] = {}
        index = [rows.setdefault(tuple(p.ids), len(rows)) for p in particles]
        prompt = self.prompt
        return [prompt + list(ids) for ids in rows], index

    def logprobs(self, contexts: list[list[int]]):
        """One batched model call (timed and counted) at the run's temperature."""
        t0 = time.perf_counter()
        logp = call_lm(self.lm, contexts, self.temperature)
        self.stats.lm_time += time.perf_counter() - t0
        self.stats.lm_calls += 1
        return logp

    def probs(self, logp, index: list[int]) -> TokenProbs:
        """Probabilities in kernel layout from the (U, V) log-probabilities of a step."""
        if self.checker is not None:
            self.checker.new_step()
        probs = token_probs(logp, self.keep)
        probs.index = index
        return probs

    def forward(self, particles: Sequence[Particle]) -> TokenProbs:
        """One batched model call for ``particles``; probabilities in kernel layout."""
        contexts, index = self.contexts(particles)
        return self.probs(self.logprobs(contexts), index)

    def count(self, n: int) -> None:
        """Record ``n`` constraint evaluations done outside the :class:`Checker` (token masks)."""
        self._extra_evals += n

    def end_step(self, n_tokens: int) -> None:
        """Close a decoding step that sampled ``n_tokens`` particle-tokens."""
        total = (self.checker.evaluations if self.checker is not None else 0) + self._extra_evals
        self.stats.evaluations.append(total - self._evals_before)
        self._evals_before = total
        self.stats.steps += 1
        self.stats.tokens += n_tokens
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """Stop the clock and the progress bar."""
        self.stats.wall_time = time.perf_counter() - self._t0
        if self.checker is not None:
            self.stats.constraint_time = self.checker.seconds
            c = self.checker
            self.stats.candidates, self.stats.fallbacks, self.stats.masks = (
                c.candidates,
                c.fallbacks,
                c.masks,
            )
        if self._bar is not None:
            self._bar.close()

    def text(self, ids: Sequence[int]) -> str:
        return self.lm.decode(list(ids))


def call_lm(lm, contexts: list[list[int]], temperature: float):
    """``lm.next_token_logprobs(contexts, temperature)``, forgiving models without a temperature.

    A model whose ``next_token_logprobs`` takes only the contexts gets them alone; the
    temperature is then applied to the log-probabilities it returns (exact: a softmax of
    ``logp / T`` equals one of ``logits / T``).
    """
    if _takes_temperature(type(lm)):
        return lm.next_token_logprobs(contexts, temperature)
    logp = lm.next_token_logprobs(contexts)
    if temperature != 1.0:
        logp = torch.log_softmax(torch.as_tensor(logp, dtype=torch.float32) / temperature, dim=-1)
    return logp


def _takes_temperature(cls) -> bool:
    hit = _TAKES_T.get(cls)
    if hit is None:
        try:
            params = list(inspect.signature(cls.next_token_logprobs).parameters.values())
        except (TypeError, ValueError):
            hit = True
        else:
            hit = (
                any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)
                or any(p.name == "temperature" for p in params)
                or len(params) > 2
            )
        _TAKES_T[cls] = hit
    return hit


_TAKES_T: dict[type, bool] = {}


def log_weights(particles: Sequence[Particle]) -> np.ndarray:
    """(N,) float64 log weights of the particles."""
    return np.fromiter((p.log_w for p in particles), dtype=np.float64, count=len(particles))
