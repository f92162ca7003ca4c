"""Tests of awrs.Regex (byte-level DFA) against Python's re, and of awrs.Pattern."""

from __future__ import annotations

import csv
import itertools
import random
import re
from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.regex import Pattern, Regex, compile_dfa
from awrs.constraints.regex import charset as cs
from awrs.constraints.testing import check_prefix_monotone
from awrs.constraints.trie import VocabTrie
from awrs.errors import ConstraintError, ConstraintSizeError, UnsupportedFeatureError

# -- helpers -------------------------------------------------------------------------------

CHARS = [
    "a",
    "b",
    "é",
    "中",
    "😀",
    "A",
    "1",
    " ",
    "_",
    "\n",
    "K",
    "\u212a",
    "ſ",
    "s",
    "İ",
    "i",
    "٣",
    "\u00a0",
]
ATOMS = [re.escape(c) for c in CHARS] + [
    ".",
    "[ab]",
    "[^a]",
    "[a-c]",
    r"\d",
    r"\w",
    r"\s",
    r"\D",
    r"\W",
    r"\S",
    r"[\w.]",
    r"[^\W\d]",
    "[é-😀]",
    r"\.",
    r"\n",
    "[A-Z]",
    "[^k]",
    r"\u4e2d",
    r"[\x00-\x7f]",
]
ANCHORS = ["^", "$", r"\b", r"\B", r"\A", r"\Z"]
QUANTS = ["*", "+", "?", "{2}", "{1,3}", "{2,}", "{,2}"]
FLAGS = ["", "", "(?i)", "(?s)", "(?m)", "(?a)", "(?im)", "(?ia)", "(?x)"]

_leaf = st.one_of(st.sampled_from(ATOMS), st.sampled_from(ATOMS), st.sampled_from(ANCHORS))
regexes = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map("".join),
        st.tuples(inner, inner).map("|".join),
        inner.map(lambda s: f"({s})"),
        st.tuples(inner, st.sampled_from(QUANTS), st.sampled_from(["", "?"])).map(
            lambda t: f"(?:{t[0]}){t[1]}{t[2]}"
        ),
    ),
    max_leaves=6,
)
patterns = st.tuples(st.sampled_from(FLAGS), regexes).map("".join)
texts = st.lists(st.sampled_from(CHARS), max_size=6).map("".join)


def _dfa(p: str):
    try:
        re.compile(p)
    except re.error:
        assume(False)
    try:
        return compile_dfa(p)
    except ConstraintSizeError:
        assume(False)


def witness(dfa, state: int) -> bytes | None:
    """The shortest byte string leading from ``state`` to acceptance (BFS)."""
    prev = {state: None}
    queue = deque([state])
    while queue:
        u = queue.popleft()
        if dfa.accept[u]:
            out = []
            while prev[u] is not None:
                u, b = prev[u]
                out.append(b)
            return bytes(reversed(out))
        for b in np.flatnonzero(dfa.table[u]).tolist():
            v = int(dfa.table[u, b])
            if v not in prev:
                prev[v] = (u, b)
                queue.append(v)
    return None


def random_walk(dfa, rng: random.Random, steps: int = 10) -> bytes:
    """A random accepted byte string (random walk, then the shortest completion)."""
    s, out = dfa.start, []
    for _ in range(rng.randint(0, steps)):
        live = np.flatnonzero(dfa.table[s]).tolist()
        if not live or (dfa.accept[s] and rng.random() < 0.3):
            break
        b = rng.choice(live)
        out.append(b)
        s = int(dfa.table[s, b])
    return bytes(out) + witness(dfa, s)


# -- Regex vs re.fullmatch ---------------------------------------------------------------


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=patterns, strings=st.lists(texts, min_size=1, max_size=12))
def test_accepts_equals_re_fullmatch(p, strings):
    r = Regex(p) if _dfa(p) else None
    for s in strings:
        assert r.accepts(s) == (re.fullmatch(p, s) is not None), (p, s)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=patterns, data=st.data())
