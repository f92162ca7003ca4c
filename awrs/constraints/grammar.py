"""Lark grammars as exact incremental byte-level constraints (LALR(1) fast path, Earley
fallback)."""

from __future__ import annotations

import functools
import logging
import re
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..errors import ConfigurationError, ConstraintError, UnsupportedFeatureError
from .base import Completion, IncrementalConstraint
from .earley import EarleyBackend
from .lalr import LALRBackend
from .lexer import DEAD, LazyDFA, Program

if TYPE_CHECKING:
    from lark.lexer import Scanner

__all__ = ["Grammar"]

_PARSERS = ("auto", "lalr", "earley")


class Grammar(IncrementalConstraint, Completion):
    """Byte strings that a Lark grammar parses, checked exactly on every prefix.

    Semantics. ``complete_ok(b)`` is true iff lark itself parses ``b.decode("utf-8")``: with
    ``Lark(text, parser="lalr")`` (contextual lexer) on the LALR path, and with
    ``Lark(text, parser="earley", lexer="basic")`` on the fallback. ``prefix_ok(b)`` asks whether
    some continuation completes. The lexer is lark's, reproduced exactly (see
    :mod:`awrs.constraints.lexer`): at each position the terminals allowed there are tried in
    lark's order and the first that matches wins, with Python's leftmost-first match — greedy for
    ``\\d+`` (maximal munch), shortest for lazy patterns such as ``common.ESCAPED_STRING``. A
    token may end inside a terminal, span several, or split a UTF-8 character: the state keeps
    the undecided lexeme (its bytes and the automaton state holding every terminal still possible,
    in priority order, with the best match so far) and decides it only once the text does, so
    nothing is guessed and nothing needs backtracking.

    Where ``prefix_ok`` may over-approximate (never rejecting a viable prefix): the undecided
    lexeme is checked exactly — some continuation decides it, under lark's priorities, as a
    terminal the parser accepts (:meth:`~awrs.constraints.lexer.LazyDFA.can_decide`; past 256
    lexer configurations it answers yes) — but any parser state reached by acceptable
    terminals is taken as completable. That holds for grammars without unproductive rules and
    with whitespace ``%ignore``d between adjacent terminals that would otherwise merge;
    ``tests/constraints/test_grammar_exact.py`` checks both conditions for the shipped grammars
    and the grammars the tests build.

    Args:
        lark_text: the grammar in Lark syntax (``%import common.X``, ``%ignore``, priorities,
            ``"kw"i`` case-insensitive strings, regex terminals).
        start: the start rule.
        parser: ``"lalr"`` (lark's LALR(1) table, hot loop compiled), ``"earley"`` (Earley
            recogniser over terminals of lark's basic lexer; O(|G| n) per token, see
            :mod:`awrs.constraints.earley`) or ``"auto"``: LALR(1) unless lark reports a
            conflict (shift/reduce or reduce/reduce), then Earley.
        import_paths: folders searched by ``%import`` of grammar files. Without them (a
            grammar given as text, e.g. by a request to ``awrs serve``) ``%import`` may name
            only lark's ``common`` library and the grammars shipped with awrs (``json``,
            ``sql``): nothing is looked up on the disk.

    Raises:
        ConstraintError: the grammar is malformed (the message names the grammar line), or
            ``parser="lalr"`` for a grammar with a reduce/reduce conflict.
        UnsupportedFeatureError: a terminal uses regex syntax the byte-level lexer refuses.

    Construction uses lark itself (its grammar loader and LALR analysis) but skips lark's
    optional ``interegular`` terminal-collision warnings, which can take minutes on terminals
    with Unicode-wide classes. The state is a tuple ``(parser state, lexer state, pending
    bytes, best terminal, best length, left context)``; the parser state is an immutable LALR
    stack (a tuple) or Earley chart, so states are shared freely between particles.
    """

    def __init__(
        self,
        lark_text: str,
        start: str = "start",
        *,
        parser: str = "auto",
        import_paths: tuple[str, ...] = (),
    ):
        if parser not in _PARSERS:
            raise ConfigurationError(f"parser must be one of {_PARSERS}, got {parser!r}")
        if not isinstance(lark_text, str):
            raise ConfigurationError(f"lark_text must be str, got {type(lark_text).__name__}")
        self.text, self.start_symbol = lark_text, start
        import_paths = tuple(import_paths)
        if not import_paths:
            _check_imports(lark_text)
            import_paths = (_shipped_dir(),)
        self._c = _compile(lark_text, start, parser, import_paths)
        self.parser = self._c.backend.kind

    @classmethod
    def from_file(cls, path: str | Path, start: str = "start", *, parser: str = "auto") -> Grammar:
        """Load a ``.lark`` file (its folder is searched by ``%import``)."""
        path = Path(path)
        return cls(
            path.read_text(encoding="utf-8"), start, parser=parser, import_paths=(str(path.parent),)
        )

    def __repr__(self) -> str:
        return f"Grammar(start={self.start_symbol!r}, parser={self.parser!r})"

    def start(self):
        return self._c.initial

    def advance(self, state, token: bytes):
        return self._c.feed(state, token) if token else state

    def is_complete(self, state) -> bool:
        return self._c.complete(state)

    def alphabet(self) -> frozenset[int]:
        return self._c.alphabet

    def token_mask(self, state, trie) -> np.ndarray:
        """Boolean (V,) mask of the tokens ``advance`` accepts from ``state``.

        Same result as the generic trie walk; bytes that stay inside the open lexeme cost one
        automaton lookup instead of a full :meth:`advance`.
        """
        return self._c.token_mask(state, trie)

    def lark(self):
        """The ``Lark`` object whose language this constraint is (for parsing results)."""
        return self._c.lark


