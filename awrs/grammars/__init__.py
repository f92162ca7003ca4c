"""Lark grammars shipped with awrs (json.lark, sql.lark), loadable as package data."""
