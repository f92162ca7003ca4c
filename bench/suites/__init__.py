"""Benchmark suites: items with prompts, constraints for awrs and peers, and scorers."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from awrs.errors import ConfigurationError

#: suite name -> module defining ``SUITE`` (a :class:`Suite` instance)
SUITES = {
    "json": "bench.suites.json",
    "patterns": "bench.suites.patterns",
    "sql": "bench.suites.sql",
    "overhead": "bench.suites.overhead",
    "molecules": "bench.suites.molecules",
}
#: further suites by name (tests and experiments register instances here)
EXTRA: dict[str, Suite] = {}


@dataclass(frozen=True, slots=True)
class Item:
    """One benchmark task: an id, the chat messages of its prompt and suite-specific data."""

    id: str
    messages: tuple[Mapping[str, str], ...]
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Spec:
    """A constraint in a form peers can compile.

    ``kind`` is one of ``"json_schema"`` (``source`` a dict), ``"regex"`` (``source`` a pattern
    in the ``regex`` package's syntax) or ``"lark"`` (``source`` a Lark grammar). ``constraint``
    is the awrs constraint of the same item (peers that accept arbitrary prefix checks, like
    genlm-control, may wrap it).
    """

    kind: str
    source: Any
    constraint: Any = None


@dataclass(frozen=True, slots=True)
class Score:
    """Scores of one output: constraint satisfied (independent check), primary score, extras."""

    valid: bool
    score: float
    metrics: Mapping[str, Any] = field(default_factory=dict)


class Suite(ABC):
    """A benchmark domain.

    Subclasses set ``name``, ``metric`` (the name of the primary score), ``version`` (bump it
    when prompts or scoring change, so cached rows are not reused) and ``extra_metrics``
    (per-sample metrics summarized in the report), and implement :meth:`items`,
    :meth:`constraint`, :meth:`spec` and :meth:`score`.
    """

    name: str = ""
    metric: str = "score"
    version: str = "1"
    extra_metrics: tuple[str, ...] = ()
    #: whether items are generation tasks (False for the micro-benchmark suite)
    generative: bool = True

    @abstractmethod
    def items(self, limit: int | None = None) -> list[Item]:
        """The suite's items (at most ``limit``); raises FileNotFoundError when data is absent."""

    @abstractmethod
    def constraint(self, item: Item):
        """The awrs constraint of an item."""

    @abstractmethod
    def spec(self, item: Item, constraint=None) -> Spec:
        """The item's constraint for peers (``constraint``: the awrs one, when built)."""

    @abstractmethod
    def score(self, item: Item, text: str) -> Score:
        """Score one output text."""

    def reward(self, item: Item):
        """The task's reward (an ``awrs.rewards`` Reward scoring complete texts) used by
        reward-weighted selection, or ``None`` when the suite has none (the default)."""
        return None

    def critic(self, item: Item):
        """The critic ``smc`` uses on this suite's items (``awrs.generate(critic=...)``), or
        ``None`` (the default)."""
        return None

    def no_output_score(self, item: Item) -> float:
        """The primary score of a run that produced no output (0; NaN where it does not apply)."""
        return 0.0


def get_suite(name: str) -> Suite:
    """The suite registered under ``name``.

    Raises:
        ConfigurationError: for an unknown name.
    """
    if name in EXTRA:
        return EXTRA[name]
    module = SUITES.get(name)
    if module is None:
        raise ConfigurationError(
            f"unknown suite {name!r}: expected one of {', '.join(sorted(SUITES))}"
        )
    return importlib.import_module(module).SUITE
