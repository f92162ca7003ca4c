"""Fixtures of the constraint tests: seeded MaskBench subsets."""

from __future__ import annotations

import json
import random

import pytest


@pytest.fixture(scope="session")
def maskbench_sample(data_dir):
    """``sample(n, seed, max_schema_chars=None)``: ``n`` seeded MaskBench-open records; with
    ``max_schema_chars``, the first ``n`` of ``2 n`` drawn whose schema text is shorter."""
    path = data_dir / "maskbench" / "maskbench-open.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    lines = [x for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]

    def sample(n: int, seed: int, max_schema_chars: int | None = None) -> list[dict]:
        if max_schema_chars is None:
            return [json.loads(x) for x in random.Random(seed).sample(lines, n)]
        recs = [json.loads(x) for x in random.Random(seed).sample(lines, n * 2)]
        return [r for r in recs if len(json.dumps(r["schema"])) < max_schema_chars][:n]

    return sample
