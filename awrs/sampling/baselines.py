"""The baselines: direct sampling, locally constrained decoding (AWRS or full masks), reranking."""

from __future__ import annotations

import math
import time

import numpy as np

from ..kernels import awrs as _awrs
from ..constraints.base import IncrementalConstraint
from .population import Particle, Run
from .token import awrs_token, block_sums, vocab_trie


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


def _lockstep(run: Run, particles: list[Particle], step_row) -> list[Particle]:
    """Advance the live particles together, one batched model call per step.

    ``step_row(probs, row, particle, last)`` returns ``None`` when it settled the particle
    itself, else ``(token, new_state)``: token -1 is a dead end (weight 0), an end-of-sequence
    token finishes the particle, any other token extends it and sets its constraint state.
    """
    for step in range(run.max_tokens):
        live = [p for p in particles if p.alive]
        if not live:
            break
        probs = run.forward(live)
        last = step == run.max_tokens - 1
        for row, p in enumerate(live):
            out = step_row(probs, row, p, last)
            if out is None:
                continue
            tok, p_state = out
            if tok < 0:
                p.log_w = -math.inf
            elif tok in run.eos_set:
                p.finished = True
            else:
                p.ids.append(tok)
                p.state = p_state
        run.end_step(len(live))
    return particles


def run_direct(run: Run, n: int) -> list[Particle]:
    """``n`` independent unconstrained samples; those still going at ``max_tokens`` are unfinished."""

    def step_row(probs, row, p, last):
        p_row, b_row = probs.row(row)
        return _draw(run, p_row, b_row, probs.block_size), None

    return _lockstep(run, [Particle([], None) for _ in range(n)], step_row)


def _end_locally(run: Run, probs, row: int, p: Particle) -> None:
    """Last step of locally constrained decoding: end the text if the constraint allows it."""
    if probs.mass(row, run.eos) > 0 and run.checker.complete(p.state, p.ids):
        p.finished = True


def run_awrs(run: Run, n: int, max_rejects: int) -> list[Particle]:
    """``n`` independent locally constrained samples: each token is the first accepted candidate.

    Every token is an exact draw from the model's distribution restricted to the accepted
    tokens (what token masking gives, with a handful of checks). Weights stay 0 (log), except
    ``-inf`` for a sample whose every candidate was rejected (a dead end).
    """
    def step_row(probs, row, p, last):
        if last:
            _end_locally(run, probs, row, p)
            return None
        check, memo = run.checker.bind(p.state, p.ids)
        tok, _, _ = awrs_token(probs, row, run.rng, check, _awrs.FIRST, max_rejects)
        extends = tok >= 0 and tok not in run.eos_set
        return tok, run.checker.result(memo, tok) if extends else None

    start = run.start_state()
    return _lockstep(run, [Particle([], start) for _ in range(n)], step_row)


def _masked_row(run: Run, probs, row: int, p: Particle) -> np.ndarray:
    """The row with every token the constraint rejects set to 0 (V evaluations)."""
    checker, constraint = run.checker, run.constraint
    out = probs.vector(row).copy()
    if isinstance(constraint, Everything):
        return out
    v = probs.vocab_size
    t0 = time.perf_counter()
    try:
        mask = np.asarray(constraint.token_mask(p.state, vocab_trie(run.lm)), dtype=bool)
    except Exception as exc:
        raise checker.fail(exc, p.ids, None, "(computing the token mask after it)") from exc
    finally:
        checker.seconds += time.perf_counter() - t0
    if mask.shape != (v,):
        raise checker.fail(ValueError(f"token_mask returned shape {mask.shape}, expected ({v},)"),
                           p.ids, None, "(computing the token mask after it)")
    run.count(v)  # the end-of-sequence decision below is one of the V
    out[:v] *= mask  # the constraint's array is left untouched (it may be cached)
    eos = run.eos
    out[eos] = probs.vector(row)[eos] if checker.complete(p.state, p.ids, count=False) else 0.0
    return out


def run_mask(run: Run, n: int) -> list[Particle]:
    """``n`` independent locally constrained samples by full token masks (``V`` checks per token).

    The constraint's :meth:`~awrs.constraints.base.Constraint.token_mask` gives the accepted
    tokens; the distribution is renormalised over them and sampled.
    """
    def step_row(probs, row, p, last):
        if last:
            _end_locally(run, probs, row, p)
            return None
        masked = _masked_row(run, probs, row, p)
        tok = _draw(run, masked, block_sums(masked, probs.block_size), probs.block_size)
        extends = tok >= 0 and tok not in run.eos_set
        return tok, run.checker.advance(p.state, p.ids, tok) if extends else None

    start = run.start_state()
    return _lockstep(run, [Particle([], start) for _ in range(n)], step_row)


def run_rerank(run: Run, n: int) -> list[Particle]:
    """``n`` unconstrained samples; those the constraint rejects (or unfinished) get weight 0."""
    particles = run_direct(run, n)
    checker = run.checker
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
    return particles
