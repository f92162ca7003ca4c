"""SMILES: chemically valid molecules, a constraint no grammar can express.

A prefix is accepted iff `partialsmiles <https://github.com/baoilleach/partialsmiles>`_ parses it
as a *partial* SMILES (syntax so far, valences not yet exceeded, finished aromatic systems
kekulizable); a text is complete iff ``partialsmiles`` parses it in full and RDKit sanitizes it.
Both come with the extra ``awrs[chem]``.

Prompt conventions are explicit options: a molecule may be preceded by one space
(``leading_space``, for prompts where the answer follows ``": "``) and ended by a newline
(``newline``: one molecule per line; nothing may follow it). The state is the molecule's text
with two flags, so resampled particles share it; parses are memoised per text.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Sequence

from ..errors import ConfigurationError
from .base import Completion, IncrementalConstraint

#: bytes of SMILES syntax besides letters and digits (``.`` and ``*`` are options)
SYNTAX = b"()[]=#$-+/\\@%"
LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))
DIGITS = b"0123456789"
#: appended by the completion search (:meth:`SMILES.close`), besides ring labels (a fresh
#: one, the open ones) and the digits of a cut ``%nn`` label
MOVES = ("]", ")", "C", "c", "O", "N", "n", "=O", "H]", "(", "(C)", "(=O)", "ccccc", "cccc")
LOWER = "abcdefghijklmnopqrstuvwxyz"
#: what may still follow inside a bracket atom, ``]`` first, tried breadth-first (``H4+]``)
#: with at most this many parses when checking that an open bracket atom can be closed
BRACKET_TAIL = "]H+-@1234"
BRACKET_PARSES = 40
#: steps of the greedy completion, then states the best-first search expands at most
GREEDY_STEPS = 24
SEARCH_NODES = 40
#: memoised parses per constraint
CACHE_SIZE = 1 << 16

# (text, ended by a newline, the leading space consumed)
State = tuple[str, bool, bool]


def _chem():
    """``(partialsmiles, rdkit.Chem, rdkit.rdBase)``, or a ConfigurationError naming the extra."""
    try:
        import partialsmiles
        from rdkit import Chem, rdBase
    except ImportError as exc:
        raise ConfigurationError(
            f"awrs.SMILES needs partialsmiles and RDKit ({exc.name} is missing): "
            "pip install 'awrs[chem]'"
        ) from None
    return partialsmiles, Chem, rdBase


class SMILES(IncrementalConstraint, Completion):
    """Valid molecules in SMILES (one molecule, no ``*`` dummy atoms, unless asked for).

    Args:
        fragments: allow ``.``-separated fragments (salts, mixtures).
        dummy_atoms: allow ``*`` atoms.
        leading_space: allow one space before the molecule.
        newline: allow one ``\\n`` after a complete molecule, ending the text.

    Raises:
        ConfigurationError: when ``partialsmiles`` or RDKit is missing (extra ``awrs[chem]``).
    """

    closing_nodes = 30  # the hints (:meth:`close`) find completions; keep failures cheap

    def __init__(
        self,
        *,
        fragments: bool = False,
        dummy_atoms: bool = False,
        leading_space: bool = False,
        newline: bool = True,
    ):
        self._ps, self._chem, self._rdbase = _chem()
        self.fragments, self.dummy_atoms = bool(fragments), bool(dummy_atoms)
        self.leading_space, self.newline = bool(leading_space), bool(newline)
        extra = (b"." if fragments else b"") + (b"*" if dummy_atoms else b"")
        self._chars = frozenset((LETTERS + DIGITS + SYNTAX + extra).decode())
        self._alphabet = frozenset(
            LETTERS + DIGITS + SYNTAX + extra + (b" " if leading_space else b"")
        ) | (frozenset(b"\n") if newline else frozenset())
        self._prefixes: OrderedDict[str, object] = OrderedDict()
        self._complete: OrderedDict[str, bool] = OrderedDict()
        self._closed: OrderedDict[str, str | None] = OrderedDict()
        self._loose_cache: OrderedDict[str, object] = OrderedDict()
        self.evaluations = 0  # partialsmiles parses run (statistic)

    def __repr__(self) -> str:
        opts = [
            f"{k}=True" for k in ("fragments", "dummy_atoms", "leading_space") if getattr(self, k)
        ]
        return f"SMILES({', '.join(opts + ([] if self.newline else ['newline=False']))})"

    # -- the incremental form ------------------------------------------------------------------
    def start(self) -> State:
        return ("", False, False)

    def advance(self, state: State, token: bytes) -> State | None:
        return self._advance(state, token, self._parse)

    def search_advance(self, state: State, token: bytes) -> State | None:
        """``advance`` without the bracket-atom closability check (completion searches reach
        the same complete molecules, and skip its cost on every bracket they try)."""
        return self._advance(state, token, self._loose)

    def _advance(self, state: State, token: bytes, parse) -> State | None:
        text, ended, spaced = state
        for byte in token:
            ch = chr(byte)
            if ended:
                return None
            if ch == "\n":
                if not (self.newline and self.molecule_ok(text)):
                    return None
                ended = True
            elif ch == " ":
                if not (self.leading_space and not text and not spaced):
                    return None
                spaced = True
            elif ch in self._chars:
                text += ch
            else:
                return None
        if text != state[0] and parse(text) is None:
            return None
        return (text, ended, spaced)

    def is_complete(self, state: State) -> bool:
        return state[1] or self.molecule_ok(state[0])

    def alphabet(self) -> frozenset[int]:
        return self._alphabet

    # -- checks --------------------------------------------------------------------------------
    def molecule_ok(self, text: str) -> bool:
        """Whether ``text`` (no spaces or newline) is a complete, valid molecule."""
        hit = self._complete.get(text)
        if hit is None:
            hit = self._check_complete(text)
            _store(self._complete, text, hit)
        return hit

    def _check_complete(self, text: str) -> bool:
        if not text or self._parse(text) is None:
            return False
        self.evaluations += 1
        try:
            self._ps.ParseSmiles(text, partial=False)
        except (self._ps.Error, IndexError):  # IndexError: a `%` label cut short at the end
            return False
        with self._rdbase.BlockLogs():
            return self._chem.MolFromSmiles(text) is not None

    def _parse(self, text: str):
        """partialsmiles' partial parse of ``text`` (its state), or None when rejected."""
        if text in self._prefixes:
            self._prefixes.move_to_end(text)
            return self._prefixes[text]
        value = self._parse_uncached(text)
        _store(self._prefixes, text, value)
        return value

    def _parse_uncached(self, text: str):
        cut = _open_label(text)
        if cut is None:
            return None
        if cut:  # a `%nn` label cut short: a prefix if one of its completions is
            return next(filter(None, map(self._checked, _padded(text, cut))), None)
        parsed = self._checked(text)
        if parsed is None and _cut_symbol(text):
            # partialsmiles refuses "[A" though "[As]" follows: a bracket atom's symbol cut
            # after its first letter is a prefix if a second letter makes one
            for second in LOWER:
                parsed = self._checked(text + second)
                if parsed is not None:
                    break
        if parsed is not None and _in_bracket(text) and not self._closable(text):
            return None
        return parsed

    def _loose(self, text: str):
        """:meth:`_parse` without the bracket-atom closability check (memoised apart)."""
        if not _in_bracket(text):
            return self._parse(text)
        if text in self._prefixes and self._prefixes[text] is not None:
            return self._prefixes[text]
        if text not in self._loose_cache:
            cut = _open_label(text)
            value = None
            if cut == 0:
                value = self._checked(text)
                if value is None and _cut_symbol(text):
                    value = next(filter(None, (self._checked(text + c) for c in LOWER)), None)
            _store(self._loose_cache, text, value)
        return self._loose_cache[text]

    def _closable(self, text: str) -> bool:
        """Whether the bracket atom open at the end of ``text`` can be closed into a valid
        prefix: partialsmiles checks an atom's valence only once its ``]`` is written, so
        ``[O-1`` after ``=`` passes though no ``]`` can follow it."""
        inner = text[text.rfind("[") + 1 :].lstrip(DIGITS.decode())
        if not inner:
            return True  # no element symbol yet: any may follow
        if not self._known_element(inner):
            return False
        level, budget = [text], BRACKET_PARSES
        while level and budget > 0:
            nxt = []
            for node in level:
                for ch in BRACKET_TAIL + (LOWER if _cut_symbol(node) else ""):
                    budget -= ch not in LOWER  # a cut symbol's second letters are free
                    child = self._checked(node + ch)
                    if child is not None and ch == "]":
                        return True
                    if child is not None:
                        nxt.append(node + ch)
                    if budget <= 0:
                        return False
            level = nxt
        return False

    def _known_element(self, inner: str) -> bool:
        """False when the bracket atom's symbol is complete (two letters) and partialsmiles
        knows no valence for its element: no ``]`` can ever close it."""
        symbol = inner[:2]
        if len(symbol) < 2 or not symbol.isalpha() or not symbol[1].islower():
            return True
        number = self._ps.elements.elements.get(symbol[0].upper() + symbol[1])
        return number is None or number == 0 or number in self._ps.valence.common_valencies

    def _checked(self, text: str):
        """partialsmiles' partial parse, refused also where an aromatic atom can no longer
        join a ring (RDKit refuses aromatic atoms outside rings; partialsmiles waits)."""
        parsed = self._partial(text)
        return None if parsed is None or _stranded_aromatic(parsed) else parsed

    def _partial(self, text: str):
        self.evaluations += 1
        try:
            return self._ps.ParseSmiles(text, partial=True)
        except self._ps.Error:
            return None

    # -- completions ---------------------------------------------------------------------------
    def close(self, text: str) -> str | None:
        """A short completion of ``text`` (a valid molecule that extends it), or None.

        First a greedy descent (each step appends the first of :meth:`_moves` that lowers
        :meth:`_openness`), then a small best-first search ordered by the length appended
        plus what is still open; memoised per text.
        """
        if text in self._closed:
            return self._closed[text]
        done = None
        if set(text) <= self._chars and self._parse(text) is not None:
            done = self._greedy(text) or self._search(text)
        _store(self._closed, text, done)
        return done

    def _greedy(self, text: str) -> str | None:
        node, open_ = text, self._openness(text)
        for _ in range(GREEDY_STEPS):
            if self.molecule_ok(node):
                return node
            best = None
            for move in self._moves(node):
                child = node + move
                if self._parse(child) is None:
                    continue
                score = self._openness(child)
                if self.molecule_ok(child):
                    return child
                if best is None or score < best[0]:
                    best = (score, child)
                if score < open_:
                    break
            if best is None:
                return None
            open_, node = best
        return None

    def _search(self, text: str) -> str | None:
        queue = [(self._openness(text), 0, text)]
        seen = {text}
        for _ in range(SEARCH_NODES):
            if not queue:
                return None
            _, depth, node = heapq.heappop(queue)
            for move in self._moves(node):
                child = node + move
                if child in seen or self._parse(child) is None:
                    continue
                if self.molecule_ok(child):
                    return child
                seen.add(child)
                heapq.heappush(queue, (depth + 1 + self._openness(child), depth + 1, child))
        return None

    def closing_hints(self, state: State) -> Sequence[bytes]:
        text, ended, _ = state
        if ended:
            return ()
        done = self.close(text)
        return () if done is None else (done[len(text) :].encode(),)

    def _openness(self, text: str) -> int:
        """What ``text`` still has to close: ring bonds (a cut ``%nn`` label counts as one),
        branches, a bracket atom, a bond symbol, aromatic atoms not yet in a ring."""
        parsed = self._parse(text)
        if parsed is None:
            return 1 << 20
        ring_ends = [atom for atom, _ in parsed.openbonds.values()]
        loose = sum(
            1
            for atom in parsed.mol.atoms
            if atom.arom and sum(b.arom for b in atom.bonds) + ring_ends.count(atom) < 2
        )
        return (
            2 * len(parsed.openbonds)
            + 2 * (len(parsed.prev) - 1)
            + int(text.rfind("[") > text.rfind("]"))
            + int(bool(parsed.bondchar))
            + loose
        )

    def _moves(self, text: str) -> list[str]:
        """What the completion searches append to ``text``, closers first: the digits of a cut
        ``%nn`` label; else the open ring labels (also after one carbon: a ring closes on
        an atom other than its opening), then :data:`MOVES`, a benzene ring on the last atom
        and a fresh ring label."""
        if _open_label(text):
            return list("1234567890")  # %00 is no label to RDKit
        parsed = self._parse(text)
        labels = list(parsed.openbonds) if parsed is not None else []
        fresh = next((d for d in "123456789" if d not in labels), None)
        closing = [*labels, *("C" + x for x in labels), *("c" + x for x in labels)]
        ring = [f"{fresh}ccccc{fresh}", f"{fresh}cccc{fresh}", fresh] if fresh else []
        return [*closing, *MOVES, *ring]

    # -- results -------------------------------------------------------------------------------
    def canonical(self, text: str) -> str | None:
        """RDKit's canonical SMILES of a generated text (spaces and the newline stripped), or
        None when it is not a complete molecule of this constraint."""
        body = text.strip()
        if not self.molecule_ok(body):
            return None
        with self._rdbase.BlockLogs():
            return self._chem.MolToSmiles(self._chem.MolFromSmiles(body))