def test_strings_generated_by_hypothesis_from_regex_are_accepted(p, data):
    """An independent generator of matching strings (hypothesis' own regex strategy)."""
    r = Regex(p) if _dfa(p) else None
    strings = st.from_regex(p, fullmatch=True)
    for _ in range(2):
        s = data.draw(strings)
        assert re.fullmatch(p, s) and r.accepts(s), (p, s)
        b = s.encode()
        assert all(r.accepts_prefix(b[:i]) for i in range(len(b) + 1)), (p, s)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=patterns, seed=st.integers(0, 2**32 - 1))
def test_prefixes_exact_against_witnesses(p, seed):
    """Every live prefix has a completion re accepts; dead ones have none (brute force)."""
    dfa = _dfa(p)
    rng = random.Random(seed)
    assume(dfa.start != 0)
    ext = ["", *CHARS[:10]]
    for _ in range(3):
        b = random_walk(dfa, rng)
        assert re.fullmatch(p, b.decode("utf-8")), (p, b)  # walks give valid UTF-8 matches
        corrupt = bytearray(b + b"x")
        corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        for data in (b, bytes(corrupt)):
            state = dfa.start
            for i in range(len(data) + 1):
                if i:
                    state = dfa.step(state, data[i - 1 : i])
                if state:
                    w = witness(dfa, state)
                    assert re.fullmatch(p, (data[:i] + w).decode("utf-8")), (p, data[:i])
                    continue
                for e1, e2 in itertools.product(ext, repeat=2):
                    try:
                        text = (data[:i] + (e1 + e2).encode()).decode("utf-8")
                    except UnicodeDecodeError:
                        continue
                    assert not re.fullmatch(p, text), (p, data[:i], e1 + e2)
                break


@pytest.mark.parametrize(
    "p, yes, no",
    [
        (r"\d{3}-\d{4}", ["555-1234", "٣٣٣-1234"], ["5551234", "555-123"]),
        (r"(?a)\d+", ["123"], ["٣"]),
        (r"[^\W\d_]+", ["héllo", "中文"], ["a1", "a_"]),
        (r"a$\n", ["a\n"], ["a"]),  # $ matches before a final newline
        (r"a$", ["a"], ["a\n"]),  # ...but fullmatch must reach the end
        (r"(?m)a$\nb", ["a\nb"], ["ab"]),
        (r"(?m)^a\n^b$", ["a\nb"], ["a\nbb"]),
        (r"a\Z", ["a"], ["a\n"]),
        (r"\Aa|b\A", ["a"], ["b"]),
        (r".\b.", ["a ", " a", "a-"], ["ab", "  "]),
        (r".\B.", ["ab", "  "], ["a ", " a"]),
        (r"\B", *([[""], []] if re.fullmatch(r"\B", "") else [[], [""]])),  # 3.14 changed it
        (r"\b", [], [""]),
        (r"(?a)é\bx", ["éx"], []),
        (r"é\bx", [], ["éx"]),
        (r"(?a)é\Bx", [], ["éx"]),
        (r"(?i)k", ["k", "K", "\u212a"], ["x"]),  # Kelvin sign folds to k
        (r"(?i)s", ["s", "S", "ſ"], ["x"]),
        (r"(?ia)k", ["k", "K"], ["\u212a"]),
        (r"(?i)[a-z]+", ["aZ", "\u212a"], ["1"]),
        (r"(?i)ǅ", ["ǅ", "ǆ", "Ǆ"], ["d"]),
        (r"(?s).", ["\n"], ["", "ab"]),
        (r".", ["é"], ["\n"]),
        (r"(?x) a b  # comment", ["ab"], ["a b"]),
        (r"(?i:a)b", ["Ab", "ab"], ["aB"]),
        (r"a{2,3}?", ["aa", "aaa"], ["a", "aaaa"]),
        (r"(?P<x>ab)+(?:c|d)*", ["abab", "abcd"], ["a"]),
        (r"😀{2}|[\U0001F600-\U0001F64F]", ["😀😀", "🙏", "😀"], ["😀😀😀", "😀🙏"]),
        (r"[^\s\S]", [], ["", "a"]),
        (r"", [""], ["a"]),
    ],
)
def test_known_cases(p, yes, no):
    r = Regex(p)
    for s in yes:
        assert re.fullmatch(p, s) and r.accepts(s), (p, s)
    for s in no:
        assert not re.fullmatch(p, s) and not r.accepts(s), (p, s)


