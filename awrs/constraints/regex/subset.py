"""Subset construction over character atoms with exact zero-width assertions; prune; minimise."""

from __future__ import annotations

import re

import numpy as np

from ...errors import ConstraintSizeError
from . import charset as cs
from .nfa import (
    A_BOUND_A,
    A_BOUND_U,
    A_END,
    A_END_STRING,
    A_LINE_END,
    A_LINE_START,
    A_NBOUND_A,
    A_NBOUND_U,
    A_START,
    NFA,
)

# A thread is ``nfa_state * 64 + guard``. The guard constrains what may follow the position:
# bits for the allowed next item (END = end of text, or a character category), and THEN_END
# ("if a newline comes next, the text must end right after it", for a non-MULTILINE ``$``).
END, NL, WA, WU, OT = 1, 2, 4, 8, 16  # WA: ASCII word char, WU: other Unicode word char
ALL = END | NL | WA | WU | OT
THEN_END = 32
START = 0  # the "previous character" category at position 0

# \B matches the empty string only from CPython 3.14 on; follow the running interpreter.
_NB_EMPTY = re.fullmatch(r"\B", "") is not None
_NEEDS_NL = {A_LINE_START, A_END, A_LINE_END}
_NEEDS_WORD = {A_BOUND_A, A_BOUND_U, A_NBOUND_A, A_NBOUND_U}


class CharDFA:
    """A minimal DFA over atoms: ``delta`` (n, n_atoms) int (``-1`` dead), ``accept`` (n,),
    ``start`` (``-1`` if the language is empty), and the atoms as code-point intervals."""

    __slots__ = ("delta", "accept", "start", "iv_lo", "iv_hi", "iv_atom")

    def __init__(self, delta, accept, start, iv_lo, iv_hi, iv_atom):
        self.delta, self.accept, self.start = delta, accept, start
        self.iv_lo, self.iv_hi, self.iv_atom = iv_lo, iv_hi, iv_atom

    def ranges(self, s: int) -> list[tuple[int, int, int]]:
        """State ``s``'s live transitions as merged ``(lo, hi, target)`` code-point ranges."""
        tgt = self.delta[s][self.iv_atom]
        keep = tgt >= 0
        lo, hi, tgt = self.iv_lo[keep], self.iv_hi[keep], tgt[keep]
        if len(lo) == 0:
            return []
        brk = np.flatnonzero((lo[1:] != hi[:-1] + 1) | (tgt[1:] != tgt[:-1])) + 1
        starts = np.concatenate(([0], brk))
        ends = np.concatenate((brk - 1, [len(lo) - 1]))
        return list(zip(lo[starts].tolist(), hi[ends].tolist(), tgt[starts].tolist(), strict=True))


def _atoms(charsets: list[cs.Ranges]):
    """Partition code points by membership in every charset.

    Returns (atoms_of: list of atom-id tuples per charset, signatures: list of frozensets
    per atom, intervals: arrays lo, hi, atom of the covered code points).
    """
    events: dict[int, list[tuple[int, int]]] = {}
    for i, s in enumerate(charsets):
        for lo, hi in s:
            events.setdefault(lo, []).append((i, 1))
            events.setdefault(hi + 1, []).append((i, -1))
    active: dict[int, int] = {}
    sig_ids: dict[frozenset, int] = {}
    los: list[int] = []
    his: list[int] = []
    ats: list[int] = []
    points = sorted(events)
    for k, p in enumerate(points):
        for i, d in events[p]:
            n = active.get(i, 0) + d
            if n:
                active[i] = n
            else:
                active.pop(i, None)
        if active and k + 1 < len(points):
            sig = frozenset(active)
            a = sig_ids.setdefault(sig, len(sig_ids))
            if ats and ats[-1] == a and his[-1] == p - 1:
                his[-1] = points[k + 1] - 1
            else:
                los.append(p)
                his.append(points[k + 1] - 1)
                ats.append(a)
    sigs = list(sig_ids)  # in insertion order, which is the order of their ids
    atoms_of: list[list[int]] = [[] for _ in charsets]
    for a, sig in enumerate(sigs):
        for i in sig:
            atoms_of[i].append(a)
    return (
        [tuple(x) for x in atoms_of],
        sigs,
        (np.array(los, np.int64), np.array(his, np.int64), np.array(ats, np.int64)),
    )


