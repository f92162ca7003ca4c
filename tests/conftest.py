"""Shared fixtures: the default model (loaded once per session) and the data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# tiny tensor ops (toy LMs) are slower with several threads than with one
torch.set_num_threads(1)

try:  # fuzz tests are reproducible by default (fixed seeds); HYPOTHESIS_PROFILE=explore varies
    from hypothesis import settings as _hyp

    _hyp.register_profile("fixed", derandomize=True, database=None)
    _hyp.register_profile("explore")
    _hyp.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))
except ImportError:  # hypothesis comes with the test extra
    pass

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def default_lm():
    """The embedded SmolLM2-135M-Instruct (converted on first use, then cached)."""
    import torch

    import awrs

    torch.manual_seed(0)
    return awrs.load_model()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.exists():
        pytest.skip(f"shared data folder {DATA} is absent")
    return DATA


def pytest_collection_modifyitems(config, items):
    """``one_pass`` tests (server subprocesses, long prompts) run in the native pass only."""
    if os.environ.get("AWRS_NO_EXTENSIONS") != "1":
        return
    skip = pytest.mark.skip(reason="one_pass: runs in the native pass of make test only")
    for item in items:
        if "one_pass" in item.keywords:
            item.add_marker(skip)