def test_compiled_re_pattern_is_accepted():
    r = Regex(re.compile(r"ab", re.IGNORECASE))
    assert r.accepts("aB") and r.pattern == "ab" and r.flags & re.IGNORECASE


def test_empty_language_has_dead_start():
    r = Regex(r"[^\s\S]")
    assert r.start() == 0 and not r.accepts_prefix("") and r.alphabet() == frozenset()


@pytest.mark.parametrize("flags", [0, re.ASCII, re.IGNORECASE, re.IGNORECASE | re.ASCII])
def test_character_sets_match_re_on_sampled_code_points(flags):
    rng = random.Random(flags)
    points = list(range(0x300)) + rng.sample(range(0x300, 0x110000), 3000)
    points = [p for p in points if not 0xD800 <= p <= 0xDFFF]
    for src in [r"\d", r"\w", r"\s", r"\D", r"[^\w\d]", r"[a-zé]", "k", "ß", "σ", "I"]:
        op, av = re._parser.parse(src, flags)[0]
        eff = flags if flags & re.ASCII else flags | re.UNICODE
        got = cs.char_set(av, eff) if op is re._constants.IN else cs.literal(av, eff)
        member = set()
        for lo, hi in got:
            member.update(p for p in points if lo <= p <= hi)
        want = {p for p in points if re.fullmatch(src, chr(p), flags)}
        assert member == want, src


# -- incremental protocol, UTF-8 ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    p=st.sampled_from(
        [
            r"[中文😀é]+x?",
            r"(?i)straße|\w+!",
            r"[^a]{2,4}",
            r".*😀",
            r"(\d+|[\u4e00-\u9fff]+)-(é|😀)",
        ]
    ),
    text=st.text(alphabet="中文😀éxa1-!STRASSEß", max_size=8),
    cuts=st.lists(st.integers(0, 40), max_size=5),
)
def test_split_multibyte_tokens(p, text, cuts):
    """Feeding bytes cut at arbitrary points (inside characters too) gives the same answer."""
    r = Regex(p)
    b = text.encode()
    points = sorted({0, len(b), *[c % (len(b) + 1) for c in cuts]})
    state = r.start()
    for a, z in zip(points, points[1:], strict=False):
        state = None if state is None else r.advance(state, b[a:z])
    want = re.fullmatch(p, text) is not None
    assert (state is not None and r.is_complete(state)) == want
    if want:
        assert state is not None


def test_invalid_utf8_is_rejected():
    r = Regex(r"(?s).*")
    assert r.accepts_prefix(b"\xe4\xb8") and r.accepts(b"\xe4\xb8\xad")
    for bad in [
        b"\xff",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\x80",
        b"\xe4a",
    ]:
        assert not r.accepts_prefix(bad), bad
    assert not r.accepts(b"\xe4\xb8")


def test_prefix_monotone_contract():
    rng = random.Random(0)
    for p in [r"\d{3}-\d{4}", r"(?i)[a-z]+@[a-z]+\.com", r"[中文]+😀?", r"(ab|a)*c$"]:
        r = Regex(p)
        dfa = r.dfa
        strings = [random_walk(dfa, rng) for _ in range(5)] + [b"", b"abc", "中😀".encode()]
        check_prefix_monotone(r, strings, alphabet=b"abc123-@.\xe4\xb8\xad\xf0\x9f\x98\x80")


def test_alphabet_and_batch():
    r = Regex(r"[ab]+é")
    assert r.alphabet() == frozenset(b"ab\xc3\xa9")
    s = r.start()
    out = r.advance_batch([s, s, s], [b"ab", b"c", "aé".encode()])
    assert out[1] == 0 and out[0] == r.advance(s, b"ab") and r.is_complete(int(out[2]))


