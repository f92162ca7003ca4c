"""The language-model interface every sampler uses."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

from ..errors import ConfigurationError


class LanguageModel(ABC):
    """A next-token distribution over a byte-level vocabulary.

    Subclasses set two attributes and implement one method:

    - ``vocab``: ``list[bytes]``, the exact bytes of each token id (a token holding part of a
      multi-byte UTF-8 character maps to its raw bytes; special tokens map to their text).
    - ``eos_token_ids``: ``set[int]``, the ids that end a sequence.
    - :meth:`next_token_logprobs`: batched log-probabilities of the next token.

    ``encode``/``decode`` and the chat helpers have defaults that subclasses may override.
    """

    vocab: list[bytes]
    eos_token_ids: set[int]
    #: maximum number of tokens in a context (prompt + generated); ``None`` means unbounded.
    max_length: int | None = None

    @abstractmethod
    def next_token_logprobs(
        self, contexts: list[list[int]], temperature: float = 1.0
    ) -> torch.Tensor:
        """Return a (B, V) float32 tensor of next-token log-probabilities, one row per context.

        Args:
            contexts: B non-empty token-id lists (ragged lengths allowed).
            temperature: logits are divided by it before normalising.
        """

    def prefill(self, ids: Sequence[int]) -> None:  # noqa: B027 - optional hook, no-op default
        """Cache the state of the context ``ids`` ahead of a call that extends it (a long
        prompt computed a chunk per scheduler step). A backend without a cache ignores it."""

    def kv_bytes_per_token(self) -> int:
        """Bytes of cached state per token of one row (0: the backend caches none)."""
        return 0

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """Concatenate the bytes of the token ids."""
        vocab = self.vocab
        return b"".join(vocab[i] for i in ids)

    def decode(self, ids: Sequence[int]) -> str:
        """Decode token ids to text (invalid UTF-8 replaced)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def encode(self, text: str) -> list[int]:
        """Greedy longest-match tokenization over ``vocab`` (subclasses use their tokenizer)."""
        data = text.encode("utf-8")
        table = getattr(self, "_greedy_table", None)
        if table is None:
            table = {}
            for i, b in enumerate(self.vocab):
                if b and i not in self.eos_token_ids:
                    table.setdefault(b, i)
            self._greedy_table = table
        longest = max(map(len, table), default=0)
        out, pos = [], 0
        while pos < len(data):
            for n in range(min(longest, len(data) - pos), 0, -1):
                tid = table.get(data[pos : pos + n])
                if tid is not None:
                    out.append(tid)
                    pos += n
                    break
            else:
                raise ConfigurationError(
                    f"cannot tokenize byte {data[pos]:#x} at offset {pos}: expected text whose "
                    "bytes are all covered by the vocabulary"
                )
        return out

    def prompt_ids(self, prompt: str | Sequence[int], raw: bool = False) -> list[int]:
        """Token ids of a prompt: ids pass through, text gets the chat template unless raw."""
        if isinstance(prompt, str):
            return (
                self.encode(prompt)
                if raw or not self.is_chat
                else self.chat([{"role": "user", "content": prompt}])
            )
        ids = [int(i) for i in prompt]
        if any(i < 0 or i >= len(self.vocab) for i in ids):
            raise ConfigurationError(
                f"prompt token ids must lie in [0, {len(self.vocab)}), got {ids[:8]}..."
            )
        return ids

    @property
    def is_chat(self) -> bool:
        """Whether :meth:`chat` applies a chat template."""
        return False

    def chat(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of a conversation, ready for the assistant's reply."""
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        return self.encode(text)

    def check_contexts(self, contexts: list[list[int]]) -> None:
        """Raise a clear error for an empty batch, an empty context or one too long."""
        if not contexts:
            raise ConfigurationError("expected at least one context, got an empty batch")
        for c in contexts:
            if len(c) == 0:
                raise ConfigurationError(
                    "expected non-empty token contexts, got an empty context; start from a "
                    "prompt or a BOS token"
                )
            if self.max_length is not None and len(c) > self.max_length:
                raise ConfigurationError(
                    f"context of {len(c)} tokens exceeds the model's maximum of "
                    f"{self.max_length} tokens"
                )


def chat(lm: LanguageModel, messages: list[dict[str, str]] | str) -> list[int]:
    """Prompt ids for a conversation (a string is one user message)."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return lm.chat(messages)