def _apply(code: int, g: int, prev: int, nb_empty: bool = _NB_EMPTY) -> int:
    """The guard after passing assertion ``code`` (``-1``: it fails here)."""
    if code == A_START:
        return g if prev == START else -1
    if code == A_LINE_START:
        return g if prev in (START, NL) else -1
    extra = 0
    if code == A_END_STRING:
        mask = END
    elif code == A_END:
        mask, extra = END | NL, THEN_END
    elif code == A_LINE_END:
        mask = END | NL
    else:
        word = WA | WU if code in (A_BOUND_U, A_NBOUND_U) else WA
        after_word = bool(prev & word)
        if code in (A_BOUND_U, A_BOUND_A):
            mask = (ALL & ~word) if after_word else word
        else:
            empty = END if prev == START and not nb_empty else 0
            mask = word if after_word else ALL & ~word & ~empty
    new = (g & mask) | (g & THEN_END) | extra
    if not new & ALL:
        return -1
    return new if new & NL else new & ALL


def determinise(
    nfa: NFA,
    max_states: int,
    pattern: str,
    *,
    word: cs.Ranges | None = None,
    nb_empty: bool = _NB_EMPTY,
) -> CharDFA:
    """Subset-construct, prune states that cannot reach acceptance, and minimise.

    ``word`` is the Unicode word set of ``\\b`` (default: Python ``re``'s), ``nb_empty``
    whether ``\\B`` matches the empty string (the dialects differ).

    Raises:
        ConstraintSizeError: when more than ``max_states`` subsets are reachable.
    """
    asrt = nfa.assertions
    charsets = list(nfa.charsets)
    cat_sets = []
    if asrt & _NEEDS_NL:
        cat_sets.append((NL, len(charsets)))
        charsets.append(cs.NEWLINE)
    if asrt & _NEEDS_WORD:
        cat_sets.append((WA, len(charsets)))
        charsets.append(cs.ASCII_WORD)
        cat_sets.append((WU, len(charsets)))
        charsets.append(cs.union(cs.unicode_word(0) if word is None else word, cs.ASCII_WORD))
    atoms_of, sigs, ivs = _atoms(charsets)
    cat = []
    for sig in sigs:
        c = next((bit for bit, i in cat_sets if i in sig), OT)
        cat.append(c)
    eps, asr, edges, final = nfa.eps, nfa.asrt, nfa.edges, nfa.final

    def closure(seeds, prev):
        seen, stack, keep = set(seeds), list(seeds), []
        while stack:
            t = stack.pop()
            q, g = t >> 6, t & 63
            if edges[q] or q == final:
                keep.append(t)
            for r in eps[q]:
                u = r << 6 | g
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
            for code, r in asr[q]:
                g2 = _apply(code, g, prev, nb_empty)
                if g2 >= 0:
                    u = r << 6 | g2
                    if u not in seen:
                        seen.add(u)
                        stack.append(u)
        return frozenset(keep)

    first = closure([nfa.start << 6 | ALL], START)
    index = {first: 0}
    subsets = [first]
    trans: list[dict[int, int]] = []
    memo: dict = {}
    i = 0
    while i < len(subsets):
        moves: dict[int, list[int]] = {}
        for t in subsets[i]:
            q, g = t >> 6, t & 63
            for cid, r in edges[q]:
                for a in atoms_of[cid]:
                    c = cat[a]
                    if g & c:
                        g2 = END if (c == NL and g & THEN_END) else ALL
                        moves.setdefault(a, []).append(r << 6 | g2)
        row = {}
        for a, seeds in moves.items():
            key = (frozenset(seeds), cat[a])
            nxt = memo.get(key)
            if nxt is None:
                nxt = memo[key] = closure(key[0], key[1])
            j = index.get(nxt)
            if j is None:
                if len(subsets) >= max_states:
                    raise ConstraintSizeError(
                        f"the DFA of {pattern!r} needs more than max_states={max_states} "
                        f"states; raise max_states or simplify the pattern (or use "
                        f"awrs.Pattern)"
                    )
                j = index[nxt] = len(subsets)
                subsets.append(nxt)
            row[a] = j
        trans.append(row)
        i += 1
    accept = np.array([any(t >> 6 == final and t & END for t in s) for s in subsets], bool)
    delta = np.full((len(subsets), len(sigs)), -1, np.int64)
    for s, row in enumerate(trans):
        if row:
            delta[s, list(row)] = list(row.values())
    delta, accept, start = _prune(delta, accept)
    if start >= 0:
        delta, accept, start = _minimise(delta, accept, start)
    return CharDFA(delta, accept, start, *ivs)


