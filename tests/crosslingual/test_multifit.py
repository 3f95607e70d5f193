"""MultiFiT (Eisenschlos et al. 2019): the preset, fine-tuning the QRNN LM as a classifier
with label smoothing and the one-cycle schedule, and cross-lingual bootstrapping from a
zero-shot teacher's pseudo-labels (§3.3)."""

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.config import load_config  # noqa: E402
from lmlab.errors import ConfigError  # noqa: E402
from lmlab.finetune.config import FinetuneOptions  # noqa: E402
from lmlab.finetune.evaluate import predict_file  # noqa: E402
from lmlab.finetune.loop import finetune  # noqa: E402
from lmlab.finetune.pseudo_labels import pseudo_label  # noqa: E402
from lmlab.heads.sequence_classification import (SequenceClassificationHead,  # noqa: E402
                                                 SequenceHeadConfig)
from lmlab.presets import preset_path  # noqa: E402
from lmlab.recipes.bootstrap_row import best_teacher, bootstrap_verdict  # noqa: E402
from lmlab.tasks.catalogue import get_task  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402

OPTIONS = dict(max_train_examples=16, epochs=1, batch_size=8, max_seq_len=24, pooling="last",
               max_unk_rate=1.0, progress=False, dev_split="dev[:8]", schedule="one_cycle",
               label_smoothing=0.1)


def test_preset_is_a_qrnn_clm_on_chinese_subwords_with_one_cycle():
    config = load_config(preset_path("multifit/tiny"))
    assert config.model.encoder.name == "qrnn" and config.model.encoder.window == 2
    assert [o.name for o in config.objectives] == ["clm"]
    assert (config.data.dataset, config.data.tokenizer.kind) == ("clue-small-sample", "unigram")
    assert config.data.batching == "stream" and config.train.schedule == "one_cycle"


def test_label_smoothing_loss_exact():
    """ε = 0.2, C = 2: targets (0.9, 0.1) for class 0; loss = −Σ q_c log p_c."""
    head = SequenceClassificationHead(4, 2, SequenceHeadConfig("mean", 0.0, 0.2))
    logits = torch.tensor([[1.0, 0.0]])
    loss = head.loss(logits, {"labels": torch.tensor([0])})
    log_p0, log_p1 = -math.log(1 + math.exp(-1.0)), -math.log(1 + math.exp(1.0))
    assert loss.item() == pytest.approx(-(0.9 * log_p0 + 0.1 * log_p1), abs=1e-6)


@pytest.fixture(scope="module")
def qrnn_run(tiny_corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("multifit") / "lm"
    train(tiny_config("multifit/tiny", tiny_corpus, steps=2, every=2), run, log=lambda *_: None)
    return run


@pytest.fixture(scope="module")
def teacher(qrnn_run, tmp_path_factory):
    """A zero-shot teacher: the run fine-tuned on English SST-2 (any classifier run serves)."""
    out = tmp_path_factory.mktemp("teacher") / "sst2"
    finetune(str(qrnn_run), "glue/sst2", FinetuneOptions(**OPTIONS), out)
    return out


def test_qrnn_lm_fine_tunes_as_a_classifier_from_its_last_state(qrnn_run, tmp_path):
    result = finetune(str(qrnn_run), "clue/chnsenticorp", FinetuneOptions(**OPTIONS),
                      tmp_path / "chn")
    assert result["train_examples"] == 16 and result["dev_examples"] == 8
    assert 0 <= result["scores"]["accuracy"]["mean"] <= 100
    assert result["options"]["label_smoothing"] == 0.1 and "pseudo_labels" not in result
    with pytest.raises(ConfigError, match="use --pooling last"):
        finetune(str(qrnn_run), "clue/chnsenticorp",
                 FinetuneOptions(**{**OPTIONS, "pooling": "cls"}), tmp_path / "cls")


def test_pseudo_labels_are_the_teachers_predictions(teacher, tmp_path):
    spec = get_task("clue/chnsenticorp")
    examples = spec.read("train[:12]")
    relabelled, summary = pseudo_label(str(teacher), spec, {"train": examples})
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(e.text_a + "\n" for e in examples), encoding="utf-8")
    predict_file(str(teacher), str(texts), str(tmp_path / "predicted.txt"))
    predicted = (tmp_path / "predicted.txt").read_text().split()
    assert [e.label for e in relabelled["train"]] == predicted
    assert [e.text_a for e in relabelled["train"]] == [e.text_a for e in examples]
    counts = summary["train"]["counts"]
    assert sum(counts.values()) == 12 and set(counts) <= {"0", "1"}
    gold = sum(e.label == p for e, p in zip(examples, predicted)) / 12
    assert summary["train"]["teacher_accuracy_on_gold"] == round(100 * gold, 2)


