"""Benchmarked methods: awrs's samplers and the registry that adds the peers."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

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
EXTRA: dict[str, Callable[[], "Method"]] = {}
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
        out = {"method": self.name, "model": cfg.model, "max_tokens": cfg.max_tokens,
               "temperature": cfg.temperature}
        if self.uses_particles:
            out.update(particles=cfg.particles, ess_threshold=cfg.ess_threshold)
        return out

    def describe(self) -> str:
        """One line for the report: what this method is and which constraint it uses."""
        return self.__class__.__doc__.strip().splitlines()[0] if self.__class__.__doc__ else ""

    def prepare(self, lm, cfg: RunConfig) -> None:
        """Set up once per run (import packages, wrap the model); raise :class:`Missing`."""

    def build(self, suite, item, ctx: "ItemContext") -> Any:
        """Compile the item's constraint for this method; raise :class:`Unsupported`."""
        return ctx.constraint

    @abstractmethod
    def run(self, built: Any, prompt_ids: list[int], seed: int, cfg: RunConfig) -> Outcome:
        """Generate once for an item (``built`` is what :meth:`build` returned)."""


class ItemContext:
    """One item's awrs constraint, built at most once (timed) and shared by the methods."""

    __slots__ = ("suite", "item", "build_s", "_constraint", "_error")

    def __init__(self, suite, item):
        self.suite, self.item = suite, item
        self.build_s = math.nan
        self._constraint = None
        self._error: BaseException | None = None

    @property
    def constraint(self):
        """The awrs constraint (its construction error is raised again on every access)."""
        if self._error is not None:
            raise self._error
        if self._constraint is None:
            t0 = time.perf_counter()
            try:
                self._constraint = self.suite.constraint(self.item)
            except Exception as exc:
                self._error = exc
                raise
            finally:
                self.build_s = time.perf_counter() - t0
        return self._constraint

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


def outcome_from_result(result: Any, particles: int) -> Outcome:
    """Map an ``awrs.Result`` to an :class:`Outcome`."""
    stats = getattr(result, "stats", None)
    tokens = _stat(stats, "tokens", "n_tokens", default=0)
    tokens = int(sum(tokens)) if isinstance(tokens, (list, tuple)) else int(tokens or 0)
    evals = _stat(stats, "constraint_evals", "evaluations", "constraint_evaluations",
                  "evals", default=None)
    if isinstance(evals, (list, tuple)):
        evals = float(sum(evals))
    evals = math.nan if evals is None else float(evals)
    posterior = dict(getattr(result, "posterior", {}) or {})
    empty = bool(getattr(result, "empty", False)) or not posterior
    text = None if empty else result.text
    samples = getattr(result, "samples", ()) or ()
    finished = text is not None and any(
        getattr(s, "finished", False) and getattr(s, "text", None) == text for s in samples)
    log_ml = getattr(result, "log_ml", math.nan)
    if text is None and samples:  # keep a glimpse of what the method was writing
        longest = max(samples, key=lambda smp: len(getattr(smp, "token_ids", ()) or ()))
        partial = getattr(longest, "text", "")
    else:
        partial = ""
    extra = {k: float(v) for k, v in (("lm_s", _stat(stats, "lm_time")),
                                      ("constraint_s", _stat(stats, "constraint_time")),
                                      *((k, _stat(stats, k)) for k in ENDINGS))
             if v is not None}
    return Outcome(text, finished, tokens, evals,
                   math.nan if log_ml is None else float(log_ml), posterior, particles, extra,
                   partial)


#: Stats counters of how particles ended without output (copied into Outcome.extra)
ENDINGS = ("dead", "out_of_budget", "budget_dead", "budget_pruned")
#: suffix of a method name that turns budget feasibility off (``smc-nobudget``)
NO_BUDGET = "-nobudget"
#: suffix of a method name that adds the budget twist (``smc-twist``)
TWIST = "-twist"


class AwrsMethod(Method):
    """One of ``awrs.generate``'s methods on the default model."""

    _DOCS = {
        "direct": "unconstrained sampling from the model",
        "mask": "awrs token masking: the constraint checked on every vocabulary token",
        "awrs": "awrs, 1 particle: exact locally constrained sampling by adaptive rejection",
        "smc": "awrs-SMC: N particles, AWRS proposals, properly weighted resampling",
        "rerank": "N unconstrained samples, keep those the constraint accepts",
    }

    def __init__(self, name: str):
        self.name = name
        self.twist = name.endswith(TWIST)
        self.base = name.removesuffix(NO_BUDGET).removesuffix(TWIST)
        self.budget = not name.endswith(NO_BUDGET)
        self.needs_constraint = name != "direct"
        self.uses_particles = self.base in ("smc", "rerank")
        self._lm = None

    def settings(self, cfg):
        out = super().settings(cfg)
        if self.base in ("smc", "awrs"):
            out["budget"] = self.budget
        if self.twist:
            out["budget_twist"] = True
        return out

    def describe(self) -> str:
        doc = self._DOCS[self.base]
        if self.twist:
            return doc + " (with the budget twist)"
        return doc if self.budget else doc + " (budget-unaware: budget=False)"

    def prepare(self, lm, cfg):
        self._lm = lm

    def run(self, built, prompt_ids, seed, cfg):
        import awrs

        n = cfg.particles if self.uses_particles else 1
        result = awrs.generate(
            self._lm, list(prompt_ids), built if self.needs_constraint else None,
            method=self.base, n_particles=n, ess_threshold=cfg.ess_threshold,
            max_tokens=cfg.max_tokens, temperature=cfg.temperature, seed=seed,
            **self._budget_options())
        return outcome_from_result(result, n)

    def _budget_options(self) -> dict:
        if self.base not in ("smc", "awrs") or (self.budget and not self.twist):
            return {}
        return {"budget": self.budget, "budget_twist": self.twist}


def canonical(name: str) -> str:
    """The registered name of a method name or alias."""
    return ALIASES.get(name, name)


def get_method(name: str) -> Method:
    """A fresh method object for ``name``.

    Raises:
        ConfigurationError: for an unknown name.
    """
    import importlib

    name = canonical(name)
    if name in EXTRA:
        return EXTRA[name]()
    if name in AWRS_METHODS or name in (f"smc{NO_BUDGET}", f"awrs{NO_BUDGET}", f"smc{TWIST}"):
        return AwrsMethod(name)
    target = PEERS.get(name)
    if target is None:
        raise ConfigurationError(
            f"unknown method {name!r}: expected one of {', '.join(DEFAULT_METHODS)}"
        )
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()
