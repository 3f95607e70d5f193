"""End to end on a tiny lmlab BERT run: finetune, evaluate, predict, benchmark; bad input."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lmlab.cli import main
from lmlab.data.tokenizers import wordpiece_from_vocab
from lmlab.errors import DataError
from lmlab.finetune.task_data import check_vocabulary, label_vocabulary
from lmlab.tasks import TextExample, get_task

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

FAST = ["--max-train-examples", "48", "--epochs", "1", "--batch-size", "16",
        "--max-seq-len", "32", "--max-unk-rate", "1", "--quiet", "--lr", "1e-3"]


@pytest.fixture(scope="module")
def bert_tiny_run(tmp_path_factory, tiny_corpus):
    from lmlab.training.trainer import train

    out = tmp_path_factory.mktemp("runs") / "bert-tiny"
    train(tiny_config("bert/tiny", tiny_corpus, steps=2, every=2), out)
    return out


def test_finetune_evaluate_predict(bert_tiny_run, tmp_path, capsys):
    out = tmp_path / "wnli"
    assert main(["finetune", str(bert_tiny_run), "--task", "glue/wnli", "--out", str(out),
                 "--seeds", "0", "1", *FAST]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["metric"] == "accuracy" and set(summary["scores"]["accuracy"]) == {"mean", "std"}
    results = json.loads((out / "results.json").read_text())
    assert [r["seed"] for r in results["runs"]] == [0, 1]
    assert (out / "checkpoint" / "model.safetensors").exists()

    assert main(["evaluate", str(out), "--task", "glue/wnli", "--split", "dev"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["examples"] == 71
    # The kept checkpoint is the best seed's best evaluation.
    best = max(r["best"]["accuracy"] for r in results["runs"])
    assert scores["accuracy"] == pytest.approx(best, abs=0.01)

    inputs = tmp_path / "new.tsv"
    inputs.write_text("The cat sat.\tThe cat sat down.\nIt rained.\tIt was dry.\n")
    assert main(["predict", str(out), "--input", str(inputs), "--out", str(tmp_path / "p.txt")]) == 0
    assert all(line in ("0", "1") for line in (tmp_path / "p.txt").read_text().splitlines())
    assert len((tmp_path / "p.txt").read_text().splitlines()) == 2

    # Issue 16: the input is never the output; an existing output needs --overwrite.
    inputs_before = inputs.read_text()
    assert main(["predict", str(out), "--input", str(inputs), "--out", str(inputs)]) == 1
    assert "also an input" in capsys.readouterr().err and inputs.read_text() == inputs_before
    (tmp_path / "p.txt").write_text("keep\n")
    assert main(["predict", str(out), "--input", str(inputs), "--out", str(tmp_path / "p.txt")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "p.txt").read_text() == "keep\n"
    assert main(["predict", str(out), "--input", str(inputs), "--out", str(tmp_path / "p.txt"),
                 "--overwrite"]) == 0
    assert len((tmp_path / "p.txt").read_text().splitlines()) == 2
    # ... and a fine-tuning is not written over another one without --overwrite.
    capsys.readouterr()
    assert main(["finetune", str(bert_tiny_run), "--task", "glue/wnli", "--out", str(out),
                 "--seeds", "0", *FAST]) == 1
    assert "already holds a fine-tuning" in capsys.readouterr().err


def test_unset_options_take_the_task_familys_defaults(bert_tiny_run, tmp_path, capsys):
    """No --lr / --warmup-ratio: results.json and the saved config hold the classification
    family's values (FAMILY_DEFAULTS), not None."""
    from lmlab.finetune.config import FAMILY_DEFAULTS

    out = tmp_path / "wnli-defaults"
    fast = [a for a in FAST if a not in ("--lr", "1e-3")]
    assert main(["finetune", str(bert_tiny_run), "--task", "glue/wnli", "--out", str(out),
                 *fast]) == 0
    capsys.readouterr()
    options = json.loads((out / "results.json").read_text())["options"]
    family = FAMILY_DEFAULTS["classification"]
    assert (options["lr"], options["warmup_ratio"]) == (family["lr"], family["warmup_ratio"])
    assert (options["epochs"], options["batch_size"]) == (1.0, 16)  # the ones set
    assert "lr: 0.0001" in (out / "checkpoint" / "config.yaml").read_text()


