"""Shared fixtures: the default model (loaded once per session) and the data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# tiny tensor ops (toy LMs) are slower with several threads than with one
torch.set_num_threads(1)

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
