"""Hugging Face causal-LM backend with a batched, prefix-reusing KV cache."""

from __future__ import annotations

import inspect
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, cast

import torch

from ..errors import ConfigurationError, UnsupportedModelError
from .base import LanguageModel
from .vocab import token_bytes


@dataclass(slots=True)
class _Batch:
    """The KV cache of the last batch: row i holds ``keys[i]``; ``mask`` may have holes."""

    keys: list[tuple[int, ...]]
    cache: Any  # transformers DynamicCache, batch dimension = len(keys)
    mask: torch.Tensor  # (B, L) long attention mask over cached positions
    logits: torch.Tensor  # (B, V) float32 logits after each row's last token

    def index(self) -> dict[tuple[int, ...], int]:
        return {k: i for i, k in enumerate(self.keys)}


def _cache_nbytes(cache) -> int:
    return sum(
        layer.keys.numel() * layer.keys.element_size() * 2
        for layer in cache.layers
        if getattr(layer, "keys", None) is not None and layer.keys.numel()
    )


def _trim(cache, mask: torch.Tensor) -> torch.Tensor:
    """Drop the leading columns no row attends to (left padding of rows that left the batch);
    returns the trimmed mask. Cache tensors are replaced by views, never written."""
    used = mask.any(dim=0).nonzero()
    start = int(used[0]) if used.numel() else mask.shape[1]
    if start == 0:
        return mask
    for layer in cache.layers:
        if getattr(layer, "keys", None) is not None and layer.keys.numel():
            layer.keys, layer.values = layer.keys[:, :, start:], layer.values[:, :, start:]
    return mask[:, start:]


def _clone_cache(cache, config):
    """A new cache object sharing the tensors (updates replace tensors, never write in place)."""
    from transformers import DynamicCache

    data = [
        (layer.keys, layer.values)
        for layer in cache.layers
        if getattr(layer, "keys", None) is not None
    ]
    return DynamicCache(data, config=config) if data else DynamicCache(config=config)


def _select(batch: _Batch, rows: list[int], config) -> _Batch:
    """The rows ``rows`` of a batch (a new cache object; tensors indexed, not copied in place)."""
    idx = torch.tensor(rows, dtype=torch.long, device=batch.mask.device)
    cache = _clone_cache(batch.cache, config)
    cache.reorder_cache(idx)
    logits = batch.logits[idx] if batch.logits.numel() else batch.logits
    return _Batch([batch.keys[r] for r in rows], cache, _trim(cache, batch.mask[idx]), logits)


def _concat(a: _Batch, b: _Batch, config) -> _Batch:
    """Two batches stacked, the shorter one left-padded (zeros, attention-mask holes)."""
    from transformers import DynamicCache

    la, lb = a.mask.shape[1], b.mask.shape[1]
    width = max(la, lb)

    def pad(t: torch.Tensor, n: int, dim: int) -> torch.Tensor:
        if n == 0:
            return t
        shape = list(t.shape)
        shape[dim] = n
        return torch.cat([t.new_zeros(shape), t], dim=dim)

    layers = []
    for x, y in zip(a.cache.layers, b.cache.layers, strict=True):
        layers.append(
            tuple(
                torch.cat([pad(u, width - la, 2), pad(v, width - lb, 2)], dim=0)
                for u, v in ((x.keys, y.keys), (x.values, y.values))
            )
        )
    mask = torch.cat([pad(a.mask, width - la, 1), pad(b.mask, width - lb, 1)], dim=0)
    return _Batch(
        a.keys + b.keys,
        DynamicCache(layers, config=config),
        mask,
        torch.cat([a.logits, b.logits], dim=0),
    )