def test_states_are_small_ints_and_shared_dfa_is_read_only():
    r = Regex(r"a+b")
    assert isinstance(r.start(), int) and isinstance(r.advance(r.start(), b"a"), int)
    with pytest.raises(ValueError):
        r.dfa.table[0, 0] = 1
    assert compile_dfa(r"a+b") is r.dfa  # cached


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p, what",
    [
        (r"(a)\1", "back-references"),
        (r"a(?=b)", "look-ahead"),
        (r"a(?!b)", "look-ahead"),
        (r"(?<=a)b", "look-behind"),
        (r"(?<!a)b", "look-behind"),
        (r"(a)?(?(1)b|c)", "conditional"),
        (r"(?>ab)", "atomic"),
        (r"a*+", "possessive"),
        (r"a{1,2}+", "possessive"),
    ],
)
def test_unsupported_points_to_pattern(p, what):
    with pytest.raises(UnsupportedFeatureError, match=f"(?s){what}.*awrs.Pattern"):
        Regex(p)
    assert Pattern(p)  # the black-box constraint takes it


@pytest.mark.parametrize(
    "p, pos", [("ab(c", 2), ("a[b", 1), ("x{2,1}", 2), ("(?P<1>a)", 4), ("a**", 2)]
)
def test_malformed_names_offset(p, pos):
    with pytest.raises(ConstraintError, match=f"offset {pos}"):
        Regex(p)
    with pytest.raises(ConstraintError, match="offset"):
        Pattern(p)


def test_bad_arguments():
    with pytest.raises(ConstraintError, match="expected a str pattern"):
        Regex(b"abc")
    with pytest.raises(awrs.ConfigurationError, match="max_states"):
        Regex("a", max_states=0)


def test_explosion_is_a_size_error():
    with pytest.raises(ConstraintSizeError, match="max_states=32768"):
        Regex("(a|b)*a(a|b){30}")  # 2**31 subsets: refused, not out of memory
    with pytest.raises(ConstraintSizeError, match="max_states=500"):
        Regex(r"\w{20}", max_states=500)
    with pytest.raises(ConstraintSizeError, match="NFA states"):
        Regex("(?:a{1000}){1000}")
    assert Regex("(a|b)*a(a|b){5}").dfa.n_states == 65  # minimal: 2**6 states + dead


# -- token masks ----------------------------------------------------------------------------


