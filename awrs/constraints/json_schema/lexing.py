"""JSON lexing on decoded text: string content with escapes, number syntax, whitespace."""

from __future__ import annotations

import re

import regex

#: A run of plain string characters (no quote, backslash or control character).
_RUN = re.compile(r'[^"\\\x00-\x1f]+')
#: The characters a number token may hold.
NUMBER_CHARS = re.compile(r"[0-9+\-.eE]+")
#: RFC 8259 number grammar, used with ``partial=True`` for prefixes.
NUMBER = regex.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
WHITESPACE = frozenset(" \t\n\r")
DIGITS_START = frozenset("-0123456789")

_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")


def scan_string(text: str, i: int, esc: str) -> tuple[str, int, str, bool] | None:
    """Scan JSON string content of ``text`` from ``i`` (after the opening quote).

    ``esc`` holds an escape sequence left unfinished by the previous chunk (``""`` if none).
    Lone surrogates (``\\ud800`` not followed by a low surrogate escape) are rejected.

    Returns:
        ``(decoded, j, esc, closed)``: the decoded characters, the index after what was
        consumed (after the closing quote when ``closed``), the unfinished escape; or ``None``
        when the text cannot continue a JSON string.
    """
    parts: list[str] = []
    n = len(text)
    while i < n:
        if esc:
            c = text[i]
            i += 1
            nxt = _escape_step(esc, c, parts)
            if nxt is None:
                return None
            esc = nxt
            continue
        m = _RUN.match(text, i)
        if m is not None:
            parts.append(m.group())
            i = m.end()
            if i >= n:
                break
        c = text[i]
        if c == '"':
            return "".join(parts), i + 1, "", True
        if c == "\\":
            esc = "\\"
            i += 1
            continue
        return None  # a raw control character
    return "".join(parts), i, esc, False


def _escape_step(esc: str, c: str, out: list) -> str | None:
    """Extend the escape ``esc`` by ``c``; append a finished character to ``out``."""
    k = len(esc)
    if k == 1:
        ch = _SIMPLE.get(c)
        if ch is not None:
            out.append(ch)
            return ""
        return "\\u" if c == "u" else None
    if k == 6:
        return esc + c if c == "\\" else None
    if k == 7:
        return esc + c if c == "u" else None
    if c not in _HEX:
        return None
    esc += c
    if len(esc) == 6:
        v = int(esc[2:], 16)
        if 0xDC00 <= v < 0xE000:
            return None
        if 0xD800 <= v < 0xDC00:
            return esc
        out.append(chr(v))
        return ""
    if len(esc) == 12:
        lo = int(esc[8:], 16)
        if not 0xDC00 <= lo < 0xE000:
            return None
        hi = int(esc[2:6], 16)
        out.append(chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)))
        return ""
    # digits that can only end as a lone surrogate (\udc.., \ud83d\u0..) end here
    return esc if escape_ranges(esc) else None


def number_prefix_ok(s: str) -> bool:
    """Whether ``s`` can be extended to an RFC 8259 number."""
    return NUMBER.fullmatch(s, partial=True) is not None


def number_complete(s: str) -> bool:
    """Whether ``s`` is an RFC 8259 number."""
    return NUMBER.fullmatch(s) is not None


_ALL = ((0, 0xD7FF), (0xE000, 0x10FFFF))


def escape_ranges(esc: str) -> tuple[tuple[int, int], ...]:
    """The code points an unfinished escape (``\\``, ``\\u12``, ``\\ud83d\\u``…) can still
    become, as sorted inclusive ranges (never a lone surrogate)."""
    if len(esc) <= 1:
        return _ALL
    if len(esc) < 6:  # \u and 0-3 hex digits
        k = 4 - (len(esc) - 2)
        lo = int(esc[2:] or "0", 16) << (4 * k)
        hi = lo + (1 << (4 * k)) - 1
        out = [(a, b) for a, b in ((lo, min(hi, 0xD7FF)), (max(lo, 0xE000), hi)) if a <= b]
        h0, h1 = max(lo, 0xD800), min(hi, 0xDBFF)
        if h0 <= h1:  # a high surrogate: the pair encodes a supplementary character
            out.append((0x10000 + ((h0 - 0xD800) << 10), 0x10000 + ((h1 - 0xD800) << 10) + 0x3FF))
        return tuple(sorted(out))
    base = 0x10000 + ((int(esc[2:6], 16) - 0xD800) << 10)
    digits = esc[8:]
    k = 4 - len(digits)
    lo = max(int(digits or "0", 16) << (4 * k), 0xDC00)
    hi = min((int(digits or "0", 16) << (4 * k)) + (1 << (4 * k)) - 1, 0xDFFF)
    if lo > hi:
        return ()
    return ((base + lo - 0xDC00, base + hi - 0xDC00),)


def in_ranges(cp: int, ranges) -> bool:
    """Whether code point ``cp`` lies in one of the inclusive ``ranges``."""
    return any(a <= cp <= b for a, b in ranges)
