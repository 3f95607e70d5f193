"""``lmlab evaluate RUN --task squad --data FILE`` (issue 24: held-back test sets scored by
path): the short task name, SQuAD v1.1 / XNLI 1.0 / ChnSentiCorp files in their public
formats, exact EM/F1 of a known prediction, one-line errors for a malformed file."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

import pytest  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.errors import DataError  # noqa: E402
from lmlab.evaluation.metrics import compute  # noqa: E402
from lmlab.finetune import task_data  # noqa: E402
from lmlab.tasks.catalogue import get_task  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402


def _squad_file(path: Path, items: list[tuple[str, str, str]]) -> Path:
    """(context, question, answer) triples as a SQuAD v1.1 file, one paragraph each."""
    paragraphs = [{"context": c, "qas": [{"id": f"q{i}", "question": q,
                                          "answers": [{"text": a, "answer_start": c.find(a)}]}]}
                  for i, (c, q, a) in enumerate(items)]
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t",
                                                            "paragraphs": paragraphs}]}))
    return path


def test_squad_short_name_reads_a_file_and_scores_a_known_prediction(tmp_path):
    spec = get_task("squad")
    assert spec.name == "qa/squad" and spec.metric == "squad" and spec.language == "en"
    path = _squad_file(tmp_path / "tiny.json", [
        ("The Denver Broncos won.", "Who won?", "Denver Broncos"),
        ("He lives in the red house.", "Where?", "red house")])
    examples = spec.read(str(path))
    assert [e.answers for e in examples] == [[("Denver Broncos", 4)], [("red house", 16)]]
    golds = task_data.golds(spec, examples)
    # "the blue house" vs "red house": articles dropped -> P = R = 1/2, F1 = 0.5
    scores = compute("squad", ["Denver Broncos", "the blue house"], golds)
    assert scores == {"exact_match": 50.0, "f1": 75.0}


def test_xnli_1_0_layout_keeps_the_chinese_rows(tmp_path):
    header = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse",
              "sentence1", "sentence2", "pairID"]
    rows = [["en", "neutral", "(a)", "(b)", "A man.", "A dog.", "1"],
            ["zh", "contradiction", "", "", "一个人。", "一只狗。", "1"],
            ["zh", "entailment", "", "", "他来了。", "有人来了。", "2"]]
    path = tmp_path / "xnli.test.tsv"
    path.write_text("\n".join("\t".join(r) for r in [header] + rows) + "\n")
    three = get_task("clue/xnli").read(str(path))
    assert [(e.text_a, e.text_b, e.label) for e in three] == [
        ("一个人。", "一只狗。", "contradiction"), ("他来了。", "有人来了。", "entailment")]
    assert [e.source for e in three] == [f"{path}:3", f"{path}:4"]
    assert [e.label for e in get_task("clue/xnli_2way").read(str(path))] == [
        "not_entailment", "entailment"]


def test_chnsenticorp_test_file_by_path(tmp_path):
    path = tmp_path / "test.tsv"  # the public layout (ERNIE / UER-py): label, text_a
    path.write_text("label\ttext_a\n1\t很好\n0\t太差了\n")
    examples = get_task("clue/chnsenticorp").read(str(path))
    assert [(e.text_a, e.label, e.source) for e in examples] == [
        ("很好", "1", f"{path}:2"), ("太差了", "0", f"{path}:3")]
    path.write_text("label\ttext\n1\t很好\n")
    with pytest.raises(DataError, match=r"test\.tsv:1: header has no 'text_a' column"):
        get_task("clue/chnsenticorp").read(str(path))


def test_malformed_squad_file_names_file_and_key(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": "x", "qas": [
        {"id": "1", "answers": []}]}]}]}))
    with pytest.raises(DataError, match=r"bad\.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]: "
                                        r"missing field 'question'"):
        get_task("squad").read(str(path))
    assert main(["evaluate", str(tmp_path), "--task", "squad", "--data",
                 str(tmp_path / "absent.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "--data" in err and "absent.json: no such file" in err and "\n" not in err


def test_evaluate_cmrc_run_on_a_squad_file_by_path(tiny_corpus, tmp_path, capsys):
    """zh -> en by hand: a span-QA run fine-tuned on CMRC 2018, scored on an English SQuAD
    file given by path. One-word contexts leave one span to predict, so EM/F1 are known."""
    base = tmp_path / "mbert"
    train(tiny_config("mbert/tiny", tiny_corpus, steps=2, every=2), base, log=lambda *_: None)
    run = tmp_path / "cmrc"
    assert main(["finetune", str(base), "--task", "qa/cmrc2018", "--out", str(run),
                 "--train-split", "trial[:8]", "--dev-split", "dev[:4]", "--epochs", "1",
                 "--batch-size", "8", "--max-seq-len", "64", "--max-unk-rate", "1",
                 "--quiet"]) == 0
    capsys.readouterr()
    data = _squad_file(tmp_path / "held_out.json", [("market", "What?", "market"),
                                                    ("prices", "What?", "stock prices")])
    assert main(["evaluate", str(run), "--task", "squad", "--data", str(data)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "qa/squad" and result["examples"] == 2
    # "prices" vs "stock prices": P = 1, R = 1/2, F1 = 2/3
    assert result["exact_match"] == 50.0 and result["f1"] == pytest.approx(83.333, abs=1e-3)
    assert main(["evaluate", str(run), "--split", "dev", "--data", str(data)]) == 1
    assert "not both" in capsys.readouterr().err
