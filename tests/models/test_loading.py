"""Loading: cached default model, local folders, clear errors for bad paths and heads."""

import json

import pytest

import awrs
from awrs.models import loading


def test_unknown_path_is_a_clear_error(tmp_path):
    with pytest.raises(awrs.ModelLoadError, match="does not exist"):
        awrs.load_model(tmp_path / "missing")


def test_hub_name_without_network_says_how_to_fix():
    with pytest.raises(awrs.ModelLoadError, match="local folder"):
        awrs.load_model("nobody-here/not-a-model-xyz")


@pytest.mark.slow
def test_second_load_reads_the_cache(default_lm, monkeypatch):
    def boom(_):
        raise AssertionError("the default model was converted again")

    monkeypatch.setattr(loading, "_convert_default", boom)
    lm = awrs.load_model()
    assert lm.vocab == default_lm.vocab


@pytest.mark.slow
def test_model_without_causal_head_is_refused(tmp_path, default_lm):
    default_lm.tokenizer.save_pretrained(tmp_path)
    config = {"model_type": "t5", "d_model": 8, "d_ff": 8, "num_layers": 1, "num_heads": 1,
              "d_kv": 8, "vocab_size": 32}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(awrs.UnsupportedModelError, match="causal-LM head"):
        awrs.load_model(tmp_path)
