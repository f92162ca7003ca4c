"""``awrs serve`` on the default model, driven by the official ``openai`` client."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from serve_helpers import API_KEY, httpx

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.slow

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 10},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "Describe a person as JSON."}]


def test_json_schema_document_is_valid(client):
    r = client.chat.completions.create(
        model="default",
        messages=ASK,
        max_tokens=24,
        seed=0,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": PERSON},
        },
        extra_body={"n_particles": 4},
    )
    doc = json.loads(r.choices[0].message.content)
    jsonschema.validate(doc, PERSON)
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "SmolLM2-135M-Instruct"
    assert r.model_extra["awrs"]["method"] == "smc"
    assert r.usage.completion_tokens >= 1 and r.usage.prompt_tokens > 5
    assert r.usage.model_extra["particle_tokens"] >= r.usage.completion_tokens


def test_json_object(client):
    r = client.chat.completions.create(
        model="SmolLM2-135M-Instruct",
        max_tokens=24,
        seed=1,
        messages=[{"role": "user", "content": 'Return {"ok": true} as JSON.'}],
        response_format={"type": "json_object"},
        extra_body={"n_particles": 4},
    )
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_regex_n3_distinct_and_seed_reproduces(client):
    def ask():
        return client.completions.create(
            model="default",
            prompt="Three digits: ",
            max_tokens=8,
            n=3,
            seed=7,
            extra_body={"regex": "[0-9]{3}", "method": "awrs", "n_particles": 6},
        )

    first, again = ask(), ask()
    texts = [c.text for c in first.choices]
    assert len(texts) == 3 and len(set(texts)) == 3, texts
    assert all(re.fullmatch("[0-9]{3}", t) for t in texts), texts
    assert [c.text for c in again.choices] == texts
    assert first.model_extra["awrs"]["seed"] == 7


def test_stream_awrs_token_by_token_and_smc_in_one_chunk(client):
    pattern = "[a-z]+( [a-z]+){2}"
    stream = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "Three words:"}],
        max_tokens=16,
        seed=3,
        stream=True,
        extra_body={"regex": pattern, "method": "awrs", "n_particles": 1},
    )
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(deltas) >= 2, deltas  # several tokens, sent as they were sampled
    assert re.fullmatch(pattern, "".join(deltas))
    assert chunks[-1].choices[0].finish_reason == "stop"

    stream = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "Three words:"}],
        max_tokens=16,
        seed=3,
        stream=True,
        extra_body={"regex": pattern, "n_particles": 2},
    )
    deltas = [c.choices[0].delta.content for c in stream if c.choices[0].delta.content]
    assert len(deltas) == 1 and re.fullmatch(pattern, deltas[0])


def _post(base: str, body, *, key: str | None = API_KEY, path="/v1/chat/completions"):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(f"{base}{path}", content=data, headers=headers, timeout=60)


def _error(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    return err


def test_errors_are_openai_bodies_and_server_keeps_serving(server, client):
    ok = {"model": "default", "messages": ASK, "max_tokens": 4}
    assert _error(_post(server, "{not json"), 400)["code"] == "invalid_json"
    assert _error(_post(server, {**ok, "regx": "a"}), 400)["param"] == "regx"
    refused = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
    err = _error(
        _post(
            server,
            {
                **ok,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": refused},
                },
            },
        ),
        400,
    )
    assert err["pointer"] == "/properties/a/$ref" and "/properties/a/$ref" in err["message"]
    err = _error(
        _post(server, {**ok, "regex": "[0-9]+", "method": "awrs", "ess_threshold": 0.5}), 422
    )
    assert err["param"] == "ess_threshold"
    assert _error(_post(server, {**ok, "model": "gpt-4"}), 404)["code"] == "model_not_found"
    assert _error(_post(server, {**ok, "max_tokens": 65}), 413)["param"] == "max_tokens"
    big = {**ok, "messages": [{"role": "user", "content": "x" * 70000}]}
    assert _error(_post(server, big), 413)["code"] == "request_too_large"
    # the client raises the matching exceptions
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=ASK, max_tokens=4)
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="default", messages=ASK, max_tokens=4, top_p=0.5)
    with pytest.raises(openai.BadRequestError, match="malformed regular expression"):
        client.chat.completions.create(
            model="default", messages=ASK, max_tokens=4, extra_body={"regex": "(ab"}
        )
    assert httpx.get(f"{server}/health").json()["status"] == "ok"
    r = client.completions.create(
        model="default",
        prompt="Digit: ",
        max_tokens=4,
        seed=0,
        extra_body={"regex": "[0-9]", "method": "awrs", "n_particles": 1},
    )
    assert re.fullmatch("[0-9]", r.choices[0].text)


def test_api_key_required_except_health(server):
    for key in (None, "wrong-key", API_KEY[:-1]):
        err = _error(_post(server, {"model": "default", "messages": ASK}, key=key), 401)
        assert err["code"] == "invalid_api_key"
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{server}/v1/models", headers=headers).status_code == 401
    with (
        openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.models.list()
    good = httpx.get(f"{server}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})
    assert good.json()["data"][0]["id"] == "SmolLM2-135M-Instruct"
    assert httpx.get(f"{server}/health").status_code == 200


def test_readme_client_example_runs(server, capsys):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Serving", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'base_url="http://127.0.0.1:8000/v1"' in code
    code = code.replace("http://127.0.0.1:8000/v1", f"{server}/v1")
    code = code.replace('api_key="none"', f'api_key="{API_KEY}"')
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    doc, end = json.JSONDecoder().raw_decode(out)  # the JSON may span lines (natural layout)
    jsonschema.validate(doc, {"type": "object", "required": ["name", "age"]})
    assert re.fullmatch(r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}", out[end:].strip())
