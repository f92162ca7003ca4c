"""MaskBench open (real-world schemas): a fixed seeded subset, checked against its instances.

Targets (the whole set runs in ``python -m bench.json_schema``): no invalid instance accepted,
no valid instance (or a prefix of one) rejected, at most 1% of the schemas refused.
"""

from __future__ import annotations

import json

import pytest

from awrs.constraints.json_schema import JSONSchema
from awrs.errors import ConstraintError

SUBSET = 300
SEED = 2024


@pytest.fixture(scope="module")
def records(maskbench_sample):
    return maskbench_sample(SUBSET, SEED)


def test_maskbench_subset(records):
    refused, validation, invalidation, checked = [], [], [], 0
    for rec in records:
        try:
            c = JSONSchema(rec["schema"], property_order="any", strict=False)
        except ConstraintError as exc:
            refused.append(f"{rec['id']}: {exc}"[:200])
            continue
        for t in rec["tests"]:
            checked += 1
            text = json.dumps(t["data"], separators=(",", ":"), ensure_ascii=False)
            if not t["valid"]:
                if c.accepts(text):
                    invalidation.append(f"{rec['id']}: {text[:100]}")
                continue
            b, s = text.encode(), c.start()
            for k in range(0, len(b), 3):  # 3-byte chunks: split UTF-8 characters too
                s = c.advance(s, b[k : k + 3])
                if s is None:
                    break
            if s is None or not c.is_complete(s):
                validation.append(f"{rec['id']}: {text[:100]}")
    assert checked > 500
    assert not invalidation, invalidation[:5]
    assert not validation, validation[:5]
    assert len(refused) <= SUBSET // 100, refused