class _Compiled:
    """Everything built once per grammar: lexer automaton, parser backend, lexer tables."""

    def __init__(self, lark_obj, backend, term_names: list[str]):
        from lark.lexer import _create_unless

        self.lark, self.backend = lark_obj, backend
        self.names = term_names
        ids = {n: i for i, n in enumerate(term_names)}
        prog = Program()
        entry = {}
        flags = lark_obj.lexer_conf.g_regex_flags
        for t in lark_obj.terminals:
            entry[t.name] = prog.add_terminal(ids[t.name], t.name, t.pattern.to_regexp(), flags)
        self.ignore: list[frozenset[int]] = []
        self.unless: list[dict[int, Scanner]] = []
        pcs = []
        for lexer in backend.lexers:
            # what lark's BasicLexer._build_scanner does, without compiling its big regex
            terms, callback = _create_unless(
                lexer.terminals, lexer.g_regex_flags, lexer.re, lexer.use_bytes
            )
            pcs.append(prog.add_dispatch([entry[t.name] for t in terms]))
            self.ignore.append(frozenset(ids[n] for n in lexer.ignore_types))
            self.unless.append({ids[n]: cb.scanner for n, cb in callback.items()})
        self.targets = [
            {t: frozenset(ids[s.name] for s in sc.terminals) for t, sc in u.items()}
            for u in self.unless
        ]
        # keyword terminal -> (its text, case-insensitive), for the lexeme-prefix check
        self.kw_text = {
            ids[t.name]: (t.pattern.value, "i" in t.pattern.flags)
            for t in lark_obj.terminals
            if type(t.pattern).__name__ == "PatternStr"
        }
        self.prog, self.dfa = prog, LazyDFA(prog)
        self.pcs = pcs
        self.ctx = self.dfa.ctx
        self.width = prog.window
        self.starts = [self.dfa.state(pc) for pc in pcs]
        self.alphabet = prog.bytes_used()
        self._unless_memo: dict = {}
        self._cands: dict = {}
        p0 = backend.initial()
        self.initial = (p0, self._lexeme_start(p0, None), b"", -1, 0, None)

    def _lexeme_start(self, pstate, win) -> int:
        li = self.backend.lexer_index(pstate)
        if not self.ctx:
            return self.starts[li]
        return self.dfa.state(self.pcs[li], win is None, win or "")

    def _commit(self, pstate, term: int, lexeme: bytes):
        """Hand the decided lexeme to the parser (after lark's keyword callback)."""
        li = self.backend.lexer_index(pstate)
        scanner = self.unless[li].get(term)
        if scanner is not None:
            key = (li, term, lexeme)
            t = self._unless_memo.get(key)
            if t is None:
                name = scanner.fullmatch(lexeme.decode("utf-8"))
                t = self._unless_memo[key] = term if name is None else self.names.index(name)
            term = t
        if term in self.ignore[li]:
            return pstate
        return self.backend.feed(pstate, term)

    def _window(self, win, lexeme: bytes):
        if not self.ctx:
            return None
        w = self.width
        return ((win or "") + lexeme.decode("utf-8"))[-w:] if w else ""

    def feed(self, state, data: bytes | bytearray):
        """The state after ``data`` (None if no continuation can complete)."""
        pstate, sid, pend, bt, bl, win = state
        trans, step = self.dfa.trans, self.dfa.step
        i, n, base = 0, len(data), len(pend)  # the open lexeme is pend + data[:i]
        while i < n:
            b = data[i]
            r = trans.get(sid * 256 + b)
            nsid, m = r if r is not None else step(sid, b)
            if m >= 0:
                bt, bl = m, base + i
            if nsid != DEAD:
                sid = nsid
                i += 1
                continue
            if bt < 0:
                return None
            lex = pend + data[:i]
            pstate = self._commit(pstate, bt, lex[:bl])
            if pstate is None:
                return None
            win = self._window(win, lex[:bl])
            data, pend = lex[bl:] + data[i:], b""
            i, n, base = 0, len(data), 0
            sid, bt, bl = self._lexeme_start(pstate, win), -1, 0
        pend += data
        if pend and not self._pending_ok(pstate, sid, bt, pend):
            return None
        return (pstate, sid, pend, bt, bl, win)

    def _pending_ok(self, pstate, sid: int, bt: int, lexeme: bytes) -> bool:
        """Whether the undecided ``lexeme`` can still become a terminal the parser takes."""
        v = self._verdict(pstate, sid, bt)
        return v if v.__class__ is bool else self._keyword_ok(v, lexeme)

    def _verdict(self, pstate, sid: int, bt: int):
        """``_pending_ok`` before looking at the lexeme's bytes: a bool, or (when only a
        keyword that lark's callback makes of a live terminal is taken) what to check.

        Fast path: the terminals of live threads (a superset of those the lexeme can be
        decided as) and the highest-priority one (which can always be decided). Only when the
        parser takes some live terminal but not the top one does a search look for a
        continuation that decides the lexeme as one it takes (:meth:`LazyDFA.can_decide`)."""
        li = self.backend.lexer_index(pstate)
        key = (li, sid, bt)
        entry: Literal[True] | tuple[frozenset[int], int, dict[int, frozenset[int]]] | None
        entry = self._cands.get(key)
        if entry is None:
            terms = set(self.dfa.terms(sid))
            if bt >= 0:
                terms.add(bt)
            if terms & self.ignore[li]:
                entry = True
            else:
                targets = self.targets[li]
                entry = (
                    self._expand(li, terms),
                    self.dfa.top(sid),
                    {t: targets.get(t, frozenset()) for t in terms},
                )
            self._cands[key] = entry
        if entry is True:
            return True
        live, top, each = entry
        take = self.backend.can_take
        if not take(pstate, live):
            return False
        want, kws = set(), {}
        for t, targets in each.items():
            if take(pstate, (t,)):
                want.add(t)
            else:
                ks = frozenset(k for k in targets if take(pstate, (k,)))
                if ks:
                    kws[t] = ks
        if top in want:
            return True
        if want and self._decide(li, sid, bt, frozenset(want)):
            return True
        if not kws:
            return False
        return (li, sid, bt, tuple(kws.items()))

    def _decide(self, li: int, sid: int, bt: int, want: frozenset[int]) -> bool:
        dkey = ("decide", li, sid, bt, want)
        ok = self._cands.get(dkey)
        if ok is None:
            ok = self._cands[dkey] = self.dfa.can_decide(sid, bt, want)
        return ok

    def _keyword_ok(self, v, lexeme: bytes) -> bool:
        """Some keyword the parser takes still starts with ``lexeme``, and the lexeme can be
        decided as the terminal whose callback turns it into that keyword."""
        li, sid, bt, kws = v
        try:
            text = lexeme.decode("utf-8")
        except UnicodeDecodeError:
            return False
        for t, ks in kws:
            for k in ks:
                kw = self.kw_text.get(k)
                if kw is not None:
                    value, ci = kw
                    if not (
                        value.lower().startswith(text.lower()) if ci else value.startswith(text)
                    ):
                        continue
                if self._decide(li, sid, bt, frozenset((t,))):
                    return True
        return False

    def _expand(self, li: int, terms) -> frozenset[int]:
        """``terms`` with the keywords lark's callbacks may turn them into."""
        found, targets = set(terms), self.targets[li]
        for t in list(found):
            found.update(targets.get(t, ()))
        return frozenset(found)

    def token_mask(self, state, trie) -> np.ndarray:
        """The vocabulary trie walk of :meth:`Grammar.token_mask`.

        Per trie depth ``d`` it keeps the configuration after the first ``d`` bytes of the
        current path, with the open lexeme as ``pend + path[start:d]``; a byte that keeps the
        lexeme open updates the automaton state only, a byte that decides it runs :meth:`feed`.
        """
        byte, depth, skip, tok_node = _trie_lists(trie)
        trans, step, feed = self.dfa.trans, self.dfa.step, self.feed
        top = (max(depth) if depth else 0) + 2
        pstate, sid, pend, bt, bl, win = state
        # per depth: parser state, lexer state, best (terminal, length), pend, start, window
        ps, sids, bts, bls = [pstate] * top, [sid] * top, [bt] * top, [bl] * top
        pends, starts, wins = [pend] * top, [0] * top, [win] * top
        path = bytearray(top)
        memos: dict[int, tuple] = {}
        hits = []
        i, n = 1, len(byte)
        while i < n:
            d, b = depth[i], byte[i]
            path[d - 1] = b
            p, s0 = ps[d - 1], sids[d - 1]
            r = trans.get(s0 * 256 + b)
            nsid, m = r if r is not None else step(s0, b)
            if nsid != DEAD:
                start, pend = starts[d - 1], pends[d - 1]
                bt, bl = (m, len(pend) + d - 1 - start) if m >= 0 else (bts[d - 1], bls[d - 1])
                entry = memos.get(id(p))
                if entry is None or entry[0] is not p:
                    entry = memos[id(p)] = (p, {})
                ok = entry[1].get((nsid, bt))
                if ok is None:
                    ok = entry[1][(nsid, bt)] = self._verdict(p, nsid, bt)
                if ok.__class__ is not bool:
                    ok = self._keyword_ok(ok, pend + bytes(path[start:d]))
                if not ok:
                    i = skip[i]
                    continue
                ps[d], sids[d], bts[d], bls[d] = p, nsid, bt, bl
                pends[d], starts[d], wins[d] = pend, start, wins[d - 1]
            else:  # the open lexeme is decided by this byte: the general path
                start = starts[d - 1]
                full = (
                    p,
                    s0,
                    pends[d - 1] + bytes(path[start : d - 1]),
                    bts[d - 1],
                    bls[d - 1],
                    wins[d - 1],
                )
                full = feed(full, path[d - 1 : d])
                if full is None:
                    i = skip[i]
                    continue
                ps[d], sids[d], pends[d], bts[d], bls[d], wins[d] = full
                starts[d] = d
            hits.append(i)
            i += 1
        mask = np.zeros(trie.vocab_size, dtype=bool)
        node_ok = np.zeros(n + 1, dtype=bool)
        node_ok[hits] = True
        mask[trie.tok_ids[node_ok[tok_node]]] = True
        return mask

    def complete(self, state) -> bool:
        pstate, sid, pend, bt, bl, win = state
        while pend:
            m = self.dfa.eof(sid)
            if m >= 0:
                bt, bl = m, len(pend)
            if bt < 0:
                return False
            pstate = self._commit(pstate, bt, pend[:bl])
            if pstate is None:
                return False
            rest, win = pend[bl:], self._window(win, pend[:bl])
            nxt = self.feed((pstate, self._lexeme_start(pstate, win), b"", -1, 0, win), rest)
            if nxt is None:
                return False
            pstate, sid, pend, bt, bl, win = nxt
        return self.backend.feed_end(pstate)


