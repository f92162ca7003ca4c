"""Consistent answers from ``awrs serve`` on the default model: ``stop`` cuts the token ids,
logprobs and usage with the text; refused temperatures; OpenAI error codes; one ``created``
per stream and ``"usage": null`` on its non-final chunks."""

from __future__ import annotations

import json
import re

import pytest
from serve_helpers import API_KEY, httpx

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.slow

ASK = [{"role": "user", "content": "Write two numbers."}]
DIGITS = {"regex": "[0-9]{2}-[0-9]{2}", "method": "awrs", "n_particles": 2}  # digits: 1 token each
WORDS = {"regex": "[a-z]+( [a-z]+){2}", "method": "awrs", "n_particles": 2}
CONTEXT = 8192  # SmolLM2-135M-Instruct's max_position_embeddings


def _post(base: str, data: bytes | dict, path: str = "/v1/chat/completions", **kw):
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    return httpx.post(f"{base}{path}", content=data, headers=headers, timeout=120, **kw)


def _error(resp, status: int, code: str, param: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"} and err["message"], err
    assert (err["code"], err["param"]) == (code, param), err
    return err


def _covers(token_bytes: list[bytes], text: str) -> None:
    """The kept tokens decode to the text, plus at most the rest of one straddling token."""
    full = b"".join(token_bytes).decode("utf-8", errors="replace")
    assert full.startswith(text), (full, text)
    if token_bytes:
        assert len(b"".join(token_bytes[:-1]).decode("utf-8", errors="replace")) < len(text)


def test_stop_cuts_logprobs_and_usage_with_the_text(client):
    r = client.chat.completions.create(
        model="default",
        messages=ASK,
        max_tokens=6,
        n=2,
        seed=0,
        stop=["-"],
        logprobs=True,
        extra_body=DIGITS,
    )
    entries = 0
    for c in r.choices:
        assert re.fullmatch("[0-9]{2}", c.message.content) and c.finish_reason == "stop"
        content = c.logprobs.content
        # the cut falls between tokens: the ids' text is the returned text, nothing more
        assert b"".join(bytes(t.bytes) for t in content).decode() == c.message.content
        assert len(content) == 2
        entries += len(content)
    assert r.usage.completion_tokens == entries
    assert r.usage.total_tokens == r.usage.prompt_tokens + entries

    r = client.completions.create(
        model="default",
        prompt="Three words:",
        max_tokens=8,
        n=2,
        seed=1,
        stop=["e", "o"],
        logprobs=1,
        extra_body=WORDS,
    )
    entries = 0
    for c in r.choices:
        assert "e" not in c.text and "o" not in c.text
        _covers([t.encode() for t in c.logprobs.tokens], c.text)
        assert len(c.logprobs.top_logprobs) == len(c.logprobs.tokens)
        entries += len(c.logprobs.tokens)
    assert r.usage.completion_tokens == entries


def _events(base: str, body: dict, path: str = "/v1/chat/completions") -> list[dict]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.stream("POST", f"{base}{path}", json=body, headers=headers, timeout=120) as resp:
        assert resp.status_code == 200
        lines = [ln[6:] for ln in resp.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(ln) for ln in lines[:-1]]


@pytest.mark.parametrize("chat", [True, False])
def test_stream_one_created_usage_null_until_the_final_chunk_and_stop_cuts_usage(server, chat):
    body = {
        "model": "default",
        "max_tokens": 6,
        "n": 2,
        "seed": 2,
        "stop": "-",
        "stream": True,
        "stream_options": {"include_usage": True},
        **DIGITS,
    }
    body.update({"messages": ASK} if chat else {"prompt": "Two numbers: "})
    events = _events(server, body, "/v1/chat/completions" if chat else "/v1/completions")
    assert all("error" not in e for e in events), events
    assert len({e["created"] for e in events}) == 1 and len({e["id"] for e in events}) == 1
    *chunks, last = events
    assert chunks and all("usage" in e and e["usage"] is None for e in chunks)
    assert last["choices"] == [] and last["usage"]["prompt_tokens"] > 0
    texts = ["", ""]
    for e in chunks:
        (c,) = e["choices"]
        texts[c["index"]] += (c["delta"].get("content") or "") if chat else c["text"]
    assert all(re.fullmatch("[0-9]{2}", t) for t in texts), texts
    # one token per digit: the '-' and what followed it are not counted
    assert last["usage"]["completion_tokens"] == 4
    assert last["usage"]["total_tokens"] == last["usage"]["prompt_tokens"] + 4


def test_openai_client_reads_the_usage_chunk(client):
    stream = client.completions.create(
        model="default",
        prompt="Digit: ",
        max_tokens=2,
        seed=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"regex": "[0-9]", "method": "awrs", "n_particles": 1},
    )
    chunks = list(stream)
    assert len({c.created for c in chunks}) == 1
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].usage.completion_tokens == 1


