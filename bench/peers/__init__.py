"""Peer engines run on the same model and prompts: llguidance, XGrammar, genlm-control."""