#: per vocabulary trie, what :func:`_trie_lists` returns (dropped with the trie)
_TRIE_LISTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _trie_lists(trie):
    """The trie's arrays as lists, and the node of each ``tok_ids`` entry (cached per trie)."""
    got = _TRIE_LISTS.get(trie)
    if got is None:
        tok_node = np.repeat(np.arange(trie.n_nodes), np.diff(trie.tok_ptr))
        got = _TRIE_LISTS[trie] = (
            trie.byte.tolist(),
            trie.depth.tolist(),
            trie.skip.tolist(),
            tok_node,
        )
    return got


# -- building ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _compile(text: str, start: str, parser: str, import_paths: tuple[str, ...]) -> _Compiled:
    from lark.exceptions import GrammarError

    opts = dict(start=start, import_paths=list(import_paths))
    if parser in ("auto", "lalr"):
        obj = None
        with _ConflictLog() as log:
            try:
                obj = _lark(text, opts, raw=True, parser="lalr", lexer="contextual")
            except GrammarError as exc:
                if "Reduce/Reduce" not in str(exc):
                    raise _grammar_error(exc, text) from exc
                if parser == "lalr":
                    raise ConstraintError(
                        f"the grammar is not LALR(1) ({str(exc).splitlines()[0]}); "
                        f"expected an LALR(1) grammar, or use parser='earley' or "
                        f"parser='auto'"
                    ) from exc
            except Exception as exc:
                raise _grammar_error(exc, text) from exc
        if obj is not None and not (parser == "auto" and log.conflicts):
            names = [t.name for t in obj.terminals] + ["$END"]
            return _Compiled(obj, LALRBackend(obj, _ids(names, obj), start), names)
    obj = _lark(text, opts, parser="earley", lexer="basic")
    names = [t.name for t in obj.terminals] + ["$END"]
    backend = EarleyBackend(obj, _ids(names, obj), start)
    if backend.start_sym < 0:
        raise ConstraintError(f"the grammar has no rule {start!r} (the start rule)")
    return _Compiled(obj, backend, names)


