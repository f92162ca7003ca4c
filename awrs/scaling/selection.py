"""Selection math for best-of-k: softmax of reward / T over weighted candidates, and votes."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigurationError, RewardError


def check_temperature(temperature: float) -> float:
    """Return the selection temperature as a float, or raise for NaN / negative values."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"selection temperature must be a number >= 0, got {temperature!r}"
        ) from None
    if not t >= 0:  # also catches NaN
        raise ConfigurationError(f"selection temperature must be >= 0 (0 = argmax), got {t}")
    return t


def check_rewards(
    rewards: Sequence[float] | np.ndarray, texts: Sequence[str] | None = None
) -> np.ndarray:
    """Rewards as a float64 array; NaN, +inf and non-numbers raise RewardError naming the candidate.

    ``-inf`` is allowed: it marks a candidate that must never be selected.
    """
    out = np.empty(len(rewards), dtype=np.float64)
    for i, r in enumerate(rewards):
        try:
            v = float(r)
        except (TypeError, ValueError):
            raise RewardError(
                f"reward of candidate {i}{_snippet(texts, i)} is {r!r}: expected a float"
            ) from None
        if math.isnan(v) or v == math.inf:
            raise RewardError(
                f"reward of candidate {i}{_snippet(texts, i)} is {v}: expected a finite float "
                "or -inf (never select)"
            )
        out[i] = v
    return out


def _snippet(texts: Sequence[str] | None, i: int) -> str:
    if texts is None:
        return ""
    text = texts[i]
    return f" ({text[:60]!r}{'...' if len(text) > 60 else ''})"


def selection_probabilities(
    rewards: Sequence[float] | np.ndarray,
    temperature: float,
    log_weights: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Probability of selecting each candidate: ``softmax(log_weight + reward / T)``.

    With equal (or no) weights this is ``softmax(reward / T)``. ``T = 0`` is the limit: uniform
    over the candidates of maximal reward (among those of positive weight); ``T = inf`` selects
    in proportion to the weights. Candidates with reward ``-inf`` or weight 0 get probability 0.
    All zero (every reward ``-inf``) means nothing can be selected: the result is all zeros.

    Args:
        rewards: one reward per candidate (finite or ``-inf``).
        temperature: selection temperature, >= 0.
        log_weights: optional log importance weights (SMC particles), unnormalised.

    Returns:
        A float64 array summing to 1, or to 0 when nothing is selectable.
    """
    t = check_temperature(temperature)
    r = np.asarray(rewards, dtype=np.float64)
    lw = np.zeros_like(r) if log_weights is None else np.asarray(log_weights, dtype=np.float64)
    if lw.shape != r.shape:
        raise ConfigurationError(
            f"expected one log weight per reward, got {lw.shape} and {r.shape}"
        )
    live = np.isfinite(r) & (lw > -np.inf)
    out = np.zeros_like(r)
    if not live.any():
        return out
    if t == 0:
        best = live & (r == r[live].max())
        logits = np.where(best, lw, -np.inf)
    elif math.isinf(t):
        logits = np.where(live, lw, -np.inf)
    else:
        with np.errstate(over="ignore"):  # tiny T: non-maximal rewards go to -inf
            logits = np.where(live, lw + (r - r[live].max()) / t, -np.inf)
    logits = logits - logits[live].max()
    p = np.exp(logits)
    return p / p.sum()


def expected_reward(rewards: Sequence[float] | np.ndarray, probs: np.ndarray) -> float:
    """Reward expected under the selection probabilities (``-inf`` when nothing is selectable)."""
    r = np.asarray(rewards, dtype=np.float64)
    sel = probs > 0
    if not sel.any():
        return -math.inf
    return float(np.dot(probs[sel], r[sel]))


def select(probs: np.ndarray, rng: np.random.Generator) -> int | None:
    """Draw one index from ``probs`` (None when they are all zero)."""
    total = float(probs.sum())
    if total <= 0:
        return None
    return int(rng.choice(len(probs), p=probs / total))


@dataclass(frozen=True, slots=True)
class Vote:
    """The outcome of a vote over answers.

    Attributes:
        answer: the winning answer (None when no candidate had an answer).
        tally: ``(answer, score)`` pairs, best first; the score is a count (majority vote) or
            a probability mass (weighted vote).
    """

    answer: Hashable | None
    tally: tuple[tuple[Hashable, float], ...]

    @property
    def share(self) -> float:
        """Fraction of the total score held by the winner (0 when there is no answer)."""
        total = sum(s for _, s in self.tally)
        return self.tally[0][1] / total if total > 0 else 0.0


def vote(
    answers: Sequence[Hashable | None],
    weights: Sequence[float] | np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> Vote:
    """Sum a weight per answer (1 each for a majority vote) and return the best answer.

    Candidates whose answer is None abstain. Ties are broken uniformly at random with ``rng``
    (first seen answer when ``rng`` is None).
    """
    if weights is not None and len(weights) != len(answers):
        raise ConfigurationError(
            f"expected one weight per answer, got {len(weights)} weights for {len(answers)}"
        )
    score: dict[Hashable, float] = defaultdict(float)
    for i, a in enumerate(answers):
        if a is not None:
            score[a] += 1.0 if weights is None else float(weights[i])
    if not score:
        return Vote(None, ())
    top = max(score.values())
    leaders = [a for a, s in score.items() if s == top]
    winner = leaders[0] if rng is None or len(leaders) == 1 else leaders[rng.integers(len(leaders))]
    order = sorted(score.items(), key=lambda kv: (kv[0] != winner, -kv[1]))
    return Vote(winner, tuple(order))