def _synthetic_vocab(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    words = ["a", "b", "ab", " ", "1", "12", "-", "é", "中", "😀", "x", "\n", "_"]
    vocab = [b""]  # id 0 stands for EOS
    for _ in range(n):
        kind = rng.random()
        if kind < 0.6:
            tok = "".join(rng.choice(words) for _ in range(rng.randint(1, 4))).encode()
        else:  # raw bytes, including pieces of multi-byte characters
            tok = bytes(
                rng.choice(b"ab1 \xe4\xb8\xad\xc3\xa9\xf0\x9f\x98\x80\xff")
                for _ in range(rng.randint(1, 4))
            )
        vocab.append(tok)
    return vocab


@pytest.mark.parametrize(
    "p", [r"(ab|1)+-?[é中]*", r"\w+", r"(?s).*😀", r"a{2,}b?\d*", r"[^\n]{1,5}"]
)
def test_token_mask_equals_python_trie_walk(p):
    vocab = _synthetic_vocab(3000, seed=1)
    trie = VocabTrie(vocab, exclude={0})
    r = Regex(p)
    rng = random.Random(2)
    states = {r.start()}
    for _ in range(6):
        states.add(r.dfa.step(r.start(), random_walk(r.dfa, rng)[: rng.randint(0, 6)]))
    for s in sorted(states - {0}):
        fast = r.token_mask(s, trie)
        assert fast.dtype == bool and fast.shape == (len(vocab),)
        np.testing.assert_array_equal(fast, trie.walk(s, r.advance))
        assert not fast[0]


@pytest.mark.slow
def test_token_mask_on_the_real_vocabulary(default_lm):
    vocab = default_lm.vocab
    trie = VocabTrie(vocab, exclude=default_lm.eos_token_ids)
    r = Regex(r"\{\"name\": \"[A-Za-z ]{1,20}\", \"age\": \d{1,3}\}|[\w ]+\.")
    for prefix in [b"", b'{"name": "Al', b"Hello wor", b'{"name": "Bo", "age": 4']:
        s = r.dfa.step(r.start(), prefix)
        assert s != 0
        np.testing.assert_array_equal(r.token_mask(s, trie), trie.walk(s, r.advance))


# -- Pattern (regex package, black box) --------------------------------------------------


def test_pattern_basics():
    p = Pattern(r"(\w)\1x")
    assert p.accepts("aax") and not p.accepts("abx")
    assert p.accepts_prefix("aa") and p.accepts_prefix("a") and not p.accepts_prefix("ab")
    assert not p.accepts(b"\xff") and not p.accepts_prefix(b"a\xff")
    u = Pattern(r"(\w)\1中")
    b = "éé中".encode()
    assert all(u.accepts_prefix(b[:i]) for i in range(len(b) + 1)) and u.accepts(b)
    assert not u.accepts_prefix(b"\xed\xa0")  # a surrogate can never complete
    assert not Pattern("a").accepts_prefix(b"\xc3\xa9\xc3")  # é already breaks the match


def test_pattern_known_over_approximation():
    """Documented limitation of the matcher path (patterns that are not compiled to a DFA):
    partial matching does not see that an atomic group or a look-ahead makes the language
    empty; completion stays exact. (A look-ahead at the start of the text is compiled
    exactly: ``(?=.*x)abc`` is regular and refuses every prefix.)"""
    exact = Pattern(r"(?=.*x)abc")
    assert exact.regular and not exact.accepts_prefix("")
    for pat, text in [(r"(?>a+)a", "aa"), (r"a(?=.*x)bc", "abc")]:
        p = Pattern(pat)
        assert not p.regular
        assert p.accepts_prefix(text)  # would be False for an exact check
        assert not any(
            p.accepts(text[:i] + e) for i in range(len(text) + 1) for e in ["", "a", "x", "ax"]
        )


def _load_patterns(data_dir, k: int, seed: int) -> list[str]:
    path = data_dir / "patterns" / "patterns-open.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row["regex"] for row in csv.DictReader(f)]
    return random.Random(seed).sample(rows, k)


def test_pattern_prefixes_against_brute_force(data_dir):
    """For a seeded sample of the paper's patterns: every prefix of every matching string
    (over a small alphabet, up to length 3) passes ``prefix_ok``."""
    import regex

    for pat in _load_patterns(data_dir, 40, seed=0):
        c = Pattern(pat)
        rx = regex.compile(pat)
        lits = sorted({ch for ch in pat if ch.isprintable() and ch not in "\\()[]{}?*+|^$"})
        alphabet = (lits[:6] + ["a", "1", " ", "é", "Ω", "中"])[:10]
        for n in range(4):
            for tup in itertools.product(alphabet, repeat=n):
                s = "".join(tup)
                if rx.fullmatch(s):
                    b = s.encode()
                    assert c.complete_ok(b), (pat, s)
                    bad = [b[:i] for i in range(len(b) + 1) if not c.prefix_ok(b[:i])]
                    assert not bad, (pat, s, bad)


def test_pattern_prefix_monotone_on_sample(data_dir):
    for pat in _load_patterns(data_dir, 15, seed=1):
        check_prefix_monotone(
            Pattern(pat), [b"", b"abc", b"123-456", "Ωé中".encode()], extensions=2
        )


def test_pattern_timeout_is_an_evaluation_error():
    p = Pattern(r"a(?=a)(a|aa)+c", timeout=1e-3)  # exponential backtracking (matcher path)
    assert not p.regular
    with pytest.raises(awrs.ConstraintEvaluationError) as info:
        p.accepts("a" * 40 + "b")
    assert info.value.prefix == b"a" * 40 + b"b"
