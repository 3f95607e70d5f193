"""Zero-shot cross-lingual transfer (lmlab.recipes.zero_shot) and XNLI collapsed to RTE's
two labels (clue/xnli_2way)."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

import pytest  # noqa: E402

from lmlab.errors import ConfigError  # noqa: E402
from lmlab.finetune.config import FinetuneOptions  # noqa: E402
from lmlab.recipes.zero_shot import zero_shot  # noqa: E402
from lmlab.tasks.catalogue import get_task  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402


def test_xnli_collapsed_to_entailment_or_not():
    spec = get_task("clue/xnli_2way")
    examples = spec.read("dev")
    assert len(examples) == 2490 and spec.labels == ("entailment", "not_entailment")
    assert Counter(e.label for e in examples) == {"not_entailment": 1660, "entailment": 830}
    three = get_task("clue/xnli").read("dev")
    assert [e.label for e in examples[:3]] == ["not_entailment", "not_entailment", "entailment"]
    assert [e.label for e in three[:3]] == ["neutral", "contradiction", "entailment"]
    assert (examples[0].text_a, examples[0].text_b) == (three[0].text_a, three[0].text_b)


def test_zero_shot_needs_the_same_labels(tmp_path):
    with pytest.raises(ConfigError, match=r"glue/sst2 labels \['0', '1'\] differ from "
                                          r"clue/xnli labels"):
        zero_shot("unused", "glue/sst2", "clue/xnli", FinetuneOptions(), tmp_path)


def test_zero_shot_rte_to_xnli_and_sst2_to_chnsenticorp(tiny_corpus, tmp_path):
    run = tmp_path / "mbert"
    train(tiny_config("mbert/tiny", tiny_corpus, steps=2, every=2), run, log=lambda *_: None)
    options = FinetuneOptions(max_train_examples=16, epochs=1, batch_size=8, max_seq_len=32,
                              seeds=[0, 1], max_unk_rate=1.0, progress=False)
    result = zero_shot(str(run), "glue/rte", "clue/xnli_2way", options, tmp_path / "zs",
                       target_split="dev[:20]")
    assert result["target"] == "clue/xnli_2way/dev[:20]" and result["metric"] == "accuracy"
    scores = [row["zero_shot"] for row in result["per_seed"]]
    assert [row["seed"] for row in result["per_seed"]] == [0, 1]
    assert all(score * 20 / 100 == pytest.approx(round(score * 20 / 100), abs=1e-3)
               for score in scores)  # a count of 20 examples
    assert result["zero_shot"]["mean"] == pytest.approx(sum(scores) / 2, abs=0.01)
    assert (tmp_path / "zs" / "glue_rte" / "seed-1" / "checkpoint").is_dir()
    supervised = zero_shot(str(run), "glue/sst2", "clue/chnsenticorp",
                           FinetuneOptions(max_train_examples=16, epochs=1, batch_size=8,
                                           max_seq_len=32, max_unk_rate=1.0, progress=False),
                           tmp_path / "zs2", target_split="dev[:10]", supervised=True)
    assert supervised["source"] == "glue/sst2"
    assert set(supervised) >= {"source_dev", "zero_shot", "supervised"}
    assert 0 <= supervised["supervised"]["mean"] <= 100
