"""The server on toy models in a thread: queue bound, time limit, disconnects, stop, logprobs."""

from __future__ import annotations

import math
import threading
import time

import pytest
from serve_helpers import ThreadServer, httpx

openai = pytest.importorskip("openai")

from awrs.models.toy import ToyLM  # noqa: E402
from awrs.serve import Limits, create_app  # noqa: E402

EOS = 256
LETTERS = {ord(c): 1 / 27 for c in "abcdefghijklmnopqrstuvwxyz"}


class SlowToy(ToyLM):
    """Uniform over a-z and EOS (or a-z alone: never ends); each batched call sleeps ``delay``
    seconds."""

    def __init__(self, delay: float = 0.0, eos: bool = True):
        table = {**LETTERS, EOS: 1 / 27} if eos else dict(LETTERS)
        super().__init__([bytes([i]) for i in range(256)] + [b"<eos>"], EOS, lambda ctx: table)
        self.delay = delay

    def next_token_logprobs(self, contexts, temperature=1.0):
        if self.delay:
            time.sleep(self.delay)
        return super().next_token_logprobs(contexts, temperature)


def serve(delay=0.0, eos=True, **limits) -> ThreadServer:
    return ThreadServer(create_app(SlowToy(delay, eos), "toy", limits=Limits(**limits)))


LONG = {"method": "direct", "n_particles": 1}  # with eos=False: runs max_tokens steps
MSG = [{"role": "user", "content": "letters"}]


def _wait(cond, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_queue_bound_gives_429_with_retry_after():
    with serve(delay=0.05, eos=False, max_pending=1) as srv:
        client = srv.client()
        out = {}
        first = threading.Thread(
            target=lambda: out.update(
                r=client.chat.completions.create(
                    model="toy", messages=MSG, max_tokens=30, extra_body=LONG
                )
            )
        )
        first.start()
        assert _wait(lambda: srv.health()["pending"] == 1)
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="toy", messages=MSG, max_tokens=2)
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.body["code"] == "queue_full"
        first.join(timeout=30)
        assert out["r"].choices[0].finish_reason == "length"  # cut by max_tokens, answered
        assert srv.health()["pending"] == 0
        r = client.chat.completions.create(
            model="default",
            messages=MSG,
            max_tokens=3,
            seed=0,
            extra_body={"method": "direct", "n_particles": 1},
        )
        assert r.usage.completion_tokens <= 3


def test_time_limit_cancels_with_504():
    with serve(delay=0.05, eos=False, timeout=0.5) as srv:
        t0 = time.monotonic()
        with pytest.raises(openai.APIStatusError) as info:
            srv.client().chat.completions.create(
                model="toy", messages=MSG, max_tokens=60, extra_body=LONG
            )
        assert info.value.status_code == 504 and info.value.body["code"] == "timeout"
        assert time.monotonic() - t0 < 2.5  # the request alone takes >= 3 s
        assert _wait(lambda: srv.health()["active"] == 0 and srv.health()["cancelled"] == 1)


@pytest.mark.parametrize("stream", [False, True])
def test_client_disconnect_cancels_the_work(stream):
    with serve(delay=0.05, eos=False) as srv:
        body = {"model": "toy", "messages": MSG, "max_tokens": 100, "stream": stream, **LONG}
        t0 = time.monotonic()
        if stream:
            with httpx.stream("POST", f"{srv.base}/v1/chat/completions", json=body) as resp:
                lines = resp.iter_lines()
                assert next(lines).startswith("data: ")  # the stream has started; hang up
        else:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{srv.base}/v1/chat/completions", json=body, timeout=0.5)
        assert _wait(lambda: srv.health()["cancelled"] == 1 and srv.health()["pending"] == 0)
        assert srv.health()["active"] == 0
        assert time.monotonic() - t0 < 4.0  # the request alone takes >= 5 s


def test_logprobs_are_the_models_and_stop_cuts_the_text():
    with serve() as srv:
        client = srv.client()
        r = client.chat.completions.create(
            model="toy",
            messages=MSG,
            max_tokens=7,
            seed=0,
            logprobs=True,
            top_logprobs=2,
            extra_body={"regex": "[a-z]{6}", "method": "awrs", "n_particles": 1},
        )
        content = r.choices[0].logprobs.content
        assert "".join(t.token for t in content) == r.choices[0].message.content
        assert len(content) == r.usage.completion_tokens == 6
        for t in content:  # uniform over 27 tokens, whatever the constraint allowed
            assert t.logprob == pytest.approx(math.log(1 / 27), abs=1e-5)
            assert len(t.top_logprobs) == 2

        def letters(**kw):
            return client.completions.create(
                model="toy",
                prompt="x",
                max_tokens=24,
                seed=5,
                extra_body={"method": "direct", "n_particles": 1},
                **kw,
            ).choices[0]

        full, cut = letters(), letters(stop=["e", "zz"])
        expected = min(
            (full.text.find(s) for s in ("e", "zz") if s in full.text), default=len(full.text)
        )
        assert cut.text == full.text[:expected]
        assert cut.finish_reason == ("stop" if expected < len(full.text) else full.finish_reason)