def _open_label(text: str) -> int | None:
    """Characters of a ``%nn`` ring label cut short at the end of ``text`` (0, 1 or 2); None
    when a ``%`` is followed by a non-digit (partialsmiles would take ``%@`` as a label) or
    stands inside a bracket atom."""
    at = text.find("%")
    while at >= 0:
        if text.rfind("[", 0, at) > text.rfind("]", 0, at):
            return None  # no ring label inside a bracket atom
        label = text[at + 1 : at + 3]
        if label and not label.isdigit() and (len(label) == 2 or not label[0].isdigit()):
            return None
        if len(label) < 2 and at + 1 + len(label) == len(text):
            return 1 + len(label)
        at = text.find("%", at + 1)
    return 0


def _padded(text: str, cut: int) -> list[str]:
    """``text``, whose last ``cut`` characters are a cut ``%nn`` label, with that label
    finished: a fresh label first (a ring opening), then the others (closures)."""
    stem = text[len(text) - cut + 1 :]  # the label's digits so far
    labels = [f"%{stem}{d:0{2 - len(stem)}d}" for d in range(10 ** (2 - len(stem)))]
    labels = [x for x in labels if x != "%00"]
    fresh = [x for x in labels if x not in text]
    ordered = fresh[:1] if fresh else labels
    return [text[: len(text) - cut] + x for x in ordered]


def _stranded_aromatic(parsed) -> bool:
    """Whether an aromatic atom that takes no more bonds (not on the branch stack, no open
    ring bond) has fewer than two: it can never be in a ring."""
    busy = {id(atom) for atom in parsed.prev if atom is not None}
    busy.update(id(atom) for atom, _ in parsed.openbonds.values())
    return any(
        atom.arom and len(atom.bonds) < 2 and id(atom) not in busy for atom in parsed.mol.atoms
    )


def _in_bracket(text: str) -> bool:
    """Whether ``text`` ends inside a bracket atom."""
    return text.rfind("[") > text.rfind("]")


def _cut_symbol(text: str) -> bool:
    """Whether ``text`` ends inside a bracket atom right after a symbol's first letter."""
    at = text.rfind("[")
    if at < 0 or "]" in text[at:]:
        return False
    inner = text[at + 1 :].lstrip("0123456789")
    return len(inner) == 1 and inner.isalpha()


def _store(cache: OrderedDict, key, value) -> None:
    cache[key] = value
    if len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
