"""Layout of JSON text: nesting depth and bounded whitespace, checked by a lexical scanner.

The scanner runs over the document beside the value machines. It knows only where strings
begin and end, so it can count the open containers (the nesting depth) and the whitespace run of
the current gap between tokens, and reject a prefix the moment either leaves its bound.
"""

from __future__ import annotations

import re
from typing import cast

from ...errors import ConfigurationError

#: A run of string content that leaves the string state unchanged.
_STR_RUN = re.compile(r'[^"\\]+')
_OPEN, _CLOSE = frozenset("[{"), frozenset("]}")
_NEWLINE = 1 << 20  # flag in a run: a newline was seen
_CR = 1 << 21  # flag in a run: it ends with a carriage return (a newline must follow)


class Layout:
    """Which whitespace may separate tokens, and how deep values may nest.

    Args:
        whitespace: ``"natural"``: a gap holds nothing, one space (or tab), or one newline
            (``\\n`` or ``\\r\\n``) followed by at most ``indent`` spaces or tabs per open
            container, the layout of ``json.dumps(v, indent=...)`` and of ``", "``/``": "``;
            ``"compact"`` (or ``None``): no whitespace; an int ``k``: at most ``k``
            whitespace characters of any kind per gap.
        max_depth: the most containers open at once; a deeper prefix is rejected.
        indent: spaces per level allowed after a newline in the natural layout.
    """

    __slots__ = ("mode", "bound", "max_depth", "indent")
    mode: str
    bound: int | None  # an int in the bounded mode, None in the natural one

    def __init__(self, whitespace="natural", max_depth: int = 64, indent: int = 4):
        if whitespace is None or whitespace == "compact":
            self.mode, self.bound = "bounded", 0
        elif whitespace == "natural":
            self.mode, self.bound = "natural", None
        elif isinstance(whitespace, int) and not isinstance(whitespace, bool) and whitespace >= 0:
            self.mode, self.bound = "bounded", whitespace
        else:
            raise ConfigurationError(
                f"whitespace must be 'natural', 'compact' (or None) or a non-negative int "
                f"bound, got {whitespace!r}"
            )
        if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
            raise ConfigurationError(f"max_depth must be a positive int, got {max_depth!r}")
        self.max_depth, self.indent = max_depth, indent

    @property
    def any_whitespace(self) -> bool:
        """Whether whitespace can occur at all (between tokens)."""
        return self.mode == "natural" or bool(self.bound)

    #: The state of the empty prefix: (depth, in string, after a backslash, gap run).
    initial = (0, False, False, 0)

    def scan(self, st: tuple, text: str) -> tuple | None:
        """The state after ``text``, or ``None`` if it nests too deep or breaks the layout."""
        depth, in_str, esc, run = st
        i, n = 0, len(text)
        while i < n:
            if in_str:
                if esc:
                    esc = False
                    i += 1
                    continue
                m = _STR_RUN.match(text, i)
                if m is not None:
                    i = m.end()
                    continue
                c = text[i]
                i += 1
                if c == "\\":
                    esc = True
                else:  # the closing quote
                    in_str = False
                continue
            c = text[i]
            i += 1
            if c in " \t\n\r":
                run = self._ws(run, c, depth)
                if run is None:
                    return None
                continue
            if run & _CR:
                return None  # a carriage return not followed by a newline
            run = 0
            if c == '"':
                in_str = True
            elif c in _OPEN:
                depth += 1
                if depth > self.max_depth:
                    return None
            elif c in _CLOSE:
                depth -= 1
        return depth, in_str, esc, run

    def _ws(self, run: int, c: str, depth: int) -> int | None:
        if self.mode == "bounded":
            return run + 1 if run < cast(int, self.bound) else None
        if c == "\n":
            if run & _CR:
                return _NEWLINE  # \r\n
            return None if run else _NEWLINE
        if run & _CR:
            return None
        if c == "\r":
            return None if run else _NEWLINE | _CR
        if run & _NEWLINE:  # indentation
            k = run & 0xFFFF
            return run + 1 if k < self.indent * depth else None
        return 1 if run == 0 else None

    def ok_to_end(self, st: tuple) -> bool:
        """Whether the document may end in state ``st`` (no dangling carriage return)."""
        return not st[3] & _CR
