"""awrs.logits_processor.ConstraintLogitsProcessor: exact masks per step, rows keyed by their
tokens, and ``model.generate`` outputs valid under the constraint (batches, sampling, beam
search)."""

from __future__ import annotations

import math

import pytest
import torch

import awrs
from awrs.logits_processor import ConstraintLogitsProcessor

# a toy vocabulary: ids 0-5 are text, 6 is EOS, 7 a prompt-only token (no bytes)
VOCAB = [b"a", b"b", b"ab", b"c", b"ba", b"bc", b"", b""]
EOS, PROMPT = 6, 7


def _expected(constraint, prefix: bytes, logits: torch.Tensor) -> torch.Tensor:
    """The model's distribution restricted to the accepted tokens (brute force), renormalised."""
    ok = torch.tensor([bool(tok) and constraint.prefix_ok(prefix + tok) for tok in VOCAB])
    ok[EOS] = constraint.complete_ok(prefix)
    p = torch.softmax(logits, -1) * ok
    return p / p.sum()


def _tiny_llama(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        eos_token_id=EOS,
        pad_token_id=PROMPT,
        bos_token_id=PROMPT,
    )
    return LlamaForCausalLM(config).eval()


@pytest.mark.parametrize("pattern", ["(ab|b)+c", "a*b?c?", "(a|ba)(bc)*"])
def test_each_step_is_the_masked_renormalised_model_distribution(pattern):
    """Through model.generate on a toy model: softmax(processed scores) at every step and row
    equals the brute-force masked, renormalised softmax of the raw logits."""
    model = _tiny_llama()
    constraint = awrs.Regex(pattern)
    proc = ConstraintLogitsProcessor(constraint, VOCAB, eos_token_ids=EOS)
    prompt = torch.full((2, 3), PROMPT)
    out = model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        do_sample=True,
        num_return_sequences=3,
        max_new_tokens=6,
        logits_processor=[proc],
        output_scores=True,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=PROMPT,
        eos_token_id=EOS,
        top_k=0,
        top_p=1.0,
        temperature=1.0,
    )
    gen = out.sequences[:, 3:].tolist()
    checked = 0
    for step, (scores, logits) in enumerate(zip(out.scores, out.logits, strict=True)):
        for row, ids in enumerate(gen):
            if EOS in ids[:step]:
                continue  # finished: generate pads it
            prefix = b"".join(VOCAB[t] for t in ids[:step])
            got = torch.softmax(scores[row], -1)
            assert torch.allclose(got, _expected(constraint, prefix, logits[row]), atol=1e-6)
            assert got[ids[step]] > 0
            checked += 1
    assert checked >= 6
    for ids in gen:
        text = b"".join(VOCAB[t] for t in ids[: ids.index(EOS)]) if EOS in ids else None
        assert text is None or constraint.accepts(text)


def test_rows_reordered_and_duplicated_keep_their_own_state():
    """Beam search reorders rows between calls: the state follows each row's token ids."""
    constraint = awrs.Regex("(ab)+c")
    proc = ConstraintLogitsProcessor(constraint, VOCAB, eos_token_ids=EOS)
    logits = torch.zeros((3, len(VOCAB)))
    steps = [[[]] * 3, [[0], [2], [0]], [[2, 0], [0, 1], [0, 1]], [[0, 1, 0], [2, 0, 1], [0, 1, 3]]]
    for rows in steps:
        ids = torch.tensor([[PROMPT] * 2 + r for r in rows])
        masked = proc(ids, logits.clone())
        for row, r in enumerate(rows):
            prefix = b"".join(VOCAB[t] for t in r)
            assert torch.allclose(
                torch.softmax(masked[row], -1), _expected(constraint, prefix, logits[row])
            )
    # a new generate call (the width drops) starts from the constraint's start state again
    masked = proc(torch.tensor([[PROMPT]] * 2), torch.zeros((2, len(VOCAB))))
    assert torch.isfinite(masked[1]).tolist() == torch.isfinite(masked[0]).tolist()
    assert torch.isfinite(masked[0]).tolist() == [
        True,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
    ]


def test_dead_end_rows_end_and_are_counted():
    # 'b' is a prefix of the language {'bc'}, but no token continues it ('c' is missing)
    pred = awrs.Predicate(lambda b: b in (b"", b"b", b"bc"), lambda b: b == b"bc")
    proc = ConstraintLogitsProcessor(pred, [b"b", b"x", b""], eos_token_ids=2)
    proc(torch.tensor([[1]]), torch.zeros((1, 3)))
    out = proc(torch.tensor([[1, 0]]), torch.zeros((1, 3)))
    assert torch.isfinite(out[0]).tolist() == [False, False, True]
    assert proc.dead_ends == 1


def test_bad_arguments_are_named():
    with pytest.raises(awrs.ConfigurationError, match="awrs Constraint"):
        ConstraintLogitsProcessor("[0-9]+", VOCAB, eos_token_ids=EOS)
    with pytest.raises(awrs.ConfigurationError, match="eos_token_ids"):
        ConstraintLogitsProcessor(awrs.Regex("a"), VOCAB, eos_token_ids=99)
    with pytest.raises(awrs.ConfigurationError, match="tokenizer"):
        ConstraintLogitsProcessor(awrs.Regex("a"), object(), eos_token_ids=0)


# -- the default model ----------------------------------------------------------------------
def _texts(lm, out, prompt_len: int) -> list[bytes]:
    texts = []
    for ids in out[:, prompt_len:].tolist():
        end = next((i for i, t in enumerate(ids) if t in lm.eos_token_ids), None)
        texts.append(None if end is None else b"".join(lm.vocab[t] for t in ids[:end]))
    return texts


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["regex", "json_schema"])
def test_generate_batch_of_three_with_beams_is_valid(default_lm, kind):
    lm = default_lm
    model, tok = lm.model, lm.tokenizer
    if kind == "regex":
        constraint = awrs.Regex(r"[0-9]{3}-[0-9]{4}")
        questions = ["A phone number:", "Call me at", "Your extension?"]
    else:  # an array of booleans: every prefix the schema accepts can still be completed
        constraint = awrs.JSONSchema(
            {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2},
            whitespace=0,
        )
        questions = ["Is the sky blue? JSON list.", "Two booleans:", "True or false, JSON:"]
    side, tok.padding_side = tok.padding_side, "left"
    try:
        texts = [
            tok.apply_chat_template(
                [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
            )
            for q in questions
        ]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tok.padding_side = side
    proc = ConstraintLogitsProcessor(constraint, tok, eos_token_ids=sorted(lm.eos_token_ids))
    for kw in ({"do_sample": False, "num_beams": 2}, {"do_sample": True, "top_k": 0}):
        torch.manual_seed(0)
        out = model.generate(
            **enc, logits_processor=[proc], max_new_tokens=14, pad_token_id=tok.pad_token_id, **kw
        )
        texts = _texts(lm, out, enc["input_ids"].shape[1])
        assert len(texts) == 3
        assert all(t is not None and constraint.accepts(t) for t in texts), texts
    assert proc.dead_ends == 0
    assert not math.isnan(float(out.float().sum()))
