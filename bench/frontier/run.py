"""Running every method at every budget on a suite's items, into :class:`ItemTable` rows."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from awrs.errors import ConstraintError

from ..harness import prefill, time_limit
from ..methods import PEERS, ItemContext, Missing, RunConfig, Unsupported, canonical
from ..store import settings_hash
from ..suites import Item, Suite
from .draw import AWRS_FRONTIER, CountingLM, Draw, awrs_draw, peer_draw
from .select import SELECTIONS, Cost, PromptLogProb, RewardCache, choose
from .table import ItemRow, ItemTable

#: frontier methods by default, in report order
DEFAULT_METHODS = ("smc", "awrs", "mask", "direct", "llguidance", "xgrammar")


@dataclass
class Settings:
    """What a frontier run varies and holds fixed."""

    budgets: Sequence[int] = (1, 2, 4, 8, 16)
    methods: Sequence[str] = DEFAULT_METHODS
    selections: Sequence[str] = SELECTIONS
    #: one temperature, or several: then every rule but first-valid runs at each (``@T``)
    selection_temperature: float | Sequence[float] = 0.0
    cfg: RunConfig = field(default_factory=RunConfig)
    seed: int = 0
    limit: int | None = None
    timeout: float | None = None

    def hash(self, suite: Suite) -> str:
        """The settings that change a row's result (the resume key)."""
        c = self.cfg
        return settings_hash(
            {
                "model": c.model,
                "max_tokens": c.max_tokens,
                "temperature": c.temperature,
                "ess_threshold": c.ess_threshold,
                "selection_temperature": (
                    self.selection_temperature
                    if isinstance(self.selection_temperature, (int, float))
                    else [float(t) for t in self.selection_temperature]
                ),
                "suite_version": suite.version,
            }
        )

    @property
    def temperatures(self) -> tuple[float, ...]:
        t = self.selection_temperature
        return (float(t),) if isinstance(t, (int, float)) else tuple(float(x) for x in t)


def variants(
    method: str, rules: Sequence[str], temperatures: Sequence[float] = (0.0,)
) -> list[tuple[str, str, float]]:
    """(row name, rule, selection temperature) of a method's rows: ``smc`` alone, any other
    method once per rule, and once per temperature (``METHOD/RULE@T``) where several are
    given (first-valid has none)."""
    if method == "smc":
        return [("smc", "", 0.0)]
    out = []
    for r in rules:
        if r == "first-valid" or len(temperatures) == 1:
            out.append((f"{method}/{r}", r, 0.0 if r == "first-valid" else temperatures[0]))
        else:
            out += [(f"{method}/{r}@{t:g}", r, t) for t in temperatures]
    return out


def method_names(
    methods: Sequence[str], rules: Sequence[str], temperatures: Sequence[float] = (0.0,)
) -> list[str]:
    """Row names of ``methods`` (see :func:`variants`)."""
    return [n for m in methods for n, _, _ in variants(m, rules, temperatures)]


def item_score(suite: Suite, item: Item, text: str | None) -> float:
    """The suite's metric of an output (0 without output; where the metric does not apply,
    as on sql's databases without rows, whether the output is valid)."""
    if text is None:
        return 0.0
    sc = suite.score(item, text)
    return float(sc.valid) if math.isnan(sc.score) else float(sc.score)


def user_prompt(item: Item) -> str:
    """The item's last user message (what a judge is told the request was)."""
    users = [m["content"] for m in item.messages if m.get("role") == "user"]
    return users[-1] if users else ""


