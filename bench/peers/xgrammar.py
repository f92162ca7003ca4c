"""XGrammar (PyPI ``xgrammar``) as a token-mask engine for locally constrained decoding."""

from __future__ import annotations

import json

from ..methods import Missing, Unsupported
from .base import MaskingPeer


class XGrammarPeer(MaskingPeer):
    """XGrammar: locally constrained decoding with its token masks (JSON schema, regex, Lark)"""

    name = "xgrammar"

    def prepare(self, lm, cfg):
        try:
            import xgrammar
        except ImportError as exc:
            raise Missing(f"xgrammar is not installed ({exc}); pip install 'awrs[bench]'") from exc
        tokenizer = getattr(lm, "tokenizer", None)
        if tokenizer is None:
            raise Missing("xgrammar needs a Hugging Face tokenizer (lm.tokenizer)")
        super().prepare(lm, cfg)
        self._xgr = xgrammar
        info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(lm.vocab))
        self.peer_eos = int(info.stop_token_ids[0])
        self._compiler = xgrammar.GrammarCompiler(info)
        self._bitmask = xgrammar.allocate_token_bitmask(1, info.vocab_size)

    def build(self, suite, item, ctx):
        spec = ctx.spec()
        try:
            if spec.kind == "json_schema":
                return self._compiler.compile_json_schema(json.dumps(spec.source))
            if spec.kind == "regex":
                if "\\p{" in spec.source or "\\P{" in spec.source:
                    # xgrammar would warn and match the letter p instead
                    raise Unsupported("xgrammar has no Unicode property classes (\\p{...})")
                return self._compiler.compile_regex(spec.source)
            if spec.kind == "lark":
                return self._compiler.compile_grammar(self._xgr.Grammar.from_lark(spec.source))
        except (ValueError, RuntimeError, TypeError) as exc:
            raise Unsupported(f"xgrammar cannot compile the {spec.kind}: {exc}"[:300]) from exc
        raise Unsupported(f"xgrammar has no {spec.kind!r} constraint in this harness")

    def new_matcher(self, built):
        return self._xgr.GrammarMatcher(built)

    def fill_mask(self, matcher, logprobs):
        matcher.fill_next_token_bitmask(self._bitmask)
        self._xgr.apply_token_bitmask_inplace(logprobs, self._bitmask)

    def consume(self, matcher, token):
        return bool(matcher.accept_token(token))
