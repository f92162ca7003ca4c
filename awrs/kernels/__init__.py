"""The kernel registry: each kernel compiled, or its pure-Python twin.

A kernel ``<name>`` of :data:`KERNELS` is three files:

- ``csrc/_<name>_c.pyx``, built into the extension module ``awrs.kernels._<name>_c``;
- ``awrs/kernels/_<name>_py.py``, its pure-Python twin: the reference, with the docstrings,
  returning identical results on identical inputs (checked by ``tests/kernels/test_parity.py``);
- ``awrs/kernels/<name>.py``, its selector, the module the rest of awrs imports, which binds
  its exported names with one call to :func:`select`.

:func:`load_kernel` picks the implementation once per kernel: the compiled module unless
``AWRS_NO_EXTENSIONS`` is set (to anything non-empty) when :mod:`awrs.kernels` is first
imported, or the compiled module cannot be imported; the twin otherwise. Kernels are loaded
lazily, the first time their selector is imported (or :func:`native` is called), so importing
:mod:`awrs` loads none.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from types import ModuleType
from typing import Any

#: every kernel, by name; ``awrs.kernels.<name>`` is its selector
KERNELS = ("awrs", "categorical", "dfa", "lalr", "resample", "trie")

NO_EXTENSIONS = bool(os.environ.get("AWRS_NO_EXTENSIONS"))
_chosen: dict[str, ModuleType] = {}


def _kernel_name(name: str) -> str:
    key = name.removeprefix("_")  # "_dfa", the module stem, is accepted as well as "dfa"
    if key not in KERNELS:
        raise ValueError(f"expected a kernel in {KERNELS}, but got {name!r}")
    return key


def load_kernel(name: str, python: bool = False) -> ModuleType:
    """The module implementing kernel ``name`` (``"dfa"``, or its module stem ``"_dfa"``).

    ``awrs.kernels._<name>_c`` (compiled) unless ``AWRS_NO_EXTENSIONS`` is set or the compiled
    module cannot be imported, then ``awrs.kernels._<name>_py`` (the twin); the choice is made
    once and kept. With ``python=True``, the twin, whatever the choice.

    Raises:
        ValueError: if ``name`` is not in :data:`KERNELS`.
    """
    key = _kernel_name(name)
    if python:
        return importlib.import_module(f"{__name__}._{key}_py")
    mod = _chosen.get(key)
    if mod is None:
        mod = None if NO_EXTENSIONS else _import_compiled(key)
        if mod is None:
            mod = importlib.import_module(f"{__name__}._{key}_py")
        _chosen[key] = mod
    return mod


def _import_compiled(key: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"{__name__}._{key}_c")
    except ImportError:  # not built (or built for another interpreter): the twin stands in
        return None


def select(name: str, names: list[str]) -> tuple[Any, ...]:
    """The objects called ``names`` in the implementation :func:`load_kernel` chose for ``name``.

    A selector binds them in one line, ``a, b = select("<name>", __all__)``. Compiled functions
    get the docstring of their twin (extension types keep theirs: theirs cannot be set).
    """
    impl, twin = load_kernel(name), load_kernel(name, python=True)
    objs = tuple(getattr(impl, n) for n in names)
    if impl is not twin:
        for n, obj in zip(names, objs, strict=True):
            if callable(obj):
                # an extension type's __doc__ is read-only: it keeps its own
                with contextlib.suppress(AttributeError, TypeError):
                    obj.__doc__ = getattr(twin, n).__doc__
    return objs


def native() -> dict[str, str]:
    """Which implementation each kernel uses: ``{"_<name>": "compiled" | "python"}``.

    One entry per kernel of :data:`KERNELS`, keyed by its module stem (``"_dfa"``); a kernel not
    loaded yet is loaded first, so the answer is complete and is what awrs runs.
    ``AWRS_NO_EXTENSIONS=1`` gives ``"python"`` everywhere; a compiled module that is missing
    falls back to its twin and shows as ``"python"``.
    """
    return {
        f"_{name}": "compiled" if load_kernel(name).__name__.endswith("_c") else "python"
        for name in KERNELS
    }
