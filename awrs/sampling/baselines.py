"""The baselines: direct sampling, locally constrained decoding (AWRS or full masks), reranking."""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from typing import cast

import numpy as np

from ..constraints.base import IncrementalConstraint
from ..kernels import awrs as _awrs
from .population import Particle, Run
from .sampler import Sampler
from .token import Checker, awrs_token, block_sums


class Everything(IncrementalConstraint):
    """The constraint that accepts every string (used when no constraint is given)."""

    def start(self):
        return ()

    def advance(self, state, token):
        return state

    def is_complete(self, state):
        return True


def _draw(run: Run, row_probs: np.ndarray, row_blocks: np.ndarray, block_size: int) -> int:
    return _awrs.sample_token(row_probs, row_blocks, block_size, run.rng)


class LockstepSampler(Sampler):
    """Independent sequences advanced together, one batched model call per step.

    Subclasses implement :meth:`_row`: ``None`` when it settled the particle itself, else
    ``(token, new_state)``: token -1 is a dead end (weight 0), an end-of-sequence token
    finishes the particle, any other token extends it and sets its constraint state.
    """

    def __init__(self, run: Run, n: int, state=None):
        super().__init__(run, [Particle([], state) for _ in range(n)])

    def _advance(self, probs, live, last) -> None:
        run = self.run
        for row, p in enumerate(live):
            out = self._row(probs, row, p, last)
            if out is None:
                continue
            tok, p_state = out
            if tok < 0:
                p.log_w = -math.inf
                run.stats.dead += 1
            elif tok in run.eos_set:
                p.finished = True
            else:
                p.ids.append(tok)
                p.state = p_state

    @abstractmethod
    def _row(self, probs, row: int, p: Particle, last: bool):
        """One particle's step (see the class docstring)."""


class DirectSampler(LockstepSampler):
    """``n`` independent unconstrained samples; those still going at ``max_tokens`` are
    unfinished."""

    method = "direct"

    def _row(self, probs, row, p, last):
        p_row, b_row = probs.row(row)
        return _draw(self.run, p_row, b_row, probs.block_size), None


def _checker(run: Run) -> Checker:
    """The run's checker: set for every constrained method (not ``direct``)."""
    return cast(Checker, run.checker)


def _end_locally(run: Run, probs, row: int, p: Particle) -> None:
    """Last step of locally constrained decoding: end the text if the constraint allows it."""
    if probs.mass(row, run.eos) > 0 and _checker(run).complete(p.state, p.ids):
        p.finished = True


class AWRSSampler(LockstepSampler):
    """``n`` independent locally constrained samples: each token is the first accepted candidate.

    Every token is an exact draw from the model's distribution restricted to the accepted
    tokens (what token masking gives, with a handful of checks). Weights stay 0 (log), except
    ``-inf`` for a sample whose every candidate was rejected (a dead end). The run's budget
    policy (``run.budget``, :mod:`awrs.sampling.budget`) accepts only tokens after which the
    text can still finish in time.
    """

    method = "awrs"

    def __init__(self, run: Run, n: int, max_rejects: int):
        super().__init__(run, n, run.start_state())
        self.max_rejects = max_rejects

    def _row(self, probs, row, p, last):
        run = self.run
        if last:
            _end_locally(run, probs, row, p)
            return None
        budget, remaining = run.budget, run.max_tokens - self.step_index
        checker = _checker(run)
        check, memo, mr, gave_up = budget.bind_step(
            checker, p.state, p.ids, remaining, self.max_rejects
        )
        tok, _, n_checks = awrs_token(probs, row, run.rng, check, _awrs.FIRST, mr)
        if tok < 0 and budget.pruned_out(gave_up, n_checks):  # pruned to completion
            p.log_w = -math.inf
            return None
        if tok < 0 or tok in run.eos_set:
            return tok, None
        state = checker.result(memo, tok)
        budget.descend(p.state, state)
        return tok, state


def _masked_row(run: Run, probs, row: int, p: Particle) -> np.ndarray:
    """The row with every token the constraint rejects set to 0 (V evaluations)."""
    checker, constraint = _checker(run), run.constraint
    out = probs.vector(row).copy()
    if isinstance(constraint, Everything):
        return out
    v = probs.vocab_size
    t0 = time.perf_counter()
    try:
        mask = np.asarray(constraint.token_mask(p.state, run.tables.trie), dtype=bool)
    except Exception as exc:
        raise checker.fail(exc, p.ids, None, "(computing the token mask after it)") from exc
    finally:
        checker.seconds += time.perf_counter() - t0
    if mask.shape != (v,):
        raise checker.fail(
            ValueError(f"token_mask returned shape {mask.shape}, expected ({v},)"),
            p.ids,
            None,
            "(computing the token mask after it)",
        )
    run.count(v)  # the end-of-sequence decision below is one of the V
    out[:v] *= mask  # the constraint's array is left untouched (it may be cached)
    eos = run.eos
    out[eos] = probs.vector(row)[eos] if checker.complete(p.state, p.ids, count=False) else 0.0
    return out


class MaskSampler(LockstepSampler):
    """``n`` independent locally constrained samples by full token masks (``V`` checks per token).

    The constraint's :meth:`~awrs.constraints.base.Constraint.token_mask` gives the accepted
    tokens; the distribution is renormalised over them and sampled.
    """

    method = "mask"

    def __init__(self, run: Run, n: int):
        super().__init__(run, n, run.start_state())

    def _row(self, probs, row, p, last):
        run = self.run
        if last:
            _end_locally(run, probs, row, p)
            return None
        masked = _masked_row(run, probs, row, p)
        tok = _draw(run, masked, block_sums(masked, probs.block_size), probs.block_size)
        extends = tok >= 0 and tok not in run.eos_set
        return tok, _checker(run).advance(p.state, p.ids, tok) if extends else None


class RerankSampler(DirectSampler):
    """``n`` unconstrained samples; those the constraint rejects (or unfinished) get weight 0."""

    method = "rerank"

    def _finish(self) -> None:
        super()._finish()
        _rerank(self.run, self.particles)


def _rerank(run: Run, particles: list[Particle]) -> None:
    checker = _checker(run)
    checked = 0
    for p in particles:
        if not p.finished:
            p.log_w = -math.inf
            continue
        text = run.lm.decode_bytes(p.ids)
        t0 = time.perf_counter()
        try:
            ok = bool(run.constraint.complete_ok(text))
        except Exception as exc:
            raise checker.fail(exc, p.ids, None) from exc
        finally:
            checker.seconds += time.perf_counter() - t0
        checked += 1
        if not ok:
            p.log_w = -math.inf
    if run.stats.evaluations:  # the checks of whole texts count towards the last step
        run.stats.evaluations[-1] += checked
