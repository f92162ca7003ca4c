"""Reward-weighted best-of-k: k candidates in one batched run, selected by softmax(reward / T)."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import AwrsError, ConfigurationError, RewardError
from .reward import Reward, as_reward
from .selection import (
    Vote,
    check_rewards,
    check_temperature,
    expected_reward,
    select,
    selection_probabilities,
    vote,
)

AnswerFn = Callable[[str], Hashable | None]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One scored candidate.

    Attributes:
        text: the generated text.
        reward: its reward (``-inf``: never selected).
        probability: its probability under the selection rule.
        log_weight: its SMC log weight (None for independent samples).
        finished: whether generation ended (EOS or a complete constrained text) rather than
            stopping at ``max_tokens``.
        answer: the extracted answer, when an ``answer`` function was given.
        token_ids: the generated token ids (empty when not known).
    """

    text: str
    reward: float
    probability: float
    log_weight: float | None = None
    finished: bool = True
    answer: Hashable | None = None
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    """The result of best-of-k.

    Attributes:
        candidates: every candidate, in generation order.
        index: the selected candidate (None when nothing was selectable).
        temperature: the selection temperature.
        expected_reward: the reward expected under the selection rule,
            ``sum(c.probability * c.reward)`` (``-inf`` when empty).
        majority_vote: self-consistency vote (one vote per selectable candidate), when an
            ``answer`` function was given.
        weighted_vote: answers weighted by selection probability, when an ``answer`` function
            was given: the most probable answer under the selection rule. It interpolates from
            the selected answer (T = 0, up to ties) to the majority vote (T = inf).
    """

    candidates: tuple[Candidate, ...]
    index: int | None
    temperature: float
    expected_reward: float
    majority_vote: Vote | None = None
    weighted_vote: Vote | None = None

    @property
    def empty(self) -> bool:
        """True when no candidate could be selected (every reward -inf, or no candidates)."""
        return self.index is None

    @property
    def selected(self) -> Candidate | None:
        return None if self.index is None else self.candidates[self.index]

    @property
    def text(self) -> str:
        """The selected text ("" when empty)."""
        return "" if self.index is None else self.candidates[self.index].text

    @property
    def reward(self) -> float:
        """The selected candidate's reward (``-inf`` when empty)."""
        return -math.inf if self.index is None else self.candidates[self.index].reward

    @property
    def answer(self) -> Hashable | None:
        """The selected candidate's answer (None when empty or without ``answer``)."""
        return None if self.index is None else self.candidates[self.index].answer

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""

        def vote_dict(v: Vote | None):
            return None if v is None else {"answer": v.answer, "tally": [list(t) for t in v.tally]}

        return {
            "text": self.text,
            "index": self.index,
            "empty": self.empty,
            "temperature": self.temperature,
            "expected_reward": self.expected_reward,
            "candidates": [
                {
                    "text": c.text,
                    "reward": c.reward,
                    "probability": c.probability,
                    "log_weight": c.log_weight,
                    "finished": c.finished,
                    "answer": c.answer,
                }
                for c in self.candidates
            ],
            "majority_vote": vote_dict(self.majority_vote),
            "weighted_vote": vote_dict(self.weighted_vote),
        }


