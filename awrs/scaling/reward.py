"""The reward interface, wrappers for plain callables, 0/1 validators and weighted sums."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import AwrsError, ConfigurationError, RewardError


class Reward(ABC):
    """Scores candidate texts; higher is better, ``-inf`` means "never select".

    Subclasses implement :meth:`score` over a batch (so model-based rewards run one batched
    forward). Rewards add and scale: ``0.7 * judge + 0.3 * Validator(c)`` is a
    :class:`Combined`.
    """

    @abstractmethod
    def score(self, texts: Sequence[str], prompt: str = "") -> list[float]:
        """Return one reward per text.

        Args:
            texts: the candidate responses.
            prompt: the prompt they answer (rewards that do not need it ignore it).
        """

    def __call__(self, text: str, prompt: str = "") -> float:
        """The reward of one text."""
        return self.score([text], prompt)[0]

    def __add__(self, other: Any) -> Combined:
        if isinstance(other, (int, float)) and other == 0:  # lets sum() start from 0
            return Combined([(1.0, self)])
        return Combined([(1.0, self), (1.0, as_reward(other))])

    __radd__ = __add__

    def __mul__(self, weight: float) -> Combined:
        return Combined([(weight, self)])

    __rmul__ = __mul__

    def __neg__(self) -> Combined:
        return Combined([(-1.0, self)])


class Function(Reward):
    """A plain callable as a reward: ``str -> float``, or ``list[str] -> list[float]`` if batched.

    Args:
        fn: the callable.
        batched: whether ``fn`` takes the whole list of texts at once.
    """

    def __init__(self, fn: Callable[..., Any], *, batched: bool = False):
        if not callable(fn):
            raise ConfigurationError(f"expected a callable reward, got {type(fn).__name__}")
        self.fn = fn
        self.batched = batched
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def score(self, texts: Sequence[str], prompt: str = "") -> list[float]:
        if self.batched:
            try:
                out = list(self.fn(list(texts)))
            except AwrsError:
                raise
            except Exception as exc:
                raise RewardError(
                    f"batched reward {self.name!r} raised {type(exc).__name__}: {exc} "
                    f"while scoring {len(texts)} candidates"
                ) from exc
            if len(out) != len(texts):
                raise RewardError(
                    f"batched reward {self.name!r} returned {len(out)} values for "
                    f"{len(texts)} candidates: expected one per candidate"
                )
            return out
        out = []
        for i, text in enumerate(texts):
            try:
                out.append(self.fn(text))
            except AwrsError:
                raise
            except Exception as exc:
                raise RewardError(
                    f"reward {self.name!r} raised {type(exc).__name__}: {exc} on candidate {i} "
                    f"({text[:60]!r})"
                ) from exc
        return out

    def __repr__(self) -> str:
        return f"Function({self.name}, batched={self.batched})"


def as_reward(obj: Reward | Callable[..., Any], *, batched: bool = False) -> Reward:
    """Normalise a reward: a :class:`Reward` passes through, a callable is wrapped.

    Args:
        obj: a Reward, a callable ``str -> float``, or (``batched=True``) a callable
            ``list[str] -> list[float]``.
        batched: how to call a plain callable.
    """
    if isinstance(obj, Reward):
        return obj
    if callable(obj):
        return Function(obj, batched=batched)
    raise ConfigurationError(
        f"expected a reward (awrs.rewards.Reward or a callable str -> float), got "
        f"{type(obj).__name__}"
    )


def batched(fn: Callable[[list[str]], Sequence[float]]) -> Function:
    """Mark a callable ``list[str] -> list[float]`` as a batched reward (usable as a decorator)."""
    return Function(fn, batched=True)


class Validator(Reward):
    """A 0/1 reward from a constraint's ``accepts`` (or any predicate ``str -> bool``).

    Args:
        check: an object with ``accepts(text)`` (every awrs constraint) or a callable.
        accept: reward of an accepted text.
        reject: reward of a rejected text (``-inf`` turns the validator into a hard filter).
    """

    def __init__(self, check: Any, *, accept: float = 1.0, reject: float = 0.0):
        fn = getattr(check, "accepts", None) or (check if callable(check) else None)
        if fn is None:
            raise ConfigurationError(
                f"expected a constraint (with .accepts) or a predicate, got {type(check).__name__}"
            )
        self.check, self._fn = check, fn
        self.accept, self.reject = float(accept), float(reject)

    def score(self, texts: Sequence[str], prompt: str = "") -> list[float]:
        out = []
        for i, text in enumerate(texts):
            try:
                ok = bool(self._fn(text))
            except AwrsError:
                raise
            except Exception as exc:
                raise RewardError(
                    f"validator {self.check!r} raised {type(exc).__name__}: {exc} on candidate "
                    f"{i} ({text[:60]!r})"
                ) from exc
            out.append(self.accept if ok else self.reject)
        return out


class Combined(Reward):
    """A weighted sum of rewards: ``sum(w * r(text))``.

    ``-inf`` is absorbing: a candidate that any term (of non-zero weight) scores ``-inf`` gets
    ``-inf``, whatever the sign of the weight. Terms of weight 0 are not evaluated.

    Args:
        terms: ``(weight, reward)`` pairs; a reward may be any callable accepted by
            :func:`as_reward`.
    """

    terms: tuple[tuple[float, Reward], ...]

    def __init__(self, terms: Sequence[tuple[float, Reward | Callable[..., Any]]]):
        flat: list[tuple[float, Reward]] = []
        for term in terms:
            try:
                w, r = term
                w = float(w)
            except (TypeError, ValueError):
                raise ConfigurationError(f"expected (weight, reward) pairs, got {term!r}") from None
            if not math.isfinite(w):
                raise ConfigurationError(f"reward weights must be finite, got {w}")
            r = as_reward(r)
            if isinstance(r, Combined):
                flat.extend((w * w2, r2) for w2, r2 in r.terms)
            else:
                flat.append((w, r))
        if not flat:
            raise ConfigurationError("expected at least one (weight, reward) term, got none")
        self.terms = tuple(flat)

    def score(self, texts: Sequence[str], prompt: str = "") -> list[float]:
        total = [0.0] * len(texts)
        for w, r in self.terms:
            if w == 0:
                continue
            values = r.score(texts, prompt)
            if len(values) != len(texts):
                raise RewardError(
                    f"reward {r!r} returned {len(values)} values for {len(texts)} candidates"
                )
            for i, v in enumerate(values):
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    raise RewardError(
                        f"reward {r!r} gave {v!r} for candidate {i} ({texts[i][:60]!r}): "
                        "expected a float"
                    ) from None
                dead = v == -math.inf or total[i] == -math.inf
                total[i] = -math.inf if dead else total[i] + w * v
        return total

    def __repr__(self) -> str:
        return "Combined(" + ", ".join(f"{w:g}*{r!r}" for w, r in self.terms) + ")"


def weighted_sum(*terms: tuple[float, Reward | Callable[..., Any]]) -> Combined:
    """``weighted_sum((0.7, judge), (0.3, validator))``: a :class:`Combined` reward."""
    return Combined(terms)
