"""Language ids at fine-tuning time (XLM, Lample & Conneau 2019 §3.1): an XLM run is
fine-tuned and scored with the task's language embedding on every token (SST-2: English,
id 0; ChnSentiCorp: Chinese, id 1); backbones without language embeddings get none."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.errors import ConfigError  # noqa: E402
from lmlab.finetune.model import task_language  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402


class _Embedding:
    def __init__(self, count):
        self.config = type("C", (), {"num_languages": count})()


class _Backbone:
    def __init__(self, count):
        self.embedding = _Embedding(count)


def test_task_language_ids():
    assert task_language(_Backbone(2), "en") == 0
    assert task_language(_Backbone(2), "zh") == 1
    assert task_language(_Backbone(0), "zh") is None  # mBERT / XLM-R: nothing to add
    with pytest.raises(ConfigError, match="task language 'zh': no language id .*"
                                          "num_languages=1"):
        task_language(_Backbone(1), "zh")


def test_xlm_finetuning_reads_the_task_language(tiny_corpus, tmp_path, monkeypatch):
    run = tmp_path / "xlm"
    train(tiny_config("xlm/tiny", tiny_corpus, steps=1, every=1), run, log=lambda *_: None)
    seen = []
    original = torch.nn.Embedding.forward

    def spy(module, ids):  # the language table is the only Embedding of 2 rows
        if module.num_embeddings == 2:
            seen.append(sorted(set(ids.flatten().tolist())))
        return original(module, ids)

    monkeypatch.setattr(torch.nn.Embedding, "forward", spy)
    assert main(["finetune", str(run), "--task", "glue/sst2", "--max-train-examples", "16",
                 "--epochs", "1", "--batch-size", "16", "--max-seq-len", "16",
                 "--max-unk-rate", "1", "--quiet", "--seeds", "0", "--threads", "1",
                 "--out", str(tmp_path / "sst2")]) == 0
    assert seen and all(ids == [0] for ids in seen)  # English task: language 0 everywhere
    seen.clear()
    assert main(["evaluate", str(tmp_path / "sst2"), "--task", "clue/chnsenticorp",
                 "--split", "dev[:16]"]) == 0
    assert seen and all(ids == [1] for ids in seen)  # zero-shot on Chinese: language 1
