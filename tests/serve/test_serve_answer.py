"""``/answer`` (span QA) and ``/choose`` (multiple choice) of ``lmlab serve`` through
FastAPI's TestClient (issue 23): the answer is the fine-tuning evaluation's answer (its
doc-stride windows and n-best decoding) with its characters in the context, the choice
probabilities are the head's softmax; every refusal is one line."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import torch

from lmlab.cli import main
from lmlab.finetune import task_data
from lmlab.finetune.features import collate
from lmlab.finetune.job import predict
from lmlab.finetune.run_folder import load_finetuned
from lmlab.serve import Limits, build_app, load_models
from lmlab.tasks.catalogue import get_task
from lmlab.tasks.examples import ChoiceExample, QAExample

LOCAL = "http://127.0.0.1"  # a server bound to this machine answers only this Host
FINETUNE = ["--epochs", "1", "--batch-size", "16", "--max-seq-len", "32", "--max-unk-rate", "1",
            "--quiet", "--lr", "1e-3", "--seeds", "0", "--threads", "1"]  # as conftest.py's
QUESTION = "who said profits rose"
CONTEXT = ("the company said its profit rose in the third quarter while shares of banks fell "
           "sharply on monday as investors sold stock and the market closed lower after a "
           "long day of trading in new york where the bank said it would cut jobs")


def _mrc_data(folder, shared_data) -> None:
    """SQuAD v1.1 and RACE files in their public layouts, from PTB sentences."""
    lines = (shared_data / "ptb" / "ptb.valid.txt").read_text().splitlines()[:24]
    paragraphs, race = [], folder / "race"
    for split in ("train", "dev"):
        (race / split).mkdir(parents=True)
    for i, line in enumerate(lines):
        words = line.split()
        context, answer = " ".join(words), " ".join(words[2:4])
        paragraphs.append({"context": context, "qas": [{"id": str(i), "question": words[0],
                           "answers": [{"text": answer, "answer_start": context.index(answer)}]}]})
        item = {"article": context, "questions": [words[0]], "answers": ["ABCD"[i % 4]],
                "options": [[words[1], words[2], words[3], words[-1]]]}
        (race / ("train" if i < 16 else "dev") / f"{i}.txt").write_text(json.dumps(item))
    (folder / "squad").mkdir()
    for split, part in (("train-v1.1", paragraphs[:16]), ("dev-v1.1", paragraphs[16:])):
        (folder / "squad" / f"{split}.json").write_text(json.dumps(
            {"version": "1.1", "data": [{"title": "t", "paragraphs": part}]}))


@pytest.fixture(scope="module")
def readers(runs, tmp_path_factory, shared_data) -> dict:
    """qa (span QA, doc stride 8 over 32-token windows) and mc (multiple choice), fine-tuned
    one epoch from the session's bert run."""
    root = tmp_path_factory.mktemp("readers")
    _mrc_data(root / "data", shared_data)
    before = os.environ.get("LMLAB_DATA")
    os.environ["LMLAB_DATA"] = str(root / "data")
    try:
        for name, task, extra in (("qa", "qa/squad", ["--doc-stride", "8"]),
                                  ("mc", "mc/race", [])):
            assert main(["finetune", str(runs["bert"]), "--task", task, "--out",
                         str(root / name), *FINETUNE, *extra]) == 0
    finally:
        if before is None:
            del os.environ["LMLAB_DATA"]
        else:
            os.environ["LMLAB_DATA"] = before
    return {"qa": root / "qa", "mc": root / "mc", "sst2": runs["sst2"]}


@pytest.fixture(scope="module")
def reader_client(readers):
    from fastapi.testclient import TestClient

    models = load_models([str(path) for path in readers.values()])
    with TestClient(build_app(models), base_url=LOCAL) as client:
        yield client


