"""Every refusal of ``lmlab serve`` is one line: a 4xx JSON ``{"error": ...}`` for a
request (oversized input, wrong model kind, bad field, full queue) and one line on stderr
with exit status 1 for a run folder that cannot be served (issue 23)."""

from __future__ import annotations

import shutil
import socket
import threading

import pytest

from lmlab.cli import main
from lmlab.serve import Limits, ServedModel, build_app

LOCAL = "http://127.0.0.1"  # a server bound to this machine answers only this Host


def _refused(client, endpoint: str, status: int, expected: str, **body) -> None:
    response = client.post(f"/{endpoint}", json=body)
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert expected in message and "\n" not in message, message


@pytest.mark.parametrize("endpoint, body, expected", [
    ("score", {"model": "gpt", "text": "x" * 2001},
     "text: 2001 characters, more than this server's limit of 2000 (lmlab serve --max-chars)"),
    ("score", {"model": "gpt", "texts": ["a"] * 17},
     "texts: 17 texts, more than this server's limit of 16 per request (lmlab serve --max-batch)"),
    ("score", {"model": "gpt", "texts": ["fine", "y" * 2001]}, "texts[1]: 2001 characters"),
    ("generate", {"model": "gpt", "text": "a", "max_new_tokens": 129},
     "max_new_tokens: 129, more than this server's limit of 128 (lmlab serve --max-new-tokens)"),
    ("generate", {"model": "bart", "text": "a", "num_beams": 9}, "num_beams: 9, more than"),
    ("fill-mask", {"model": "bert", "text": "a [MASK]", "top_k": 51}, "top_k: 51, more than"),
    ("fill-mask", {"model": "bert", "text": "the market " * 40 + "[MASK]"},
     "text: 83 tokens, more than the model's 64 positions"),
])
def test_oversized_input_is_a_422_naming_the_limit(client, endpoint, body, expected):
    _refused(client, endpoint, 422, expected, **body)


@pytest.mark.parametrize("endpoint, model, kind", [
    ("score", "bert", "masked-lm"), ("fill-mask", "gpt", "causal-lm"),
    ("generate", "bert", "masked-lm"), ("classify", "ner", "tagger"),
    ("tag", "sst2", "classifier"), ("embed", "kn3", "ngram"), ("score", "vectors", "word-vectors"),
])
def test_an_endpoint_the_model_lacks_is_a_400(client, endpoint, model, kind):
    _refused(client, endpoint, 400, f"model: {model!r} is a {kind} model and has no "
                                    f"/{endpoint}; its endpoints: /", model=model, text="a b")


@pytest.mark.parametrize("endpoint, body, expected", [
    ("score", {"model": "gpt", "txt": "a"}, "txt: unknown field"),
    ("score", {"text": "a"}, "model: required"),
    ("score", {"model": "gpt"}, "text, texts: give exactly one"),
    ("score", {"model": "gpt", "text": "a", "texts": ["b"]}, "text, texts: give exactly one"),
    ("score", {"model": "gpt", "text": "  "}, "text: empty text"),
    ("score", {"model": "gpt", "texts": []}, "texts: empty list"),
    ("generate", {"model": "gpt", "text": "a", "max_new_tokens": "many"}, "max_new_tokens: "),
    ("generate", {"model": "gpt", "text": "a", "top_p": 0}, "top_p: must be in (0, 1]"),
    ("generate", {"model": "gpt", "text": "a", "do_sample": True, "num_beams": 2},
     "num_beams: beam search does not sample"),
    ("generate", {"model": "kn3", "text": "a", "num_beams": 2}, "kn3 is an n-gram model: it samples"),
    ("fill-mask", {"model": "bert", "text": "no mask here"}, "text: no [MASK] token"),
    ("fill-mask", {"model": "bert", "text": "a [MASK]", "top_k": 0}, "top_k: must be >= 1"),
    ("embed", {"model": "vectors", "text": "two words"}, "text: one word per text"),
    ("embed", {"model": "vectors", "text": "zebra"}, "text: 'zebra' is not in the vocabulary"),
    ("embed", {"model": "bert", "text": "a", "neighbors": 3}, "neighbors: only word-vector"),
    ("classify", {"model": "sst2", "texts": ["a", "b"], "text_pair": "c"},
     "text_pair: give it with one text"),
])
def test_a_bad_field_is_a_422_naming_it(client, endpoint, body, expected):
    _refused(client, endpoint, 422, expected, **body)


def test_unknown_model_path_and_body_are_one_line_errors(client):
    _refused(client, "score", 404, "model: 'nope' is not served here (models: gpt,",
             model="nope", text="a")
    response = client.post("/score", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "request body: expected a JSON object" in response.json()["error"]
    assert client.get("/nowhere").json() == {"error": "/nowhere: Not Found"}


def test_a_body_over_the_limit_is_a_413_declared_or_streamed(models):
    from fastapi.testclient import TestClient

    client = TestClient(build_app(models, Limits(max_body_bytes=1000)), base_url=LOCAL)
    big = b'{"model": "gpt", "text": "' + b"a" * 2000 + b'"}'
    declared = client.post("/score", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["error"] == (f"request body: {len(big)} bytes, more than this server's "
                                        "limit of 1000 bytes (lmlab serve --max-body-kb)")
    streamed = client.post("/score", content=iter([big[:600], big[600:]]),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "request body: at least" in streamed.json()["error"]


def test_a_full_queue_is_a_503_and_one_model_call_runs_at_a_time():
    from fastapi.testclient import TestClient

    inside, release, calls = threading.Event(), threading.Event(), []

    def slow(texts, request):
        calls.append(texts)
        inside.set()
        release.wait(10)
        return [{"ok": True} for _ in texts]

    app = build_app({"slow": ServedModel("slow", "test", {"score": slow})}, Limits(max_queue=1))
    with TestClient(app, base_url=LOCAL) as client:
        first = threading.Thread(target=client.post, args=("/score",),
                                 kwargs={"json": {"model": "slow", "text": "a"}})
        first.start()
        assert inside.wait(10)
        busy = client.post("/score", json={"model": "slow", "text": "b"})
        release.set()
        first.join(10)
    assert busy.status_code == 503 and "server busy" in busy.json()["error"]
    assert calls == [["a"]]


def _serve_error(capsys, *argv) -> str:
    with socket.socket() as probe:  # a free port: the error must be the run's, not the port's
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["serve", *map(str, argv), "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("name, missing", [
    ("gpt", "checkpoint/model.safetensors"), ("sst2", "checkpoint/tokenizer/tokenizer.json"),
    ("kn3", "model.npz"), ("vectors", "vectors.bin"), ("bert", "checkpoint/config.yaml"),
])
def test_a_run_folder_with_a_missing_file_is_one_line_at_startup(capsys, runs, tmp_path, name,
                                                                 missing):
    broken = tmp_path / name
    shutil.copytree(runs[name], broken)
    (broken / missing).unlink()
    err = _serve_error(capsys, broken)
    assert err.startswith("lmlab: error: ") and missing.rsplit("/", 1)[-1] in err


def test_other_startup_errors_are_one_line(capsys, runs, tmp_path):
    assert "no such run folder" in _serve_error(capsys, tmp_path / "absent")
    assert "a second model named 'gpt'" in _serve_error(capsys, runs["gpt"], f"gpt={runs['bert']}")
    (tmp_path / "empty").mkdir()
    assert "no checkpoint here" in _serve_error(capsys, tmp_path / "empty")
