"""Issue 22, more models as parts: LXMERT's cross-modality layer, CBT's NCE over region
features, VideoBERT's visual words."""

import math

import pytest
import torch

from lmlab.layers.decoder_attention import CrossAttention
from lmlab.multimodal.cross_modality import CrossModalityLayer
from lmlab.multimodal.models import MultimodalConfig, build_multimodal
from lmlab.multimodal.objectives import MaskedRegionConfig, nce_loss
from lmlab.multimodal.visual import VisualConfig, VisualEmbedding
from lmlab.errors import ConfigError


def test_nce_loss_exact_and_duplicates_are_no_negatives():
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # rows 0 and 2 equal
    predicted = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    # row 0: logits [2, 0, (2 masked)]; row 1: [0, 1, 0]; row 2: [(0 masked), 0, 0]
    expected = (-math.log(math.e ** 2 / (math.e ** 2 + 1)) - math.log(math.e / (math.e + 2))
                + math.log(2)) / 3
    assert nce_loss(predicted, targets).item() == pytest.approx(expected, abs=1e-6)
    assert nce_loss(2 * predicted, targets, temperature=2.0).item() == pytest.approx(expected,
                                                                                     abs=1e-6)


def test_nce_target_is_validated():
    with pytest.raises(ConfigError, match="objectives.0.temperature: must be > 0"):
        MaskedRegionConfig(target="nce", temperature=0.0).validate("objectives.0")


def test_visual_words_are_nearest_codes_and_zeroed_cells_the_mask_word():
    embedding = VisualEmbedding(VisualConfig("vq", image_size=2, cell_size=1, num_codes=2), 4)
    embedding.codebook.copy_(torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]))
    features = torch.tensor([[[0.9, 1.0, 0.8], [-0.5, -1.0, -0.9], [0.0, 0.0, 0.0],
                              [0.2, 0.1, 0.3]]])  # (1, 4, 3)
    assert embedding.visual_words(features).tolist() == [[0, 1, 2, 0]]
    assert embedding(features).shape == (1, 5, 4)


def test_lxmert_cross_layer_shares_one_cross_attention_and_masks_text_padding():
    torch.manual_seed(0)
    config = MultimodalConfig(architecture="two_stream", cross_layer="lxmert", pooling="cls",
                              hidden_size=8, num_heads=2, ffn_size=16, num_layers=1,
                              num_visual_layers=1, dropout=0.0,
                              visual=VisualConfig("grid", image_size=4, cell_size=2))
    layer = CrossModalityLayer(8, 2, config.encoder_config(1), 0.0)
    assert sum(isinstance(m, CrossAttention) for m in layer.modules()) == 1
    model = build_multimodal(config).eval()
    assert hasattr(model, "visual_encoder") and len(model.cross_layers) == 1
    ids = torch.tensor([[2, 5, 3, 0, 0]])
    mask = (ids != 0).long()
    features = torch.rand(1, 4, 12)
    out = model(ids, mask, features)
    other = model(torch.tensor([[2, 5, 3, 7, 9]]), mask, features)  # padded ids changed
    assert out.visual.shape == (1, 5, 8) and out.text.shape == (1, 5, 8)
    assert torch.allclose(out.visual, other.visual, atol=1e-6)  # regions never read padding
    assert torch.equal(out.pooled, out.text[:, 0])  # pooling: cls


def test_soft_codes_are_the_softmax_of_negative_squared_distances():
    from lmlab.multimodal.objectives import soft_codes

    codebook = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    features = torch.tensor([[[0.0, 0.0], [0.5, 0.0]]])  # (1, 2, 2)
    soft = soft_codes(features, codebook)
    e = math.exp(-1.0)
    assert soft.shape == (1, 2, 2)
    assert soft[0, 0].tolist() == pytest.approx([1 / (1 + e), e / (1 + e)], abs=1e-6)
    assert soft[0, 1].tolist() == pytest.approx([0.5, 0.5], abs=1e-6)
