"""The vocabulary trie and its walk kernel: twin and compiled agree with brute force."""

import importlib
import os
import random

import numpy as np
import pytest

from awrs.constraints import Predicate, VocabTrie
from awrs.kernels import load_kernel


def random_vocab(seed: int, n: int = 400) -> list[bytes]:
    rng = random.Random(seed)
    vocab = [bytes([rng.choice(b'ab{}"0 \xc3\xa9')]) for _ in range(8)]
    vocab += [
        bytes(rng.choice(b'ab{}"0 \xc3\xa9') for _ in range(rng.randint(1, 6))) for _ in range(n)
    ]
    return vocab + [b"", b"<eos>"]


def constraint(seed: int) -> Predicate:
    rng = random.Random(seed)
    banned = bytes(rng.sample(b'ab{}"0 ', 2))
    limit = rng.randint(2, 5)
    return Predicate(
        lambda b: not any(x in banned for x in b) and b.count(b"a") <= limit, lambda b: True
    )


def brute(vocab, c, prefix: bytes) -> np.ndarray:
    return np.array([bool(t) and t != b"<eos>" and c.prefix_ok(prefix + t) for t in vocab])


@pytest.mark.parametrize("seed", range(6))
def test_walk_equals_brute_force(seed):
    vocab = random_vocab(seed)
    trie = VocabTrie(vocab, exclude={len(vocab) - 1})
    c = constraint(seed)
    for prefix in (b"", b"a", b'{"a'):
        if c.prefix_ok(prefix):
            assert np.array_equal(trie.walk(prefix, c.advance), brute(vocab, c, prefix))


def test_twin_and_compiled_agree():
    if os.environ.get("AWRS_NO_EXTENSIONS"):
        pytest.skip("AWRS_NO_EXTENSIONS set: only the twin is under test")
    py, compiled = (
        load_kernel("_trie", python=True),
        importlib.import_module("awrs.kernels._trie_c"),
    )
    for seed in range(6):
        vocab = random_vocab(100 + seed, n=800)
        t = VocabTrie(vocab)
        c = constraint(seed)
        args = (t.byte, t.depth, t.skip, t.tok_ptr, t.tok_ids, t.vocab_size, b"", c.advance)
        assert np.array_equal(py.trie_walk(*args), compiled.trie_walk(*args))


def test_deep_tokens_grow_the_stack():
    vocab = [b"x" * 200, b"x" * 70, b"y"]
    t = VocabTrie(vocab)
    c = Predicate(lambda b: len(b) <= 100, lambda b: True)
    assert t.walk(b"", c.advance).tolist() == [False, True, True]
