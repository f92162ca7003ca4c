"""Chunked prefill and the cache-bytes admission bound of the scheduler."""

from __future__ import annotations

import torch
from sampling_helpers import Recording, multibyte_constraint, multibyte_lm

import awrs
from awrs.sampling import Scheduler, make_sampler


class Prefills(Recording):
    """A recording toy model that also records prefill calls and claims a KV cache."""

    def __init__(self, lm, per_token: int = 0):
        super().__init__(lm)
        self.prefills: list[int] = []
        self.per_token = per_token

    def prefill(self, ids):
        self.prefills.append(len(ids))

    def kv_bytes_per_token(self):
        return self.per_token


def _tokens(r):
    return [(s.token_ids, s.log_weight, s.finished) for s in r.samples]


def test_a_long_prompt_is_prefilled_a_chunk_per_step_while_others_decode():
    lm, c = multibyte_lm(), multibyte_constraint()
    rec = Prefills(lm)
    sch = Scheduler(rec, prefill_chunk=4)
    long_prompt = [1] * 18
    slow = make_sampler(rec, long_prompt, c, method="awrs", n_particles=2, max_tokens=4, seed=1)
    fast = make_sampler(rec, [1], c, method="awrs", n_particles=2, max_tokens=3, seed=2)
    sch.add(slow)
    sch.add(fast)
    sch.step()
    assert slow not in sch.active and fast in sch.active  # the short one decodes at once
    ended = sch.run()
    assert rec.prefills == [4, 8, 12, 16, 18]  # one chunk per step, in order
    assert set(map(id, ended)) == {id(slow), id(fast)}
    for s, prompt, kw in (
        (slow, long_prompt, dict(max_tokens=4, seed=1)),
        (fast, [1], dict(max_tokens=3, seed=2)),
    ):
        want = awrs.generate(lm, prompt, c, method="awrs", n_particles=2, **kw)
        assert _tokens(s.result()) == _tokens(want)  # same draws as alone


def test_a_request_cancelled_while_prefilling_takes_no_more_chunks():
    lm, c = multibyte_lm(), multibyte_constraint()
    rec = Prefills(lm)
    sch = Scheduler(rec, prefill_chunk=2)
    s = make_sampler(rec, [1] * 20, c, method="awrs", n_particles=1, max_tokens=3, seed=0)
    sch.add(s)
    sch.step()
    sch.step()
    sch.remove(s)
    assert sch.idle and rec.prefills == [2, 4]
    assert not rec.calls  # its prompt never reached a decoding forward


def test_cache_bytes_bound_admits_what_fits_and_a_lone_sampler_always_runs():
    lm, c = multibyte_lm(), multibyte_constraint()
    rec = Prefills(lm, per_token=100)
    # each sampler: 2 rows x (1 prompt + 5 tokens) x 100 bytes = 1,200 bytes
    sch = Scheduler(rec, prefill_chunk=None, max_cache_bytes=1000)
    a, b = (
        make_sampler(rec, [1], c, method="awrs", n_particles=2, max_tokens=5, seed=i)
        for i in range(2)
    )
    sch.add(a)
    sch.add(b)
    sch.step()
    assert sch.active == [a] and list(sch.waiting) == [b]  # alone over the bound: runs
    sch.run()
    assert a.finished and b.finished


def test_hf_prefill_in_chunks_gives_the_same_next_token_distribution(default_lm):
    lm = default_lm
    ids = lm.encode("The quick brown fox jumps over the lazy dog. " * 12)
    lm.reset()
    whole = lm.next_token_logprobs([ids, ids + [ids[3]]])
    lm.reset()
    for upto in range(16, len(ids) + 16, 16):
        lm.prefill(ids[:upto])
    assert tuple(ids) in lm._lru and sum(len(k) < len(ids) for k in lm._lru) == 0
    calls = lm.forward_calls
    chunked = lm.next_token_logprobs([ids, ids + [ids[3]]])
    assert lm.forward_calls == calls + 1  # only the one new token was computed
    assert torch.allclose(whole, chunked, atol=2e-4)
    lm.reset()


def test_hf_batch_drops_left_padding_once_the_long_row_leaves(default_lm):
    lm = default_lm
    lm.reset()
    short, long_ = lm.encode("Hi"), lm.encode("word " * 80)
    lm.next_token_logprobs([short])
    lm.next_token_logprobs([short + [5], long_])  # the long row joins: short is left-padded
    wide = lm._live.mask.shape[1]
    out = lm.next_token_logprobs([short + [5, 6]])  # the long row left
    assert lm._live.mask.shape[1] < wide and lm._live.mask.shape[1] == len(short) + 2
    lm.reset()
    assert torch.allclose(out, lm.next_token_logprobs([short + [5, 6]]), atol=2e-4)
    lm.reset()
