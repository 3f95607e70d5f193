"""Issue 22: UNITER's word-region alignment by optimal transport (IPOT), B2T2's early
fusion, and the objectives that need visual outputs refusing it."""

import pytest
import torch

from lmlab.errors import ConfigError
from lmlab.multimodal.alignment import (WordRegionAlignmentConfig, WordRegionAlignmentObjective,
                                        cosine_cost, ipot, ot_distance)
from lmlab.multimodal.models import MultimodalConfig, build_multimodal
from lmlab.multimodal.objectives import MaskedRegionConfig
from lmlab.multimodal.presets import MultimodalRunConfig
from lmlab.multimodal.runs import build_objectives
from lmlab.multimodal.visual import VisualConfig

ALL = lambda *shape: torch.ones(*shape, dtype=torch.bool)  # noqa: E731


def test_ipot_plan_on_a_diagonal_cost_is_the_identity_coupling():
    plan = ipot(torch.tensor([[[0.0, 1.0], [1.0, 0.0]]]), ALL(1, 2), ALL(1, 2))
    assert torch.allclose(plan, torch.tensor([[[0.5, 0.0], [0.0, 0.5]]], dtype=torch.float64),
                          atol=1e-12)


def test_ipot_marginals_and_exact_distance_on_a_2x3_cost():
    # word 0 costs nothing with regions 0, 1; word 1 nothing with region 2 only. Word 0
    # carries 1/2 < 2/3, so 1/6 of regions 0-1 must go to word 1 at cost 1: OT = 1/6.
    cost = torch.tensor([[[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]])
    plan = ipot(cost, ALL(1, 2), ALL(1, 3))
    regions = plan.sum(1)  # rescaled last: exact
    words = plan.sum(2)
    assert torch.allclose(regions, torch.full((1, 3), 1 / 3, dtype=torch.float64), atol=1e-15)
    assert torch.allclose(words, torch.full((1, 2), 1 / 2, dtype=torch.float64), atol=1e-9)
    assert float((plan * cost).sum()) == pytest.approx(1 / 6, abs=1e-8)  # 50 iterations
    assert float(plan[0, 0, 2]) < 1e-12  # no mass where a free route exists


def test_ipot_ignores_padding():
    cost = torch.tensor([[[0.0, 1.0, 5.0], [1.0, 0.0, 5.0], [9.0, 9.0, 9.0]]])
    words = torch.tensor([[True, True, False]])
    regions = torch.tensor([[True, True, False]])
    plan = ipot(cost, words, regions)
    assert plan[0, 2].abs().sum() == 0 and plan[0, :, 2].abs().sum() == 0
    assert torch.allclose(plan[0, :2, :2], torch.eye(2, dtype=torch.float64) / 2, atol=1e-12)


def test_ot_distance_is_cosine_cost_under_the_plan_and_differentiable():
    words = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], requires_grad=True)
    regions = torch.tensor([[[0.0, 2.0], [3.0, 0.0]]])
    assert torch.allclose(cosine_cost(words, regions), torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]))
    distance = ot_distance(words, regions, ALL(1, 2), ALL(1, 2))
    assert float(distance.detach()) == pytest.approx(0.0, abs=1e-9)  # word 0 -> region 1
    distance.sum().backward()
    assert words.grad is not None


def test_wra_loss_is_matched_minus_mismatched_distance_over_the_batch():
    objective = WordRegionAlignmentObjective(WordRegionAlignmentConfig(negative_rate=1.0))
    batch = {"input_ids": torch.tensor([[5, 6], [7, 8]]), "attention_mask": ALL(2, 2).long(),
             "features": torch.tensor([[[1.0]], [[2.0]]]), "image_ids": torch.tensor([0, 1]),
             "caption_ids": torch.tensor([0, 1]), "example_ids": torch.tensor([0, 1]),
             "step": 0}
    corrupted = objective.corrupt(batch)
    assert corrupted["wra_matched"].tolist() == [False, False]  # rate 1: each row swapped
    assert corrupted["features"].flatten().tolist() == [2.0, 1.0]  # never its own picture

    class Fixed(torch.nn.Module):  # text (B, 2, 2), visual [IMG] + 1 region (B, 2, 2)
        def forward(self, ids, mask, features):
            text = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
            visual = torch.tensor([[[9.0, 9.0], [1.0, 0.0]], [[9.0, 9.0], [0.0, 1.0]]])
            return type("Out", (), {"text": text, "visual": visual})()

    # row 0: both words cos 1 with the region: D = 0; row 1: one word cos 1, one cos 0:
    # each word carries 1/2 to the single region, D = 0.5; all mismatched: loss = -(0 + 0.5)/2
    loss = objective.loss(Fixed(), corrupted).loss
    assert float(loss) == pytest.approx(-0.25, abs=1e-9)


def test_wra_config_is_validated():
    with pytest.raises(ConfigError, match=r"objectives.3: beta must be > 0"):
        WordRegionAlignmentConfig(beta=0.0).validate("objectives.3")


def test_early_fusion_adds_the_mean_region_embedding_to_every_real_word():
    config = MultimodalConfig(hidden_size=8, num_heads=2, ffn_size=16, num_layers=1,
                              fusion="early", max_text_length=4, vocab_size=20,
                              visual=VisualConfig("grid", image_size=4, cell_size=2))
    model = build_multimodal(config).eval()
    seen = {}
    model.encoder.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0]))
    ids, mask = torch.tensor([[2, 7, 3, 0]]), torch.tensor([[1, 1, 1, 0]])
    features = torch.rand(1, 4, 12) * 2 - 1
    output = model(ids, mask, features)
    text = model.text_embedding(ids, model.types)
    visual = (model.visual_embedding(features) + model.types.weight[1])[:, 1:].mean(1)  # (1, D)
    expected = text + mask[..., None] * visual[:, None]
    assert torch.allclose(seen["x"], expected, atol=1e-6)
    assert output.text.shape == (1, 4, 8) and output.visual.shape == (1, 0, 8)


def test_region_objectives_refuse_early_fusion():
    config = MultimodalRunConfig(model=MultimodalConfig(fusion="early"),
                                 objectives=[MaskedRegionConfig()])
    with pytest.raises(ConfigError, match=r"objectives\[0\]: masked region modelling reads the "
                                          r"visual tokens' outputs; model.fusion: early"):
        build_objectives(config, None)
    config.objectives = [WordRegionAlignmentConfig()]
    with pytest.raises(ConfigError, match=r"word-region alignment reads"):
        build_objectives(config, None)
    with pytest.raises(ConfigError, match=r"model.fusion: early \(B2T2\) needs architecture: "
                                          r"single_stream"):
        MultimodalConfig(architecture="two_stream", fusion="early").validate()
