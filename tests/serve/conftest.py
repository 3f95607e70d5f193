"""Tiny runs of every kind ``lmlab serve`` serves, built once per session (a few seconds),
and a client / live-server for an app over them."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.recipes.serve_corners import CORNER_LOADERS  # noqa: E402
from lmlab.serve import Limits, build_app, load_models  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402
from lmlab.wordvec.runs import write_run  # noqa: E402
from lmlab.wordvec.vocab import Vocabulary  # noqa: E402

FINETUNE = ["--epochs", "1", "--batch-size", "16",
            "--max-seq-len", "32", "--max-unk-rate", "1", "--quiet", "--lr", "1e-3",
            "--seeds", "0", "--threads", "1"]
LOCAL = "http://127.0.0.1"  # a server bound to this machine answers only this Host


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def runs(tmp_path_factory, tiny_corpus) -> dict[str, Path]:
    """name -> run folder: gpt (causal), lstm (recurrent causal), bert (masked), bart
    (encoder–decoder), sst2 (classifier), ner (tagger), headlines (fine-tuned generator),
    kn3 (n-gram), vectors (word2vec)."""
    root = tmp_path_factory.mktemp("serve_runs")
    quiet = {"log": lambda *_: None}
    for name, preset in (("gpt", "gpt/tiny"), ("lstm", "lstm/small"), ("bert", "bert/tiny"),
                         ("bart", "bart/tiny")):
        train(tiny_config(preset, tiny_corpus, steps=2, every=2), root / name, **quiet)
    for name, base, task, extra in (
            ("sst2", "bert", "glue/sst2", ["--max-train-examples", "16"]),
            ("ner", "bert", "ner/conll2003", ["--max-train-examples", "48"]),  # every dev tag
            ("headlines", "bart", "gen/ag_news_headlines",
             ["--max-train-examples", "16", "--max-target-len", "8"])):
        assert main(["finetune", str(root / base), "--task", task, "--out", str(root / name),
                     *FINETUNE, *extra]) == 0
    assert main(["ngram", "build", "-o", "3", "--data", str(tiny_corpus / "train.txt"),
                 "--out", str(root / "kn3")]) == 0
    words = ["market", "stock", "fell", "rose", "company", "shares", "Market"]
    vectors = np.random.default_rng(0).normal(size=(len(words), 16)).astype(np.float32)
    write_run(root / "vectors", Vocabulary(words, np.arange(len(words), 0, -1)), vectors,
              {"method": "skipgram"})
    return {name: root / name for name in ("gpt", "lstm", "bert", "bart", "sst2", "ner",
                                           "headlines", "kn3", "vectors")}


@pytest.fixture(scope="session")
def models(runs):
    return load_models([str(path) for path in runs.values()], CORNER_LOADERS)


@pytest.fixture(scope="session")
def client(models):
    from fastapi.testclient import TestClient

    with TestClient(build_app(models), base_url=LOCAL) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """uvicorn serving ``app`` in a thread on a free 127.0.0.1 port."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server():
    """Call with (models, **build_app options); the server stops after the test."""
    started = []

    def start(models, **options) -> LiveServer:
        server = LiveServer(build_app(models, options.pop("limits", Limits()), **options))
        started.append(server.__enter__())
        return server

    yield start
    for server in started:
        server.__exit__()
