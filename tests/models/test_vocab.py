"""Token bytes: exact for byte-level BPE, refused for vocabularies that cannot map to bytes."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import awrs
from awrs.models.vocab import token_bytes

pytestmark = pytest.mark.slow

SAMPLES = [
    "Hello wörld 😀 你好世界",
    "émoji 👩‍👩‍👧 日本語\n\tcode()",
    " <|im_end|> spaced  out ",
    "Ünïcödé ∑∫√ ½ — «quotes»",
    "🇫🇷🏳️‍🌈 mixed 한국어 текст",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_decode_equals_joined_vocab_bytes(default_lm, text):
    tok = default_lm.tokenizer
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids).encode() == b"".join(default_lm.vocab[i] for i in ids)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40))
def test_random_text_roundtrips(default_lm, text):
    tok = default_lm.tokenizer
    ids = tok.encode(text, add_special_tokens=False)
    # characters whose lead byte has no token are dropped by the tokenizer itself
    assume(tok.decode(ids) == text)
    assert tok.decode(ids).encode() == default_lm.decode_bytes(ids)


def test_partial_utf8_tokens_are_raw_bytes(default_lm):
    multi = [b for b in default_lm.vocab if b and not _valid(b)]
    assert multi, "expected byte tokens holding parts of multi-byte characters"
    assert len(default_lm.vocab) == 49152


def _valid(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_wordpiece_vocabulary_is_refused():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordPiece({"[UNK]": 0, "ab": 1, "##c": 2}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.decoder = decoders.WordPiece()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    with pytest.raises(awrs.UnsupportedModelError, match="cannot map the vocabulary"):
        token_bytes(tok)
