"""The samplers on the default model (SmolLM2-135M-Instruct) under a Predicate constraint."""

from __future__ import annotations

import math

import pytest

import awrs

pytestmark = pytest.mark.slow

DIGITS = frozenset(b"0123456789")


def _digits_constraint():
    """One to four ASCII digits."""
    return awrs.Predicate(
        lambda b: len(b) <= 4 and set(b) <= DIGITS, lambda b: 1 <= len(b) <= 4 and set(b) <= DIGITS
    )


@pytest.mark.parametrize("method", ["smc", "awrs"])
def test_every_finished_sample_satisfies_the_constraint(default_lm, method):
    c = _digits_constraint()
    r = awrs.generate(
        default_lm,
        "Pick a number between 1 and 100.",
        c,
        method=method,
        n_particles=4,
        max_tokens=6,
        seed=0,
    )
    assert not r.empty
    finished = [s for s in r.samples if s.finished and s.log_weight > -math.inf]
    assert finished
    for s in finished:
        assert c.complete_ok(default_lm.decode_bytes(s.token_ids)), s
    assert all(t.isdigit() and 1 <= len(t) <= 4 for t in r.posterior)
    # a handful of checks per token, not the vocabulary
    assert r.stats.evaluations_per_token < len(default_lm.vocab) / 10
    if method == "smc":
        assert math.isfinite(r.log_ml) and r.log_ml < 0


def test_a_tight_budget_still_returns_a_valid_document(default_lm):
    # 12 tokens leave no room to wander: close-forcing ends strings and lists in time
    schema = {
        "type": "object",
        "required": ["name", "tags"],
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
    }
    c = awrs.JSONSchema(schema)
    for method in ("smc", "awrs"):
        r = awrs.generate(
            default_lm,
            "Describe a fruit as JSON with a name and tags.",
            c,
            method=method,
            n_particles=4,
            max_tokens=12,
            seed=0,
        )
        assert not r.empty, (method, r.stats)
        assert c.accepts(r.text), r.text
        assert all(len(s.token_ids) <= 12 for s in r.samples)
