"""Exact byte strings of a Hugging Face tokenizer's tokens."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from ..errors import UnsupportedModelError

_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's ``bytes_to_unicode`` table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def _decoder_kinds(tokenizer) -> set[str]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return set()
    spec = json.loads(backend.to_str()).get("decoder") or {}
    kinds = {spec.get("type")}
    for sub in spec.get("decoders") or []:
        kinds.add(sub.get("type"))
    return {k for k in kinds if k}


def token_bytes(tokenizer, size: int | None = None) -> list[bytes]:
    """Map every token id to its exact bytes.

    Byte-level BPE tokens go through the inverse GPT-2 byte table; SentencePiece tokens map
    ``▁`` to a space and ``<0xNN>`` byte-fallback tokens to their byte; added (special) tokens
    map to their text. Ids beyond the tokenizer (a model with a padded embedding) map to ``b""``.
    """
    kinds = _decoder_kinds(tokenizer)
    added = {i: t.content for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items()}
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    n = max(size or 0, len(pieces))
    out: list[bytes] = [b""] * n
    if "ByteLevel" in kinds:
        table = _byte_decoder()
        for i, piece in enumerate(pieces):
            if i in added:
                out[i] = added[i].encode("utf-8")
            elif piece is not None:
                try:
                    out[i] = bytes(table[ch] for ch in piece)
                except KeyError as exc:
                    raise UnsupportedModelError(
                        f"token {i} ({piece!r}) has a character outside the byte-level alphabet"
                    ) from exc
        return out
    if kinds & {"ByteFallback", "Metaspace", "Replace"} or hasattr(tokenizer, "sp_model"):
        for i, piece in enumerate(pieces):
            if i in added:
                out[i] = added[i].encode("utf-8")
            elif piece is not None:
                m = _BYTE_FALLBACK.match(piece)
                out[i] = bytes([int(m.group(1), 16)]) if m else piece.replace("▁", " ").encode()
        return out
    raise UnsupportedModelError(
        f"cannot map the vocabulary of {type(tokenizer).__name__} to bytes: expected a "
        f"byte-level BPE or SentencePiece tokenizer, got decoders {sorted(kinds) or 'none'}"
    )
