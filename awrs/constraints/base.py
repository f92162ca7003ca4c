"""The constraint protocol: byte-level prefix and completion checks, incremental states.

Contract (prefix monotonicity): if ``prefix_ok(b)`` is false then ``prefix_ok(b + c)`` and
``complete_ok(b + c)`` are false for every ``c``; and ``complete_ok(b)`` implies
``prefix_ok(b)``. Samplers rely on it: a rejected prefix is never extended, and a vocabulary
trie walk prunes whole subtrees. Incremental states must satisfy
``advance(advance(s, a), b) == advance(s, a + b)`` (same acceptance), and must be immutable
(or never mutated after creation) so that resampled particles can share them.

:class:`Constraint` is the core protocol every sampler uses; :class:`Completion` is the optional
capability that budget feasibility uses beyond it (completion bounds and searches).
"""

from __future__ import annotations

import codecs
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConstraintEvaluationError

State = Any


def _as_bytes(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


class Constraint(ABC):
    """A language of byte strings, checked on prefixes (the core protocol).

    Subclasses implement :meth:`prefix_ok` and :meth:`complete_ok`; the incremental methods
    default to a state that is the byte prefix itself. Faster constraints derive from
    :class:`IncrementalConstraint` instead. What budget feasibility asks beyond the core
    (completion bounds and searches) is the optional :class:`Completion` capability.
    """

    #: a log-weight of a decoded prefix (``-inf``: no completion is in the language) that SMC
    #: uses as a guide: a twist cancelled at completion (``awrs.generate(guide=...)``), or
    #: ``None``
    guide: Callable[[str], float] | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("critic")
        if own is not None and not isinstance(own, property):  # the name before ``guide``
            warnings.warn(
                f"{cls.__name__}.critic is deprecated: name it guide",
                DeprecationWarning,
                stacklevel=3,
            )  # the class statement
            if "guide" not in cls.__dict__:
                cls.guide = own

    @property
    def critic(self) -> Callable[[str], float] | None:
        """Deprecated: :attr:`guide`."""
        warnings.warn(
            "Constraint.critic is deprecated: use Constraint.guide",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.guide

    @critic.setter
    def critic(self, value: Callable[[str], float] | None) -> None:
        warnings.warn(
            "Constraint.critic is deprecated: use Constraint.guide",
            DeprecationWarning,
            stacklevel=2,
        )
        self.guide = value

    @abstractmethod
    def prefix_ok(self, b: bytes) -> bool:
        """Whether ``b`` can still be extended to a string of the language."""

    @abstractmethod
    def complete_ok(self, b: bytes) -> bool:
        """Whether ``b`` is a string of the language."""

    # -- incremental form ------------------------------------------------------------------
    def start(self) -> State:
        """The state of the empty prefix."""
        return b""

    def advance(self, state: State, token: bytes) -> State | None:
        """The state after appending ``token``, or ``None`` if the result is not a prefix."""
        b = state + token
        return b if self.prefix_ok(b) else None

    def is_complete(self, state: State) -> bool:
        """Whether the prefix held by ``state`` is a complete string of the language."""
        return self.complete_ok(state)

    def alphabet(self) -> frozenset[int] | None:
        """Bytes that may ever occur in the language (``None``: unknown / all).

        Tokens holding any other byte are pruned before sampling.
        """
        return None

    # -- conveniences ------------------------------------------------------------------------
    def accepts(self, text: str | bytes) -> bool:
        """Whether the complete text is in the language."""
        return self.complete_ok(_as_bytes(text))

    def accepts_prefix(self, text: str | bytes) -> bool:
        """Whether the text can be extended to a string of the language."""
        return self.prefix_ok(_as_bytes(text))

    def token_mask(self, state: State, trie) -> np.ndarray:
        """Boolean (V,) mask of the tokens that ``advance`` accepts from ``state``.

        Walks the vocabulary byte trie (:class:`~awrs.constraints.trie.VocabTrie`) once,
        pruning every subtree below a rejected byte prefix; EOS ids are left False (the caller
        decides them with :meth:`is_complete`).
        """
        return trie.walk(state, self.advance)

    def __and__(self, other: Constraint) -> Constraint:
        return Conjunction(self, other)

    def checked(self) -> Constraint:
        """This constraint with exceptions re-raised as :class:`ConstraintEvaluationError`."""
        return _Guarded(self)


class IncrementalConstraint(Constraint):
    """A constraint defined by its incremental form; ``prefix_ok``/``complete_ok`` follow."""

    @abstractmethod
    def start(self) -> State: ...

    @abstractmethod
    def advance(self, state: State, token: bytes) -> State | None: ...

    @abstractmethod
    def is_complete(self, state: State) -> bool: ...

    def prefix_ok(self, b: bytes) -> bool:
        return self.advance(self.start(), b) is not None

    def complete_ok(self, b: bytes) -> bool:
        state = self.advance(self.start(), b)
        return state is not None and self.is_complete(state)


class Completion:
    """The optional completion capability: what budget feasibility
    (:mod:`awrs.sampling.budget`) and its completion searches
    (:class:`~awrs.constraints.closing.Closing`) ask of a constraint beyond the core.

    A constraint offers it by deriving from this class as well
    (``class C(IncrementalConstraint, Completion)``) and overriding what it answers better
    than the defaults below; consumers reach it through :func:`completion`, which gives these
    defaults to any other constraint. :class:`Conjunction` and :meth:`Constraint.checked`
    forward every member (:data:`COMPLETION_METHODS`, :attr:`closing_nodes`).
    """

    #: search nodes a completion search (:class:`~awrs.constraints.closing.Closing`) expands
    #: per pass before giving up, ``None``: its default; a constraint whose
    #: :meth:`closing_hints` find its completions may lower it so that failures stay cheap
    closing_nodes: int | None = None

    def state_key(self, state):
        """A hashable key shared by states that every continuation treats alike (caches of
        :class:`~awrs.constraints.closing.Closing`); the state itself by default."""
        return state

    def search_advance(self, state, token: bytes):
        """``advance`` for completion searches (:mod:`awrs.constraints.closing`,
        :func:`~awrs.constraints.shortest.one_token_completion`): it may accept more prefixes,
        never fewer, as long as the complete states it reaches are exactly those ``advance``
        reaches (e.g. skipping a costly dead-end check that a complete text passes anyway);
        ``advance`` by default."""
        return self.advance(state, token)  # type: ignore[attr-defined]

    def closing_hints(self, state) -> Sequence[bytes]:
        """Byte strings likely to complete ``state`` (e.g. the closers of its open quotes and
        brackets), tried by completion searches (:mod:`awrs.constraints.closing`) before their
        own search and verified there; none by default."""
        return ()

    def unchanged_tokens(self, state, trie) -> np.ndarray | None:
        """(V,) bool: tokens known to leave ``state``'s :meth:`state_key` unchanged (e.g. plain
        characters inside a free string), or ``None`` when unknown (the default)."""
        return None

    def completion_bound(self, tokens: list[bytes]):
        """A :class:`~awrs.constraints.shortest.CompletionBound`: at least how many of
        ``tokens`` (the vocabulary, EOS excluded) a state needs before it is complete.

        The default (0 when complete, else 1) is sound for every constraint; subclasses give
        tighter bounds (must never exceed the true shortest completion).
        """
        from .shortest import TrivialBound

        return TrivialBound(self)


#: the methods of the :class:`Completion` capability
COMPLETION_METHODS = (
    "state_key",
    "search_advance",
    "closing_hints",
    "unchanged_tokens",
    "completion_bound",
)


def completion(constraint) -> Completion:
    """The :class:`Completion` capability of ``constraint``: the constraint itself when it
    offers one, else the defaults (a member it defines without deriving from
    :class:`Completion` is used anyway, as before the capability was split off)."""
    return constraint if isinstance(constraint, Completion) else _Defaults(constraint)


class _Defaults(Completion):
    """The capability of a constraint that does not derive from :class:`Completion`."""

    def __init__(self, constraint):
        self.constraint = constraint
        for name in (*COMPLETION_METHODS, "closing_nodes"):
            own = getattr(constraint, name, None)
            if own is not None:
                setattr(self, name, own)

    def search_advance(self, state, token: bytes):
        return self.constraint.advance(state, token)

    def completion_bound(self, tokens: list[bytes]):
        from .shortest import TrivialBound

        return TrivialBound(self.constraint)


class Predicate(Constraint):
    """Adapt two Python functions on byte strings (e.g. ``regex`` partial matching).

    Args:
        prefix_ok: ``bytes -> bool``, must be prefix-monotone (see the module docstring).
        complete_ok: ``bytes -> bool``.
        text: pass decoded ``str`` (invalid UTF-8 prefixes are cut back to the last complete
            character for ``prefix_ok`` and rejected for ``complete_ok``) instead of bytes.
    """

    def __init__(self, prefix_ok: Callable, complete_ok: Callable, *, text: bool = False):
        self._prefix, self._complete, self._text = prefix_ok, complete_ok, text

    def prefix_ok(self, b: bytes) -> bool:
        if not self._text:
            return bool(self._prefix(b))
        s = _decode_prefix(b)
        return s is not None and bool(self._prefix(s))

    def complete_ok(self, b: bytes) -> bool:
        if not self._text:
            return bool(self._complete(b))
        s = _decode_or_none(b)
        return s is not None and bool(self._complete(s))


def _decode_or_none(b: bytes) -> str | None:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_prefix(b: bytes) -> str | None:
    """Decode ``b``, dropping a trailing incomplete UTF-8 character; None if invalid."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(b, final=False)
    except UnicodeDecodeError:
        return None


class Conjunction(IncrementalConstraint, Completion):
    """Both constraints must accept; the state is the pair of states.

    Its :class:`Completion` answers from its sides' answers, one rule per member."""

    def __init__(self, left: Constraint, right: Constraint):
        self.left, self.right = left, right
        self._sides = (completion(left), completion(right))
        if left.guide is not None or right.guide is not None:
            self.guide = _SumGuide(left.guide, right.guide)
        a, b = (side.closing_nodes for side in self._sides)
        if a is not None and b is not None:
            self.closing_nodes = max(a, b)

    def start(self):
        return (self.left.start(), self.right.start())

    def advance(self, state, token):
        return _both(self.left.advance, self.right.advance, state, token)

    def is_complete(self, state):
        return self.left.is_complete(state[0]) and self.right.is_complete(state[1])

    def token_mask(self, state, trie) -> np.ndarray:
        """Both sides advance independently, so the conjunction's mask is the AND of theirs."""
        return self.left.token_mask(state[0], trie) & self.right.token_mask(state[1], trie)

    def alphabet(self):
        a, b = self.left.alphabet(), self.right.alphabet()
        return b if a is None else a if b is None else a & b


def _both(left, right, state, token):
    """``(left(state[0], token), right(state[1], token))``, ``None`` if either is."""
    a = left(state[0], token)
    if a is None:
        return None
    b = right(state[1], token)
    return None if b is None else (a, b)


def _both_unchanged(left, right, state, trie):
    a = left(state[0], trie)
    b = None if a is None else right(state[1], trie)
    return None if b is None else a & b


def _max_bound(left, right, tokens):
    from .shortest import MaxBound

    return MaxBound(left(tokens), right(tokens))


#: how a :class:`Conjunction` answers each :class:`Completion` method from its sides' (given
#: as the two sides' bound methods, then the call's arguments; a pair state is split)
_JOINS: dict[str, Callable[..., Any]] = {
    "state_key": lambda left, right, state: (left(state[0]), right(state[1])),
    "search_advance": _both,
    "closing_hints": lambda left, right, state: (*left(state[0]), *right(state[1])),
    "unchanged_tokens": _both_unchanged,
    "completion_bound": _max_bound,
}


def _joined(name: str, join: Callable):
    def method(self, *args):
        left, right = self._sides
        return join(getattr(left, name), getattr(right, name), *args)

    method.__name__ = name
    method.__doc__ = f"{name} of both sides (:meth:`Completion.{name}`)."
    return method


class _SumGuide:
    """The sum of two guides (either may be ``None``)."""

    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left, self.right = left, right

    def __call__(self, prefix: str) -> float:
        a = 0.0 if self.left is None else float(self.left(prefix))
        if a == -math.inf or self.right is None:
            return a
        return a + float(self.right(prefix))


class _Guarded(IncrementalConstraint, Completion):
    """A constraint whose exceptions, its :class:`Completion`'s included, are re-raised as
    :class:`ConstraintEvaluationError` (:meth:`Constraint.checked`)."""

    def __init__(self, inner: Constraint):
        self.inner = inner
        self._completion = completion(inner)
        self.guide = inner.guide
        self.closing_nodes = self._completion.closing_nodes

    def _call(self, fn, *args, prefix: bytes | None):
        try:
            return fn(*args)
        except Exception as exc:  # surface, never swallow
            raise ConstraintEvaluationError(
                f"{type(self.inner).__name__} raised {type(exc).__name__}: {exc} "
                f"(prefix {prefix!r})",
                prefix,
            ) from exc

    def start(self):
        return self._call(self.inner.start, prefix=b"")

    def advance(self, state, token):
        return self._call(self.inner.advance, state, token, prefix=token)

    def is_complete(self, state):
        return self._call(self.inner.is_complete, state, prefix=None)

    def alphabet(self):
        return self.inner.alphabet()


def _guarded(name: str):
    def method(self, *args):
        # a bytes argument after the state is the token appended (search_advance)
        token = args[1] if len(args) > 1 and isinstance(args[1], bytes) else None
        return self._call(getattr(self._completion, name), *args, prefix=token)

    method.__name__ = name
    method.__doc__ = f"The inner constraint's :meth:`Completion.{name}`, guarded."
    return method


for _name in COMPLETION_METHODS:  # one mechanism forwards every member of the capability
    setattr(Conjunction, _name, _joined(_name, _JOINS[_name]))
    setattr(_Guarded, _name, _guarded(_name))
del _name
