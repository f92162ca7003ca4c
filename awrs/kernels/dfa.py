"""Selector for the byte-DFA kernel (compiled unless AWRS_NO_EXTENSIONS is set)."""

from . import load_kernel

_impl = load_kernel("_dfa")
_twin = load_kernel("_dfa", python=True)
dfa_run = _impl.dfa_run
dfa_run_batch = _impl.dfa_run_batch
dfa_token_mask = _impl.dfa_token_mask
if _impl is not _twin:
    for _name in ("dfa_run", "dfa_run_batch", "dfa_token_mask"):
        try:
            getattr(_impl, _name).__doc__ = getattr(_twin, _name).__doc__
        except (AttributeError, TypeError):  # compiled functions may have read-only docs
            pass

__all__ = ["dfa_run", "dfa_run_batch", "dfa_token_mask"]
