"""The Hugging Face backend: batching, KV-cache reuse, ragged batches, errors."""

import pytest
import torch

import awrs

pytestmark = pytest.mark.slow


def fresh(lm, ctx):
    lm.reset()
    return lm.next_token_logprobs([ctx])[0]


def test_default_model_shape_and_chat(default_lm):
    assert default_lm.vocab_size == 49152 and default_lm.is_chat
    ids = awrs.chat(default_lm, "Say hi")
    assert default_lm.decode(ids).endswith("<|im_start|>assistant\n")
    lp = default_lm.next_token_logprobs([ids])
    assert lp.shape == (1, 49152) and lp.dtype == torch.float32
    assert torch.logsumexp(lp[0], 0).item() == pytest.approx(0.0, abs=1e-4)


def test_ragged_batch_equals_unbatched(default_lm):
    p = awrs.chat(default_lm, "Count to three")
    ctxs = [p, p + [28, 29], p[:7], default_lm.encode("Unrelated raw text here")]
    default_lm.reset()
    batched = default_lm.next_token_logprobs(ctxs)
    for row, ctx in enumerate(ctxs):
        assert torch.allclose(batched[row], fresh(default_lm, ctx), atol=1e-4)


def test_incremental_cache_equals_full_forward(default_lm):
    p = awrs.chat(default_lm, "Name a colour")
    lm = default_lm
    lm.reset()
    lm.next_token_logprobs([p] * 3)
    calls = lm.forward_calls
    lm.next_token_logprobs([p + [100], p + [200], p + [300]])
    # resampling: rows duplicated and reordered, then extended by one token each
    step = lm.next_token_logprobs([p + [300, 5], p + [100, 6], p + [100, 7]])
    assert lm.forward_calls == calls + 2  # one incremental forward per step
    for row, ctx in enumerate([p + [300, 5], p + [100, 6], p + [100, 7]]):
        assert torch.allclose(step[row], fresh(lm, ctx), atol=1e-4)


def test_prefix_store_is_bounded(default_lm):
    lm = default_lm
    old = lm.cache_bytes
    lm.reset()
    try:
        lm.cache_bytes = 1
        for text in ["one two", "three four", "five six"]:
            ids = lm.encode(text)
            lm.next_token_logprobs([ids + [1], ids + [2]])
        assert len(lm._lru) == 1  # evicted down to the newest entry
    finally:
        lm.cache_bytes = old
        lm.reset()


def test_temperature_scales_logits(default_lm):
    p = default_lm.encode("The sky is")
    default_lm.reset()
    base = default_lm.next_token_logprobs([p])[0]
    hot = default_lm.next_token_logprobs([p], temperature=2.0)[0]
    assert torch.allclose(hot, torch.log_softmax(base / 2.0, 0), atol=1e-4)
    with pytest.raises(awrs.ConfigurationError, match="temperature"):
        default_lm.next_token_logprobs([p], temperature=0)


def test_bad_contexts(default_lm):
    with pytest.raises(awrs.ConfigurationError, match="empty context"):
        default_lm.next_token_logprobs([[]])
    with pytest.raises(awrs.ConfigurationError, match="exceeds the model's maximum"):
        default_lm.next_token_logprobs([[1] * (default_lm.max_length + 1)])
