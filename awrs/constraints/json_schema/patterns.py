"""Patterns (``pattern``, ``patternProperties``, formats): a byte DFA where the pattern is regular.

JSON Schema patterns match anywhere in the string (``re.search``). A regular pattern ``p`` is
compiled by :func:`awrs.constraints.regex.compile_dfa` as the full match of
``(?s:.*)(?:p)(?s:.*)`` (anchors inside ``p`` keep their meaning: the DFA handles ``^``/``$``
anywhere), so prefix checks are exact and every check is linear in the string. A look-ahead
right after a start anchor (``^(?!(in|if)$)\\w+``) is compiled exactly too (see
:mod:`awrs.constraints.regex.lookahead`): a prefix is alive iff some completion matches.
Patterns in the ``regex`` package's syntax only (``\\p{..}``) take its automaton
(:func:`~awrs.constraints.regex.extended.compile_extended`); ``pattern`` and
``patternProperties`` share this path. Patterns no automaton takes (back-references,
look-arounds elsewhere, too many states) fall back to the ``regex`` package, with a time limit
per match that raises a typed error instead of hanging.
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import Any, cast

import regex

from ...errors import ConstraintError, ConstraintEvaluationError, ConstraintSizeError
from ..regex import compile_dfa
from ..regex.dfa import DFA
from ..regex.extended import compile_extended

#: DFA states allowed to one pattern (1 KiB of table each) before the fallback is used.
MAX_STATES = 4096
#: Seconds allowed to one match of a non-regular pattern.
TIMEOUT = 1.0
#: Escape ranges at most this large are enumerated for non-regular patterns.
_ENUMERATE = 512

# UTF-8 shapes: (first code point, last code point, byte count).
_UTF8 = ((0, 0x7F, 1), (0x80, 0x7FF, 2), (0x800, 0xFFFF, 3), (0x10000, 0x10FFFF, 4))


def _utf8_ranges(lo: int, hi: int):
    """The byte-range sequences of the UTF-8 encodings of ``[lo, hi]`` (lists of (a, b))."""
    for a, b, _n in _UTF8:
        lo2, hi2 = max(lo, a), min(hi, b)
        if lo2 <= hi2:
            yield from _split(chr(lo2).encode(), chr(hi2).encode())


def _split(x: bytes, y: bytes):
    """Byte-range sequences covering the same-length encodings from ``x`` to ``y``."""
    if len(x) == 1:
        yield [(x[0], y[0])]
        return
    if x[0] == y[0]:
        for rest in _split(x[1:], y[1:]):
            yield [(x[0], x[0])] + rest
        return
    lo_tail = bytes([0x80] * (len(x) - 1))
    hi_tail = bytes([0xBF] * (len(x) - 1))
    if x[1:] != lo_tail:
        for rest in _split(x[1:], hi_tail):
            yield [(x[0], x[0])] + rest
        first = x[0] + 1
    else:
        first = x[0]
    last = y[0] - 1 if y[1:] != hi_tail else y[0]
    if first <= last:
        yield [(first, last)] + [(0x80, 0xBF)] * (len(x) - 1)
    if y[1:] != hi_tail:
        for rest in _split(lo_tail, y[1:]):
            yield [(y[0], y[0])] + rest


def dfa_escape_ok(table, state: int, ranges) -> bool:
    """Whether some code point of ``ranges`` keeps the byte DFA alive from ``state``."""
    for lo, hi in ranges:
        for seq in _utf8_ranges(lo, hi):
            states = {state}
            for a, b in seq:
                states = {t for s in states for t in table[s, a : b + 1].tolist() if t}
                if not states:
                    break
            if states:
                return True
    return False


class Matcher:
    """One pattern with search semantics: ``prefix_ok``, ``bytes_ok``, ``escape_ok`` and
    ``__call__`` (does the complete string match)."""

    __slots__ = ("pattern", "anchored", "dfa", "rx", "partial_rx", "_table")
    dfa: DFA | None  # None: not regular, matched by ``rx`` (the regex package, untyped)
    rx: Any
    partial_rx: Any

    def __init__(self, pattern: str, *, anchored: bool = False):
        """``anchored``: the pattern must match the whole string (formats) instead of
        anywhere in it."""
        self.pattern, self.anchored = pattern, anchored
        self.dfa = self.rx = self.partial_rx = None
        source = f"(?:{pattern})" if anchored else f"(?s:.*)(?:{pattern})(?s:.*)"
        try:
            self.dfa = _regular(source)
            self._table = self.dfa.table
        except ConstraintError:  # not regular (or too large): the regex package, bounded
            self.rx = _compile(pattern, anchored)
            self.partial_rx = _partial(pattern, anchored)

    @property
    def regular(self) -> bool:
        return self.dfa is not None

    def start(self) -> int:
        """The DFA state of the empty string (``-1`` for the fallback)."""
        return self.dfa.start if self.dfa is not None else -1

    # the DFA-state methods are called only when ``regular``
    def step(self, state: int, data: bytes) -> int:
        return cast(DFA, self.dfa).step(state, data)

    def state_of(self, s: str) -> int:
        dfa = cast(DFA, self.dfa)
        return dfa.step(dfa.start, s.encode("utf-8"))

    def accepting(self, state: int) -> bool:
        return bool(cast(DFA, self.dfa).accept[state])

    def state_escape_ok(self, state: int, ranges) -> bool:
        return dfa_escape_ok(self._table, state, ranges)

    # -- string-level checks (keys, fallback) ------------------------------------------------
    def prefix_ok(self, s: str) -> bool:
        if self.dfa is not None:
            return self.state_of(s) != 0
        if self.partial_rx is None:
            return True
        rx = self.partial_rx
        return self._run(rx.fullmatch if self.anchored else rx.search, s, partial=True)

    def bytes_ok(self, s: str, pending: bytes) -> bool:
        if self.dfa is not None:
            return self.dfa.step(self.dfa.start, s.encode("utf-8") + pending) != 0
        return self.prefix_ok(s)

    def escape_ok(self, s: str, ranges) -> bool:
        if self.dfa is not None:
            st = self.state_of(s)
            return st != 0 and dfa_escape_ok(self._table, st, ranges)
        if sum(b - a + 1 for a, b in ranges) <= _ENUMERATE:
            return any(self.prefix_ok(s + chr(c)) for a, b in ranges for c in range(a, b + 1))
        return self.prefix_ok(s)

    def __call__(self, s: str) -> bool:
        if self.dfa is not None:
            return bool(self.dfa.accept[self.state_of(s)])
        return self._run(self.rx.fullmatch if self.anchored else self.rx.search, s)

    def _run(self, fn, s: str, **kw) -> bool:
        try:
            return fn(s, timeout=TIMEOUT, **kw) is not None
        except TimeoutError as exc:
            raise ConstraintEvaluationError(
                f"pattern {self.pattern!r} is not regular and took over {TIMEOUT} s on a "
                f"string of {len(s)} characters; expected a pattern without catastrophic "
                f"backtracking",
                s.encode("utf-8", "replace"),
            ) from exc


def _regular(source: str) -> DFA:
    """The byte DFA of ``source``: with Python's ``re`` meaning where ``re`` takes the pattern
    and the automaton does, else with the ``regex`` package's (``\\p{..}``, atomic groups…).

    Raises:
        ConstraintError: neither compiles it to an automaton of at most ``MAX_STATES``.
    """
    try:
        return compile_dfa(source, max_states=MAX_STATES)
    except ConstraintSizeError:
        raise
    except ConstraintError:
        return compile_extended(source, max_states=MAX_STATES)


def _compile(pattern: str, anchored: bool):
    del anchored  # the caller picks fullmatch or search
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rx = regex.compile(pattern)
        except regex.error:
            rx = regex.compile(re.sub(r"\{(?!\d*,?\d*\})", r"\\{", pattern))
    return rx


def _partial(pattern: str, anchored: bool):
    """The ``regex`` pattern used for partial matches, or ``None`` when its syntax may differ
    from Python's ``re`` (then every prefix passes and the completed string decides)."""
    if "[:" in pattern:
        return None
    try:
        return _compile(pattern, anchored)
    except regex.error:
        return None


@functools.lru_cache(maxsize=1024)
def matcher(pattern: str, anchored: bool = False) -> Matcher:
    """The (shared) matcher of ``pattern``."""
    return Matcher(pattern, anchored=anchored)


def search(pattern: str, s: str) -> bool:
    """``re.search(pattern, s)`` in linear time where the pattern is regular."""
    return matcher(pattern)(s)
