"""Issue 22, objectives: image-conditioned MLM, masked region modelling (regression and
VQ-code classification), image-text matching."""

from types import SimpleNamespace

import pytest
import torch

from lmlab.errors import ConfigError
from lmlab.multimodal.models import MultimodalConfig, build_multimodal
from lmlab.multimodal.objectives import (ImageMLMConfig, ImageMLMObjective,
                                         ImageTextMatchingConfig, ImageTextMatchingObjective,
                                         MaskedRegionConfig, MaskedRegionObjective,
                                         PretrainingModel, draw_negatives)
from lmlab.multimodal.quantize import assign
from lmlab.objectives.base import row_generator

TOKENIZER = SimpleNamespace(mask_id=5, num_special=6, vocab_size=20)


def _batch(batch_size=4, step=0):
    generator = torch.Generator().manual_seed(step)
    ids = torch.randint(6, 20, (batch_size, 6), generator=generator)
    ids[:, 0], ids[:, -1] = 3, 4  # [CLS] ... [SEP]
    mask = torch.ones_like(ids)
    ids[0, 4:], mask[0, 4:] = 0, 0  # row 0 padded
    return {"input_ids": ids, "attention_mask": mask,
            "features": torch.randn(batch_size, 4, 48, generator=generator),
            "image_ids": torch.arange(batch_size) + 10, "caption_ids": torch.arange(batch_size),
            "example_ids": torch.arange(batch_size) + 100 * step, "step": step}


def _model(objectives, architecture="single_stream"):
    config = MultimodalConfig(architecture=architecture, vocab_size=20, hidden_size=8,
                              num_heads=2, ffn_size=16, num_layers=1, max_text_length=6,
                              dropout=0.0)
    config.visual.image_size, config.visual.cell_size = 8, 4
    return PretrainingModel(build_multimodal(config), objectives)


def test_mlm_masks_only_real_ordinary_tokens_and_keeps_the_image():
    objective = ImageMLMObjective(ImageMLMConfig(mask_rate=0.5), TOKENIZER, seed=1)
    batch = _batch()
    corrupted = objective.corrupt(batch)
    labels = corrupted["mlm_labels"]
    chosen = labels != -100
    assert torch.equal(labels[chosen], batch["input_ids"][chosen])
    assert not chosen[:, 0].any() and not chosen[:, -1].any() and not chosen[0, 4:].any()
    assert chosen.sum(1).tolist() == [2, 2, 2, 2]  # round(0.5 * maskable), maskable = 3 or 4
    assert torch.equal(corrupted["features"], batch["features"])
    again = objective.corrupt(batch)
    assert torch.equal(again["input_ids"], corrupted["input_ids"])  # seeded by (step, example)


def test_mrm_targets_are_the_masked_regions_features():
    objective = MaskedRegionObjective(MaskedRegionConfig(mask_rate=0.5), seed=3)
    batch = _batch()
    corrupted = objective.corrupt(batch)
    chosen = corrupted["mrm_mask"]
    assert chosen.sum(1).tolist() == [2, 2, 2, 2]
    assert torch.equal(corrupted["mrm_targets"][chosen], batch["features"][chosen])
    assert torch.equal(corrupted["features"][chosen], torch.zeros(8, 48))
    assert torch.equal(corrupted["features"][~chosen], batch["features"][~chosen])
    expected = [torch.randperm(4, generator=row_generator(3, 0, e, 1))[:2].sort().values.tolist()
                for e in range(4)]
    assert [row.nonzero().squeeze(1).tolist() for row in chosen] == expected


def test_mrm_classification_targets_are_the_nearest_codes():
    objective = MaskedRegionObjective(MaskedRegionConfig(target="classification", num_codes=3,
                                                         mask_rate=0.5), seed=0)
    model = _model([objective])
    batch = _batch()
    objective.prepare(model, batch["features"].reshape(-1, 48))
    assert torch.equal(model.heads["mrm"].codebook, objective.codebook)
    corrupted = objective.corrupt(batch)
    assert torch.equal(corrupted["mrm_targets"], assign(batch["features"], objective.codebook))
    assert model.heads["mrm"](torch.zeros(2, 8)).shape == (2, 3)
    with pytest.raises(ConfigError, match="needs its k-means codebook"):
        MaskedRegionObjective(objective.config).corrupt(batch)


def test_itm_negatives_never_pair_an_image_with_its_own_caption():
    objective = ImageTextMatchingObjective(ImageTextMatchingConfig(negative_rate=0.5), seed=0)
    negatives = positives = 0
    for step in range(50):
        batch = _batch(step=step)
        batch["image_ids"] = torch.tensor([10, 10, 11, 12])  # rows 0 and 1 show one picture
        batch["caption_ids"] = torch.tensor([0, 1, 2, 2])  # rows 2 and 3 share a caption text
        corrupted = objective.corrupt(batch)
        labels, shown = corrupted["itm_labels"], corrupted["itm_image_ids"]
        negative = labels == 0
        assert (shown[negative] != batch["image_ids"][negative]).all()
        assert torch.equal(shown[~negative], batch["image_ids"][~negative])
        for row in negative.nonzero().squeeze(1).tolist():
            source = (batch["features"] == corrupted["features"][row]).all(-1).all(-1).nonzero()
            partner = source[0, 0].item()
            assert batch["caption_ids"][partner] != batch["caption_ids"][row]
            assert batch["image_ids"][partner] != batch["image_ids"][row]
        negatives += int(negative.sum())
        positives += int((~negative).sum())
    assert 60 < negatives < 140 and negatives + positives == 200


def test_itm_row_without_partner_stays_a_match():
    generators = [torch.Generator().manual_seed(i) for i in range(2)]
    source = draw_negatives(torch.tensor([1, 1]), torch.tensor([0, 1]), 1.0, generators)
    assert source.tolist() == [0, 1]


@pytest.mark.parametrize("architecture", ["single_stream", "two_stream"])
def test_every_objective_trains_both_architectures(architecture):
    torch.manual_seed(0)
    objectives = [ImageMLMObjective(ImageMLMConfig(), TOKENIZER, seed=0),
                  MaskedRegionObjective(MaskedRegionConfig(), seed=0),
                  ImageTextMatchingObjective(ImageTextMatchingConfig(), seed=0)]
    model = _model(objectives, architecture)
    batch = _batch()
    total = sum(o.loss(model, o.corrupt(batch)).loss for o in objectives)
    total.backward()
    assert torch.isfinite(total)
    assert model.backbone.text_embedding.tokens.weight.grad is not None
    assert model.heads["mlm_image"].decoder.weight is model.backbone.text_embedding.tokens.weight


def test_objective_config_errors():
    with pytest.raises(ConfigError, match=r"objectives\.0\.mask_rate: must be in \(0, 1\]"):
        ImageMLMConfig(mask_rate=0).validate("objectives.0")
    with pytest.raises(ConfigError, match=r"objectives\.1\.target: one of regression, "
                                          r"classification, kl, nce, got 'ot'"):
        MaskedRegionConfig(target="ot").validate("objectives.1")
