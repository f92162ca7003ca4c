"""Choosing between compiled kernels and their pure-Python twins."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

NO_EXTENSIONS = bool(os.environ.get("AWRS_NO_EXTENSIONS"))
_loaded: dict[str, str] = {}


def load_kernel(name: str, python: bool = False) -> ModuleType:
    """Import ``awrs.kernels.<name>_c`` (compiled) or ``awrs.kernels.<name>_py`` (twin).

    The twin is used when ``python`` is true, when ``AWRS_NO_EXTENSIONS`` is set, or when the
    compiled module is missing (see :func:`native`).
    """
    if not (python or NO_EXTENSIONS):
        try:
            mod = importlib.import_module(f"awrs.kernels.{name}_c")
            _loaded[name] = "compiled"
            return mod
        except ImportError:
            pass
    mod = importlib.import_module(f"awrs.kernels.{name}_py")
    if not python:
        _loaded[name] = "python"
    return mod


def native() -> dict[str, str]:
    """Which implementation each kernel loaded so far uses: ``"compiled"`` or ``"python"``.

    Importing :mod:`awrs` loads every kernel, so after that the dict is complete.
    """
    return dict(_loaded)