def test_bootstrapped_fine_tuning_through_the_cli(qrnn_run, teacher, tmp_path):
    out = tmp_path / "boot"
    assert main(["finetune", str(qrnn_run), "--task", "clue/chnsenticorp", "--out", str(out),
                 "--pseudo-labels-from", str(teacher), "--max-train-examples", "16",
                 "--epochs", "1", "--batch-size", "8", "--max-seq-len", "24", "--pooling",
                 "last", "--max-unk-rate", "1", "--dev-split", "dev[:8]", "--schedule",
                 "one_cycle", "--label-smoothing", "0.1", "--quiet"]) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["pseudo_labels"]["teacher"] == str(teacher)
    assert result["pseudo_labels"]["teacher_task"] == "glue/sst2"
    assert sum(result["pseudo_labels"]["dev"]["counts"].values()) == 8


def test_teacher_with_other_labels_is_a_one_line_error(qrnn_run, tmp_path, capsys):
    rte = tmp_path / "rte"
    finetune(str(qrnn_run), "glue/rte", FinetuneOptions(**{**OPTIONS, "max_train_examples": 8}),
             rte)
    capsys.readouterr()  # the RTE fine-tuning's own warnings
    out = tmp_path / "refused"
    assert main(["finetune", str(qrnn_run), "--task", "clue/chnsenticorp", "--out", str(out),
                 "--pseudo-labels-from", str(rte), "--pooling", "last", "--quiet"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and f"--pseudo-labels-from {rte}: its labels" in error
    assert "(glue/rte) are not clue/chnsenticorp's ['0', '1']" in error
    assert not out.exists()  # refused before anything is written


def _scored(label, slug, seeds):
    return {"label": label, "slug": slug, "transfer": {
        "zero_shot": {"mean": sum(seeds.values()) / len(seeds), "std": 0.0},
        "per_seed": [{"seed": s, "zero_shot": z} for s, z in seeds.items()]}}


def test_best_teacher_is_the_best_zero_shot_rows_best_seed(tmp_path):
    rows = [_scored("A", "A", {0: 50.0, 1: 52.0}), _scored("B (x)", "B_x", {0: 60.0, 1: 55.0}),
            {"label": "no transfer", "slug": "n"}]
    run = tmp_path / "transfer" / "B_x" / "glue_sst2" / "seed-0"
    with pytest.raises(ConfigError, match=r"bootstrap.teacher: .*seed-0 has no checkpoint"):
        best_teacher(rows, tmp_path, "glue/sst2")
    (run / "checkpoint").mkdir(parents=True)
    assert best_teacher(rows, tmp_path, "glue/sst2") == (str(run), "B (x) seed 0", 60.0)
    with pytest.raises(ConfigError, match="no zero-shot row"):
        best_teacher(rows[2:], tmp_path, "glue/sst2")


def test_bootstrap_verdict_exact():
    row = {"teacher_label": "XLM-R seed 1",
           "transfer": {"zero_shot": {"mean": 71.25, "std": 0.5}, "teacher_zero_shot": 70.0}}
    assert bootstrap_verdict("MultiFiT (bootstrapped)", row).endswith(
        "MultiFiT (bootstrapped) 71.2 vs teacher (XLM-R seed 1) 70.0 zero-shot: the claim "
        "holds here.")
    row["transfer"]["zero_shot"]["mean"] = 70.0
    assert bootstrap_verdict("M", row).endswith("the claim does not hold here.")
    assert bootstrap_verdict("M", None) == ""
