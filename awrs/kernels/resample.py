"""Selector for the resampling kernels (compiled unless AWRS_NO_EXTENSIONS is set)."""

from . import load_kernel

_impl = load_kernel("_resample")
_twin = load_kernel("_resample", python=True)

multinomial = _impl.multinomial
stratified = _impl.stratified
systematic = _impl.systematic
for _name in ("multinomial", "stratified", "systematic"):
    try:
        getattr(_impl, _name).__doc__ = getattr(_twin, _name).__doc__
    except (AttributeError, TypeError):  # pragma: no cover - builtins without writable docs
        pass

__all__ = ["multinomial", "stratified", "systematic"]
