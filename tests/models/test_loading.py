"""Loading: cached default model, local folders, clear errors for bad paths and heads."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

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
    config = {
        "model_type": "t5",
        "d_model": 8,
        "d_ff": 8,
        "num_layers": 1,
        "num_heads": 1,
        "d_kv": 8,
        "vocab_size": 32,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(awrs.UnsupportedModelError, match="causal-LM head"):
        awrs.load_model(tmp_path)


def test_concurrent_first_loads_convert_once(tmp_path, monkeypatch):
    # batch workers starting together on a fresh machine: one converts, the others wait
    monkeypatch.setenv("AWRS_CACHE", str(tmp_path))
    calls = []

    def convert(target):
        calls.append(target)
        time.sleep(0.3)  # long enough for the other threads to reach the lock
        target.mkdir()
        (target / "config.json").write_text("{}")

    monkeypatch.setattr(loading, "_convert_default", convert)
    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(lambda _: loading.default_model_path(), range(3)))
    assert calls == [tmp_path / loading.DEFAULT_MODEL]
    assert paths == calls * 3
