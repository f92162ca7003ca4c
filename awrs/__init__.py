"""awrs: fast controlled generation with adaptive weighted rejection sampling and SMC."""

from __future__ import annotations

import importlib

from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors
from .kernels import native as _native_loaded

__version__ = "0.1.0"

_LAZY = {
    "LanguageModel": "awrs.models.base",
    "ToyLM": "awrs.models.toy",
    "chat": "awrs.models.base",
    "HFLanguageModel": "awrs.models.hf",
    "load_model": "awrs.models.loading",
    "Constraint": "awrs.constraints.base",
    "IncrementalConstraint": "awrs.constraints.base",
    "Predicate": "awrs.constraints.base",
    "VocabTrie": "awrs.constraints.trie",
    "MaxWhitespace": "awrs.constraints.whitespace",
    "Regex": "awrs.constraints.regex",
    "Pattern": "awrs.constraints.regex",
    "Grammar": "awrs.constraints.grammar",
    "JSONSchema": "awrs.constraints.json_schema",
    "SQL": "awrs.constraints.sql",
    "generate": "awrs.sampling.api",
    "Result": "awrs.sampling.sampler",
    "make_sampler": "awrs.sampling.api",
    "prepare": "awrs.sampling.api",
    "Sampler": "awrs.sampling.sampler",
    "Scheduler": "awrs.sampling.scheduler",
    "best_of_k": "awrs.scaling.best_of_k",
    "Selection": "awrs.scaling.best_of_k",
    "rewards": "awrs.rewards",
    "batch": "awrs.batch",
    "hf": "awrs.hf",
}
_MODULES = ("rewards", "batch", "hf")  # names that are modules (awrs.batch is also callable)

__all__ = sorted([*_errors, *_LAZY, "native", "__version__"])


def native() -> dict[str, str]:
    """Which implementation each compiled kernel uses: ``{"_name": "compiled" | "python"}``.

    ``AWRS_NO_EXTENSIONS=1`` forces the pure-Python twins; a missing compiled module falls back
    to its twin and shows as ``"python"`` here.
    """
    from pathlib import Path

    for twin in sorted((Path(__file__).parent / "kernels").glob("_*_py.py")):
        importlib.import_module(f"awrs.kernels.{twin.stem[1:-3]}")
    return _native_loaded()


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'awrs' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if name in _MODULES else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