def _shipped_dir() -> str:
    """The folder of the grammars shipped with awrs (the package ``awrs.grammars``)."""
    import importlib.resources

    return str(importlib.resources.files("awrs.grammars"))


@functools.lru_cache(maxsize=1)
def _shipped() -> frozenset[str]:
    """What a grammar given as text may ``%import``: ``common`` and the shipped grammars."""
    return frozenset({"common"} | {p.stem for p in Path(_shipped_dir()).glob("*.lark")})


def _check_imports(text: str) -> None:
    """Refuse an ``%import`` other than ``common.X`` or a shipped grammar's (``sql.X``): the
    refusal is the same whether or not a file of that name exists anywhere."""
    from lark.exceptions import LarkError
    from lark.load_grammar import _parse_grammar

    try:
        tree = _parse_grammar(text, "<string>")
    except (LarkError, ValueError, KeyError):
        return  # malformed: lark reports it (before any import) when the grammar is built
    allowed = _shipped()
    for stmt in tree.children:
        if getattr(stmt, "data", None) != "import":
            continue
        path = stmt.children[0]
        dotted = [str(tok) for tok in path.children]
        if (
            path.data == "import_lib"
            and len(dotted) >= 1
            and dotted[0] in allowed
            and (len(dotted) == 2 or (len(dotted) == 1 and len(stmt.children) > 1))
        ):
            continue  # common.X, sql.X, or common (A, B)
        line = getattr(path.children[0], "line", "?")
        raise ConstraintError(
            f"%import of {'.' if path.data == 'import_rel' else ''}{'.'.join(dotted)!s} at "
            f"line {line} is not allowed in a grammar given as text: expected imports from "
            f"lark's common library or the grammars shipped with awrs "
            f"({', '.join(sorted(allowed))}), e.g. %import common.WS; use "
            f"Grammar.from_file or import_paths to import other grammar files"
        )


