"""Language ids on the MLM/CLM stream of a mixed corpus (XLM, Lample & Conneau 2019, §3.1):
the mix records each line's language, the token store's tokens inherit it, block batches
carry it and the model's language embedding reads it."""

from pathlib import Path

import numpy as np
import pytest
import torch

from lmlab.config import load_config
from lmlab.crosslingual.sampling import resample_lines, resample_sources
from lmlab.data.batching import BlockBatches, eval_blocks
from lmlab.data.lm_data import prepare_tokenizer, source_dataset, token_store
from lmlab.errors import ConfigError
from lmlab.objectives.base import shared_forward
from lmlab.presets import preset_path
from lmlab.training.objective_step import corrupted
from lmlab.training.parts import build_parts, run_languages


def test_resample_sources_exact():
    # sizes (3, 1), alpha 0.5: q = (0.634, 0.366) -> 3 and 1 lines, shuffled (seed 0).
    assert resample_sources([3, 1], 0.5, 0) == [(0, 2), (1, 0), (0, 1), (0, 0)]
    assert resample_lines([["a", "b", "c"], ["x"]], 0.5, 0) == ["c", "x", "b", "a"]


def test_block_batches_carry_token_languages():
    ids = np.arange(10, 22)  # 12 tokens: 5 English, 7 Chinese
    languages = np.array([0] * 5 + [1] * 7, dtype=np.uint8)
    batch = BlockBatches(ids, 2, 5, 0, False, 3, 4, languages=languages).batch(0)
    assert batch["input_ids"].tolist() == [[3, 16, 17, 18, 4], [3, 10, 11, 12, 4]]
    assert batch["languages"].tolist() == [[1, 1, 1, 1, 1], [0, 0, 0, 0, 0]]
    causal = BlockBatches(ids, 2, 3, 0, True, languages=languages).batch(0)
    assert causal["input_ids"].tolist() == [[18, 19, 20], [10, 11, 12]]
    assert causal["languages"].tolist() == [[1, 1, 1], [0, 0, 0]]
    (first,) = list(eval_blocks(ids, 5, 3, 4, 2, max_blocks=2, languages=languages))
    # A block across the boundary: [CLS] takes the first token's language, [SEP] the last's.
    assert first["languages"].tolist() == [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]]
    assert "languages" not in BlockBatches(ids, 2, 5, 0, False, 3, 4).batch(0)


def _mix_config(tmp_path, overrides=()):
    for name, text, count in (("en", "the cat {}", 90), ("zh", "猫 {}", 10)):
        (tmp_path / name).mkdir()
        for split, lines in (("train", count), ("valid", max(1, count // 10))):
            (tmp_path / name / f"{split}.txt").write_text(
                "".join(text.format(i) + "\n" for i in range(lines)), encoding="utf-8")
    return load_config(preset_path("xlm/tiny"), [
        f"data.datasets=[{{name: {tmp_path / 'en'}, language: 0}}, "
        f"{{name: {tmp_path / 'zh'}, language: 1}}]", "data.tokenizer.vocab_size=60",
        "data.seq_len=8", "data.batch_size=4", *overrides])


def test_mix_records_line_and_token_languages(tmp_path):
    config = _mix_config(tmp_path)
    folder = Path(source_dataset(config.data))
    lines = (folder / "train.txt").read_text(encoding="utf-8").splitlines()
    per_line = np.fromfile(folder / "train.languages", dtype=np.uint8)
    assert per_line.tolist() == [0 if line.startswith("the") else 1 for line in lines]
    assert np.fromfile(folder / "valid.languages", dtype=np.uint8).tolist() == [0] * 9 + [1]
    tokenizer = prepare_tokenizer(config.data)
    store = token_store(config.data, tokenizer, "train")
    languages = run_languages(config, "train", store)
    assert len(languages) == len(store)
    token_ids = np.asarray(store.ids)
    assert set(languages[token_ids == tokenizer.encode("猫")[0]].tolist()) == {1}
    assert set(languages[token_ids == tokenizer.encode("the")[0]].tolist()) == {0}
    assert int((languages == 1).sum()) == 25 * 3  # 25 zh lines of 猫, a digit, <eos>


def test_mlm_batches_feed_the_language_embedding(tmp_path):
    config = _mix_config(tmp_path, ["objectives=[{name: mlm, mask_rate: 0.15}]"])
    tokenizer = prepare_tokenizer(config.data)
    parts = build_parts(config, tokenizer)
    batch = corrupted(parts.objectives, parts.batches.batch(0))
    cat = tokenizer.encode("猫")[0]
    rows = parts.batches.batch(0)
    assert batch["languages"].shape == batch["input_ids"].shape
    assert (batch["languages"][rows["input_ids"] == cat] == 1).all()
    model = parts.model.eval()
    with torch.no_grad():
        hidden = shared_forward(model, dict(batch)).hidden
        assert torch.equal(hidden, model(batch["input_ids"], languages=batch["languages"]).hidden)
        assert not torch.equal(hidden, model(batch["input_ids"]).hidden)


def test_mix_language_outside_the_model_is_a_config_error(tmp_path):
    config = _mix_config(tmp_path, ["objectives=[{name: mlm, mask_rate: 0.15}]",
                                    "model.embedding.num_languages=1"])
    store = token_store(config.data, prepare_tokenizer(config.data), "train")
    with pytest.raises(ConfigError, match=r"data\.datasets\.1\.language: language id 1 is not "
                                          r"in the config \(model\.embedding\.num_languages=1\)"):
        run_languages(config, "train", store)


def test_mix_run_with_language_ids_resumes_bit_identically(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from lmlab.training import checkpoint as ckpt
    from lmlab.training.trainer import train

    class Interrupted(Exception):
        pass

    config = _mix_config(tmp_path, ["objectives=[{name: mlm, mask_rate: 0.15}]",
                                    "train.max_steps=4", "train.checkpoint_every=2",
                                    "train.eval_every=2", "train.eval_batches=1",
                                    "train.progress=false", "data.eval_batch_size=2"])
    full = train(config, tmp_path / "full", log=lambda *_: None)
    assert full.valid["tokens"] > 0
    real_save = ckpt.save_checkpoint

    def save_then_die(run_dir, model, config, tokenizer, state):
        real_save(run_dir, model, config, tokenizer, state)
        if state["step"] == 2:
            raise Interrupted

    monkeypatch.setattr(ckpt, "save_checkpoint", save_then_die)
    with pytest.raises(Interrupted):
        train(config, tmp_path / "cut", log=lambda *_: None)
    monkeypatch.setattr(ckpt, "save_checkpoint", real_save)
    assert train(None, tmp_path / "cut", resume=True, log=lambda *_: None).steps == 4
    a, b = (load_file(tmp_path / run / "checkpoint" / "model.safetensors")
            for run in ("full", "cut"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
