"""xlm/tiny: the language-sampled data mix, and fine-tuning a pre-trained XLM run through
the existing heads (training, checkpoints and exact resume: tests/smoke/test_presets.py and
tests/training/test_resume.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

import pytest  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.config import load_config  # noqa: E402
from lmlab.data.lm_data import prepare_tokenizer, source_dataset  # noqa: E402
from lmlab.errors import ConfigError  # noqa: E402
from lmlab.presets import preset_path  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402


def _mix_config(tmp_path, alpha):
    (tmp_path / "en").mkdir()
    (tmp_path / "zh").mkdir()
    for split, count in (("train", 90), ("valid", 3), ("test", 3)):
        (tmp_path / "en" / f"{split}.txt").write_text(
            "".join(f"the cat {i}\n" for i in range(count)), encoding="utf-8")
        (tmp_path / "zh" / f"{split}.txt").write_text(
            "".join(f"猫 {i}\n" for i in range(count // 9)), encoding="utf-8")
    return load_config(preset_path("xlm/tiny"), [
        f"data.datasets=[{{name: {tmp_path / 'en'}, language: 0}}, "
        f"{{name: {tmp_path / 'zh'}, language: 1}}]", f"data.language_alpha={alpha}",
        "data.tokenizer.vocab_size=60"])


def test_mix_resamples_train_lines_by_language(tmp_path):
    # 90 en / 10 zh train lines, alpha 0.5: q = (0.75, 0.25) -> 75 en and 25 zh lines.
    config = _mix_config(tmp_path, 0.5)
    folder = Path(source_dataset(config.data))
    train_lines = (folder / "train.txt").read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("the") for line in train_lines) == 75
    assert sum(line.startswith("猫") for line in train_lines) == 25
    assert len((folder / "valid.txt").read_text(encoding="utf-8").splitlines()) == 3 + 0
    tokenizer = prepare_tokenizer(config.data)
    ids = tokenizer.encode("the cat 猫猫")
    assert [tokenizer.id_to_token(i) for i in ids][-2:] == ["猫", "猫"]  # CJK split per character


def test_mix_without_datasets_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.datasets: dataset: mix needs a list"):
        load_config(preset_path("xlm/tiny"), ["data.datasets=[]"])


def test_xlm_run_finetunes_through_the_existing_heads(tiny_corpus, tmp_path):
    run = tmp_path / "xlm"
    train(tiny_config("xlm/tiny", tiny_corpus, steps=2, every=2), run, log=lambda *_: None)
    code = main(["finetune", str(run), "--task", "glue/sst2", "--max-train-examples", "32",
                 "--epochs", "1", "--batch-size", "16", "--max-seq-len", "32",
                 "--max-unk-rate", "1", "--quiet", "--seeds", "0", "--threads", "1",
                 "--out", str(tmp_path / "sst2")])
    assert code == 0
    assert list((tmp_path / "sst2").rglob("*.json"))
