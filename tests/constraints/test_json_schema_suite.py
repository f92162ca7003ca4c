"""The official JSON-Schema-Test-Suite (draft2020-12, draft7) against a ratchet of pass counts.

For each test, ``accepts(compact JSON)`` must equal ``valid``, and every prefix of a valid
instance must be accepted. Keyword files run with ``formats="annotate"`` (plain semantics),
``optional/format/`` with format assertion. A refused schema counts as failed. The pass count
of every file must not fall below ``json_schema_ratchet.json``; to record improvements run
``AWRS_UPDATE_RATCHET=1 pytest tests/constraints/test_json_schema_suite.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from referencing import Registry
from referencing import jsonschema as refjs

from awrs.constraints.json_schema import JSONSchema
from awrs.errors import ConstraintError

RATCHET = Path(__file__).with_name("json_schema_ratchet.json")
DRAFTS = {
    "draft2020-12": (None, refjs.DRAFT202012),
    "draft7": ("http://json-schema.org/draft-07/schema#", refjs.DRAFT7),
}


def _registry(root: Path, spec) -> Registry:
    """The suite's ``remotes/`` folder, served as http://localhost:1234/."""
    resources = []
    for p in sorted((root / "remotes").rglob("*.json")):
        uri = "http://localhost:1234/" + p.relative_to(root / "remotes").as_posix()
        resources.append((uri, spec.create_resource(json.loads(p.read_text()))))
    return Registry().with_resources(resources)


def _passes(c: JSONSchema, data, valid: bool) -> bool:
    text = json.dumps(data, separators=(",", ":"))
    if c.accepts(text) != valid:
        return False
    if valid:
        b, s = text.encode(), c.start()
        for k in range(len(b)):
            s = c.advance(s, b[k : k + 1])
            if s is None:
                return False
    return True


def run_file(path: Path, dialect: str | None, formats: str, registry: Registry):
    """``(passed, total, failures)`` for one suite file."""
    passed = total = 0
    failures = []
    for group in json.loads(path.read_text()):
        schema = group["schema"]
        if dialect and isinstance(schema, dict) and "$schema" not in schema:
            schema = {"$schema": dialect, **schema}
        try:
            c = JSONSchema(
                schema, formats=formats, property_order="any", strict=False, registry=registry
            )
        except ConstraintError as exc:
            c, reason = None, f"refused: {exc}"
        for t in group["tests"]:
            total += 1
            if c is not None and _passes(c, t["data"], t["valid"]):
                passed += 1
            else:
                failures.append(
                    f"{group['description']} / {t['description']}"
                    + (f" ({reason[:120]})" if c is None else "")
                )
    return passed, total, failures


def run_draft(root: Path, draft: str) -> dict[str, tuple[int, int, list[str]]]:
    dialect, spec = DRAFTS[draft]
    registry = _registry(root, spec)
    base = root / "tests" / draft
    out = {}
    for path in sorted(base.glob("*.json")):
        out[path.name] = run_file(path, dialect, "annotate", registry)
    for path in sorted((base / "optional" / "format").glob("*.json")):
        out["optional/format/" + path.name] = run_file(path, dialect, "assert", registry)
    return out


@pytest.mark.parametrize("draft", sorted(DRAFTS))
def test_suite_against_ratchet(data_dir, draft):
    root = data_dir / "json-schema-test-suite"
    if not (root / "tests" / draft).exists():
        pytest.skip(f"{root / 'tests' / draft} is absent")
    results = run_draft(root, draft)
    ratchet = json.loads(RATCHET.read_text()) if RATCHET.exists() else {}
    if os.environ.get("AWRS_UPDATE_RATCHET"):
        ratchet[draft] = {k: [p, t] for k, (p, t, _) in results.items()}
        RATCHET.write_text(json.dumps(ratchet, indent=1, sort_keys=True) + "\n")
    expected = ratchet.get(draft, {})
    regressions = [
        f"{name}: {p}/{t} < {expected[name][0]}; failing: {fails[:5]}"
        for name, (p, t, fails) in results.items()
        if name in expected and p < expected[name][0]
    ]
    assert not regressions, "\n".join(regressions)
    missing = sorted(set(expected) - set(results))
    assert not missing, f"suite files in the ratchet but not run: {missing}"
    core = [(p, t) for name, (p, t, _) in results.items() if not name.startswith("optional/")]
    passed, total = sum(p for p, _ in core), sum(t for _, t in core)
    assert passed >= 0.95 * total, f"{draft}: {passed}/{total} keyword tests pass (< 95%)"
