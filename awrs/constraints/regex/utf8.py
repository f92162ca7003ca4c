"""Lower a code-point DFA to a byte DFA over UTF-8 (only valid, shortest-form encodings)."""

from __future__ import annotations

import numpy as np

from ...errors import ConstraintSizeError

# (first code point, last code point, code points per lead byte, first lead byte, bytes left)
_SEGMENTS = (
    (0, 0x7F, 1, 0, 0),
    (0x80, 0x7FF, 64, 0xC0, 1),
    (0x800, 0xFFFF, 4096, 0xE0, 2),
    (0x10000, 0x10FFFF, 0x40000, 0xF0, 3),
)


class ByteBuilder:
    """Grows a (n, 256) int32 table; state 0 is dead, char state ``s`` becomes ``s + 1``.

    Intermediate states (inside a multi-byte character) are shared by their remaining
    behaviour: the bytes left and the targets of the code points still reachable.
    """

    def __init__(self, n_char: int, max_states: int, pattern: str):
        self.max_states, self.pattern = max_states, pattern
        self.n = n_char + 1
        self._check(self.n)
        self.table = np.zeros((self.n + max(64, self.n // 2), 256), np.int32)
        self._cache: dict = {}

    def _check(self, n: int) -> None:
        if n > self.max_states:
            raise ConstraintSizeError(
                f"the byte-level DFA of {self.pattern!r} needs more than "
                f"max_states={self.max_states} states; raise max_states or simplify the "
                f"pattern (or use awrs.Pattern)"
            )

    def _new(self) -> int:
        self._check(self.n + 1)
        if self.n == len(self.table):
            self.table = np.concatenate([self.table, np.zeros_like(self.table)])
        self.n += 1
        return self.n - 1

    def add_char_state(self, s: int, ranges: list[tuple[int, int, int]]) -> None:
        """Fill the row of char state ``s`` from its ``(lo, hi, char target)`` ranges."""
        ranges = [(lo, hi, t + 1) for lo, hi, t in ranges]
        for slo, shi, size, off, k in _SEGMENTS:
            sub = [
                (max(lo, slo), min(hi, shi), t) for lo, hi, t in ranges if lo <= shi and hi >= slo
            ]
            if sub:
                self._fill(s + 1, sub, 0, size, off, k)

    def _fill(self, sid: int, ranges, base: int, size: int, off: int, k: int) -> None:
        partial: dict[int, list] = {}
        for lo, hi, t in ranges:
            c0, c1 = (lo - base) // size, (hi - base) // size
            if c0 == c1:
                if lo == base + c0 * size and hi == base + (c0 + 1) * size - 1:
                    v = self._full(k, t)  # may grow (reallocate) the table
                    self.table[sid, off + c0] = v
                else:
                    partial.setdefault(c0, []).append((lo, hi, t))
                continue
            if lo != base + c0 * size:
                partial.setdefault(c0, []).append((lo, base + (c0 + 1) * size - 1, t))
                c0 += 1
            if hi != base + (c1 + 1) * size - 1:
                partial.setdefault(c1, []).append((base + c1 * size, hi, t))
                c1 -= 1
            if c0 <= c1:
                v = self._full(k, t)
                self.table[sid, off + c0 : off + c1 + 1] = v
        for c, sub in partial.items():
            v = self._window(k, base + c * size, sub)
            self.table[sid, off + c] = v

    def _full(self, k: int, t: int) -> int:
        """The state with ``k`` continuation bytes left, every completion leading to ``t``."""
        if k == 0:
            return t
        key = (k, t)
        sid = self._cache.get(key)
        if sid is None:
            child = self._full(k - 1, t)
            sid = self._cache[key] = self._new()
            self.table[sid, 0x80:0xC0] = child
        return sid

    def _window(self, k: int, base: int, ranges) -> int:
        key = (k, tuple((lo - base, hi - base, t) for lo, hi, t in ranges))
        sid = self._cache.get(key)
        if sid is None:
            sid = self._cache[key] = self._new()
            self._fill(sid, ranges, base, 64 ** (k - 1), 0x80, k - 1)
        return sid

    def result(self) -> np.ndarray:
        return np.ascontiguousarray(self.table[: self.n])
