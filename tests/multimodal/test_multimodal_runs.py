"""Issue 22, runs: pre-training and easy-VQA fine-tuning through the one training loop —
checkpoints, exact resume, loading a pre-trained backbone."""

import os

import pytest
import torch
from safetensors.torch import load_file

from lmlab.config import TrainConfig
from lmlab.errors import CheckpointError, DataError
from lmlab.multimodal import emoji_pairs
from lmlab.multimodal.corpus import MultimodalDataConfig
from lmlab.multimodal.job import epoch_rows, vqa_scores
from lmlab.multimodal.models import MultimodalConfig
from lmlab.multimodal.objectives import (ImageMLMConfig, ImageTextMatchingConfig,
                                         MaskedRegionConfig)
from lmlab.multimodal.runs import MultimodalRunConfig, finetune_vqa, pretrain
from lmlab.multimodal.visual import VisualConfig

pytestmark = pytest.mark.skipif(not any(os.path.isfile(p) for p in emoji_pairs.FONT_PATHS),
                                reason="Debian's fonts-noto-color-emoji is not installed")


def _config(steps, architecture="single_stream", kind="grid"):
    return MultimodalRunConfig(
        model=MultimodalConfig(architecture=architecture, hidden_size=16, num_heads=2,
                               ffn_size=32, num_layers=1, visual=VisualConfig(kind)),
        data=MultimodalDataConfig(vqa_images=12, emoji_limit=30, max_text_length=12,
                                  vocab_size=300),
        train=TrainConfig(max_steps=steps, eval_every=0, checkpoint_every=2, log_every=1,
                          progress=False, device="cpu", lr=1e-3, num_threads=1,
                          schedule="constant"),  # a cut run: same rates as the whole one
        batch_size=8,
        objectives=[ImageMLMConfig(), MaskedRegionConfig(target="classification", num_codes=8),
                    ImageTextMatchingConfig()])


def _weights(run):
    return load_file(str(run / "checkpoint" / "model.safetensors"))


def test_epoch_rows_cover_each_epoch_once():
    rows = [epoch_rows(10, 4, seed=1, index=i).tolist() for i in range(3)]
    assert sorted(sum(rows, [])) == list(range(10)) and [len(r) for r in rows] == [4, 4, 2]
    assert epoch_rows(10, 4, 1, 3).tolist() != rows[0]  # epoch 1: another order


def test_vqa_scores_split_yes_no_from_other():
    answers = ["circle", "yes", "no"]
    scores = vqa_scores(torch.tensor([0, 1, 2, 1]).numpy(), torch.tensor([0, 1, 1, 0]).numpy(),
                        answers)
    assert scores == {"accuracy": 0.5, "yes_no_accuracy": 0.5, "other_accuracy": 0.5}


@pytest.mark.parametrize("architecture,kind", [("single_stream", "grid"), ("two_stream", "patch")])
def test_pretraining_resumes_exactly(tmp_path, architecture, kind):
    logs = []
    whole = pretrain(tmp_path / "whole", _config(4, architecture, kind), log=logs.append)
    assert whole.steps == 4 and set(whole.evaluation) >= {"mlm_image_loss", "mrm_loss",
                                                         "itm_accuracy"}
    pretrain(tmp_path / "cut", _config(2, architecture, kind), log=logs.append)
    pretrain(tmp_path / "cut", _config(4, architecture, kind), resume=True, log=logs.append)
    first, second = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert (tmp_path / "whole" / "checkpoint" / "tokenizer" / "tokenizer.json").is_file()
    with pytest.raises(CheckpointError, match="already holds a checkpoint"):
        pretrain(tmp_path / "whole", _config(4, architecture, kind), log=logs.append)


def test_vqa_fine_tuning_starts_from_the_pretrained_backbone(tmp_path):
    pretrain(tmp_path / "pre", _config(2), log=lambda line: None)
    config = _config(2)
    config.kind, config.objectives, config.init_from = "vqa", [], str(tmp_path / "pre")
    config.train.max_steps, config.train.lr = 1, 1e-12  # one (almost) zero step
    result = finetune_vqa(tmp_path / "vqa", config, log=lambda line: None)
    assert set(result.evaluation) == {"accuracy", "yes_no_accuracy", "other_accuracy"}
    pre, tuned = _weights(tmp_path / "pre"), _weights(tmp_path / "vqa")
    name = "backbone.text_embedding.tokens.weight"
    assert torch.allclose(pre[name], tuned[name], atol=1e-6)
    assert any(key.startswith("head.") for key in tuned)


def test_question_only_baseline_sees_blank_pictures(tmp_path):
    config = _config(1)
    config.kind, config.objectives, config.blank_images = "vqa", [], True
    result = finetune_vqa(tmp_path / "q", config, log=lambda line: None)
    assert 0.0 <= result.evaluation["accuracy"] <= 1.0


def test_predict_answers_from_an_image_path_and_a_question(tmp_path):
    import easy_vqa

    from lmlab.multimodal.predict import VQAPredictor

    config = _config(1)
    config.kind, config.objectives = "vqa", []
    finetune_vqa(tmp_path / "vqa", config, log=lambda line: None)
    predictor = VQAPredictor(tmp_path / "vqa")
    image = easy_vqa.get_train_image_paths()[0]  # 64x64: resized to the run's 32x32
    assert predictor.answer(image, "what color is the shape?") in easy_vqa.get_answers()
    with pytest.raises(DataError, match=r"question 'what shape\?' has no image"):
        predictor.answer(None, "what shape?")
    with pytest.raises(DataError, match=r"0\.png: the image has no question"):
        predictor.answer(image, " ")
    with pytest.raises(DataError, match=r"0\.png: image is 64x64, the patch embedding takes 32x32"):
        predictor.answer(image, "what shape?", resize=False)
    pretrain(tmp_path / "pre", _config(1), log=lambda line: None)
    with pytest.raises(DataError, match=r"config\.yaml: kind is 'pretrain'; predict needs"):
        VQAPredictor(tmp_path / "pre")


def test_emoji_retrieval_by_the_itm_head(tmp_path):
    from lmlab.multimodal.runs import emoji_retrieval, load_pretrained

    pretrain(tmp_path / "pre", _config(1), log=lambda line: None)
    config, _, model = load_pretrained(tmp_path / "pre")
    assert [o.name for o in config.objectives] == ["mlm_image", "mrm", "itm"]
    assert set(model.heads) == {"mlm_image", "mrm", "itm"}
    result = emoji_retrieval(tmp_path / "pre")
    assert result["pairs"] == 6  # round(0.2 x 30 emoji, none blank)
    for language in ("en", "zh"):
        for way in ("image_to_text", "text_to_image"):
            assert result[f"{language}_{way}_r1"] <= result[f"{language}_{way}_r5"] <= 1.0
