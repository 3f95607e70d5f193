"""Sentence retrieval on held-out parallel pairs (issue 24): exact accuracy@1 on a hand-made
case, the pooled tokens, and ``lmlab eval retrieval`` on a tiny XLM run."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.crosslingual.retrieval import mean_pool, retrieval_accuracy, sentence_batch  # noqa: E402
from lmlab.errors import ConfigError  # noqa: E402
from lmlab.recipes.retrieval import retrieval_of_run  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402


def test_accuracy_at_1_both_directions_on_a_hand_made_case():
    source = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    # cosines: s0 -> t0 (right); s1 -> t0 (.994 > .208, wrong); s2 -> t1 (1 > .995, wrong)
    # columns: t0 -> s0 (right); t1 -> s2 (wrong); t2 -> s2 (.995 > .208, right)
    assert retrieval_accuracy(source, target) == {
        "source_to_target": 33.33, "target_to_source": 66.67, "mean": 50.0, "pairs": 3}
    # cosine, not dot product: scaling a vector changes nothing
    assert retrieval_accuracy(source * torch.tensor([[5.0], [1.0], [0.1]]), target)["mean"] == 50.0
    with pytest.raises(ValueError, match="two \\(N, D\\) arrays of one shape"):
        retrieval_accuracy(source, target[:2])


class _Tokenizer:
    pad_id, cls_id, sep_id = 0, 2, 3

    def encode_batch(self, texts):
        return [[10 + len(word) for word in text.split()] for text in texts]


def test_only_the_sentence_tokens_are_pooled():
    ids, attention, pooled = sentence_batch(["a bb ccc", "dddd"], _Tokenizer(), max_len=4)
    assert ids.tolist() == [[2, 11, 12, 3], [2, 14, 3, 0]]  # cut to max_len - 2 tokens
    assert attention.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert pooled.tolist() == [[0, 1, 1, 0], [0, 1, 0, 0]]
    states = torch.arange(16.0).reshape(2, 4, 2)
    assert mean_pool(states, pooled).tolist() == [[3.0, 4.0], [10.0, 11.0]]


def test_eval_retrieval_on_a_tiny_run(tiny_corpus, tmp_path, capsys):
    run = tmp_path / "xlm"
    train(tiny_config("xlm/tiny", tiny_corpus, steps=1, every=1), run, log=lambda *_: None)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"the market {i}\t市场 {i}\n" for i in range(10)), encoding="utf-8")
    capsys.readouterr()
    assert main(["eval", "retrieval", str(run), "--parallel", str(pairs), "--held-out", "4",
                 "--layer", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] == 4 and result["language_ids"] is True and result["layer"] == 1
    assert 0 <= result["source_to_target"] <= 100 and 0 <= result["target_to_source"] <= 100
    with pytest.raises(ConfigError, match="--layer: .* has layers 1..2"):
        retrieval_of_run(str(run), str(pairs), 4, layer=3)
