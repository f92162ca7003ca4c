"""Shortest completions in tokens: the bounds never exceed the truth (exhaustive on small cases)."""

from __future__ import annotations

import itertools
import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.shortest import (
    MaxBound,
    TableBound,
    TrivialBound,
    one_token_completion,
    token_distances,
)
from awrs.constraints.trie import VocabTrie

DEPTH = 4  # token sequences enumerated by the brute force


def true_shortest(complete_ok, prefix: bytes, vocab: list[bytes], depth: int = DEPTH):
    """Fewest tokens of ``vocab`` after ``prefix`` giving a complete string (None if > depth)."""
    for k in range(depth + 1):
        for seq in itertools.product(vocab, repeat=k):
            if complete_ok(prefix + b"".join(seq)):
                return k
    return None


def reachable_prefixes(constraint, vocab: list[bytes], depth: int = 3) -> list[bytes]:
    """Byte prefixes reached by token sequences of at most ``depth`` tokens (viable ones)."""
    out, frontier = [b""], [b""]
    for _ in range(depth):
        nxt = [p + t for p in frontier for t in vocab if constraint.prefix_ok(p + t)]
        frontier = sorted(set(nxt))[:40]
        out += frontier
    return out


def check_bound(constraint, vocab: list[bytes], exact: bool) -> None:
    bound = constraint.completion_bound(vocab)
    for prefix in reachable_prefixes(constraint, vocab):
        state = constraint.advance(constraint.start(), prefix)
        truth = true_shortest(constraint.complete_ok, prefix, vocab)
        lb = bound.min_tokens(state)
        if truth is not None:
            assert lb <= truth, (prefix, lb, truth)
            if exact:
                assert lb == truth, (prefix, lb, truth)
        elif exact:
            assert lb > DEPTH, (prefix, lb)


# -- regular expressions: exact token distances on the DFA -----------------------------------
ATOMS = ["a", "b", "c", "ab", "(a|bc)", "[ab]", "b?", "c*", "a+", "(ab)*", "(a|b){2}", "[abc]{1,3}"]
VOCABS = st.lists(
    st.sampled_from([b"a", b"b", b"c", b"ab", b"bc", b"ca", b"abc", b"bb", b"cc"]),
    min_size=1,
    max_size=4,
    unique=True,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4), VOCABS)
def test_regex_token_distances_are_exact(atoms, vocab):
    pattern = "".join(atoms)
    c = awrs.Regex(pattern)
    assert isinstance(c.completion_bound(vocab), TableBound)
    rx = re.compile(pattern)  # the oracle is Python's re, not the DFA

    def complete_ok(b: bytes) -> bool:
        return rx.fullmatch(b.decode()) is not None

    bound = c.completion_bound(vocab)
    for prefix in reachable_prefixes(c, vocab):
        state = c.advance(c.start(), prefix)
        truth = true_shortest(complete_ok, prefix, vocab)
        lb = bound.min_tokens(state)
        assert lb == truth if truth is not None else lb > DEPTH, (pattern, vocab, prefix)


def test_regex_bound_horizon_and_unreachable_states():
    c = awrs.Regex("abc")
    b = c.completion_bound([b"a", b"b"])  # "c" is in no token: nothing ever completes
    assert b.min_tokens(c.start()) == float("inf") and b.horizon == 0
    b = c.completion_bound([b"a", b"b", b"c", b"bc"])
    assert b.min_tokens(c.start()) == 2 and b.horizon == 2
    assert b.min_tokens(c.advance(c.start(), b"ab")) == 1


def test_token_distances_by_hand():
    # 0 -> 1 -> 2 (accepting), 3 isolated
    d = token_distances([[1], [2], [], []], np.array([False, False, True, False]))
    assert list(d[:3]) == [2, 1, 0] and d[3] == np.iinfo(np.int32).max


# -- every other constraint kind: the 0/1 bound and the exact one-token search ----------------
GRAMMAR = 'start: "(" start ")" start | "x"\n'
SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "string", "maxLength": 2}},
    "required": ["a"],
    "additionalProperties": False,
}
KINDS = {
    "grammar": (lambda: awrs.Grammar(GRAMMAR), [b"(", b")", b"x", b"x)", b"((", b"))"]),
    "json": (
        lambda: awrs.JSONSchema(SCHEMA),
        [b"{", b"}", b'"a":', b'"b":', b"1", b'"', b"q", b",", b'"}', b"1}"],
    ),
    "pattern": (lambda: awrs.Pattern(r"(a|b)+c\1?"), [b"a", b"b", b"c", b"ca", b"bc"]),
    "regex&pattern": (
        lambda: awrs.Regex("[abc]{2,5}") & awrs.Pattern(r"a.*c"),
        [b"a", b"b", b"c", b"ac", b"bc"],
    ),
}


def test_every_kind_has_a_sound_bound():
    for name, (make, vocab) in KINDS.items():
        c = make()
        bound = c.completion_bound(vocab)
        assert isinstance(bound, (TrivialBound, MaxBound)), name
        check_bound(c, vocab, exact=False)


def test_one_token_search_is_exact_when_it_finishes():
    for name, (make, vocab) in KINDS.items():
        c = make()
        trie = VocabTrie(vocab)
        for prefix in reachable_prefixes(c, vocab):
            state = c.advance(c.start(), prefix)
            truth = any(c.complete_ok(prefix + t) for t in vocab)
            assert one_token_completion(c, state, trie) is truth, (name, prefix)


def test_one_token_search_gives_up_at_its_limit():
    c = awrs.JSONSchema(SCHEMA)
    vocab = [bytes([b]) * k for b in b"abcdefgh" for k in (1, 2, 3)]
    state = c.advance(c.start(), b'{"a":1,"b":"')
    assert state is not None
    assert one_token_completion(c, state, VocabTrie(vocab), limit=5) is None
    assert one_token_completion(c, state, VocabTrie(vocab)) is False  # nothing closes it


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3),
    st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3),
    VOCABS,
)
def test_conjunction_bound_never_exceeds_the_truth(a, b, vocab):
    c = awrs.Regex("".join(a)) & awrs.Regex("".join(b) + "|" + "".join(a))
    check_bound(c, vocab, exact=False)


def test_regex_falls_back_to_the_0_1_bound_when_the_table_is_too_costly(monkeypatch):
    from awrs.constraints.regex import shortest

    monkeypatch.setattr(shortest, "MAX_RUNS", {"compiled": 10, "python": 10})
    c = awrs.Regex("[ab]{3}")
    bound = c.completion_bound([b"a", b"b", b"ab"])  # 5 states x 3 tokens > 10
    assert isinstance(bound, TrivialBound) and bound.min_tokens(c.start()) == 1
    check_bound(c, [b"a", b"b", b"ab"], exact=False)
