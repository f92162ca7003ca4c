"""The constraint protocol: byte-level prefix and completion checks, incremental states.

Contract (prefix monotonicity): if ``prefix_ok(b)`` is false then ``prefix_ok(b + c)`` and
``complete_ok(b + c)`` are false for every ``c``; and ``complete_ok(b)`` implies
``prefix_ok(b)``. Samplers rely on it: a rejected prefix is never extended, and a vocabulary
trie walk prunes whole subtrees. Incremental states must satisfy
``advance(advance(s, a), b) == advance(s, a + b)`` (same acceptance), and must be immutable
(or never mutated after creation) so that resampled particles can share them.
"""

from __future__ import annotations

import codecs
import math
from abc import ABC, abstractmethod
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ConstraintEvaluationError

State = Any


def _as_bytes(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


class Constraint(ABC):
    """A language of byte strings, checked on prefixes.

    Subclasses implement :meth:`prefix_ok` and :meth:`complete_ok`; the incremental methods
    default to a state that is the byte prefix itself. Faster constraints derive from
    :class:`IncrementalConstraint` instead.
    """

    #: a log-weight of a decoded prefix (``-inf``: no completion is in the language) that SMC
    #: uses as a twist cancelled at completion (``awrs.generate(guide=...)``), or ``None``
    critic: Callable[[str], float] | None = None
    #: search nodes a completion search (:class:`~awrs.constraints.closing.Closing`) expands
    #: per pass before giving up, ``None``: its default; a constraint whose
    #: :meth:`closing_hints` find its completions may lower it so that failures stay cheap
    closing_nodes: int | None = None

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

    def state_key(self, state):
        """A hashable key shared by states that every continuation treats alike (caches of
        :class:`~awrs.constraints.closing.Closing`); the state itself by default."""
        return state

    def search_advance(self, state, token: bytes):
        """:meth:`advance` for completion searches (:mod:`awrs.constraints.closing`,
        :func:`~awrs.constraints.shortest.one_token_completion`): it may accept more prefixes,
        never fewer, as long as the complete states it reaches are exactly those
        :meth:`advance` reaches (e.g. skipping a costly dead-end check that a complete text
        passes anyway); :meth:`advance` by default."""
        return self.advance(state, token)

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

    def __and__(self, other: "Constraint") -> "Constraint":
        return Conjunction(self, other)

    def checked(self) -> "Constraint":
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


class Conjunction(IncrementalConstraint):
    """Both constraints must accept; the state is the pair of states."""

    def __init__(self, left: Constraint, right: Constraint):
        self.left, self.right = left, right
        if left.critic is not None or right.critic is not None:
            self.critic = _SumCritic(left.critic, right.critic)
        if left.closing_nodes is not None and right.closing_nodes is not None:
            self.closing_nodes = max(left.closing_nodes, right.closing_nodes)

    def start(self):
        return (self.left.start(), self.right.start())

    def advance(self, state, token):
        return self._both(self.left.advance, self.right.advance, state, token)

    def is_complete(self, state):
        return self.left.is_complete(state[0]) and self.right.is_complete(state[1])

    def token_mask(self, state, trie) -> np.ndarray:
        """Both sides advance independently, so the conjunction's mask is the AND of theirs."""
        return self.left.token_mask(state[0], trie) & self.right.token_mask(state[1], trie)

    def completion_bound(self, tokens):
        from .shortest import MaxBound

        return MaxBound(self.left.completion_bound(tokens), self.right.completion_bound(tokens))

    def state_key(self, state):
        return (self.left.state_key(state[0]), self.right.state_key(state[1]))

    def search_advance(self, state, token):
        return self._both(self.left.search_advance, self.right.search_advance, state, token)

    def closing_hints(self, state):
        return (*self.left.closing_hints(state[0]), *self.right.closing_hints(state[1]))

    @staticmethod
    def _both(left, right, state, token):
        a = left(state[0], token)
        if a is None:
            return None
        b = right(state[1], token)
        return None if b is None else (a, b)

    def unchanged_tokens(self, state, trie):
        a = self.left.unchanged_tokens(state[0], trie)
        b = None if a is None else self.right.unchanged_tokens(state[1], trie)
        return None if b is None else a & b

    def alphabet(self):
        a, b = self.left.alphabet(), self.right.alphabet()
        return b if a is None else a if b is None else a & b


class _SumCritic:
    """The sum of two critics (either may be ``None``)."""

    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left, self.right = left, right

    def __call__(self, prefix: str) -> float:
        a = 0.0 if self.left is None else float(self.left(prefix))
        if a == -math.inf or self.right is None:
            return a
        return a + float(self.right(prefix))


class _Guarded(IncrementalConstraint):
    def __init__(self, inner: Constraint):
        self.inner = inner
        self.critic = inner.critic
        self.closing_nodes = inner.closing_nodes

    def _call(self, fn, *args, prefix: bytes | None):
        try:
            return fn(*args)
        except Exception as exc:  # surface, never swallow
            raise ConstraintEvaluationError(
                f"{type(self.inner).__name__} raised {type(exc).__name__}: {exc} "
                f"(prefix {prefix!r})", prefix) from exc

    def start(self):
        return self._call(self.inner.start, prefix=b"")

    def advance(self, state, token):
        return self._call(self.inner.advance, state, token, prefix=token)

    def is_complete(self, state):
        return self._call(self.inner.is_complete, state, prefix=None)

    def alphabet(self):
        return self.inner.alphabet()

    def completion_bound(self, tokens):
        return self.inner.completion_bound(tokens)

    def state_key(self, state):
        return self.inner.state_key(state)

    def search_advance(self, state, token):
        return self._call(self.inner.search_advance, state, token, prefix=token)

    def closing_hints(self, state):
        return self._call(self.inner.closing_hints, state, prefix=None)

    def unchanged_tokens(self, state, trie):
        return self.inner.unchanged_tokens(state, trie)
