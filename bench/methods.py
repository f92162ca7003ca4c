"""Benchmarked methods: awrs's samplers and the registry that adds the peers."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from awrs.errors import ConfigurationError

#: awrs sampler methods, in report order
AWRS_METHODS = ("direct", "mask", "awrs", "smc", "rerank")
#: peer name -> "module:class"
PEERS = {
    "llguidance": "bench.peers.llguidance:LLGuidancePeer",
    "xgrammar": "bench.peers.xgrammar:XGrammarPeer",
    "genlm-control": "bench.peers.genlm:GenlmControlPeer",
    "genlm-control-awrs-lm": "bench.peers.genlm:GenlmOnAwrsLM",
}
ALIASES = {"genlm": "genlm-control", "llg": "llguidance", "xgr": "xgrammar"}
#: further methods by name -> zero-argument factory (tests and experiments register here)
EXTRA: dict[str, Callable[[], Method]] = {}
DEFAULT_METHODS = (*AWRS_METHODS, *PEERS)


class Unsupported(Exception):
    """A method cannot express an item's constraint (recorded as ``unsupported``)."""


class Missing(Exception):
    """A method's package is not installed or its model cannot be set up."""


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Settings shared by every method of a run."""

    particles: int = 8
    max_tokens: int = 128
    temperature: float = 1.0
    ess_threshold: float = 0.5
    model: str = "default"


@dataclass(slots=True)
class Outcome:
    """What one run of a method on one item produced.

    ``text`` is None when the method produced no output (every particle died, or no particle
    finished); ``tokens`` counts generated tokens over all particles; ``evals`` the constraint
    evaluations (NaN when the method does not report them).
    """

    text: str | None
    finished: bool = False
    tokens: int = 0
    evals: float = math.nan
    log_ml: float = math.nan
    posterior: Mapping[str, float] = field(default_factory=dict)
    particles: int = 1
    #: timings inside the run (``lm_s``: seconds in the model's forward passes)
    extra: dict[str, float] = field(default_factory=dict)
    #: when there is no output: the text of an unfinished sequence, for the CSV
    partial: str = ""


class Method(ABC):
    """A way of generating from a prompt under a constraint."""

    name: str = ""
    #: whether :meth:`run` uses the item's awrs constraint (built once per item, shared)
    needs_constraint: bool = True
    #: whether the particle count changes the method's behaviour
    uses_particles: bool = False
    #: slow methods run on at most ``--slow-limit`` items per suite
    slow: bool = False

    def settings(self, cfg: RunConfig) -> dict[str, Any]:
        """The settings that change this method's results (hashed into the resume key)."""
        out = {
            "method": self.name,
            "model": cfg.model,
            "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature,
        }
        if self.uses_particles:
            out.update(particles=cfg.particles, ess_threshold=cfg.ess_threshold)
        return out

    def describe(self) -> str:
        """One line for the report: what this method is and which constraint it uses."""
        return self.__class__.__doc__.strip().splitlines()[0] if self.__class__.__doc__ else ""

    def prepare(self, lm, cfg: RunConfig) -> None:  # noqa: B027 - optional hook, no-op default
        """Set up once per run (import packages, wrap the model); raise :class:`Missing`."""

    def build(self, suite, item, ctx: ItemContext) -> Any:
        """Compile the item's constraint for this method; raise :class:`Unsupported`."""
        return ctx.constraint

    @abstractmethod
    def run(self, built: Any, prompt_ids: list[int], seed: int, cfg: RunConfig) -> Outcome:
        """Generate once for an item (``built`` is what :meth:`build` returned)."""


class ItemContext:
    """One item's awrs constraints, each built at most once (timed) and shared by the methods.

    A generation policy (``--json-policy``, or ``METHOD@POLICY``) gives suites that have it
    among their policies (``json``, ``sql``) a constraint per policy; other suites ignore it.
    """

    __slots__ = ("suite", "item", "_built", "_times", "_prepared")

    def __init__(self, suite, item):
        self.suite, self.item = suite, item
        self._built: dict = {}
        self._times: dict = {}
        self._prepared: set = set()

    def _key(self, policy):
        return policy if policy and policy in getattr(self.suite, "policies", ()) else None

    def build_time(self, policy: str | None = None) -> float:
        """Seconds the constraint of ``policy`` took to build (NaN before it is built)."""
        return self._times.get(self._key(policy), math.nan)

    @property
    def build_s(self) -> float:
        return self.build_time(None)

    def constraint_for(self, policy: str | None = None):
        """The awrs constraint under ``policy`` (its construction error is raised again on
        every access)."""
        key = self._key(policy)
        hit = self._built.get(key)
        if hit is None:
            t0 = time.perf_counter()
            try:
                value = (
                    self.suite.constraint(self.item)
                    if key is None
                    else self.suite.constraint(self.item, policy=key)
                )
                hit = (value, None)
            except Exception as exc:
                hit = (None, exc)
            self._times[key] = time.perf_counter() - t0
            self._built[key] = hit
        if hit[1] is not None:
            raise hit[1]
        return hit[0]

    def prepared(self, lm, policy: str | None = None):
        """:meth:`constraint_for`, with its per-model tables computed (``awrs.prepare``) and
        their time added to the build time: whichever awrs method runs first on the item
        would otherwise pay for them in its run."""
        import awrs

        constraint = self.constraint_for(policy)
        key = self._key(policy)
        if key not in self._prepared and lm is not None:
            t0 = time.perf_counter()
            awrs.prepare(constraint, lm)
            self._times[key] += time.perf_counter() - t0
            self._prepared.add(key)
        return constraint

    @property
    def constraint(self):
        """The awrs constraint of the suite's default policy."""
        return self.constraint_for(None)

    def spec(self):
        """The suite's peer spec, with the awrs constraint when it could be built."""
        try:
            constraint = self.constraint
        except Exception:
            constraint = None
        return self.suite.spec(self.item, constraint)


