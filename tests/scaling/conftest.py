"""Fixtures for the scaling tests: a toy judge that likes "good" and a tiny toy generator."""

from __future__ import annotations

import string

import pytest

from awrs.models.toy import ToyLM

LETTERS = [c.encode() for c in string.ascii_lowercase + string.digits + " :?.+="]
EOS = len(LETTERS) + 2
JUDGE_VOCAB = LETTERS + [b"good", b"bad", b"<eos>"]


@pytest.fixture
def judge_lm() -> ToyLM:
    """After a response "good" the score is 9 (0.8), 1 (0.1) or 7 (0.1); after "bad" it is
    "1" then EOS (0.35), "10" (0.35) or "2" (0.3): expected scores 8.0 and 4.45."""
    vocab = JUDGE_VOCAB
    ids = {b: i for i, b in enumerate(vocab)}

    def table(ctx):
        text = b"".join(vocab[i] for i in ctx)
        if text.endswith(b"good"):
            return {ids[b"9"]: 0.8, ids[b"1"]: 0.1, ids[b"7"]: 0.1}
        if text.endswith(b"bad"):
            return {ids[b"1"]: 0.7, ids[b"2"]: 0.3}
        if text.endswith(b"bad1"):
            return {ids[b"0"]: 0.5, EOS: 0.5}
        if text.endswith(b"nothing"):
            return {ids[b"z"]: 1.0}
        return {EOS: 1.0}

    return ToyLM(vocab, eos=EOS, table=table)


GEN_VOCAB = [b"a", b"b", b"c", b"<eos>", b"q"]


@pytest.fixture
def gen_lm() -> ToyLM:
    """A generator of one letter then EOS: "a" 0.5, "b" 0.3, "c" 0.2 (prompt "q")."""

    def table(ctx):
        if len(ctx) == 1:
            return {0: 0.5, 1: 0.3, 2: 0.2}
        return {3: 1.0}

    return ToyLM(GEN_VOCAB, eos=3, table=table)
