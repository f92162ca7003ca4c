"""awrs: fast controlled generation with adaptive weighted rejection sampling and SMC."""

from __future__ import annotations

import importlib

from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors
from .kernels import native as native

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
    "SMILES": "awrs.constraints.smiles",
    "generate": "awrs.sampling.api",
    "Result": "awrs.sampling.sampler",
    "make_sampler": "awrs.sampling.api",
    "prepare": "awrs.sampling.api",
    "Sampler": "awrs.sampling.sampler",
    "Scheduler": "awrs.sampling.scheduler",
    "ConstraintSpec": "awrs.request",
    "SamplingOptions": "awrs.request",
    "METHODS": "awrs.request",
    "best_of_k": "awrs.scaling.best_of_k",
    "Selection": "awrs.scaling.best_of_k",
    "rewards": "awrs.rewards",
    "batch": "awrs.jobs",
    "logits_processor": "awrs.logits_processor",
    "hf": "awrs.hf",  # deprecated alias of awrs.logits_processor (warns)
}
# names that are modules (awrs.batch is the function of the package awrs.jobs)
_MODULES = ("rewards", "logits_processor", "hf")
_DEPRECATED = ("hf",)  # resolvable for one release, not exported

__all__ = sorted([*_errors, *(n for n in _LAZY if n not in _DEPRECATED), "native", "__version__"])


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
