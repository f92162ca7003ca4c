"""Lark's lexer as a lazily built byte-level automaton with Python's leftmost-first semantics."""

from __future__ import annotations

import re
import re._constants as C
import re._parser as sre_parse

from ..errors import ConstraintError, ConstraintSizeError, UnsupportedFeatureError
from .regex import charset as cs

BYTE, SPLIT, JMP, MATCH, ASSERT = range(5)
# assertion kinds
A_START, A_BOL_M, A_EOS, A_EOL_M, A_WORDB, A_NWORDB, A_BEHIND, A_NBEHIND = range(8)
DEAD = 0
MAX_PROGRAM = 400_000

_ASCII_WORD = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")


def utf8_sequences(ranges) -> list[tuple[tuple[int, int], ...]]:
    """Byte-range sequences whose concatenations are exactly the UTF-8 encodings of ``ranges``.

    Surrogates are left out (they never occur in valid UTF-8).
    """
    out: list = []
    for lo, hi in cs.intersect(tuple(ranges), cs.VALID):
        for a, b in ((0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF)):
            lo2, hi2 = max(lo, a), min(hi, b)
            if lo2 <= hi2:
                _split(lo2, hi2, out)
    return out


def _split(lo: int, hi: int, out: list) -> None:
    n = len(chr(lo).encode("utf-8", "surrogatepass"))
    for i in range(1, n):
        m = (1 << (6 * i)) - 1
        if lo & ~m != hi & ~m:
            if lo & m:
                _split(lo, lo | m, out)
                _split((lo | m) + 1, hi, out)
                return
            if hi & m != m:
                _split(lo, (hi & ~m) - 1, out)
                _split(hi & ~m, hi, out)
                return
    a, b = chr(lo).encode(), chr(hi).encode()
    out.append(tuple(zip(a, b, strict=True)))


