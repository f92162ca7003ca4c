"""The byte-level DFA of a Python regular expression, and :func:`compile_dfa`."""

from __future__ import annotations

import functools
import re
import re._constants as _C
import re._parser as _P

import numpy as np

from ...errors import ConfigurationError, ConstraintError, ConstraintSizeError
from ...kernels import dfa as _dfa
from . import lookahead as _la
from . import nfa as _nfa
from .subset import determinise
from .utf8 import ByteBuilder

#: Default cap on DFA states: the (n, 256) int32 table then stays under ~32 MiB.
DEFAULT_MAX_STATES = 32_768


class DFA:
    """A byte-level DFA over UTF-8 text.

    Attributes:
        table: (n_states, 256) int32 transitions, read-only; row 0 is the dead state
            (all zeros), and every other state can still reach acceptance, so a prefix is
            viable exactly when its state is not 0.
        accept: (n_states,) bool, read-only.
        start: the start state (0 when the language is empty).
    """

    __slots__ = ("table", "accept", "start", "__weakref__")
    dead = 0

    def __init__(self, table: np.ndarray, accept: np.ndarray, start: int):
        table = np.ascontiguousarray(table, dtype=np.int32)
        accept = np.ascontiguousarray(accept, dtype=bool)
        table.setflags(write=False)
        accept.setflags(write=False)
        self.table, self.accept, self.start = table, accept, int(start)

    @property
    def n_states(self) -> int:
        return self.table.shape[0]

    def step(self, state: int, data: bytes) -> int:
        """The state after reading ``data`` from ``state`` (0 once dead)."""
        return _dfa.dfa_run(self.table, state, data)

    def accepts(self, data: bytes) -> bool:
        """Whether ``data`` read from the start state ends in an accepting state."""
        return bool(self.accept[self.step(self.start, data)])

    def alphabet(self) -> frozenset[int]:
        """The bytes with a transition out of some live state."""
        return frozenset(np.flatnonzero((self.table[1:] != 0).any(axis=0)).tolist())

    def __repr__(self) -> str:
        return f"DFA(n_states={self.n_states}, start={self.start})"


def compile_dfa(
    pattern: str | re.Pattern, flags: int = 0, *, max_states: int = DEFAULT_MAX_STATES
) -> DFA:
    """Compile a Python ``re`` pattern to a byte-level DFA with full-match semantics.

    A byte string is accepted iff it is valid UTF-8 and ``re.fullmatch(pattern, text,
    flags)`` matches its decoding. Results are cached per ``(pattern, flags, max_states)``.

    Args:
        pattern: a ``str`` pattern in Python ``re`` syntax, or a compiled ``re.Pattern``
            (its flags are added to ``flags``).
        flags: ``re`` flags (IGNORECASE, DOTALL, MULTILINE, VERBOSE, ASCII).
        max_states: the most DFA states allowed (an (n, 256) int32 table is 1 KiB a state).

    Raises:
        ConstraintError: the pattern is malformed (the message names the offset).
        UnsupportedFeatureError: back-references, look-behinds, look-aheads after the first
            character, conditionals, atomic groups or possessive quantifiers (look-aheads
            before it are compiled exactly: see :mod:`.lookahead`).
        ConstraintSizeError: the automaton would need more than ``max_states`` states.
    """
    if isinstance(pattern, re.Pattern):
        flags |= pattern.flags
        pattern = pattern.pattern
    if not isinstance(pattern, str):
        raise ConstraintError(f"expected a str pattern, but got {type(pattern).__name__}")
    if not isinstance(max_states, int) or max_states < 1:
        raise ConfigurationError(
            f"expected max_states to be a positive int, but got {max_states!r}"
        )
    if flags & re.LOCALE:
        raise ConstraintError(
            "re.LOCALE is only valid with bytes patterns; expected a str pattern without it"
        )
    return _compile(pattern, int(flags) & ~re.DEBUG, max_states)


