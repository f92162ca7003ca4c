"""Rewards as SMC critics (twists): tilt ``awrs.generate(method="smc")`` towards high reward.

A critic maps the decoded text of a particle's prefix to a log weight ``log psi(prefix)``. SMC
with twists ``psi`` (each step reweighting by ``psi(new prefix) / psi(old prefix)``) targets, at
completion, ``p(x) * psi(x)`` restricted to the constraint: with ``psi = exp(reward / T)`` that
is ``p(x) * exp(reward(x) / T)``, the distribution best-of-k with softmax(reward / T)
approaches as k grows. So the pieces compose into one pipeline:

- constraint (AWRS): exact validity, every particle satisfies it; always sound.
- proposal: the model (``temperature=1``) keeps the target above; another sampling temperature
  changes ``p`` itself.
- weighting (critic): sound when the critic is **defined on every prefix** (partial words,
  unfinished sentences, the empty text) and returns a finite value or ``-inf``. Its values on
  unfinished prefixes change only the variance, not the target; its value on the complete text
  is the tilt. ``-inf`` on a prefix is exact pruning only when every completion of that prefix
  really has reward ``-inf`` (e.g. a validator's ``accepts_prefix``); otherwise it biases the
  target by removing completions that would have scored well.
- selection: after a tilted SMC run, select with ``temperature=inf`` (by SMC weight) or draw
  from the posterior; selecting again by softmax(reward / T) tilts twice (``exp(2 r / T)``).

A reward that is only meaningful on complete texts (a judge asked to grade an answer, a regex
checker of the final format) is still a valid critic in this sense, but a poor one on prefixes
(its intermediate scores are noise, raising variance); prefer rewards that score partial work
sensibly, or ``Validator(constraint.accepts_prefix, reject=-inf)``-style pruning.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError, RewardError
from .reward import Reward, as_reward


class Critic:
    """A reward as an SMC critic: ``prefix text -> reward(prefix) / temperature``.

    Scores are memoised (resampled particles share prefixes). Call it with one prefix, or use
    :meth:`batch` for many at once (one batched reward call).

    Args:
        reward: a Reward or callable ``str -> float`` defined on prefixes.
        prompt: the prompt passed to the reward.
        temperature: T > 0; the target becomes ``p(x) * exp(reward(x) / T)``.
        cache_size: most memoised prefixes.
    """

    def __init__(
        self,
        reward: Reward | Callable[..., Any],
        *,
        prompt: str = "",
        temperature: float = 1.0,
        cache_size: int = 4096,
    ):
        try:
            t = float(temperature)
        except (TypeError, ValueError):
            t = math.nan
        if not t > 0:
            raise ConfigurationError(
                f"critic temperature must be > 0 (the tilt is exp(reward / T)), got {temperature!r}"
            )
        self.reward, self.prompt, self.temperature = as_reward(reward), prompt, t
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._cache_size = cache_size

    def __call__(self, prefix: str) -> float:
        return self.batch([prefix])[0]

    def batch(self, prefixes: list[str]) -> list[float]:
        """Log twists of many prefixes (one reward call for those not memoised)."""
        known = {p: self._cache[p] for p in prefixes if p in self._cache}
        todo = list(dict.fromkeys(p for p in prefixes if p not in known))
        if todo:
            values = self.reward.score(todo, self.prompt)
            if len(values) != len(todo):
                raise RewardError(
                    f"critic reward {self.reward!r} returned {len(values)} values for "
                    f"{len(todo)} prefixes"
                )
            known.update((p, self._check(p, v)) for p, v in zip(todo, values, strict=True))
        for p in dict.fromkeys(prefixes):
            self._store(p, known[p])
        return [known[p] for p in prefixes]

    def _check(self, prefix: str, v: Any) -> float:
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = math.nan
        if math.isnan(v) or v == math.inf:
            raise RewardError(
                f"critic reward gave {v} on prefix {prefix[:60]!r}: expected a finite float or "
                "-inf (prune)"
            )
        return v / self.temperature

    def _store(self, prefix: str, value: float) -> None:
        self._cache[prefix] = value
        self._cache.move_to_end(prefix)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def as_critic(
    reward: Reward | Callable[..., Any], *, prompt: str = "", temperature: float = 1.0
) -> Critic:
    """Turn a prefix reward into a ``critic`` for ``awrs.generate(method="smc")``.

    See the module docstring for when this is sound.
    """
    return Critic(reward, prompt=prompt, temperature=temperature)
