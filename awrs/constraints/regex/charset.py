"""Code-point sets as sorted ranges, and the exact sets Python's ``re`` matches for a character."""

from __future__ import annotations

import _sre
import functools
import re
import re._constants as C

import numpy as np

Ranges = tuple  # tuple[tuple[int, int], ...]: sorted, disjoint, non-adjacent, inclusive

MAX_CP = 0x10FFFF
EMPTY: Ranges = ()
ANY_CP: Ranges = ((0, MAX_CP),)
#: Code points UTF-8 can encode (surrogates cannot occur in valid UTF-8 input).
VALID: Ranges = ((0, 0xD7FF), (0xE000, MAX_CP))
NEWLINE: Ranges = ((10, 10),)
ASCII_WORD: Ranges = ((48, 57), (65, 90), (95, 95), (97, 122))
ASCII_DIGIT: Ranges = ((48, 57),)
ASCII_SPACE: Ranges = ((9, 13), (32, 32))

_CATEGORY_SRC = {
    C.CATEGORY_DIGIT: r"\d",
    C.CATEGORY_NOT_DIGIT: r"\D",
    C.CATEGORY_SPACE: r"\s",
    C.CATEGORY_NOT_SPACE: r"\S",
    C.CATEGORY_WORD: r"\w",
    C.CATEGORY_NOT_WORD: r"\W",
}


def union(*sets: Ranges) -> Ranges:
    """The union of range sets."""
    out: list[list[int]] = []
    for lo, hi in sorted(r for s in sets for r in s):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def complement(s: Ranges) -> Ranges:
    """All code points not in ``s``."""
    out, nxt = [], 0
    for lo, hi in s:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CP:
        out.append((nxt, MAX_CP))
    return tuple(out)


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """Code points in both ``a`` and ``b``."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def of_points(points) -> Ranges:
    """The range set of an iterable of code points."""
    return union(*(((p, p),) for p in points))


@functools.lru_cache(maxsize=1)
def _all_chars() -> str:
    """Every code point in order (surrogates included) — the oracle's haystack."""
    return np.arange(MAX_CP + 1, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")


@functools.lru_cache(maxsize=512)
def oracle(src: str, flags: int) -> Ranges:
    """The code points one-character pattern ``src`` matches under ``flags``, asked of ``re``.

    Exact by construction (the runs of ``(?:src)+`` over all code points); ~20 ms a call, so
    only used for case-insensitive sets and the Unicode category tables (cached).
    """
    flags &= re.IGNORECASE | (re.ASCII if flags & re.ASCII else re.UNICODE)
    rx = re.compile(f"(?:{src})+", flags)
    return tuple((m.start(), m.end() - 1) for m in rx.finditer(_all_chars()))


def category(cat, flags: int) -> Ranges:
    """The set of ``\\d \\D \\s \\S \\w \\W`` under the ASCII/Unicode flags in ``flags``."""
    if flags & re.ASCII:
        base = {
            C.CATEGORY_DIGIT: ASCII_DIGIT,
            C.CATEGORY_SPACE: ASCII_SPACE,
            C.CATEGORY_WORD: ASCII_WORD,
        }
        if cat in base:
            return base[cat]
        positive = {
            C.CATEGORY_NOT_DIGIT: C.CATEGORY_DIGIT,
            C.CATEGORY_NOT_SPACE: C.CATEGORY_SPACE,
            C.CATEGORY_NOT_WORD: C.CATEGORY_WORD,
        }[cat]
        return complement(base[positive])
    return oracle(_CATEGORY_SRC[cat], re.UNICODE)


def unicode_word(flags: int) -> Ranges:
    """Word characters as ``\\b`` sees them under ``flags``."""
    return category(C.CATEGORY_WORD, flags)


@functools.lru_cache(maxsize=1)
def _lower_preimages() -> dict[int, tuple[int, ...]]:
    """``y -> (c, ...)`` for every ``c != y`` with ``_sre.unicode_tolower(c) == y``."""
    low = np.fromiter(
        map(_sre.unicode_tolower, range(MAX_CP + 1)), dtype=np.int64, count=MAX_CP + 1
    )
    moved = np.flatnonzero(low != np.arange(MAX_CP + 1))
    pre: dict[int, list[int]] = {}
    for c in moved.tolist():
        pre.setdefault(int(low[c]), []).append(c)
    return {y: tuple(cs) for y, cs in pre.items()}


def literal(ch: int, flags: int) -> Ranges:
    """The set a literal character matches, following ``re._compiler`` for IGNORECASE."""
    if not flags & re.IGNORECASE:
        return ((ch, ch),)
    if flags & re.ASCII:
        if not _sre.ascii_iscased(ch):
            return ((ch, ch),)
        lo = _sre.ascii_tolower(ch)
        return of_points((lo, lo - 32))
    if not _sre.unicode_iscased(ch):
        return ((ch, ch),)
    from re._casefix import _EXTRA_CASES

    lo = _sre.unicode_tolower(ch)
    pre = _lower_preimages()
    points = []
    for y in (lo, *_EXTRA_CASES.get(lo, ())):
        if _sre.unicode_tolower(y) == y:
            points.append(y)
        points.extend(pre.get(y, ()))
    return of_points(points)


def _set_source(items) -> str:
    parts = []
    for op, av in items:
        if op is C.NEGATE:
            parts.append("^")
        elif op is C.LITERAL:
            parts.append(f"\\U{av:08x}")
        elif op is C.RANGE:
            parts.append(f"\\U{av[0]:08x}-\\U{av[1]:08x}")
        elif op is C.CATEGORY:
            parts.append(_CATEGORY_SRC[av])
        else:
            raise ValueError(f"unexpected set item {op}")
    return "[" + "".join(parts) + "]"


def char_set(items, flags: int) -> Ranges:
    """The set a bracketed class (the parser's ``IN`` item list) matches under ``flags``."""
    if flags & re.IGNORECASE:
        return oracle(_set_source(items), flags)
    negate, parts = False, []
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            parts.append(((av, av),))
        elif op is C.RANGE:
            parts.append(((av[0], av[1]),))
        elif op is C.CATEGORY:
            parts.append(category(av, flags))
        else:
            raise ValueError(f"unexpected set item {op}")
    s = union(*parts)
    return complement(s) if negate else s