def _ids(names: list[str], lark_obj=None) -> dict[str, int]:
    if lark_obj is not None:
        used = {s.name for r in lark_obj.rules for s in r.expansion if s.is_term}
        missing = sorted(used - set(names))
        if missing:
            raise UnsupportedFeatureError(
                f"terminals {missing} have no pattern (%declare'd terminals need a lark "
                f"postlexer, which awrs does not run); expected every terminal defined"
            )
    return {n: i for i, n in enumerate(names)}


def _lark(text: str, opts: dict, raw: bool = False, **kw):
    """Build the Lark object; errors become ConstraintError unless ``raw``."""
    import lark.lexer
    from lark import Lark
    from lark.exceptions import LarkError

    # lark's optional interegular pass only logs terminal-collision warnings, and takes
    # minutes on Unicode-wide classes: skip it
    saved, lark.lexer.has_interegular = lark.lexer.has_interegular, False
    try:
        return Lark(text, **opts, **kw)
    except (LarkError, OSError, ValueError, KeyError) as exc:  # KeyError etc.: bad %import
        if raw:
            raise
        raise _grammar_error(exc, text) from exc
    finally:
        lark.lexer.has_interegular = saved


def _grammar_error(exc: Exception, text: str) -> ConstraintError:
    """A ConstraintError naming the grammar line lark's error points at (or mentions)."""
    full = str(exc).strip()
    msg = full.splitlines()[0] if full else type(exc).__name__
    lines = text.splitlines()
    line = getattr(exc, "line", None)
    if not isinstance(line, int) or line < 1:
        line = _mentioned_line(full, lines)
    if line and line <= len(lines):
        where = f" at line {line}: {lines[line - 1].strip()!r}"
    else:
        where = " (no grammar line to point at)"
    return ConstraintError(
        f"malformed Lark grammar{where}: {msg} (expected a grammar lark accepts)"
    )


