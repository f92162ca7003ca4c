"""Drawing a method's candidates at a budget: B particles or B samples in one batched call."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from awrs.sampling.population import call_lm

from ..methods import RunConfig

#: awrs's own methods on the frontier (``smc`` spends particles, the others samples)
AWRS_FRONTIER = ("smc", "awrs", "mask", "direct")


class CountingLM:
    """A model wrapper counting the rows of every batched forward (``rows``)."""

    def __init__(self, lm: Any):
        self.lm = lm
        self.rows = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lm, name)

    def next_token_logprobs(self, contexts: Sequence[Sequence[int]], temperature: float = 1.0):
        self.rows += len(contexts)
        return call_lm(self.lm, [list(c) for c in contexts], temperature)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One sample: its text, whether the method knows it valid, its token ids."""

    text: str
    valid: bool
    token_ids: tuple[int, ...] = ()


@dataclass(slots=True)
class Draw:
    """What one method spent at one budget on one item, and what it produced.

    ``text`` is set for methods that select by themselves (smc: its highest-posterior text);
    ``candidates`` for the others, which a selection rule then picks from. ``reason`` says why
    there is nothing (a constraint that does not compile, a failed run).
    """

    candidates: list[Candidate] = field(default_factory=list)
    text: str | None = None
    tokens: int = 0
    rows: int = 0
    wall_s: float = 0.0
    reason: str = ""

    @property
    def selects_itself(self) -> bool:
        return not self.candidates and self.text is not None


def awrs_draw(
    lm: CountingLM,
    method: str,
    prompt_ids: list[int],
    constraint: Any,
    budget: int,
    seed: int,
    cfg: RunConfig,
    critic: Any = None,
) -> Draw:
    """``awrs.generate`` with ``budget`` particles (smc) or independent samples (the others).

    ``direct`` samples without the constraint and keeps those it ``accepts`` (rejection).
    """
    import awrs

    extra: dict[str, Any] = {}
    if method == "smc":
        extra = {"ess_threshold": cfg.ess_threshold, "critic": critic}
    rows0, t0 = lm.rows, time.perf_counter()
    result = awrs.generate(
        lm,
        list(prompt_ids),
        None if method == "direct" else constraint,
        method=method,
        n_particles=budget,
        max_tokens=cfg.max_tokens,
        temperature=cfg.temperature,
        seed=seed,
        **extra,
    )
    draw = Draw(tokens=int(result.stats.tokens))
    if method == "smc":
        draw.text = None if result.empty else result.text
    else:
        draw.candidates = [
            Candidate(s.text, _valid(lm, method, s, constraint), tuple(s.token_ids))
            for s in result.samples
        ]
    draw.wall_s, draw.rows = time.perf_counter() - t0, lm.rows - rows0
    return draw


def _valid(lm: Any, method: str, sample: Any, constraint: Any) -> bool:
    """What the method knows at run time: a finished sample (direct: that the constraint
    accepts)."""
    if not sample.finished or not sample.log_weight > -math.inf:
        return False
    if method == "direct":
        return bool(constraint.accepts(lm.decode_bytes(list(sample.token_ids))))
    return True


def peer_draw(
    lm: CountingLM, peer: Any, built: Any, prompt_ids: list[int], budget: int, seed: int, cfg
) -> Draw:
    """A peer's ``budget`` samples in one batched run (one forward per step, masks per row)."""
    rows0, t0 = lm.rows, time.perf_counter()
    batch = peer.run_batch(built, prompt_ids, seed, cfg, budget)
    draw = Draw(
        [Candidate(s.text, s.finished, tuple(s.token_ids)) for s in batch],
        tokens=sum(s.tokens for s in batch),
    )
    draw.wall_s, draw.rows = time.perf_counter() - t0, lm.rows - rows0
    return draw
