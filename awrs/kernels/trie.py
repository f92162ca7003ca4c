"""Selector for the vocabulary-trie walk kernel (compiled unless AWRS_NO_EXTENSIONS is set)."""

from . import load_kernel

trie_walk = load_kernel("_trie").trie_walk

__all__ = ["trie_walk"]
