"""llguidance (PyPI ``llguidance``) as a token-mask engine for locally constrained decoding."""

from __future__ import annotations

import json

from ..methods import Missing, Unsupported
from .base import MaskingPeer


class LLGuidancePeer(MaskingPeer):
    """llguidance: locally constrained decoding with its token masks (JSON schema, regex, Lark)"""

    name = "llguidance"

    def prepare(self, lm, cfg):
        try:
            import llguidance
            import llguidance.hf
            import llguidance.torch
        except ImportError as exc:
            raise Missing(
                f"llguidance is not installed ({exc}); pip install 'awrs[bench]'"
            ) from exc
        tokenizer = getattr(lm, "tokenizer", None)
        if tokenizer is None:
            raise Missing("llguidance needs a Hugging Face tokenizer (lm.tokenizer)")
        super().prepare(lm, cfg)
        self._llg = llguidance
        self._tok = llguidance.hf.from_tokenizer(tokenizer)
        self.peer_eos = int(self._tok.eos_token)
        self._bitmask = llguidance.torch.allocate_token_bitmask(1, self._tok.vocab_size)

    def build(self, suite, item, ctx):
        spec = ctx.spec()
        M = self._llg.LLMatcher
        try:
            if spec.kind == "json_schema":
                grammar = M.grammar_from_json_schema(json.dumps(spec.source))
            elif spec.kind == "regex":
                grammar = M.grammar_from_regex(spec.source)
            elif spec.kind == "lark":
                grammar = M.grammar_from_lark(spec.source)
            else:
                raise Unsupported(f"llguidance has no {spec.kind!r} constraint")
        except (ValueError, RuntimeError, TypeError) as exc:
            raise Unsupported(f"llguidance cannot compile the {spec.kind}: {exc}"[:300]) from exc
        matcher = M(self._tok, grammar)
        if matcher.is_error():
            raise Unsupported(
                f"llguidance cannot compile the {spec.kind}: {matcher.get_error()}"[:300]
            )
        return matcher

    def new_matcher(self, built):
        return built.deep_copy()

    def fill_mask(self, matcher, logprobs):
        self._llg.torch.fill_next_token_bitmask(matcher, self._bitmask, 0)
        if matcher.is_error():
            raise RuntimeError(f"llguidance: {matcher.get_error()}")
        self._llg.torch.apply_token_bitmask_inplace(logprobs, self._bitmask)

    def consume(self, matcher, token):
        return bool(matcher.consume_token(token))

    def eos_allowed(self, matcher):
        return bool(matcher.is_accepting())
