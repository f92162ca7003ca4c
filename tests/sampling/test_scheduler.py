"""The scheduler: many samplers share each batched forward, results equal the samplers alone."""

from __future__ import annotations

import pytest
from sampling_helpers import Recording, multibyte_constraint, multibyte_lm

import awrs
from awrs.errors import ConfigurationError, ConstraintEvaluationError
from awrs.sampling import Scheduler, make_sampler

REQUESTS = [
    dict(method="smc", n_particles=4, max_tokens=6, seed=1),
    dict(method="awrs", n_particles=3, max_tokens=4, seed=2),
    dict(method="smc", n_particles=6, max_tokens=7, seed=3, ess_threshold=0.9),
    dict(method="mask", n_particles=2, max_tokens=5, seed=4),
    dict(method="rerank", n_particles=5, max_tokens=6, seed=5),
]


def _tokens(r):
    return [(s.token_ids, s.log_weight, s.finished) for s in r.samples]


def test_requests_share_forwards_and_equal_their_runs_alone():
    lm, c = multibyte_lm(), multibyte_constraint()
    alone = [awrs.generate(lm, [1], c, **kw) for kw in REQUESTS]
    rec = Recording(lm)
    sch = Scheduler(rec)
    samplers = [make_sampler(rec, [1], c, **kw) for kw in REQUESTS]
    for s in samplers:
        sch.add(s)
    ended = sch.run()
    assert sorted(map(id, ended)) == sorted(map(id, samplers))
    for s, want in zip(samplers, alone, strict=True):
        got = s.result()
        assert _tokens(got) == _tokens(want) and got.posterior == want.posterior
    # one call per step for everyone: as many calls as the longest request has steps
    assert len(rec.calls) == sch.lm_calls == max(a.stats.steps for a in alone)
    assert sum(len(c) for c in rec.calls) == sch.rows_forwarded
    assert sum(a.stats.lm_calls for a in alone) > len(rec.calls)


def test_requests_join_while_others_run():
    lm, c = multibyte_lm(), multibyte_constraint()
    rec = Recording(lm)
    sch = Scheduler(rec)
    first = make_sampler(rec, [1], c, **REQUESTS[2])
    sch.add(first)
    sch.step()
    second = make_sampler(rec, [1], c, **REQUESTS[0])
    sch.add(second)
    sch.run()
    assert _tokens(second.result()) == _tokens(awrs.generate(lm, [1], c, **REQUESTS[0]))
    assert _tokens(first.result()) == _tokens(awrs.generate(lm, [1], c, **REQUESTS[2]))
    assert len(rec.calls[1]) > len(rec.calls[0])  # the second request's rows joined the call


def test_different_temperatures_share_a_call_at_their_own_temperature():
    lm, c = multibyte_lm(), multibyte_constraint()
    kws = [
        dict(method="awrs", n_particles=2, max_tokens=4, seed=7, temperature=t)
        for t in (0.5, 1.0, 2.0)
    ]
    rec = Recording(lm)
    sch = Scheduler(rec)
    samplers = [make_sampler(rec, [1], c, **kw) for kw in kws]
    for s in samplers:
        sch.add(s)
    sch.run()
    for s, kw in zip(samplers, kws, strict=True):
        assert _tokens(s.result()) == _tokens(awrs.generate(lm, [1], c, **kw))


def test_max_rows_bounds_admission():
    lm, c = multibyte_lm(), multibyte_constraint()
    rec = Recording(lm)
    sch = Scheduler(rec, max_rows=4)
    samplers = [
        make_sampler(rec, [1], c, method="awrs", n_particles=3, max_tokens=4, seed=i)
        for i in range(3)
    ]
    for s in samplers:
        sch.add(s)
    sch.step()
    assert len(sch.active) == 1 and len(sch.waiting) == 2
    sch.run()
    assert all(s.finished for s in samplers)
    assert max(len(call) for call in rec.calls) <= 4
    with pytest.raises(ConfigurationError, match="max_rows"):
        Scheduler(lm, max_rows=0)


def test_a_failing_request_ends_alone():
    lm = multibyte_lm()

    def boom(b: bytes) -> bool:
        if b.startswith(b"b"):
            raise RuntimeError("boom")
        return True

    bad = make_sampler(lm, [1], awrs.Predicate(boom, boom), n_particles=8, max_tokens=5, seed=0)
    good = make_sampler(lm, [1], multibyte_constraint(), **REQUESTS[0])
    sch = Scheduler(lm)
    sch.add(bad)
    sch.add(good)
    sch.run()
    assert isinstance(bad.error, ConstraintEvaluationError)
    assert _tokens(good.result()) == _tokens(
        awrs.generate(lm, [1], multibyte_constraint(), **REQUESTS[0])
    )


def test_remove_cancels():
    lm, c = multibyte_lm(), multibyte_constraint()
    sch = Scheduler(lm)
    a, b = (make_sampler(lm, [1], c, **REQUESTS[2]) for _ in range(2))
    sch.add(a)
    sch.add(b)
    sch.step()
    sch.remove(a)
    assert a.finished and a not in sch.active
    sch.run()
    assert b.finished and a.result().stats.steps == 1


@pytest.mark.slow
def test_real_model_requests_share_forwards_with_the_kv_cache():
    lm = awrs.load_model()
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    c = awrs.JSONSchema(schema)
    prompts = ["Describe a person as JSON.", "A JSON object with a name:"]
    sch = Scheduler(lm)
    samplers = [
        make_sampler(lm, p, c, method="smc", n_particles=3, max_tokens=12, seed=i)
        for i, p in enumerate(prompts)
    ]
    sch.add(samplers[0])
    sch.step()
    sch.add(samplers[1])  # joins a running batch: its rows are merged into the cached batch
    before = lm.forward_calls
    sch.run()
    steps = sch.lm_calls - 1
    # one forward per step, plus the join (the newcomer's prefix and suffix, then the merge)
    assert lm.forward_calls - before <= steps + 2
    for s in samplers:
        r = s.result()
        for text in r.posterior:
            assert c.accepts(text)