def _prune(delta: np.ndarray, accept: np.ndarray):
    """Drop states that cannot reach acceptance (they become the dead state ``-1``)."""
    n = len(accept)
    rev: list[list[int]] = [[] for _ in range(n)]
    src, _ = np.nonzero(delta >= 0)
    for s, t in zip(src.tolist(), delta[delta >= 0].tolist(), strict=True):
        rev[t].append(s)
    live = accept.copy()
    stack = np.flatnonzero(accept).tolist()
    while stack:
        t = stack.pop()
        for s in rev[t]:
            if not live[s]:
                live[s] = True
                stack.append(s)
    if not live[0]:
        return np.full((0, delta.shape[1]), -1, np.int64), np.zeros(0, bool), -1
    new = np.cumsum(live) - 1
    new = np.where(live, new, -1)
    d = delta[live]
    d = np.where(d >= 0, new[np.maximum(d, 0)], -1)
    return d, accept[live], int(new[0])


def _minimise(delta: np.ndarray, accept: np.ndarray, start: int):
    """Hopcroft's partition refinement; the dead state takes part explicitly (index n)."""
    n, n_atoms = delta.shape
    full = np.vstack([delta, np.full((1, n_atoms), n)])
    full[full < 0] = n
    inv = []
    for a in range(n_atoms):  # predecessors of t on a: order[bounds[t]:bounds[t + 1]]
        by_target = np.argsort(full[:, a], kind="stable")
        bounds = np.searchsorted(full[by_target, a], np.arange(n + 2))
        inv.append((by_target.tolist(), bounds.tolist()))
    acc = set(np.flatnonzero(accept).tolist())
    blocks = [b for b in (acc, set(range(n + 1)) - acc) if b]
    block_of = [0] * (n + 1)
    for i, b in enumerate(blocks):
        for q in b:
            block_of[q] = i
    work = {(i, a) for i in range(len(blocks)) for a in range(n_atoms)}
    while work:
        bi, a = work.pop()
        order, bounds = inv[a]
        touched: dict[int, list[int]] = {}
        for t in blocks[bi]:
            for q in order[bounds[t] : bounds[t + 1]]:
                touched.setdefault(block_of[q], []).append(q)
        for yi, xs in touched.items():
            y = blocks[yi]
            if len(xs) == len(y):
                continue
            if 2 * len(xs) <= len(y):
                small = set(xs)
                y.difference_update(small)
            else:
                small = y.difference(xs)
                blocks[yi] = set(xs)
            ni = len(blocks)
            blocks.append(small)
            for q in small:
                block_of[q] = ni
            work.update((ni, c) for c in range(n_atoms))
    cls = np.array(block_of)
    dead = cls[n]
    first = np.full(len(blocks), n + 1)
    np.minimum.at(first, cls, np.arange(n + 1))
    order = sorted((c for c in range(len(blocks)) if c != dead), key=lambda c: first[c])
    ren = np.full(len(blocks), -1)
    ren[order] = np.arange(len(order))
    reps = first[order]
    return ren[cls[full[reps]]], accept[reps], int(ren[cls[start]])


#: Boolean operations of :func:`combine`.
AND, OR, MINUS = "and", "or", "minus"