class Program:
    """A byte-level NFA with prioritised splits (first target preferred).

    Parallel lists ``op``, ``x``, ``y`` and ``term`` (the terminal a pc belongs to, -1 for
    dispatchers). ``BYTE``: consume a byte in ``[y >> 8, y & 255]`` then go to ``x``;
    ``SPLIT``: ``x`` then ``y``; ``JMP``: ``x``; ``MATCH``: terminal ``x`` matched;
    ``ASSERT``: zero-width check ``self.asserts[y]`` then ``x``.
    """

    def __init__(self):
        self.op: list[int] = []
        self.x: list[int] = []
        self.y: list[int] = []
        self.term: list[int] = []
        self.asserts: list[tuple] = []
        self.window = 0  # characters of left context assertions need
        self._cur_term = -1

    def emit(self, op: int, x: int = -1, y: int = -1) -> int:
        if len(self.op) >= MAX_PROGRAM:
            raise ConstraintSizeError(
                f"the lexer automaton needs more than {MAX_PROGRAM} instructions; "
                f"simplify the terminals (large counted repetitions of wide classes)"
            )
        self.op.append(op)
        self.x.append(x)
        self.y.append(y)
        self.term.append(self._cur_term)
        return len(self.op) - 1

    # -- regex compilation (continuation-passing: compile(node, next) -> entry pc) ---------
    def add_terminal(self, tid: int, name: str, regexp: str, flags: int = 0) -> int:
        """Compile terminal ``tid`` (pattern ``regexp``) ending in ``MATCH tid``; its entry."""
        try:
            parsed = sre_parse.parse(regexp, flags)
        except re.error as exc:
            raise ConstraintError(f"terminal {name}: malformed regex {regexp!r}: {exc}") from exc
        self._cur_term = tid
        self._name = name
        try:
            end = self.emit(MATCH, tid)
            return self._seq(list(parsed), parsed.state.flags, end)
        finally:
            self._cur_term = -1

    def add_dispatch(self, entries: list[int]) -> int:
        """A pc trying ``entries`` in priority order (Lark's scanner alternation)."""
        if not entries:
            return self._fail()
        pc = entries[-1]
        for e in reversed(entries[:-1]):
            pc = self.emit(SPLIT, e, pc)
        return pc

    def _fail(self) -> int:
        return self.emit(BYTE, -1, (1 << 8) | 0)  # empty byte range: never matches

    def _unsupported(self, what: str):
        return UnsupportedFeatureError(
            f"terminal {self._name}: {what} is not supported by the byte-level lexer "
            f"(expected literals, classes, groups, alternation, quantifiers, anchors or "
            f"fixed-width look-behind)"
        )

    def _seq(self, nodes, flags: int, nxt: int) -> int:
        for op, av in reversed(nodes):
            nxt = self._node(op, av, flags, nxt)
        return nxt

    def _node(self, op, av, flags: int, nxt: int) -> int:
        if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN):
            return self._charset(self._class(op, av, flags), nxt)
        if op is C.SUBPATTERN:
            _group, add, dele, sub = av
            return self._seq(list(sub), (flags | add) & ~dele, nxt)
        if op is C.BRANCH:
            alts = [self._seq(list(b), flags, nxt) for b in av[1]]
            pc = alts[-1]
            for a in reversed(alts[:-1]):
                pc = self.emit(SPLIT, a, pc)
            return pc
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            return self._repeat(av, flags, nxt, greedy=op is C.MAX_REPEAT)
        if op is C.AT:
            return self._at(av, flags, nxt)
        if op in (C.ASSERT, C.ASSERT_NOT):
            direction, sub = av
            if direction != -1:
                raise self._unsupported("look-ahead (?=...)/(?!...)")
            lo, hi = sub.getwidth()
            if lo != hi:
                raise self._unsupported("variable-width look-behind")
            inner = Program()
            inner._name = self._name
            start = inner._seq(list(sub), flags, inner.emit(MATCH, 0))
            self.window = max(self.window, lo)
            kind = A_BEHIND if op is C.ASSERT else A_NBEHIND
            self.asserts.append((kind, inner, start, lo))
            return self.emit(ASSERT, nxt, len(self.asserts) - 1)
        names = {
            C.GROUPREF: "a back-reference",
            C.GROUPREF_EXISTS: "a conditional group",
            C.ATOMIC_GROUP: "an atomic group",
            C.POSSESSIVE_REPEAT: "a possessive quantifier",
        }
        raise self._unsupported(names.get(op, str(op)))

    def _class(self, op, av, flags: int):
        if op is C.LITERAL:
            return cs.literal(av, flags)
        if op is C.NOT_LITERAL:
            return cs.complement(cs.literal(av, flags))
        if op is C.ANY:
            return cs.ANY_CP if flags & re.DOTALL else cs.complement(cs.NEWLINE)
        return cs.char_set(av, flags)

    def _charset(self, ranges, nxt: int) -> int:
        trie: dict = {}
        for seq in utf8_sequences(ranges):
            node = trie
            for r in seq:
                node = node.setdefault(r, {})
        return self._trie(trie, nxt) if trie else self._fail()

    def _trie(self, node: dict, nxt: int) -> int:
        alts = [
            self.emit(BYTE, self._trie(child, nxt) if child else nxt, (lo << 8) | hi)
            for (lo, hi), child in node.items()
        ]
        pc = alts[-1]
        for a in reversed(alts[:-1]):
            pc = self.emit(SPLIT, a, pc)
        return pc

    def _repeat(self, av, flags: int, nxt: int, greedy: bool) -> int:
        lo, hi, item = av
        if hi != lo and item.getwidth()[0] == 0:
            # sre stops iterating after an empty iteration; a Pike VM cannot mimic that
            raise self._unsupported("a quantified group that can match the empty string")
        item = list(item)
        if hi == C.MAXREPEAT:
            loop = self.emit(SPLIT)
            body = self._seq(item, flags, loop)
            self.x[loop], self.y[loop] = (body, nxt) if greedy else (nxt, body)
            pc = loop
        else:
            pc = nxt
            for _ in range(hi - lo):
                body = self._seq(item, flags, pc)
                pc = self.emit(SPLIT, *((body, nxt) if greedy else (nxt, body)))
        for _ in range(lo):
            pc = self._seq(item, flags, pc)
        return pc

    def _at(self, code, flags: int, nxt: int) -> int:
        multi = bool(flags & re.MULTILINE)
        if code is C.AT_BEGINNING:
            kind = A_BOL_M if multi else A_START
        elif code is C.AT_BEGINNING_STRING:
            kind = A_START
        elif code is C.AT_END_STRING:
            kind = A_EOS
        elif code is C.AT_END and multi:
            kind = A_EOL_M
        elif code in (C.AT_BOUNDARY, C.AT_NON_BOUNDARY) and flags & re.ASCII:
            kind = A_WORDB if code is C.AT_BOUNDARY else A_NWORDB
        elif code is C.AT_END:
            raise self._unsupported("'$' without MULTILINE (use \\Z or (?m)$)")
        else:
            raise self._unsupported("Unicode \\b/\\B (use the ASCII flag (?a))")
        if kind in (A_BOL_M, A_WORDB, A_NWORDB):
            self.window = max(self.window, 1)
        self.asserts.append((kind,))
        return self.emit(ASSERT, nxt, len(self.asserts) - 1)

    def bytes_used(self) -> frozenset[int]:
        """Every byte some ``BYTE`` instruction accepts."""
        out: set[int] = set()
        for op, y in zip(self.op, self.y, strict=True):
            if op == BYTE and y >= 0:
                out.update(range(y >> 8, (y & 255) + 1))
        return frozenset(out)