def _mentioned_line(msg: str, lines: list[str]) -> int | None:
    """The line defining (else mentioning) the first symbol the message quotes."""
    for a, b, c in re.findall(r"'([A-Za-z_][\w.]*)'|\(([A-Za-z_]\w*):|token (\w+)", msg):
        name = a or b or c
        name = name[:-5] if name.endswith(".lark") else name.split(".")[-1]
        pat = re.compile(rf"^\s*[?!]?{re.escape(name)}(?:\.-?\d+)?\s*:")
        hits = [i for i, s in enumerate(lines, 1) if pat.search(s)]
        if hits:  # a definition: the second one if the symbol is defined twice
            return hits[1] if "more than once" in msg and len(hits) > 1 else hits[0]
        pat = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
        hit = next((i for i, s in enumerate(lines, 1) if pat.search(s)), None)
        if hit is not None:
            return hit
    return None


class _ConflictLog(logging.Handler):
    """Collects lark's (debug-level) shift/reduce conflict reports while building a table."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.conflicts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "Shift/Reduce conflict" in record.getMessage():
            self.conflicts.append(record.getMessage())

    def __enter__(self):
        from lark import logger

        self._saved = logger, logger.level, logger.handlers[:], logger.propagate
        logger.handlers[:] = [self]
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc) -> None:
        logger, level, handlers, propagate = self._saved
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)