def _post(client, endpoint: str, **body) -> dict:
    response = client.post(f"/{endpoint}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_models_lists_the_reader_and_the_chooser(reader_client):
    listed = {m["name"]: (m["kind"], m["endpoints"])
              for m in reader_client.get("/models").json()["models"]}
    assert listed["qa"] == ("reader", ["answer", "embed"])
    assert listed["mc"] == ("chooser", ["choose", "embed"])
    schema = reader_client.get("/openapi.json").json()
    assert {"/answer", "/choose"} <= set(schema["paths"])
    fields = schema["components"]["schemas"]["AnswerRequest"]
    assert set(fields["required"]) == {"model", "question", "context"}


def test_answer_is_the_evaluations_answer_over_doc_stride_windows(reader_client, readers):
    answer = _post(reader_client, "answer", model="qa", question=QUESTION, context=CONTEXT)
    config, tokenizer, model = load_finetuned(readers["qa"])
    spec = get_task(config.task)
    example = QAExample("q", QUESTION, CONTEXT)
    features = task_data.encode(spec, tokenizer, [example], config)
    raw = predict(model, spec.kind, features, config, tokenizer)
    (expected,) = task_data.decode(spec, [example], features, raw, config.labels, config.options)
    assert answer["windows"] == len(features) > 3  # 32-token windows, stride 8
    assert answer["answer"] == expected and answer["answer"]
    assert CONTEXT[answer["start"]:answer["end"]] == answer["answer"]
    assert 0 < answer["probability"] <= 1 and answer["model"] == "qa"
    # The score is the start + end logit of the span's tokens in the window that has it.
    scores = [max(s[0] for s in window) + max(s[1] for s in window) for window in raw]
    assert answer["score"] <= max(scores) + 1e-4


def test_choose_gives_the_heads_softmax_over_the_choices(reader_client, readers):
    choices = ["profit", "shares", "banks"]
    chosen = _post(reader_client, "choose", model="mc", question=QUESTION, choices=choices,
                   context=CONTEXT)
    config, tokenizer, model = load_finetuned(readers["mc"])
    features = task_data.encode(get_task(config.task), tokenizer,
                                [ChoiceExample(CONTEXT, QUESTION, choices, None)], config)
    with torch.no_grad():
        expected = torch.softmax(model(collate(features, "multiple_choice", tokenizer.pad_id)),
                                 dim=-1)[0]
    assert chosen["probabilities"] == pytest.approx(expected.tolist(), abs=1e-6)
    assert chosen["label"] == int(expected.argmax())
    assert chosen["choice"] == choices[chosen["label"]]
    assert chosen["context_truncated"] is True  # 46 words do not fit 32 tokens
    short = _post(reader_client, "choose", model="mc", question="who", choices=["a", "b"])
    assert short["context_truncated"] is False and len(short["probabilities"]) == 2


@pytest.mark.parametrize("endpoint, status, expected, body", [
    ("answer", 400, "'sst2' is a classifier model and has no /answer",
     {"model": "sst2", "question": "q", "context": "c"}),
    ("choose", 400, "'qa' is a reader model and has no /choose; its endpoints: /answer, /embed",
     {"model": "qa", "question": "q", "choices": ["a", "b"]}),
    ("classify", 400, "'mc' is a chooser model and has no /classify", {"model": "mc", "text": "a"}),
    ("answer", 422, "context: 2001 characters, more than this server's limit of 2000 "
                    "(lmlab serve --max-chars)",
     {"model": "qa", "question": "q", "context": "x" * 2001}),
    ("answer", 422, "question: 65 tokens, more than the 64 a QA model reads",
     {"model": "qa", "question": "the market " * 32 + "rose", "context": CONTEXT}),
    ("answer", 422, "context: required", {"model": "qa", "question": "q"}),
    ("answer", 422, "question: required", {"model": "qa", "context": "c"}),
    ("answer", 422, "context: empty text", {"model": "qa", "question": "q", "context": " "}),
    ("answer", 422, "text: unknown field", {"model": "qa", "question": "q", "context": "c",
                                            "text": "t"}),
    ("choose", 422, "choices: required", {"model": "mc", "question": "q"}),
    ("choose", 422, "choices: 1 given; give at least 2",
     {"model": "mc", "question": "q", "choices": ["a"]}),
    ("choose", 422, "choices: 17, more than this server's limit of 16 (lmlab serve --max-batch)",
     {"model": "mc", "question": "q", "choices": ["a"] * 17}),
    ("choose", 422, "choices[1]: 2001 characters",
     {"model": "mc", "question": "q", "choices": ["a", "y" * 2001]}),
    ("answer", 404, "model: 'nope' is not served here",
     {"model": "nope", "question": "q", "context": "c"}),
])
def test_each_refusal_is_one_line(reader_client, endpoint, status, expected, body):
    response = reader_client.post(f"/{endpoint}", json=body)
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert expected in message and "\n" not in message, message


def test_a_body_over_the_limit_is_a_413(readers):
    from fastapi.testclient import TestClient

    models = load_models([str(readers["qa"])])
    client = TestClient(build_app(models, Limits(max_body_bytes=1000)), base_url=LOCAL)
    response = client.post("/answer", json={"model": "qa", "question": "q", "context": "c" * 990})
    assert response.status_code == 413
    assert "more than this server's limit of 1000 bytes" in response.json()["error"]


def test_the_playground_highlights_the_answer_in_headless_chromium(readers, live_server,
                                                                   reader_client, tmp_path):
    from test_serve_playground import CHROMIUM, DevTools

    if CHROMIUM is None:
        pytest.skip("no chromium binary (.ci/run installs Debian's chromium package where it "
                    "runs as root)")
    expected = _post(reader_client, "answer", model="qa", question=QUESTION, context=CONTEXT)
    server = live_server(load_models([str(readers["qa"]), str(readers["mc"])]))
    browser = DevTools(CHROMIUM, tmp_path / "profile")
    try:
        browser.open(server.url + "/")
        browser.wait_for("document.querySelectorAll('#model option').length === 2")
        browser.evaluate(f"(() => {{ document.getElementById('text').value = {CONTEXT!r};"
                         f" document.getElementById('option-question').value = {QUESTION!r};"
                         f" }})()")
        browser.click("#run")
        browser.wait_for("document.getElementById('output').dataset.state === 'done'")
        marked = browser.evaluate("document.querySelector('#output .context mark').textContent")
        shown = browser.evaluate("document.getElementById('output').innerText")
        png = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
        browser.evaluate("(() => { const s = document.getElementById('model'); s.value = 'mc';"
                         " s.dispatchEvent(new Event('change')); })()")
        browser.click("#run")  # the example passage, question and three choices
        browser.wait_for("document.getElementById('output').dataset.state === 'done'")
        choices = browser.evaluate("document.querySelectorAll('#output .bars .bar').length")
        errors = browser.errors()
    finally:
        browser.close()
    assert choices == 3
    assert marked == expected["answer"] and "/answer · qa" in shown
    assert f"answer “{expected['answer']}”" in shown
    assert not errors, errors
    (tmp_path / "playground_answer.png").write_bytes(png)
    if os.environ.get("LMLAB_UPDATE_DOCS") == "1":
        (Path(__file__).resolve().parents[2] / "docs" / "serve_answer.png").write_bytes(png)