def test_best_seed_checkpoint_reproduces_its_dev_score(bert_tiny_run, tmp_path, capsys):
    out = tmp_path / "stsb"
    assert main(["finetune", str(bert_tiny_run), "--task", "glue/stsb", "--out", str(out),
                 *FAST]) == 0
    best = json.loads(capsys.readouterr().out)["scores"]["spearman"]["mean"]
    assert main(["evaluate", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["spearman"] == pytest.approx(best, abs=0.01)


def test_tagging_with_crf_and_benchmark_layout(bert_tiny_run, tmp_path, capsys):
    out = tmp_path / "ner"
    assert main(["finetune", str(bert_tiny_run), "--task", "ner/conll2003", "--out", str(out),
                 "--crf", "--eval-batch-size", "256", *FAST,
                 "--dev-split", "dev"]) == 0
    assert "entity_f1" in json.loads(capsys.readouterr().out)["scores"]
    bench = tmp_path / "bench"
    assert main(["benchmark", "--suite", "glue", "--model", str(bert_tiny_run), "--tasks",
                 "glue/wnli", "glue/mnli", "--out", str(bench), *FAST]) == 0
    table = (bench / "benchmark_glue.md").read_text()
    assert "| Model | WNLI (Acc) | MNLI-m (Acc) | Avg |" in table
    assert "BoW + logistic regression" in table and "glue/mnli: not run (no train file" in table
    report = json.loads((bench / "benchmark_glue.json").read_text())
    assert report["available"] == ["glue/wnli"]


def test_unknown_task_is_one_line_error(bert_tiny_run, tmp_path, capsys):
    assert main(["finetune", str(bert_tiny_run), "--task", "glue/sts-b", "--out",
                 str(tmp_path / "x")]) == 1
    assert "did you mean glue/stsb" in capsys.readouterr().err


def test_dev_label_unseen_in_train_is_an_error():
    spec = get_task("glue/rte")
    train = [TextExample("a", "b", "entailment", "train.tsv:2")]
    dev = [TextExample("a", "b", "not_entailment", "dev.tsv:7")]
    with pytest.raises(DataError, match=r"dev.tsv:7: field 'label': 'not_entailment' in the "
                                        r"dev split never occurs in the training split"):
        label_vocabulary(spec, train, {"dev": dev})
    with pytest.raises(DataError, match="'maybe' is not a label of glue/rte"):
        label_vocabulary(spec, [TextExample("a", "b", "maybe", "train.tsv:3")], {})


def test_english_vocabulary_on_chinese_task_reports_unk_rate(minilm_dir, shared_data, capsys):
    tokenizer = wordpiece_from_vocab(minilm_dir / "vocab.txt", lowercase=True)
    spec = get_task("clue/chnsenticorp")
    examples = spec.read("dev")[:200]
    with pytest.raises(DataError, match=r"turns \d+\.\d% of clue/chnsenticorp's tokens into "
                                        r"\[UNK\] \(task language: zh\)"):
        check_vocabulary(tokenizer, spec, examples, 0.5, "hf:minilm")
    rate = check_vocabulary(tokenizer, spec, examples, 1.0, "hf:minilm")
    assert rate > 0.5 and "warning" in capsys.readouterr().err
    chinese = wordpiece_from_vocab(shared_data / "uer_py/models/google_zh_vocab.txt", True) \
        if (shared_data / "uer_py/models/google_zh_vocab.txt").exists() else None
    if chinese is not None:
        assert check_vocabulary(chinese, spec, examples, 0.5, "zh") < 0.05


def _synthetic_mrc(folder: Path, shared_data: Path) -> None:
    """SQuAD v1.1 and RACE files in their public layouts, built from PTB sentences."""
    lines = (shared_data / "ptb" / "ptb.valid.txt").read_text().splitlines()[:40]
    paragraphs, race = [], folder / "race"
    for split in ("train", "dev"):
        (race / split).mkdir(parents=True)
    for i, line in enumerate(lines):
        words = line.split()
        context = " ".join(words)
        answer = " ".join(words[2:4])
        start = context.index(answer)
        paragraphs.append({"context": context, "qas": [{"id": str(i), "question": words[0],
                                                        "answers": [{"text": answer,
                                                                     "answer_start": start}]}]})
        item = {"article": context, "questions": [words[0]], "answers": ["ABCD"[i % 4]],
                "options": [[words[1], words[2], words[3], words[-1]]]}
        split = "train" if i < 30 else "dev"
        (race / split / f"{i}.txt").write_text(json.dumps(item))
    (folder / "squad").mkdir()
    for split, part in (("train-v1.1", paragraphs[:30]), ("dev-v1.1", paragraphs[30:])):
        (folder / "squad" / f"{split}.json").write_text(json.dumps(
            {"version": "1.1", "data": [{"title": "t", "paragraphs": part}]}))


def test_span_qa_and_multiple_choice_end_to_end(bert_tiny_run, tmp_path, shared_data,
                                                monkeypatch, capsys):
    _synthetic_mrc(tmp_path / "data", shared_data)
    monkeypatch.setenv("LMLAB_DATA", str(tmp_path / "data"))
    assert main(["finetune", str(bert_tiny_run), "--task", "qa/squad", "--out",
                 str(tmp_path / "qa"), "--doc-stride", "8", *FAST]) == 0
    scores = json.loads(capsys.readouterr().out)["scores"]
    assert set(scores) == {"f1", "exact_match"}
    assert main(["evaluate", str(tmp_path / "qa")]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 10
    assert main(["finetune", str(bert_tiny_run), "--task", "mc/race", "--out",
                 str(tmp_path / "mc"), *FAST]) == 0
    assert "accuracy" in json.loads(capsys.readouterr().out)["scores"]
