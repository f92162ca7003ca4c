"""Possessive quantifiers and atomic groups in awrs.Pattern, checked by brute force: on every
string over a small alphabet the DFA (when the pattern is compiled) agrees with the regex
package, and every accepted prefix has a completion the regex package matches."""

from __future__ import annotations

import collections
import itertools
import random

import pytest
import regex

from awrs.constraints.regex import Pattern

TEXTS = ["".join(t) for n in range(7) for t in itertools.product("abc", repeat=n)]


def _completion(dfa, state: int, limit: int = 40) -> bytes | None:
    seen, queue = {state: b""}, collections.deque([state])
    while queue:
        q = queue.popleft()
        if dfa.accept[q]:
            return seen[q]
        if len(seen[q]) >= limit:
            continue
        for byte in range(256):
            r = int(dfa.table[q, byte])
            if r and r not in seen:
                seen[r] = seen[q] + bytes([byte])
                queue.append(r)
    return None


def _check(pat: str) -> bool:
    """Assert the DFA of ``pat`` is exact on ``TEXTS``; whether it was compiled."""
    p = Pattern(pat, flags=regex.V1)
    if not p.regular:
        return False
    rx = regex.compile(pat, regex.V1)
    for s in TEXTS:
        assert p.accepts(s) == (rx.fullmatch(s) is not None), (pat, s)
        b = s.encode()
        if p.accepts_prefix(b):
            tail = _completion(p.dfa, p.dfa.step(p.dfa.start, b))
            assert tail is not None and rx.fullmatch((b + tail).decode()), (pat, s, tail)
    return True


# (pattern, compiled to a DFA?)
CASES = [
    (r"((?:a)?+)a(?:\1)", False),  # the issue: ?+ keeps the a, only "aaa" matches
    (r"(a?+)a\1", False),
    (r"((?:[ab]){0,2}+)(?:\1)", False),
    (r"((?:[ab]){1,2}+)(?:ab){1,2}(?:\1)", False),
    (r"((?>(?:[ab][ab])?))(?:b{2}){1,2}(?:\1)", False),
    (r"(?:((?:a){1,2}+)ab(?:\1))+", False),
    (r"((?:a){0,2}+)b(?:\1)", True),  # b never starts another a: giving back never helps
    (r"((?>a|bc))c\1", True),
    (r"(a{1,2}+)c\1", True),
    (r"(a|b)(?>\1?+c)", True),
    (r"(?>(a|b)\1)c", True),
    (r"a?+a", False),
    (r"a*+b", True),
    (r"a++a", False),
    (r"(?>a|ab)c", False),
    (r"(?>ab|c)a*", True),
    (r"(?:a|b)*+c", True),
    (r"[ab]{2}+b", True),
    (r"[ab]{1,2}+b", False),
    (r"(?>a*)(?>b*)c?+", True),
    (r"(?>(?:a|ab)?)b", False),
    (r"(?=a?+a)\w+", False),
    (r"(?!a++b)[abc]*", True),
]


@pytest.mark.parametrize("pat,regular", CASES)
def test_possessive_and_atomic_cases(pat, regular):
    assert _check(pat) == regular, pat


ATOMS = ["a", "b", "c", "[ab]", "[^a]", ".", "", "ab", "(?:b|bc)", "(?:a|ab)"]
QUANTS = [
    "",
    "*",
    "+",
    "?",
    "{1,2}",
    "{0,2}",
    "{2}",
    "*?",
    "??",
    "*+",
    "++",
    "?+",
    "{1,2}+",
    "{0,2}+",
    "{2}+",
    "{2,}+",
]


def _random_pattern(rng: random.Random, depth: int, groups: list[int]) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(ATOMS)
    a = _random_pattern(rng, depth - 1, groups)
    k = rng.randrange(7)
    if k == 0:
        return a + _random_pattern(rng, depth - 1, groups)
    if k == 1:
        return f"(?:{a}|{_random_pattern(rng, depth - 1, groups)})"
    if k in (2, 3):
        return f"(?:{a}){rng.choice(QUANTS)}"
    if k == 4:
        return f"(?>{a})"
    if k == 5:
        groups[0] += 1
        g = groups[0]
        return f"({a}){_random_pattern(rng, depth - 1, groups)}(?:\\{g})"
    return f"({a})"


@pytest.mark.parametrize("seed", range(4))
def test_random_committing_patterns_brute_force(seed):
    rng = random.Random(seed)
    pats = []
    while len(pats) < 150:
        pat = _random_pattern(rng, 4, [0])
        if "+" in pat or "(?>" in pat:
            pats.append(pat)
    compiled = sum(_check(pat) for pat in pats)
    assert compiled >= 20, compiled  # the check is not vacuous
