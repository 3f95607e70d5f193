"""MT-DNN (issue 21): the merged, shuffled mini-batches of Algorithm 1, a tiny multi-task +
per-task + single-task run (on a 2-step BERT-tiny run, for speed; the measured table in
docs/knowledge.md starts from the real MiniLM), and the one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from lmlab.cli import main
from lmlab.errors import ConfigError
from lmlab.finetune.config import FinetuneOptions
from lmlab.finetune.multitask import merged_batches, multitask_finetune
from lmlab.training.trainer import train

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402


def test_an_epoch_holds_every_task_batch_once_shuffled_by_seed():
    lengths = [[5] * 64, [7] * 16, [3] * 20]
    epoch = merged_batches([64, 16, 20], lengths, 16, seed=3)
    # task t contributes ceil(n_t / 16) batches: sampling proportional to size (4 : 1 : 2)
    assert [sum(1 for task, _ in epoch if task == t) for t in range(3)] == [4, 1, 2]
    for task, size in enumerate([64, 16, 20]):
        seen = sorted(i for t, batch in epoch if t == task for i in batch)
        assert seen == list(range(size))
    assert epoch == merged_batches([64, 16, 20], lengths, 16, seed=3)
    assert [t for t, _ in epoch] != [t for t, _ in merged_batches([64, 16, 20], lengths, 16, 4)]


@pytest.fixture(scope="module")
def base(tiny_corpus, tmp_path_factory) -> str:
    """A BERT-tiny run after 2 steps: a real lmlab base, small enough to fine-tune fast."""
    folder = tmp_path_factory.mktemp("mtdnn") / "bert"
    train(tiny_config("bert/tiny", tiny_corpus, steps=2, every=2), folder, log=lambda *_: None)
    return str(folder)


def test_multitask_then_per_task_beside_single_task(base, tmp_path):
    torch.set_num_threads(1)
    options = FinetuneOptions(max_train_examples=16, max_seq_len=24, max_unk_rate=1.0, epochs=1.0, batch_size=8,
                              eval_batch_size=64, seeds=[0], progress=False, dev_split="dev[:32]")
    summary = multitask_finetune(base, ["glue/rte", "glue/stsb"], options,
                                 tmp_path / "mt", multitask_epochs=1.0, single_task=True)
    assert summary["tasks"] == ["glue/rte", "glue/stsb"]
    assert summary["train_examples"] == {"glue/rte": 16, "glue/stsb": 16}
    record = summary["seeds"][0]
    assert [entry["step"] for entry in record["multitask_history"]] == [4]  # 2 + 2 batches
    for name in ("glue/rte", "glue/stsb"):
        entry = record["tasks"][name]
        assert set(entry) >= {"multitask", "mtdnn", "single"}
        assert summary["scores"][name]["mtdnn"]["std"] == 0.0  # one seed
    table = (tmp_path / "mt" / "results.md").read_text().splitlines()
    assert table[0].startswith("| task (metric) | train examples | multi-task only")
    assert table[2].startswith("| glue/rte (accuracy) | 16 |")
    assert json.loads((tmp_path / "mt" / "results.json").read_text())["multitask_epochs"] == 1.0


def test_multitask_errors_are_one_line(base, tmp_path, capsys):
    with pytest.raises(ConfigError, match="--multitask: give at least two tasks"):
        multitask_finetune(base, ["glue/rte"], FinetuneOptions(), tmp_path / "a")
    with pytest.raises(ConfigError, match="--multitask ner/conll2003: a tagging task"):
        multitask_finetune(base, ["glue/rte", "ner/conll2003"], FinetuneOptions(),
                           tmp_path / "b")
    assert main(["finetune", base, "--multitask", "glue/rte", "glue/mrpc",
                 "--task", "glue/rte", "--out", str(tmp_path / "c")]) != 0
    assert "--task: not with --multitask" in capsys.readouterr().err
    assert main(["finetune", base, "--out", str(tmp_path / "d")]) != 0
    assert "--task: required (or --multitask" in capsys.readouterr().err
