"""A tiny GPT run behind the REST app: generation (streamed and whole), next tokens, detection, guard."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mlpilot import api
from mlpilot.serve import create_app
from mlpilot.serve.gpt_app import MAX_NEW_TOKENS
from mlpilot.tasks.gpt.data import default_corpus

PROMPT = "In the beginning"


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory, one_torch_thread):
    folder = tmp_path_factory.mktemp("serve_gpt")
    corpus = folder / "genesis.txt"
    corpus.write_text(default_corpus()[:20_000], encoding="utf-8")
    config = api.GPTTrainConfig(time_limit=None, max_steps=6, eval_iters=1, n_evals=2, calibration_texts=4,
                                calibration_tokens=32, batch_size=4, tokenizer="char", n_layer=1, n_head=2,
                                n_embd=32, block_size=32)
    return api.train_gpt(corpus, out=folder / "run", config=config)


@pytest.fixture(scope="module")
def client(gpt_run):
    with TestClient(create_app(gpt_run.path)) as test_client:
        yield test_client


def test_health_and_model_describe_the_gpt(client, gpt_run):
    assert client.get("/v1/health").json() == {"status": "ok"}
    info = client.get("/v1/model").json()
    assert info["kind"] == "gpt"
    assert info["model"]["n_layer"] == 1 and info["model"]["block_size"] == 32
    assert info["tokenizer"] == {"kind": "char", "vocab_size": gpt_run.config.vocab_size}
    assert info["training"]["metrics"]["steps"] == 6
    assert info["limits"]["max_new_tokens"] == MAX_NEW_TOKENS


def test_streamed_generation_is_the_text_generate_gives_with_the_same_seed(client, gpt_run):
    settings = {"max_new_tokens": 40, "temperature": 0.9, "top_k": 20, "top_p": 0.95, "seed": 7}
    expected = gpt_run.generate(PROMPT, api.SamplingConfig(**settings))
    with client.stream("POST", "/v1/generate", json={"prompt": PROMPT, **settings, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        streamed = "".join(response.iter_text())
    assert streamed == expected and len(expected) > 0
    whole = client.post("/v1/generate", json={"prompt": PROMPT, **settings, "stream": False})
    assert whole.json() == {"text": expected}


def test_zero_new_tokens_gives_an_empty_answer(client):
    assert client.post("/v1/generate", json={"prompt": PROMPT, "max_new_tokens": 0}).text == ""


@pytest.mark.parametrize("change", [
    {"temperature": -0.1}, {"top_p": 0}, {"top_p": 1.5}, {"top_k": 0}, {"max_new_tokens": MAX_NEW_TOKENS + 1},
    {"max_new_tokens": -1}, {"seed": -1}, {"prompt": 3}, {"stream": "sometimes"}, {"tempreature": 1.0},
])
def test_bad_sampling_settings_are_422_naming_the_field(client, change):
    response = client.post("/v1/generate", json={"prompt": PROMPT, **change})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors and errors[0]["column"] == next(iter(change)) and errors[0]["row"] is None


def test_next_tokens_match_the_run(client, gpt_run):
    body = client.post("/v1/next", json={"prompt": PROMPT, "top": 5}).json()
    expected = gpt_run.next_tokens(PROMPT, top=5)
    assert [t["token"] for t in body["tokens"]] == [t for t, _ in expected]
    assert [t["probability"] for t in body["tokens"]] == pytest.approx([p for _, p in expected])
    assert client.post("/v1/next", json={"prompt": PROMPT, "top": 0}).status_code == 422


def test_detect_gives_the_runs_verdict(client, gpt_run):
    text = "And God said, Let there be light: and there was light."
    body = client.post("/v1/detect", json={"text": text}).json()
    expected = gpt_run.detect(text)
    assert body["verdict"] == expected["verdict"] in ("human", "machine")
    assert body["probability_machine"] == pytest.approx(expected["probability_machine"])
    assert client.post("/v1/detect", json={"text": ""}).status_code == 422
    too_short = client.post("/v1/detect", json={"text": "A"})  # one token: the run's own DataError
    assert too_short.status_code == 422 and "too short" in too_short.json()["errors"][0]["message"]


def test_token_size_limit_metrics_and_docs(gpt_run):
    client = TestClient(create_app(gpt_run.path, token="tok", max_request_bytes=200))
    assert client.get("/v1/health").status_code == 200
    refused = client.post("/v1/generate", json={"prompt": PROMPT})
    assert refused.status_code == 401 and "bearer token" in refused.json()["errors"][0]["message"]
    auth = {"Authorization": "Bearer tok"}
    ok = client.post("/v1/generate", json={"prompt": PROMPT, "max_new_tokens": 3, "stream": False}, headers=auth)
    assert ok.status_code == 200
    assert client.post("/v1/generate", json={"prompt": "x" * 300}, headers=auth).status_code == 413
    metrics = client.get("/v1/metrics", headers=auth).text
    assert 'mlpilot_http_requests_total{endpoint="/v1/generate",method="POST",status="401"} 1.0' in metrics
    doc = client.get("/openapi.json").json()
    assert {"/v1/generate", "/v1/next", "/v1/detect", "/v1/model"} <= set(doc["paths"])
    assert doc["paths"]["/v1/generate"]["post"]["security"] == [{"bearer": []}]
    assert "GenerateRequest" in doc["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_the_cli_serves_a_gpt_run(gpt_run, monkeypatch):
    from typer.testing import CliRunner

    from mlpilot.cli import serve_cmd
    from mlpilot.cli.main import app

    for name in (serve_cmd.RUN_DIR_ENV, serve_cmd.TOKEN_ENV, serve_cmd.MAX_REQUEST_ENV, serve_cmd.MAX_UPLOAD_ENV,
                 serve_cmd.MAX_ROWS_ENV, serve_cmd.CORS_ENV):
        monkeypatch.setenv(name, "x")  # set then delete: monkeypatch restores "absent" after the test
        monkeypatch.delenv(name)
    calls = []
    monkeypatch.setattr(serve_cmd, "runner", lambda **kwargs: calls.append(kwargs))
    result = CliRunner().invoke(app, ["serve", str(gpt_run.path)])
    assert result.exit_code == 0, result.output
    assert "Serving a GPT text generator" in result.output and len(calls) == 1