def combine(a: CharDFA, b: CharDFA, op: str, max_states: int, pattern: str) -> CharDFA:
    """The minimal DFA of ``L(a) ∩ L(b)`` (``AND``), ``L(a) ∪ L(b)`` (``OR``) or
    ``L(a) \\ L(b)`` (``MINUS``): the product automaton over the common refinement of the
    two atom partitions, pruned and minimised.

    Raises:
        ConstraintSizeError: when more than ``max_states`` product states are reachable.
    """
    pts = np.unique(np.concatenate([a.iv_lo, a.iv_hi + 1, b.iv_lo, b.iv_hi + 1]))
    lo, hi = pts[:-1], pts[1:] - 1

    def atom_of(d: CharDFA) -> np.ndarray:
        if len(d.iv_lo) == 0:
            return np.full(len(lo), -1, np.int64)
        k = np.maximum(np.searchsorted(d.iv_lo, lo, side="right") - 1, 0)
        inside = (d.iv_lo[k] <= lo) & (hi <= d.iv_hi[k])
        return np.where(inside, d.iv_atom[k], -1)

    aa, ab = atom_of(a), atom_of(b)
    keep = (aa >= 0) & (ab >= 0) if op == AND else aa >= 0 if op == MINUS else (aa >= 0) | (ab >= 0)
    lo, hi, aa, ab = lo[keep], hi[keep], aa[keep], ab[keep]
    pair, atom = np.unique((aa + 1) * (b.delta.shape[1] + 1) + (ab + 1), return_inverse=True)
    atom = atom.reshape(-1)
    pa, pb = pair // (b.delta.shape[1] + 1) - 1, pair % (b.delta.shape[1] + 1) - 1
    n_atoms = len(pair)

    def row(d: CharDFA, q: int, cols: np.ndarray) -> np.ndarray:
        if q < 0 or d.delta.shape[1] == 0:  # dead, or no transitions at all
            return np.full(n_atoms, -1, np.int64)
        return np.where(cols >= 0, d.delta[q][np.maximum(cols, 0)], -1)

    def acc(d: CharDFA, q: int) -> bool:
        return q >= 0 and bool(d.accept[q])

    width = len(b.accept) + 1
    start = (a.start, b.start)
    index = {start: 0}
    states = [start]
    rows = []
    i = 0
    while i < len(states):
        qa, qb = states[i]
        ta, tb = row(a, qa, pa), row(b, qb, pb)
        live = (
            (ta >= 0) & (tb >= 0)
            if op == AND
            else ta >= 0
            if op == MINUS
            else (ta >= 0) | (tb >= 0)
        )
        out = np.full(n_atoms, -1, np.int64)
        if live.any():
            codes = (ta[live] + 1) * width + (tb[live] + 1)
            uniq, inv = np.unique(codes, return_inverse=True)
            ids = []
            for c in uniq.tolist():
                key = (c // width - 1, c % width - 1)
                j = index.get(key)
                if j is None:
                    if len(states) >= max_states:
                        raise ConstraintSizeError(
                            f"the look-around product of {pattern!r} needs more than "
                            f"max_states={max_states} states; raise max_states or simplify "
                            f"the pattern"
                        )
                    j = index[key] = len(states)
                    states.append(key)
                ids.append(j)
            out[live] = np.asarray(ids, np.int64)[inv.reshape(-1)]
        rows.append(out)
        i += 1
    fa = np.array([acc(a, qa) for qa, _ in states], bool)
    fb = np.array([acc(b, qb) for _, qb in states], bool)
    accept = fa & fb if op == AND else fa & ~fb if op == MINUS else fa | fb
    delta = np.vstack(rows) if rows else np.full((0, n_atoms), -1, np.int64)
    delta, accept, s0 = _prune(delta, accept)
    if s0 >= 0:
        delta, accept, s0 = _minimise(delta, accept, s0)
    return CharDFA(
        delta, accept, s0, lo.astype(np.int64), hi.astype(np.int64), atom.astype(np.int64)
    )
