"""The toy LM satisfies the LanguageModel interface."""

import math

import pytest
import torch

import awrs
from awrs.models import LanguageModel, ToyLM


def make_toy():
    vocab = [b"a", b"b", "é".encode(), b"<eos>"]
    table = {(0,): {0: 0.5, 1: 0.25, 3: 0.25}, (0, 1): {2: 1.0}}
    return ToyLM(vocab, eos=3, table=table, default={3: 1.0})


def test_toy_is_a_language_model():
    lm = make_toy()
    assert isinstance(lm, LanguageModel)
    assert lm.vocab_size == 4 and lm.eos_token_ids == {3}


def test_toy_logprobs_follow_table_and_temperature():
    lm = make_toy()
    lp = lm.next_token_logprobs([[0], [0, 1], [0, 0]])
    assert lp.shape == (3, 4)
    assert torch.allclose(lp[0].exp(), torch.tensor([0.5, 0.25, 0.0, 0.25]))
    assert lp[1, 2].item() == pytest.approx(0.0)
    assert lp[2, 3].item() == pytest.approx(0.0)
    hot = lm.next_token_logprobs([[0]], temperature=2.0)[0].exp()
    z = math.sqrt(0.5) + 2 * math.sqrt(0.25)
    assert hot[0].item() == pytest.approx(math.sqrt(0.5) / z, rel=1e-5)


def test_toy_decode_and_greedy_encode_roundtrip():
    lm = make_toy()
    ids = lm.encode("abé")
    assert lm.decode(ids) == "abé" and ids == [0, 1, 2]
    with pytest.raises(awrs.ConfigurationError, match="cannot tokenize"):
        lm.encode("z")


def test_empty_context_and_batch_rejected():
    lm = make_toy()
    with pytest.raises(awrs.ConfigurationError, match="empty context"):
        lm.next_token_logprobs([[]])
    with pytest.raises(ValueError, match="empty batch"):
        lm.next_token_logprobs([])