@functools.lru_cache(maxsize=128)
def _compile(pattern: str, flags: int, max_states: int) -> DFA:
    try:
        re.compile(pattern, flags)
    except re.error as exc:
        where = f" at offset {exc.pos}" if exc.pos is not None else ""
        raise ConstraintError(
            f"malformed regular expression {pattern!r}{where}: {exc.msg}"
        ) from exc
    except (OverflowError, RecursionError) as exc:
        raise ConstraintError(f"regular expression {pattern!r} rejected by re: {exc}") from exc
    limit = 8 * max_states + 1024
    if _has_look(_nfa.parse(pattern, flags)[0]):
        cdfa = _lifted(pattern, flags, limit, max_states)
        if cdfa is not None:
            return lower(cdfa, max_states, pattern)
    nfa = _nfa.build(pattern, flags, limit=limit)
    return lower(determinise(nfa, max_states, pattern), max_states, pattern)


# -- look-aheads at the start of the text (see :mod:`.lookahead`), on ``re``'s parse tree ------
# Items are ``(op, av, flags)``: inlining a group keeps the flags in scope of its items.


def _lifted(pattern: str, flags: int, limit: int, max_states: int):
    tree, gflags = _nfa.parse(pattern, flags)
    if _nfa._size(tree) > limit:
        return None  # refused with its message by _nfa.build
    try:
        return _la.compile_lifted(
            [(op, av, gflags) for op, av in tree],
            classify=_classify,
            build=lambda items: determinise(
                _build_items(items, pattern, limit), max_states, pattern
            ),
            star=lambda body: (
                list(body) + [(_C.MAX_REPEAT, (0, _C.MAXREPEAT, [(_C.ANY, None)]), re.DOTALL)]
            ),
            max_states=max_states,
            pattern=pattern,
        )
    except RecursionError as exc:
        raise ConstraintSizeError(
            f"the look-aheads of {pattern!r} nest too deeply to compile to an automaton"
        ) from exc


def _classify(item):
    op, av, flags = item
    if op is _C.SUBPATTERN:
        _group, add, rem, sub = av
        inner = flags & ~_P.TYPE_FLAGS if add & _P.TYPE_FLAGS else flags
        inner = (inner | add) & ~rem
        return _la.INLINE, [(o, a, inner) for o, a in sub]
    if op is _C.BRANCH:
        if any(_has_look(alt) for alt in av[1]):
            return _la.SPLIT, [[(o, a, flags) for o, a in alt] for alt in av[1]]
        return _la.STOP, None
    if op is _C.AT:
        start = _nfa._assertion(av, flags) == _nfa.A_START
        return (_la.START if start else _la.ZERO), None
    if op is _C.ASSERT or op is _C.ASSERT_NOT:
        direction, sub = av
        if direction >= 0:
            return _la.AHEAD, (op is _C.ASSERT, [(o, a, flags) for o, a in sub])
        return _la.ZERO, None
    if (op is _C.MAX_REPEAT or op is _C.MIN_REPEAT) and av[0] == 0:
        return _la.SKIP, None
    return _la.STOP, None


def _has_look(items) -> bool:
    """Whether a look-ahead or look-behind occurs in ``items`` (a ``re`` parse tree)."""
    stack = [items]
    while stack:
        for op, av in stack.pop():
            if op is _C.ASSERT or op is _C.ASSERT_NOT:
                return True
            for x in av if isinstance(av, tuple) else (av,):
                if isinstance(x, (_P.SubPattern, list)):
                    if isinstance(x, list) and x and isinstance(x[0], _P.SubPattern):
                        stack.extend(x)
                    elif isinstance(x, _P.SubPattern) or (x and isinstance(x[0], tuple)):
                        stack.append(x)
    return False


def _build_items(items, pattern: str, limit: int) -> _nfa.NFA:
    nfa = _nfa.NFA(limit)
    nfa.start = cur = nfa.new()
    for op, av, fl in items:
        s, e = _nfa._item(nfa, op, av, fl, pattern)
        nfa.eps[cur].append(s)
        cur = e
    nfa.final = cur
    return nfa


def lower(cdfa, max_states: int, pattern: str) -> DFA:
    """The byte DFA of a minimal code-point DFA (:class:`~.subset.CharDFA`)."""
    if cdfa.start < 0:
        return DFA(np.zeros((1, 256), np.int32), np.zeros(1, bool), 0)
    builder = ByteBuilder(len(cdfa.accept), max_states, pattern)
    for s in range(len(cdfa.accept)):
        builder.add_char_state(s, cdfa.ranges(s))
    table = builder.result()
    accept = np.zeros(len(table), bool)
    accept[1 : len(cdfa.accept) + 1] = cdfa.accept
    return DFA(table, accept, cdfa.start + 1)
