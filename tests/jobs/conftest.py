"""Fixtures of the batch tests."""

from __future__ import annotations

import pytest

import awrs


@pytest.fixture
def toy_lm():
    """A uniform model over printable ASCII bytes plus EOS (id 0)."""
    vocab = [b"<eos>"] + [bytes([b]) for b in range(32, 127)]
    return awrs.ToyLM(vocab, 0, {})