def _stat(stats: Any, *names: str, default: Any = None) -> Any:
    """A field of a stats object or mapping, trying several names."""
    for name in names:
        if isinstance(stats, Mapping) and name in stats:
            return stats[name]
        if hasattr(stats, name):
            return getattr(stats, name)
    return default


def outcome_from_result(result: Any, particles: int, max_tokens: int = 1 << 30) -> Outcome:
    """Map an ``awrs.Result`` to an :class:`Outcome`."""
    stats = getattr(result, "stats", None)
    tokens = _stat(stats, "tokens", "n_tokens", default=0)
    tokens = int(sum(tokens)) if isinstance(tokens, (list, tuple)) else int(tokens or 0)
    evals = _stat(
        stats, "constraint_evals", "evaluations", "constraint_evaluations", "evals", default=None
    )
    if isinstance(evals, (list, tuple)):
        evals = float(sum(evals))
    evals = math.nan if evals is None else float(evals)
    posterior = dict(getattr(result, "posterior", {}) or {})
    empty = bool(getattr(result, "empty", False)) or not posterior
    text = None if empty else result.text
    samples = getattr(result, "samples", ()) or ()
    finished = text is not None and any(
        getattr(s, "finished", False) and getattr(s, "text", None) == text for s in samples
    )
    log_ml = getattr(result, "log_ml", math.nan)
    if text is None and samples:  # keep a glimpse of what the method was writing
        longest = max(samples, key=lambda smp: len(getattr(smp, "token_ids", ()) or ()))
        partial = getattr(longest, "text", "")
    else:
        partial = ""
    extra = {
        k: float(v)
        for k, v in (
            ("lm_s", _stat(stats, "lm_time")),
            ("constraint_s", _stat(stats, "constraint_time")),
            *((k, _stat(stats, k)) for k in ENDINGS),
        )
        if v is not None
    }
    extra.update(particle_ends(stats, samples, max_tokens))
    return Outcome(
        text,
        finished,
        tokens,
        evals,
        math.nan if log_ml is None else float(log_ml),
        posterior,
        particles,
        extra,
        partial,
    )


#: Stats counters of how particles ended without output (copied into Outcome.extra)
ENDINGS = ("dead", "out_of_budget", "budget_dead", "budget_pruned", "budget_forced")
#: suffix of a method name that turns budget feasibility off (``smc-nobudget``)
NO_BUDGET = "-nobudget"
#: suffix of a method name that turns the budget twist off (``smc-notwist``; smc's default
#: with ``budget=True`` has it)
NO_TWIST = "-notwist"
#: suffix of a method name that keeps only sound budget pruning, no close-forcing
#: (``smc-sound``: ``budget="sound"``)
SOUND = "-sound"
#: suffix of a method name that runs smc with the suite's critic (``smc-critic``:
#: ``critic=suite.critic(item)``, a target tilted by the suite's reward)
CRITIC = "-critic"


def is_slow(method: Method, suite: Any) -> bool:
    """Whether ``method`` runs on ``--slow-limit`` items only on ``suite`` (slow everywhere,
    or named in the suite's ``slow_methods``)."""
    return method.slow or method.name in getattr(suite, "slow_methods", ())


def particle_ends(stats: Any, samples, max_tokens: int) -> dict[str, float]:
    """Particles that died (no token extends their prefix) and that ran out of tokens.

    From the sampler's ``Stats.dead`` / ``Stats.out_of_budget``; where the sampler lacks them,
    counted on the final population (dead: unfinished before ``max_tokens``; a lower bound
    for SMC, whose resampling drops dead particles).
    """
    dead, oob = getattr(stats, "dead", None), getattr(stats, "out_of_budget", None)
    if dead is None or oob is None:
        ends = [
            len(getattr(s, "token_ids", ()) or ())
            for s in samples
            if not getattr(s, "finished", False)
        ]
        dead = sum(1 for n in ends if n < max_tokens - 1)
        oob = len(ends) - dead
    return {"dead": float(dead), "out_of_budget": float(oob)}