class Frontier:
    """Runs a :class:`Settings` on suites into an :class:`ItemTable`."""

    def __init__(self, lm: Any, settings: Settings, table: ItemTable):
        self.lm = CountingLM(lm)
        self.settings, self.table = settings, table
        self.problems: list[str] = []
        self._peers: dict[str, Any] = {}
        self._judge: Any = None
        #: per (suite, item): rewards already computed, with their cost
        self._caches: dict[tuple[str, str], RewardCache] = {}
        self.methods = self._methods()

    def _methods(self) -> list[str]:
        out = []
        for name in dict.fromkeys(canonical(m) for m in self.settings.methods):
            if name in AWRS_FRONTIER or self._peer(name) is not None:
                out.append(name)
        return out

    def _peer(self, name: str) -> Any:
        if name not in self._peers:
            from ..methods import get_method

            if name not in PEERS:
                self.problems.append(f"method {name!r} is not on the frontier")
                self._peers[name] = None
                return None
            try:
                peer = get_method(name)
                peer.prepare(self.lm, self.settings.cfg)
                self._peers[name] = peer
            except (Missing, ImportError) as exc:
                self.problems.append(f"method {name!r} is missing: {exc}")
                self._peers[name] = None
        return self._peers[name]

    def judge(self) -> Any:
        if self._judge is None:
            from awrs.rewards import Judge

            self._judge = Judge(self.lm)  # type: ignore[arg-type]  # a LanguageModel by delegation
        return self._judge

    def rules(self, suite: Suite, items: Sequence[Item]) -> list[str]:
        """The selection rules that apply on a suite (``reward`` only where it has one)."""
        has_reward = bool(items) and suite.reward(items[0]) is not None
        return [r for r in self.settings.selections if r != "reward" or has_reward]

    def run_suite(self, suite: Suite, after_item: Callable[[], object] | None = None) -> None:
        """Budget by budget (the cheap ones first, so a cut run has every item at them), each
        budget item by item, every method on each item."""
        items = suite.items(self.settings.limit)
        rules = self.rules(suite, items)
        for budget in self.settings.budgets:
            for k, item in enumerate(items):
                print(
                    f"[frontier] {suite.name} B={budget} item {k + 1}/{len(items)} {item.id}",
                    file=sys.stderr,
                    flush=True,
                )
                if self.run_item(suite, item, rules, [budget]) and after_item is not None:
                    after_item()

    def _todo(
        self, suite: Suite, item: Item, rules: Sequence[str], budgets: Sequence[int]
    ) -> list[tuple[int, str]]:
        s, h = self.settings, self.settings.hash(suite)
        return [
            (b, m)
            for b in budgets
            for m in self.methods
            if any(
                not self.table.has((suite.name, n, b, item.id, s.seed, h))
                for n in method_names([m], rules, s.temperatures)
            )
        ]

    def run_item(
        self, suite: Suite, item: Item, rules: Sequence[str], budgets: Sequence[int] | None = None
    ) -> bool:
        """Every (budget, method) not yet in the table on one item; False when none was left."""
        todo = self._todo(suite, item, rules, self.settings.budgets if budgets is None else budgets)
        if not todo:
            return False
        ctx = ItemContext(suite, item)
        prompt_ids = self.lm.lm.chat(list(item.messages))
        prefill(self.lm.lm, prompt_ids)  # the prompt's forward is no method's cost
        cache = self._caches.setdefault(
            (suite.name, item.id), RewardCache(self.lm, user_prompt(item))
        )
        scorers = self._scorers(suite, item, prompt_ids, rules)
        built: dict[str, Any] = {}
        for budget, method in todo:
            draw = self.draw(suite, item, ctx, built, method, prompt_ids, budget)
            self.table.add(self.rows(suite, item, method, budget, draw, rules, cache, scorers))
        return True

    def _scorers(self, suite: Suite, item: Item, prompt_ids: list[int], rules: Sequence[str]):
        out: dict[str, Any] = {}
        if "logprob" in rules:
            out["logprob"] = PromptLogProb(self.lm, prompt_ids)
        if "judge" in rules:
            out["judge"] = self.judge()
        if "reward" in rules:
            out["reward"] = suite.reward(item)
        return out

    def draw(self, suite, item, ctx, built, method, prompt_ids, budget) -> Draw:
        """One method's candidates at ``budget`` (a reason and nothing else when it cannot run)."""
        s = self.settings
        try:
            if method in AWRS_FRONTIER:
                constraint = ctx.prepared(self.lm)
                critic = suite.critic(item) if method == "smc" else None
                with time_limit(s.timeout):
                    return awrs_draw(
                        self.lm, method, prompt_ids, constraint, budget, s.seed, s.cfg, critic
                    )
            if method not in built:
                built[method] = self._build_peer(suite, item, ctx, method)
            if isinstance(built[method], Exception):
                return Draw(reason=f"unsupported: {built[method]}"[:300])
            with time_limit(s.timeout):
                return peer_draw(
                    self.lm, self._peers[method], built[method], prompt_ids, budget, s.seed, s.cfg
                )
        except ConstraintError as exc:  # awrs refuses the constraint (feature, size, syntax)
            return Draw(reason=f"unsupported: awrs constraint: {exc}"[:300])
        except Exception as exc:  # recorded as a run without output, the frontier goes on
            return Draw(reason=f"failed: {type(exc).__name__}: {exc}"[:300])

    def _build_peer(self, suite, item, ctx, method) -> Any:
        peer = self._peers[method]
        try:
            built = peer.build(suite, item, ctx)
            # the engine's lazy set-up (its first mask) is build cost, not the first budget's
            peer.fill_mask(peer.new_matcher(built), torch.zeros((1, len(self.lm.vocab))))
            return built
        except Unsupported as exc:
            return exc
        except Exception as exc:  # a peer crashing on one item: it scores 0 there
            return RuntimeError(f"{type(exc).__name__}: {exc}")

    def rows(self, suite, item, method, budget, draw: Draw, rules, cache, scorers) -> list[ItemRow]:
        """The item rows of one draw: smc's own choice, or one per selection rule."""
        s = self.settings
        base = ItemRow(
            suite.name,
            method,
            budget,
            item.id,
            s.seed,
            s.hash(suite),
            particle_tokens=draw.tokens,
            lm_rows=draw.rows,
            wall_s=draw.wall_s,
            reason=draw.reason,
            valid_samples=sum(c.valid for c in draw.candidates),
        )
        if method == "smc":
            return [self._scored(base, suite, item, draw.text)]
        out = []
        for name, rule, temperature in variants(method, rules, s.temperatures):
            scorer = scorers.get(rule)

            def rewards(texts, rule=rule, scorer=scorer):
                return cache.rewards(rule, scorer, texts)

            row = ItemRow(**{**_fields(base), "method": name})
            try:
                text, cost = choose(
                    draw.candidates,
                    rule,
                    None if scorer is None else rewards,
                    temperature,
                    s.seed,
                )
            except Exception as exc:  # a reward failing on one item: no output there, say why
                text, cost = None, Cost()
                row.reason = f"selection failed: {type(exc).__name__}: {exc}"[:300]
            row.lm_rows += cost.rows
            row.wall_s += cost.seconds
            out.append(self._scored(row, suite, item, text))
        return out

    @staticmethod
    def _scored(row: ItemRow, suite: Suite, item: Item, text: str | None) -> ItemRow:
        row.output = text is not None
        row.text = text or ""
        row.score = item_score(suite, item, text)
        row.wall_s = round(row.wall_s, 4)
        return row


def _fields(row: ItemRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ItemRow.__dataclass_fields__}
