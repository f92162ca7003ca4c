"""Package-level checks: exports resolve, kernels load as expected, errors form one tree."""

import importlib
import os
from pathlib import Path

import numpy as np
import pytest

import awrs
from awrs.kernels import load_kernel

ROOT = Path(awrs.__file__).resolve().parent
KERNELS = ROOT / "kernels"


def test_every_exported_name_resolves():
    for name in awrs.__all__:
        assert getattr(awrs, name) is not None, name


def test_kernels_load_as_expected():
    kernels = awrs.native()
    twins = {p.stem[:-3] for p in KERNELS.glob("_*_py.py")}
    assert set(kernels) == twins
    sources = {p.stem[:-2] for p in (ROOT.parent / "csrc").glob("*.pyx")}
    assert sources <= twins, f"kernels without a Python twin: {sources - twins}"
    expected = "python" if os.environ.get("AWRS_NO_EXTENSIONS") else "compiled"
    assert set(kernels.values()) == {expected}, kernels


def test_errors_derive_from_root_and_builtins():
    assert issubclass(awrs.ConfigurationError, (awrs.AwrsError, ValueError))
    assert issubclass(awrs.ModelLoadError, OSError)
    assert issubclass(awrs.UnsupportedFeatureError, NotImplementedError)
    assert issubclass(awrs.ConstraintSizeError, MemoryError)


def _compiled(name):
    if os.environ.get("AWRS_NO_EXTENSIONS"):
        pytest.skip("AWRS_NO_EXTENSIONS set: only the twin is under test")
    return importlib.import_module(f"awrs.kernels.{name}_c")


def test_categorical_twin_and_compiled_agree():
    py, c = load_kernel("_categorical", python=True), _compiled("_categorical")
    rng = np.random.default_rng(0)
    for _ in range(300):
        v = int(rng.integers(1, 50))
        p = rng.random(v).astype(np.float32) * (rng.random(v) < 0.6)
        u = float(rng.random())
        assert py.sample_categorical(p, u) == c.sample_categorical(p, u)
    probs = rng.random((6, 40)).astype(np.float32)
    us = rng.random(6)
    assert np.array_equal(
        py.sample_categorical_batch(probs, us), c.sample_categorical_batch(probs, us)
    )


def test_categorical_matches_distribution_chi_square():
    from awrs.kernels.categorical import sample_categorical

    p = np.array([0.5, 0.0, 0.2, 0.25, 0.05], dtype=np.float32)
    rng = np.random.default_rng(1)
    n = 20_000
    counts = np.bincount([sample_categorical(p, rng.random()) for _ in range(n)], minlength=5)
    assert counts[1] == 0
    support = p > 0
    expected = n * p[support]
    chi2 = float(((counts[support] - expected) ** 2 / expected).sum())
    assert chi2 < 16.27  # chi-square, 3 dof, p = 0.001


def test_categorical_empty_total():
    from awrs.kernels.categorical import sample_categorical

    assert sample_categorical(np.zeros(4, dtype=np.float32), 0.3) == -1
