"""Differential tests of the byte-DFA kernel: compiled module vs pure-Python twin."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from awrs.kernels import load_kernel
from awrs.constraints.trie import VocabTrie

TWIN = load_kernel("_dfa", python=True)


def _compiled():
    if os.environ.get("AWRS_NO_EXTENSIONS"):
        pytest.skip("AWRS_NO_EXTENSIONS is set: only the twin is under test")
    return importlib.import_module("awrs.kernels._dfa_c")  # must exist when extensions are on


def _random_table(rng, n: int, density: float) -> np.ndarray:
    table = rng.integers(1, n, size=(n, 256), dtype=np.int32)
    table[rng.random((n, 256)) > density] = 0
    table[0] = 0
    return table


def _random_vocab(rng, size: int) -> list[bytes]:
    pool = b"abc\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 \n"
    return [bytes(rng.choice(list(pool), size=rng.integers(1, 7))) for _ in range(size)]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), density=st.floats(0.05, 1.0))
def test_run_and_batch_agree(seed, density):
    C = _compiled()
    rng = np.random.default_rng(seed)
    table = _random_table(rng, int(rng.integers(2, 40)), density)
    n = table.shape[0]
    states = rng.integers(0, n, size=20).astype(np.int32)
    tokens = [bytes(rng.integers(0, 256, size=rng.integers(0, 6)).astype(np.uint8))
              for _ in range(20)]
    for s, t in zip(states.tolist(), tokens):
        assert C.dfa_run(table, s, t) == TWIN.dfa_run(table, s, t)
    np.testing.assert_array_equal(C.dfa_run_batch(table, states, tokens),
                                  TWIN.dfa_run_batch(table, states, tokens))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), density=st.floats(0.05, 1.0))
def test_token_mask_agrees(seed, density):
    C = _compiled()
    rng = np.random.default_rng(seed)
    vocab = _random_vocab(rng, 300) + [b""]
    trie = VocabTrie(vocab, exclude={len(vocab) - 1})
    table = _random_table(rng, int(rng.integers(2, 30)), density)
    args = (trie.byte, trie.depth, trie.skip, trie.tok_ptr, trie.tok_ids, trie.vocab_size)
    for s in range(table.shape[0]):
        want = TWIN.dfa_token_mask(table, s, *args)
        np.testing.assert_array_equal(C.dfa_token_mask(table, s, *args), want)
        # the twin is itself the definition: token t passes iff dfa_run leaves a live state
        slow = np.array([bool(tok) and i != len(vocab) - 1 and TWIN.dfa_run(table, s, tok) != 0
                         for i, tok in enumerate(vocab)])
        np.testing.assert_array_equal(want, slow)


def test_deep_trie_grows_the_stack():
    C = _compiled()
    table = np.zeros((2, 256), np.int32)
    table[1, ord("a")] = 1
    vocab = [b"a" * 1000, b"a" * 300 + b"b", b"a"]
    trie = VocabTrie(vocab)
    args = (trie.byte, trie.depth, trie.skip, trie.tok_ptr, trie.tok_ids, trie.vocab_size)
    assert C.dfa_token_mask(table, 1, *args).tolist() == [True, False, True]
    assert TWIN.dfa_token_mask(table, 1, *args).tolist() == [True, False, True]


@pytest.mark.parametrize("impl", ["twin", "compiled"])
def test_bad_states_raise(impl):
    mod = TWIN if impl == "twin" else _compiled()
    table = np.zeros((3, 256), np.int32)
    trie = VocabTrie([b"a"])
    for bad in (-1, 3):
        with pytest.raises(ValueError, match=r"expected a DFA state in \[0, 3\)"):
            mod.dfa_run(table, bad, b"a")
        with pytest.raises(ValueError, match="expected a DFA state"):
            mod.dfa_token_mask(table, bad, trie.byte, trie.depth, trie.skip, trie.tok_ptr,
                               trie.tok_ids, trie.vocab_size)
        with pytest.raises(ValueError, match="expected a DFA state"):
            mod.dfa_run_batch(table, np.array([bad], np.int32), [b"a"])
    with pytest.raises(ValueError, match="expected as many tokens as states"):
        mod.dfa_run_batch(table, np.array([1, 1], np.int32), [b"a"])


def test_selector_honours_environment():
    import awrs.kernels.dfa as sel

    expected = "python" if os.environ.get("AWRS_NO_EXTENSIONS") else "compiled"
    assert (sel._impl.__name__ == "awrs.kernels._dfa_py") == (expected == "python")
