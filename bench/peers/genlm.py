"""genlm-control (PyPI ``genlm-control==0.4.1``) running its AWRS-SMC on the same model weights."""

from __future__ import annotations

import asyncio
import math
import random
import time
import warnings

from ..methods import Method, Missing, Outcome, Unsupported


def _potentials():
    """Potential classes over bytes, defined once genlm-control is importable."""
    import regex
    from genlm.control import Potential

    class Counting(Potential):
        """Counts prefix/complete evaluations; ``check`` maps bytes to a bool (or a potential)."""

        def __init__(self, prefix_ok, complete_ok):
            super().__init__(list(range(256)))
            self._prefix_ok, self._complete_ok = prefix_ok, complete_ok
            self.evals = 0

        async def prefix(self, context):
            self.evals += 1
            return 0.0 if await self._prefix_ok(bytes(context)) else -math.inf

        async def complete(self, context):
            self.evals += 1
            return 0.0 if await self._complete_ok(bytes(context)) else -math.inf

    def from_constraint(c):
        async def p(b):
            return c.prefix_ok(b)

        async def q(b):
            return c.complete_ok(b)

        return Counting(p, q)

    def from_pattern(pattern):
        # the paper's potential: partial matching of the ``regex`` package
        r = regex.compile(pattern)

        async def p(b):
            text = b.decode("utf-8", errors="replace")
            return r.fullmatch(text, partial=True) is not None

        async def q(b):
            return r.fullmatch(b.decode("utf-8", errors="replace")) is not None

        return Counting(p, q)

    def from_potential(pot):
        async def p(b):
            return await pot.prefix(list(b)) > -math.inf

        async def q(b):
            return await pot.complete(list(b)) > -math.inf

        return Counting(p, q)

    return from_constraint, from_pattern, from_potential


class GenlmControlPeer(Method):
    """genlm-control 0.4.1 AWRS-SMC, N particles, its HF backend on the same weights"""

    name = "genlm-control"
    uses_particles = True
    slow = True
    needs_constraint = False

    def prepare(self, lm, cfg):
        try:
            import genlm.control as gc
        except ImportError as exc:
            raise Missing(
                f"genlm-control is not installed ({exc}); pip install 'awrs[bench]'"
            ) from exc
        model, tokenizer = getattr(lm, "model", None), getattr(lm, "tokenizer", None)
        if model is None or tokenizer is None:
            raise Missing("genlm-control needs a Hugging Face model (lm.model, lm.tokenizer)")
        self._gc = gc
        self._lm_s = 0.0
        self._backend = self.make_backend(lm)
        eos = [lm.vocab[i] for i in sorted(lm.eos_token_ids)]
        self._llm = gc.PromptedLLM(self._backend, eos_byte_strings=eos, temperature=cfg.temperature)
        self._make = _potentials()
        self._warm_up(lm)

    def make_backend(self, lm):
        """genlm-backend's ``AsyncTransformer`` on the model's weights, its forwards timed."""
        from genlm.backend.llm import AsyncTransformer

        backend = AsyncTransformer(lm.model, lm.tokenizer)
        evaluate = backend.batch_evaluate_queries

        def timed():  # seconds in genlm-backend's batched forward passes
            t0 = time.perf_counter()
            try:
                return evaluate()
            finally:
                self._lm_s += time.perf_counter() - t0

        backend.batch_evaluate_queries = timed
        return backend

    def _warm_up(self, lm) -> None:
        """One tiny SMC run so that one-off JIT and setup costs stay out of the timings."""
        pot = self._make[1]("[a-z]+")
        self._smc(pot, lm.encode("Say hi:"), 0, 2, 0.5, 3)

    def build(self, suite, item, ctx):
        spec = ctx.spec()
        if spec.kind == "regex":
            return self._make[1](spec.source)
        if spec.kind == "json_schema":
            try:
                return self._make[2](self._gc.JsonSchema(spec.source))
            except Exception as exc:  # genlm's parser refuses the schema
                raise Unsupported(
                    f"genlm-control JsonSchema: {type(exc).__name__}: {exc}"[:300]
                ) from exc
        return self._make[0](ctx.constraint)  # any other constraint: awrs's own checks

    def _smc(self, pot, prompt_ids, seed, n, ess, max_tokens):
        import numpy as np
        import torch

        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        llm = self._llm.spawn(prompt_ids=list(prompt_ids))
        cond = pot.coerce(llm, f=b"".join)
        sampler = self._gc.AWRS(llm, cond, seed=seed)

        async def go():
            try:
                return await sampler.smc(n_particles=n, ess_threshold=ess, max_tokens=max_tokens)
            finally:
                cleanup = getattr(sampler, "cleanup", None)
                if cleanup is not None:
                    await cleanup()

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # transformers' past_key_values
                return asyncio.run(go())
        finally:  # also after a timeout: drop queued queries and cached states
            reset = getattr(self._backend, "reset_async_queries", None)
            if reset is not None:
                reset()
            self._backend.clear_cache()

    def run(self, built, prompt_ids, seed, cfg):
        built.evals = 0
        self._lm_s = 0.0
        seqs = self._smc(built, prompt_ids, seed, cfg.particles, cfg.ess_threshold, cfg.max_tokens)
        # dead particles (weight 0) may still end with EOS: keep positive finite mass only
        posterior = {
            t: float(p) for t, p in seqs.decoded_posterior.items() if math.isfinite(p) and p > 0
        }
        tokens = sum(len(c) for c in seqs.contexts)
        text = max(posterior, key=posterior.get) if posterior else None
        log_ml = float(getattr(seqs, "log_ml", math.nan))
        return Outcome(
            text,
            text is not None,
            tokens,
            float(built.evals),
            log_ml,
            posterior,
            cfg.particles,
            {"lm_s": self._lm_s},
        )


class GenlmOnAwrsLM(GenlmControlPeer):
    """genlm-control 0.4.1 AWRS-SMC, N particles, on awrs's model backend (isolates the sampler)"""

    name = "genlm-control-awrs-lm"
    slow = False  # as fast as the model backend it shares with awrs

    def make_backend(self, lm):
        from genlm.backend.llm import AsyncLM

        peer = self

        class AwrsBackend(AsyncLM):
            """genlm-backend's interface over an awrs LanguageModel (one batched call per step)."""

            def __init__(self):
                super().__init__(tokenizer=lm.tokenizer)

            def _call(self, contexts):
                t0 = time.perf_counter()
                try:
                    return lm.next_token_logprobs([list(c) for c in contexts])  # (B, V)
                finally:
                    peer._lm_s += time.perf_counter() - t0

            async def next_token_logprobs(self, token_ids, lora_name=None):
                return self._call([token_ids])[0]

            def next_token_logprobs_sync(self, token_ids, lora_name=None):
                return self._call([token_ids])[0]

            async def batch_next_token_logprobs(self, token_ids_list, lora_name=None):
                return self._call(token_ids_list)

            def batch_next_token_logprobs_sync(self, token_ids_list, lora_name=None):
                return self._call(token_ids_list)

            def clear_cache(self):
                pass

        return AwrsBackend()
