"""Deprecated alias of :mod:`awrs.logits_processor` (``awrs.hf`` read like the Hugging Face
backend, which is :mod:`awrs.models.hf`); it stays for one release and warns on import."""

from __future__ import annotations

import warnings

from .logits_processor import ConstraintLogitsProcessor

__all__ = ["ConstraintLogitsProcessor"]

warnings.warn(
    "awrs.hf is deprecated: import ConstraintLogitsProcessor from awrs.logits_processor",
    DeprecationWarning,
    stacklevel=2,
)