class AwrsMethod(Method):
    """One of ``awrs.generate``'s methods on the default model."""

    _DOCS = {
        "direct": "unconstrained sampling from the model",
        "mask": "awrs token masking: the constraint checked on every vocabulary token",
        "awrs": "awrs, 1 particle: exact locally constrained sampling by adaptive rejection",
        "smc": "awrs-SMC: N particles, AWRS proposals, properly weighted resampling",
        "rerank": "N unconstrained samples, keep those the constraint accepts",
    }

    def __init__(self, name: str, policy: str | None = None):
        self.critic = name.endswith(CRITIC)
        self.base = (
            name.removesuffix(CRITIC)
            .removesuffix(NO_BUDGET)
            .removesuffix(NO_TWIST)
            .removesuffix(SOUND)
        )
        self.budget = "sound" if name.endswith(SOUND) else not name.endswith(NO_BUDGET)
        # the budget twist: generate's default (on for smc with budget=True) unless -notwist
        self.twist = self.base == "smc" and self.budget is True and not name.endswith(NO_TWIST)
        self.policy = policy
        self.name = name if policy is None else f"{name}@{policy}"
        self.needs_constraint = name != "direct"
        self.uses_particles = self.base in ("smc", "rerank")
        self._lm = None

    def settings(self, cfg):
        out = super().settings(cfg)
        if self.base in ("smc", "awrs"):
            out["budget"] = self.budget
        if self.base == "smc":
            out["budget_twist"] = self.twist
        if self.critic:  # the suite's critic: its definition is part of the suite's version
            out["critic"] = "suite"
        if self.policy is not None:
            out["json_policy"] = self.policy
        return out

    def describe(self) -> str:
        doc = self._DOCS[self.base]
        if self.base == "smc" and self.budget is True and not self.twist:
            doc += " (without the budget twist: budget_twist=False)"
        elif self.budget == "sound":
            doc += " (sound budget pruning only, no close-forcing: budget='sound')"
        elif not self.budget:
            doc += " (budget-unaware: budget=False)"
        if self.critic:
            doc += ", with the suite's critic (critic=suite.critic(item): a reward-tilted target)"
        return doc if self.policy is None else f"{doc}; generation policy `{self.policy}`"

    def prepare(self, lm, cfg):
        self._lm = lm

    def build(self, suite, item, ctx):
        constraint = ctx.prepared(self._lm, self.policy)
        if not self.critic:
            return constraint
        critic = suite.critic(item)
        if critic is None:
            raise Unsupported(f"suite {suite.name!r} has no critic for {self.name!r}")
        return constraint, critic

    def run(self, built, prompt_ids, seed, cfg):
        import awrs

        options = self._budget_options()
        if self.critic:
            built, options["critic"] = built
        n = cfg.particles if self.uses_particles else 1
        result = awrs.generate(
            self._lm,
            list(prompt_ids),
            built if self.needs_constraint else None,
            method=self.base,
            n_particles=n,
            ess_threshold=cfg.ess_threshold,
            max_tokens=cfg.max_tokens,
            temperature=cfg.temperature,
            seed=seed,
            **options,
        )
        return outcome_from_result(result, n, cfg.max_tokens)

    def _budget_options(self) -> dict:
        if self.base not in ("smc", "awrs") or (self.budget is True and self.twist):
            return {}  # generate's defaults
        if self.base == "awrs":
            return {"budget": self.budget}
        return {"budget": self.budget, "budget_twist": self.twist}


def canonical(name: str) -> str:
    """The registered name of a method name or alias (``smc@compact``: smc, json policy
    ``compact``)."""
    base, at, policy = name.partition("@")
    return ALIASES.get(base, base) + at + policy


def get_method(name: str) -> Method:
    """A fresh method object for ``name``.

    Raises:
        ConfigurationError: for an unknown name.
    """
    import importlib

    name = canonical(name)
    if name in EXTRA:
        return EXTRA[name]()
    base, _, policy = name.partition("@")
    variants = (
        f"smc{NO_BUDGET}",
        f"awrs{NO_BUDGET}",
        f"smc{NO_TWIST}",
        f"smc{SOUND}",
        f"awrs{SOUND}",
        f"smc{CRITIC}",
    )
    if (base in AWRS_METHODS or base in variants) and base != "direct" and policy:
        from .suites.json import POLICIES
        from .suites.sql import POLICIES as SQL_POLICIES

        if policy not in POLICIES and policy not in SQL_POLICIES:
            raise ConfigurationError(
                f"unknown policy {policy!r} in {name!r}: expected a json policy "
                f"({', '.join(POLICIES)}) or a sql policy ({', '.join(SQL_POLICIES)})"
            )
        return AwrsMethod(base, policy)
    if name in AWRS_METHODS or name in variants:
        return AwrsMethod(name)
    target = PEERS.get(name)
    if target is None:
        raise ConfigurationError(
            f"unknown method {name!r}: expected one of {', '.join(DEFAULT_METHODS)}"
        )
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()