def test_n_distinct_and_best_of_k():
    with serve() as srv:
        client = srv.client()
        r = client.completions.create(
            model="toy",
            prompt="x",
            max_tokens=4,
            n=4,
            seed=1,
            extra_body={"regex": "[a-c]{2}", "method": "awrs", "n_particles": 8},
        )
        texts = [c.text for c in r.choices]
        assert len(set(texts)) == len(texts) >= 2
        assert sum(c.model_extra["probability"] for c in r.choices) <= 1 + 1e-9
        r = client.completions.create(
            model="toy",
            prompt="x",
            max_tokens=4,
            seed=1,
            extra_body={"regex": "[a-c]{2}", "best_of_k": 4, "reward": "logprob", "method": "awrs"},
        )
        assert len(r.choices) == 1 and len(r.choices[0].text) == 2
        with pytest.raises(openai.UnprocessableEntityError, match="best_of_k"):
            client.completions.create(
                model="toy",
                prompt="x",
                max_tokens=4,
                extra_body={"regex": "[a-c]{2}", "reward": "judge"},
            )
        with pytest.raises(openai.BadRequestError, match="n_particles >= n"):
            client.completions.create(
                model="toy",
                prompt="x",
                max_tokens=4,
                n=5,
                extra_body={"regex": "a", "n_particles": 2},
            )


def test_body_bound_holds_without_content_length():
    with serve(max_body_bytes=1000) as srv:

        def chunked(n):  # a generator body is sent chunked, with no Content-Length
            body = f'{{"model": "toy", "prompt": "{"x" * n}", "max_tokens": 2}}'.encode()
            yield from (body[i : i + 100] for i in range(0, len(body), 100))

        def post(n):
            return httpx.post(
                f"{srv.base}/v1/completions",
                content=chunked(n),
                headers={"Content-Type": "application/json"},
            )

        big = post(5000)
        assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
        assert post(10).status_code == 200


FIELDS = [
    "max_tokens",
    "temperature",
    "n",
    "seed",
    "stop",
    "stream",
    "response_format",
    "regex",
    "pattern",
    "grammar",
    "sql",
    "method",
    "n_particles",
    "ess_threshold",
    "best_of_k",
    "reward",
    "logprobs",
    "top_p",
]


def test_hostile_bodies_get_openai_errors_never_a_crash():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 40),
        st.floats(allow_nan=False, allow_infinity=False, width=32),  # JSON has no infinity
        st.text(max_size=12),
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(["type", "role", "content", "json_schema", "schema", "name"]),
                inner,
                max_size=3,
            ),
        ),
        max_leaves=6,
    )
    plausible = {
        "method": st.sampled_from(["smc", "awrs", "mask", "rerank", "direct"]),
        "regex": st.sampled_from(["[a-c]{1,3}", "(a", "a*", "", "[^\\x00-\\xff]"]),
        "temperature": st.floats(1e-30, 1e30),
        "max_tokens": st.integers(1, 8),
        "n_particles": st.integers(1, 5),
        "stop": st.lists(st.text(max_size=2), max_size=2),
        "n": st.integers(1, 3),
        "seed": st.integers(0, 2**70),
        "stream": st.booleans(),
        "ess_threshold": st.floats(0, 1),
        "best_of_k": st.integers(1, 3),
        "reward": st.sampled_from(["logprob", "judge"]),
        "logprobs": st.integers(0, 2),
        "top_p": st.sampled_from([1, 0.5]),
        "grammar": st.sampled_from(['start: "a"+', "x"]),
        "response_format": st.sampled_from(
            [
                {"type": "json_object"},
                {"type": "text"},
                {"type": "json_schema"},
                {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "integer"}},
                },
                {"type": "json_schema", "json_schema": {"schema": {"$ref": "#/x"}}},
            ]
        ),
    }
    field_values = st.sampled_from(FIELDS).flatmap(
        lambda k: st.tuples(
            st.just(k), st.one_of(plausible.get(k, values), plausible.get(k, values), values)
        )
    )
    bodies = st.lists(field_values, max_size=5).map(dict)

    with serve(max_tokens=6, max_particles=4, timeout=60) as srv:

        @settings(
            max_examples=60,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(body=bodies, chat=st.booleans())
        def check(body, chat):
            base = {"messages": [{"role": "user", "content": "hi"}]} if chat else {"prompt": "hi"}
            base["max_tokens"] = 4
            body = {"model": "toy", **base, **body}
            path = "/v1/chat/completions" if chat else "/v1/completions"
            r = httpx.post(srv.base + path, json=body, timeout=30)
            assert r.status_code in (200, 400, 404, 413, 422), (body, r.text)
            if r.status_code != 200:
                err = r.json()["error"]
                assert err["message"] and err["type"], r.text
            elif not body.get("stream"):
                assert r.json()["choices"], r.text

        t0 = time.monotonic()
        check()
        assert time.monotonic() - t0 < 120  # no input hangs the server
        assert srv.health()["pending"] == 0