class HFLanguageModel(LanguageModel):
    """A Hugging Face causal LM behind the :class:`LanguageModel` interface.

    KV cache. The model keeps the cache of its last batch. A call whose contexts each extend a
    context of the previous call (by any number of tokens, rows reordered or duplicated, as
    after SMC resampling) runs one incremental forward over the new tokens only. Other calls
    start from the longest common prefix of the batch, whose cache is kept in an LRU store
    bounded by ``cache_bytes`` (least recently used entries are evicted first); only the
    remaining ragged suffixes are computed, left-padded with attention-mask holes.
    """

    def __init__(self, model, tokenizer, *, cache_bytes: int = 1 << 30, name: str = ""):
        if model.get_output_embeddings() is None:
            raise UnsupportedModelError(
                f"model {name or type(model).__name__} has no causal-LM head: expected a model "
                "loadable with AutoModelForCausalLM"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        size = model.get_output_embeddings().weight.shape[0]
        self.vocab = token_bytes(tokenizer, size)
        eos = set()
        for attr in ("eos_token_id",):
            for src in (tokenizer, getattr(model, "generation_config", None), model.config):
                val = getattr(src, attr, None) if src is not None else None
                if isinstance(val, int):
                    eos.add(val)
                elif isinstance(val, (list, tuple)):
                    eos.update(int(v) for v in val)
        if not eos:
            raise UnsupportedModelError(f"model {name!r} declares no end-of-sequence token")
        self.eos_token_ids = eos
        self.max_length = getattr(model.config, "max_position_embeddings", None)
        self.cache_bytes = cache_bytes
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos)
        self._live: _Batch | None = None
        self._lru: OrderedDict[tuple[int, ...], _Batch] = OrderedDict()
        self._last_prefill: tuple[int, ...] | None = None
        self.forward_calls = 0
        self.device = next(model.parameters()).device
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    # -- text -----------------------------------------------------------------------------
    @property
    def is_chat(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def chat(self, messages):
        if not self.is_chat:
            return super().chat(messages)
        out = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True
        )
        if hasattr(out, "keys") and "input_ids" in out:
            out = out["input_ids"]
        return [int(i) for i in out]

    # -- log-probabilities ----------------------------------------------------------------
    @torch.no_grad()
    def next_token_logprobs(self, contexts, temperature=1.0):
        self.check_contexts(contexts)
        if not temperature > 0:
            raise ConfigurationError(f"temperature must be > 0, got {temperature}")
        keys = [tuple(int(t) for t in c) for c in contexts]
        logits = self._logits(keys)
        if temperature != 1.0:
            logits = logits / temperature
        return torch.log_softmax(logits.float(), dim=-1).cpu()

    def reset(self) -> None:
        """Drop every cached key/value tensor."""
        self._live = None
        self._lru.clear()

    @torch.no_grad()
    def prefill(self, ids) -> None:
        """Compute and cache the keys/values of ``ids`` (a prompt, one chunk more each call):
        a later call whose contexts start with ``ids`` computes only what follows. The entry
        of the previous chunk of the same prompt is dropped once extended."""
        key = tuple(int(t) for t in ids)
        if not key or key in self._lru:
            return
        self.check_contexts([list(key)])
        before = set(self._lru)
        self._prefix_batch(key)
        used = max(
            (k for k in before if len(k) < len(key) and key[: len(k)] == k), key=len, default=None
        )
        if used is not None and used == self._last_prefill:
            self._lru.pop(used, None)
        self._last_prefill = key

    def kv_bytes_per_token(self) -> int:
        """Bytes of cached keys and values per token of one row."""
        cfg = self.model.config
        layers = getattr(cfg, "num_hidden_layers", 0)
        heads = getattr(cfg, "num_attention_heads", 0)
        kv = getattr(cfg, "num_key_value_heads", None) or heads
        dim = getattr(cfg, "head_dim", None) or (cfg.hidden_size // max(heads, 1))
        size = next(self.model.parameters()).element_size()
        return int(layers * 2 * kv * dim * size)

    def _logits(self, keys: list[tuple[int, ...]]) -> torch.Tensor:
        live = self._live
        plan = self._match(live, keys) if live is not None else None
        if live is None or plan is None or all(step is None for step in plan):
            live, plan = self._from_prefix(keys)
        elif any(step is None for step in plan):
            live, plan = self._join(live, keys, plan)
        self._live = self._extend(live, keys, plan)
        return self._live.logits

    @staticmethod
    def _match(live: _Batch, keys) -> list[tuple[int, tuple[int, ...]] | None]:
        """For each key, (row of live whose key is its longest prefix, suffix) or None."""
        index = live.index()
        lengths = sorted({len(k) for k in live.keys}, reverse=True)
        plan: list[tuple[int, tuple[int, ...]] | None] = []
        for key in keys:
            for n in lengths:
                if n <= len(key) and (row := index.get(key[:n])) is not None:
                    plan.append((row, key[n:]))
                    break
            else:
                plan.append(None)
        return plan

    def _join(self, live: _Batch, keys, plan):
        """Rows that extend the last batch keep its cache; the others (new sequences joining a
        running batch, as under continuous batching) are computed from their own longest
        common prefix and merged in, left-padded with attention-mask holes."""
        hit_rows = sorted({step[0] for step in plan if step is not None})
        misses = list(dict.fromkeys(k for k, step in zip(keys, plan, strict=True) if step is None))
        fresh, fresh_plan = self._from_prefix(misses)
        fresh = self._extend(fresh, misses, fresh_plan)
        old = _select(live, hit_rows, self.model.config)
        merged = _concat(old, fresh, self.model.config)
        where = {r: i for i, r in enumerate(hit_rows)}
        at = {k: len(hit_rows) + i for i, k in enumerate(misses)}
        new_plan = [
            (where[step[0]], step[1]) if step is not None else (at[k], ())
            for k, step in zip(keys, plan, strict=True)
        ]
        return merged, new_plan

    def _from_prefix(self, keys):
        """A one-row batch holding the longest common prefix, and the suffix plan."""
        shortest = min(len(k) for k in keys)
        n = 0
        first = keys[0]
        while n < shortest and all(k[n] == first[n] for k in keys):
            n += 1
        prefix = first[:n]
        base = self._prefix_batch(prefix)
        live = _Batch([prefix], _clone_cache(base.cache, self.model.config), base.mask, base.logits)
        return live, [(0, k[n:]) for k in keys]

    def _prefix_batch(self, prefix: tuple[int, ...]) -> _Batch:
        """The one-row cache of ``prefix``: from the LRU store, extended from its longest
        cached prefix, or computed (and stored)."""
        base = self._lookup(prefix) if prefix else None
        if base is None:
            from transformers import DynamicCache

            empty = _Batch(
                [()],
                DynamicCache(config=self.model.config),
                torch.ones((1, 0), dtype=torch.long, device=self.device),
                torch.empty(0, device=self.device),
            )
            base = self._extend(empty, [prefix], [(0, prefix)]) if prefix else empty
            if prefix:
                self._store(prefix, base)
        return base

    def _lookup(self, prefix):
        hit = self._lru.get(prefix)
        if hit is not None:
            self._lru.move_to_end(prefix)
            return hit
        best = max(
            (k for k in self._lru if len(k) < len(prefix) and prefix[: len(k)] == k),
            key=len,
            default=None,
        )
        if best is None:
            return None
        self._lru.move_to_end(best)
        base = self._lru[best]
        live = _Batch([best], _clone_cache(base.cache, self.model.config), base.mask, base.logits)
        out = self._extend(live, [prefix], [(0, prefix[len(best) :])])
        self._store(prefix, out)
        return out

    def _store(self, prefix, batch: _Batch) -> None:
        self._lru[prefix] = batch
        total = sum(_cache_nbytes(b.cache) for b in self._lru.values())
        while len(self._lru) > 1 and total > self.cache_bytes:
            _, old = self._lru.popitem(last=False)
            total -= _cache_nbytes(old.cache)

    def _extend(self, live: _Batch, keys, plan) -> _Batch:
        """Reorder live's rows per plan and run one forward over the new suffix tokens."""
        rows = [r for r, _ in plan]
        cache = live.cache
        if rows != list(range(len(live.keys))):
            idx = torch.tensor(rows, dtype=torch.long, device=self.device)
            cache.reorder_cache(idx)
            mask, old_logits = live.mask[idx], (live.logits[idx] if live.logits.numel() else None)
            mask = _trim(cache, mask)
        else:
            mask, old_logits = live.mask, live.logits
        width = max(len(s) for _, s in plan)
        # old_logits is None only for the empty prefix's batch, whose rows all get new tokens
        if width == 0:
            return _Batch(list(keys), cache, mask, cast(torch.Tensor, old_logits))
        ids = torch.full((len(plan), width), self._pad, dtype=torch.long)
        new_mask = torch.zeros((len(plan), width), dtype=torch.long)
        for i, (_, suffix) in enumerate(plan):
            if suffix:
                ids[i, width - len(suffix) :] = torch.tensor(suffix)
                new_mask[i, width - len(suffix) :] = 1
        ids, new_mask = ids.to(self.device), new_mask.to(self.device)
        mask = torch.cat([mask, new_mask], dim=1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -width:]
        self.forward_calls += 1
        kwargs = {self._cache_kw: cache}
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **kwargs,
        )
        logits = out.logits[:, -1, :].float()
        new_cache = getattr(out, self._cache_kw, None)
        new_cache = cache if new_cache is None else new_cache
        stale = [i for i, (_, s) in enumerate(plan) if not s]
        if stale:
            idx = torch.tensor(stale, device=self.device)
            logits[idx] = cast(torch.Tensor, old_logits)[idx]
        return _Batch(list(keys), new_cache, mask, logits)