def _fullmatch_set(prog: Program, start: int, data: bytes) -> bool:
    """Whether ``data`` is in the language of ``prog`` from ``start`` (no assertions inside)."""
    cur = _eps(prog, [start])
    for b in data:
        nxt = []
        for pc in cur:
            if prog.op[pc] == BYTE and prog.y[pc] >> 8 <= b <= prog.y[pc] & 255:
                nxt.append(prog.x[pc])
        cur = _eps(prog, nxt)
    return any(prog.op[pc] == MATCH for pc in cur)


def _eps(prog: Program, pcs) -> list[int]:
    out, seen, stack = [], set(), list(reversed(pcs))
    while stack:
        pc = stack.pop()
        if pc in seen:
            continue
        seen.add(pc)
        op = prog.op[pc]
        if op == SPLIT:
            stack.append(prog.y[pc])
            stack.append(prog.x[pc])
        elif op == JMP:
            stack.append(prog.x[pc])
        elif op == ASSERT:
            raise UnsupportedFeatureError("assertions inside a look-behind are not supported")
        else:
            out.append(pc)
    return out


class LazyDFA:
    """The Pike VM over a :class:`Program`, determinised lazily.

    Lark scans with one alternation of the allowed terminals in a fixed order,
    ``re.match("(?P<A>...)|(?P<B>...)", text, pos)``: the first terminal (in order) that matches
    at ``pos`` wins, with the match Python's backtracking engine picks (greedy and lazy quantifiers
    mean *leftmost-first*, not longest). To check prefixes exactly we compile every terminal to a
    byte-level NFA with prioritised splits over UTF-8 and run it as a Pike VM: the ordered thread
    list after each byte is exactly the set of lexing alternatives still open (each terminal that
    may still match, in priority order), and a match found by a thread cuts every thread of lower
    priority. The thread lists are interned as states of a lazily built DFA, so after warm-up a
    byte costs one dictionary lookup. When no thread is left the lexeme is decided: the last match
    recorded (terminal, length) — the same one ``re`` would return on the complete text.

    Supported regex syntax: literals, classes (``\\d \\w \\s`` with Unicode or ASCII meaning),
    ``.``, groups, alternation, greedy and lazy quantifiers, scoped flags (i, s, m, x, a, u),
    anchors ``^ \\A \\Z``, ``$`` under MULTILINE, ``\\b \\B`` under ASCII, and fixed-width
    look-behind. Refused (:class:`~awrs.errors.UnsupportedFeatureError`): look-ahead,
    back-references, conditionals, atomic groups, possessive quantifiers, ``$`` without
    MULTILINE and Unicode ``\\b``/``\\B`` (they need characters beyond the next byte), and
    quantified groups that can match the empty string (``(a?)*``: ``re`` stops a loop after an
    empty iteration, which a Pike VM cannot mimic).

    A state is the ordered tuple of pcs reached after the last byte (plus, when the program
    has assertions, the left context: at-start flag, the last ``window`` characters and the
    bytes of a character begun but not finished). State 0 is dead (no thread left).

    ``step(sid, b) -> (next sid, terminal matched just before b or -1)``; ``eof(sid)`` gives
    the terminal matched at the end of the text or -1.
    """

    def __init__(self, prog: Program):
        self.prog = prog
        self.ctx = bool(prog.asserts)
        self.keys: list = [None]
        self.ids: dict = {}
        self.trans: dict[int, tuple[int, int]] = {}
        self._eof: dict[int, int] = {}
        self._terms: dict[int, frozenset[int]] = {}

    def state(self, pc: int, at_start: bool = False, window: str = "") -> int:
        """The state of a lexeme starting at dispatcher ``pc`` after left context ``window``."""
        key = (
            ((pc,), at_start, window[-self.prog.window :] if self.prog.window else "", b"")
            if self.ctx
            else (pc,)
        )
        return self._intern(key)

    def _intern(self, key) -> int:
        sid = self.ids.get(key)
        if sid is None:
            sid = self.ids[key] = len(self.keys)
            self.keys.append(key)
        return sid

    def step(self, sid: int, b: int) -> tuple[int, int]:
        """Transition on byte ``b`` (memoised in ``self.trans[sid * 256 + b]``)."""
        r = self.trans.get(sid * 256 + b)
        if r is None:
            r = self.trans[sid * 256 + b] = self._step(sid, b)
        return r

    def _step(self, sid: int, b: int) -> tuple[int, int]:
        if sid == DEAD:
            return DEAD, -1
        key = self.keys[sid]
        pcs = key[0] if self.ctx else key
        consumers, match = self._closure(key, pcs, b)
        x, y = self.prog.x, self.prog.y
        nxt: list[int] = []
        seen: set[int] = set()
        for pc in consumers:
            r = y[pc]
            if r >> 8 <= b <= r & 255:
                t = x[pc]
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        if not nxt:
            return DEAD, match
        if not self.ctx:
            return self._intern(tuple(nxt)), match
        _, at_start, window, partial = key
        partial += bytes((b,))
        try:
            ch = partial.decode("utf-8")
        except UnicodeDecodeError:
            ch = None
        if ch is not None:
            w = self.prog.window
            window, partial = ((window + ch)[-w:] if w else ""), b""
        return self._intern((tuple(nxt), False, window, partial)), match

    def eof(self, sid: int) -> int:
        """The terminal matched when the text ends in state ``sid`` (-1: none)."""
        r = self._eof.get(sid)
        if r is None:
            if sid == DEAD:
                r = -1
            else:
                key = self.keys[sid]
                r = self._closure(key, key[0] if self.ctx else key, -1)[1]
            self._eof[sid] = r
        return r

    def terms(self, sid: int) -> frozenset[int]:
        """Terminals some thread of ``sid`` belongs to (those that may still match)."""
        r = self._terms.get(sid)
        if r is None:
            key = self.keys[sid]
            pcs = key[0] if self.ctx else key
            r = self._terms[sid] = frozenset(
                t for t in map(self.prog.term.__getitem__, pcs) if t >= 0
            )
        return r

    def top(self, sid: int) -> int:
        """The terminal of the highest-priority live thread of ``sid`` (-1: none). It can
        always still be decided (no thread of higher priority exists to beat it)."""
        key = self.keys[sid]
        for pc in key[0] if self.ctx else key:
            t = self.prog.term[pc]
            if t >= 0:
                return t
        return -1

    def can_decide(self, sid: int, best: int, want: frozenset[int], cap: int = 256) -> bool:
        """Whether some continuation decides the lexeme open in ``sid`` (best match so far
        ``best``) as a terminal of ``want``, under leftmost-first priority: it ends (or the
        next byte leaves no thread) with such a best match, or reaches a state whose
        highest-priority thread (see :meth:`top`) is one. Depth-first, stopping at the first
        witness; ``True`` (unknown) after ``cap`` configurations."""
        seen, stack = {(sid, best)}, [(sid, best)]
        while stack:
            s, bt = stack.pop()
            if self.top(s) in want:
                return True
            m = self.eof(s)
            if (m if m >= 0 else bt) in want:
                return True
            for b in range(256):
                nsid, m = self.step(s, b)
                nb = m if m >= 0 else bt
                if nsid == DEAD:
                    if nb in want:
                        return True
                elif (nsid, nb) not in seen:
                    if len(seen) >= cap:
                        return True
                    seen.add((nsid, nb))
                    stack.append((nsid, nb))
        return False

    def _closure(self, key, pcs, nxt: int) -> tuple[list[int], int]:
        """Follow splits/asserts in priority order: consuming pcs, and the first match."""
        op, x, y = self.prog.op, self.prog.x, self.prog.y
        out: list[int] = []
        seen: set[int] = set()
        stack = list(reversed(pcs))
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            o = op[pc]
            if o == BYTE:
                out.append(pc)
            elif o == SPLIT:
                stack.append(y[pc])
                stack.append(x[pc])
            elif o == MATCH:
                return out, x[pc]
            elif o == JMP or self._check(self.prog.asserts[y[pc]], key, nxt):
                stack.append(x[pc])
        return out, -1

    @staticmethod
    def _check(a: tuple, key, nxt: int) -> bool:
        _, at_start, window, _partial = key
        kind = a[0]
        if kind == A_START:
            return at_start
        if kind == A_BOL_M:
            return at_start or window[-1:] == "\n"
        if kind == A_EOS:
            return nxt < 0
        if kind == A_EOL_M:
            return nxt < 0 or nxt == 10
        if kind in (A_WORDB, A_NWORDB):
            prev = bool(window) and ord(window[-1]) in _ASCII_WORD
            boundary = prev != (nxt in _ASCII_WORD)
            return boundary if kind == A_WORDB else not boundary
        _, inner, start, width = a
        ok = (
            len(window) >= width and _fullmatch_set(inner, start, window[-width:].encode())
            if width
            else True
        )
        return ok if kind == A_BEHIND else not ok
