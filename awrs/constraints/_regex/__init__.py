"""Python regular expressions compiled to byte-level DFAs over UTF-8."""

from .dfa import DEFAULT_MAX_STATES, DFA, compile_dfa

__all__ = ["DEFAULT_MAX_STATES", "DFA", "compile_dfa"]