def check_k(k: Any) -> int:
    """Return k as an int >= 1, or raise ConfigurationError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigurationError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def score(
    reward: Reward | Callable[..., Any], texts: Sequence[str], prompt: str = ""
) -> np.ndarray:
    """Score texts with a reward and validate the values (see :func:`check_rewards`).

    Raises:
        RewardError: the reward raised, returned the wrong number of values, NaN or +inf.
    """
    r = as_reward(reward)
    try:
        values = r.score(list(texts), prompt)
    except AwrsError:
        raise
    except Exception as exc:
        raise RewardError(
            f"reward {r!r} raised {type(exc).__name__}: {exc} while scoring {len(texts)} candidates"
        ) from exc
    if len(values) != len(texts):
        raise RewardError(f"reward {r!r} returned {len(values)} values for {len(texts)} candidates")
    return check_rewards(values, texts)


def extract_answers(answer: AnswerFn, texts: Sequence[str]) -> list[Hashable | None]:
    """Apply an answer extractor to each text; failures raise RewardError naming the candidate."""
    out = []
    for i, text in enumerate(texts):
        try:
            out.append(answer(text))
        except Exception as exc:
            raise RewardError(
                f"answer function raised {type(exc).__name__}: {exc} on candidate {i} "
                f"({text[:60]!r})"
            ) from exc
    return out


def rng_for(seed: int | None) -> np.random.Generator:
    """The selection's random generator (independent of the sampler's stream for that seed)."""
    return np.random.default_rng(None if seed is None else [int(seed), 0x5E1EC7])


def select_candidates(
    texts: Sequence[str],
    rewards: Sequence[float] | np.ndarray,
    *,
    temperature: float = 0.0,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    log_weights: Sequence[float] | None = None,
    answers: Sequence[Hashable | None] | None = None,
    finished: Sequence[bool] | None = None,
    token_ids: Sequence[Sequence[int]] | None = None,
) -> Selection:
    """Select among already generated and scored candidates (the second half of best-of-k).

    Args:
        texts: candidate texts.
        rewards: one reward each (finite or ``-inf``; NaN and +inf raise RewardError).
        temperature: selection temperature (0 = argmax, ties broken by ``seed``).
        seed: seeds the selection draw and tie-breaks (ignored when ``rng`` is given).
        rng: a generator to draw from instead of one seeded by ``seed``.
        log_weights: SMC log weights; selection is then proportional to
            ``weight * exp(reward / T)``, the particle estimate of the tilted distribution.
        answers: extracted answers, to vote on.
        finished: per candidate, whether generation ended naturally.
        token_ids: per candidate, the generated ids.
    """
    t = check_temperature(temperature)
    r = check_rewards(rewards, texts)
    n = len(texts)
    for name, seq in (
        ("log_weights", log_weights),
        ("answers", answers),
        ("finished", finished),
        ("token_ids", token_ids),
    ):
        if seq is not None and len(seq) != n:
            raise ConfigurationError(f"expected {n} {name}, one per candidate, got {len(seq)}")
    rng = rng if rng is not None else rng_for(seed)
    probs = selection_probabilities(r, t, log_weights) if n else np.zeros(0)
    index = select(probs, rng) if n else None
    cands = tuple(
        Candidate(
            text=texts[i],
            reward=float(r[i]),
            probability=float(probs[i]),
            log_weight=None if log_weights is None else float(log_weights[i]),
            finished=True if finished is None else bool(finished[i]),
            answer=None if answers is None else answers[i],
            token_ids=() if token_ids is None else tuple(int(x) for x in token_ids[i]),
        )
        for i in range(n)
    )
    majority = weighted = None
    if answers is not None:
        alive = np.isfinite(r)
        if log_weights is not None:
            alive &= np.asarray(log_weights, dtype=float) > -np.inf
        voters = [a if alive[i] else None for i, a in enumerate(answers)]
        majority = vote(voters, rng=rng)
        weighted = vote(voters, weights=probs, rng=rng)
    return Selection(cands, index, t, expected_reward(r, probs), majority, weighted)


def best_of_k(
    lm,
    prompt: str | Sequence[int],
    k: int,
    reward: Reward | Callable[..., Any],
    *,
    temperature: float = 0.0,
    constraint=None,
    method: str = "awrs",
    seed: int | None = None,
    answer: AnswerFn | None = None,
    max_tokens: int = 256,
    n_particles: int | None = None,
    sampling_temperature: float = 1.0,
    critic: Callable[[str], float] | None = None,
    raw: bool = False,
) -> Selection:
    """Generate k candidates in one batched run, score them, select by softmax(reward / T).

    With ``method="awrs"`` (or ``"direct"`` without a constraint; ``"mask"`` and ``"rerank"``
    also work) the candidates are k independent samples, each valid under the constraint. With
    ``method="smc"`` they are the particles of one SMC run (``n_particles`` of them, default k)
    and selection weighs each by its SMC weight. ``temperature=0`` is best-of-k (argmax, ties
    broken by the seed); ``temperature=inf`` ignores the reward. Under a constraint, a
    candidate that ``max_tokens`` cut off (``finished=False``) is listed but never selected;
    without one it is selectable as it stands. Candidates that died (log weight ``-inf``) are
    never selected.

    Args:
        lm: the generator (:class:`awrs.LanguageModel`).
        prompt: text (chat template applied for chat models unless ``raw``) or token ids.
        k: number of candidates, >= 1.
        reward: a :class:`awrs.rewards.Reward` or a callable ``str -> float`` (wrap a batched
            ``list[str] -> list[float]`` with :func:`awrs.rewards.batched`). It receives the
            prompt as text (token-id prompts are decoded).
        temperature: selection temperature T >= 0.
        constraint: an awrs constraint every candidate must satisfy.
        method: ``"awrs"``, ``"smc"`` or ``"direct"`` (see :func:`awrs.generate`).
        seed: seeds generation, the selection draw and tie-breaks.
        answer: maps a text to its answer (None: no answer); enables the votes.
        max_tokens: generation budget per candidate.
        n_particles: SMC only: particle count (default k); every particle is a candidate.
        sampling_temperature: the language model's sampling temperature.
        critic: SMC only: a twist on prefixes (see :mod:`awrs.scaling.critics`).
        raw: do not apply the chat template to a text prompt.

    Returns:
        A :class:`Selection`; ``.empty`` is True when every reward is ``-inf``.

    Raises:
        ConfigurationError: k < 1, T < 0, SMC-only options with another method.
        RewardError: the reward raised or returned NaN / +inf (the candidate is named).
    """
    k = check_k(k)
    t = check_temperature(temperature)
    reward = as_reward(reward)
    if method != "smc" and (n_particles is not None or critic is not None):
        raise ConfigurationError(
            f"n_particles and critic apply to method='smc' only, got method={method!r}"
        )
    n = k if n_particles is None else check_k(n_particles)
    from ..sampling.api import generate

    result = generate(
        lm,
        prompt,
        constraint,
        method=method,
        n_particles=n,
        max_tokens=max_tokens,
        temperature=sampling_temperature,
        seed=seed,
        critic=critic,
        raw=raw,
    )
    samples = list(result.samples)
    texts = [s.text for s in samples]
    prompt_text = prompt if isinstance(prompt, str) else lm.decode(list(prompt))
    rewards = score(reward, texts, prompt_text) if texts else np.zeros(0)
    log_weights = [float(s.log_weight) for s in samples]
    if method != "smc":  # independent samples: weights only mark dead ones (-inf)
        log_weights = [0.0 if w > -math.inf else -math.inf for w in log_weights]
    if constraint is not None:  # a text cut off by max_tokens is not known to be valid
        log_weights = [
            w if s.finished else -math.inf for w, s in zip(log_weights, samples, strict=True)
        ]
    stats_seed = getattr(getattr(result, "stats", None), "seed", None)
    selection = select_candidates(
        texts,
        rewards,
        temperature=t,
        seed=seed if seed is not None else stats_seed,
        log_weights=log_weights,
        answers=None if answer is None else extract_answers(answer, texts),
        finished=[bool(s.finished) for s in samples],
        token_ids=[s.token_ids for s in samples],
    )
    if method == "smc":
        return selection
    cands = tuple(replace(c, log_weight=None) for c in selection.candidates)
    return replace(selection, candidates=cands)
