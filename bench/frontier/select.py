"""Selection among a method's samples, by ``awrs.best_of_k``'s softmax rule."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from awrs.scaling.best_of_k import score as score_rewards
from awrs.scaling.best_of_k import select_candidates
from awrs.scaling.logprob import LogProb

from .draw import Candidate, CountingLM

#: selection rules, in report order (``reward``: the suite's task reward, where it has one)
SELECTIONS = ("first-valid", "logprob", "judge", "reward")


class PromptLogProb(LogProb):
    """:class:`awrs.rewards.LogProb` after the exact prompt ids the samples were drawn from."""

    def __init__(self, lm: Any, prompt_ids: Sequence[int]):
        super().__init__(lm)
        self.ids = list(prompt_ids)

    def _base(self, prompt: str) -> list[int]:
        return self.ids


@dataclass(frozen=True, slots=True)
class Cost:
    """Seconds and forward rows a reward spent on one text (its share of a batch)."""

    seconds: float = 0.0
    rows: int = 0


class RewardCache:
    """One item's rewards by (rule, text), each computed once with its cost remembered.

    A text scored again (another method or budget drew it too) is charged what it cost the
    first time, so every row's cost is what it would have paid alone, without paying it twice.
    """

    def __init__(self, lm: CountingLM, prompt: str):
        self.lm, self.prompt = lm, prompt
        self._hit: dict[tuple[str, str], tuple[float, Cost]] = {}

    def rewards(self, rule: str, reward: Any, texts: Sequence[str]) -> tuple[list[float], Cost]:
        """Rewards of ``texts`` under ``reward`` and the cost of the distinct ones."""
        todo = [t for t in dict.fromkeys(texts) if (rule, t) not in self._hit]
        if todo:
            rows0, t0 = self.lm.rows, time.perf_counter()
            values = score_rewards(reward, todo, self.prompt)
            each = Cost((time.perf_counter() - t0) / len(todo), (self.lm.rows - rows0) // len(todo))
            for t, v in zip(todo, values, strict=True):
                self._hit[rule, t] = (float(v), each)
        costs = [self._hit[rule, t][1] for t in dict.fromkeys(texts)]
        cost = Cost(sum(c.seconds for c in costs), sum(c.rows for c in costs))
        return [self._hit[rule, t][0] for t in texts], cost


def choose(
    candidates: Sequence[Candidate],
    rule: str,
    rewards: Callable[[list[str]], tuple[list[float], Cost]] | None,
    temperature: float,
    seed: int,
) -> tuple[str | None, Cost]:
    """The text a selection rule picks among the valid candidates (None: none is valid).

    ``first-valid`` is the first valid candidate in generation order (argmax of minus the
    index); the other rules score the valid candidates with ``rewards`` and select by
    ``softmax(reward / temperature)`` (0: argmax, ties broken by the seed). Rewards are left
    out where they cannot matter: when at most one distinct valid text was drawn.
    """
    texts = [c.text for c in candidates]
    valid = [c.valid for c in candidates]
    distinct = {c.text for c in candidates if c.valid}
    cost = Cost()
    if rule == "first-valid" or len(distinct) <= 1 or rewards is None:
        if rule == "first-valid":
            values = [-float(i) for i in range(len(texts))]
            temperature = 0.0
        else:
            values = [0.0] * len(texts)
    else:
        scored, cost = rewards([t for t, ok in zip(texts, valid, strict=True) if ok])
        it = iter(scored)
        values = [next(it) if ok else -math.inf for ok in valid]
    values = [v if ok else -math.inf for v, ok in zip(values, valid, strict=True)]
    sel = select_candidates(texts, values, temperature=temperature, seed=seed)
    return (None if sel.empty else sel.text), cost