def test_temperatures_that_underflow_or_are_not_finite_are_refused(server, client):
    for t in (1e-300, 1e-3, 1e5):
        with pytest.raises(openai.BadRequestError, match="temperature") as info:
            client.chat.completions.create(
                model="default", messages=ASK, max_tokens=2, temperature=t
            )
        assert (info.value.body["param"], info.value.body["code"]) == (
            "temperature",
            "invalid_value",
        )
    for raw in ("NaN", "Infinity", "-1"):
        data = f'{{"model": "default", "prompt": "x", "temperature": {raw}}}'.encode()
        _error(_post(server, data, "/v1/completions"), 400, "invalid_value", "temperature")
    r = client.completions.create(
        model="default",
        prompt="Digit: ",
        max_tokens=2,
        seed=0,
        temperature=0.01,
        extra_body={"regex": "[0-9]", "method": "awrs", "n_particles": 1},
    )
    assert re.fullmatch("[0-9]", r.choices[0].text)  # the smallest served: a real answer


def test_bodies_that_are_not_json_objects_are_invalid_json(server):
    ok = b'{"model": "default", "messages": [{"role": "user", "content": "hi"}]}'
    for data in (
        b'{"model": "default", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        ok.replace(b"hi", b"h\xc3"),
        b'{"model": "default",',
        b"{not json",
        b"[1, 2]",
        b'"text"',
    ):
        err = _error(_post(server, data), 400, "invalid_json")
        if b"\xff" in data:
            assert "UTF-8" in err["message"]
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "text/plain"}
    resp = httpx.post(f"{server}/v1/chat/completions", content=ok, headers=headers)
    _error(resp, 400, "invalid_json")
    resp = httpx.get(f"{server}/v1/chat/completions", headers=headers)
    _error(resp, 405, "method_not_allowed")
    _error(httpx.get(f"{server}/v1/nowhere", headers=headers), 404, "not_found")


def test_context_overflow_names_the_field(server, client):
    ids = [28] * (CONTEXT - 10)  # fits alone; with max_tokens=64 it does not
    err = _error(
        _post(server, {"model": "default", "prompt": ids, "max_tokens": 64}, "/v1/completions"),
        400,
        "context_length_exceeded",
        "prompt",
    )
    assert str(CONTEXT) in err["message"] and str(CONTEXT - 10) in err["message"]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="default",
            max_tokens=4,
            messages=[{"role": "user", "content": "hi " * (CONTEXT + 10)}],
        )
    assert (info.value.body["code"], info.value.body["param"]) == (
        "context_length_exceeded",
        "messages",
    )


def test_default_max_tokens_shrinks_to_the_context():
    """On a toy model with a 12-token context (a long prompt on the real one is a slow
    forward): without max_tokens the answer fills the context; with it, 400."""
    from serve_helpers import ThreadServer

    from awrs.models.toy import ToyLM
    from awrs.serve import create_app

    lm = ToyLM(
        [bytes([i]) for i in range(256)] + [b"<eos>"], 256, lambda ctx: {ord("a"): 1.0}
    )  # never ends
    lm.max_length = 12
    with ThreadServer(create_app(lm, "toy")) as srv:
        r = srv.client().completions.create(model="toy", prompt="x" * 10)
        assert r.choices[0].text == "aaa" and r.usage.completion_tokens == 3
        with pytest.raises(openai.BadRequestError) as info:
            srv.client().completions.create(model="toy", prompt="x" * 10, max_tokens=4)
        assert info.value.body["code"] == "context_length_exceeded"
        with pytest.raises(openai.BadRequestError, match="the prompt has 13 tokens"):
            srv.client().completions.create(model="toy", prompt="x" * 13)
