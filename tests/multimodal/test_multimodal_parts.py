"""Issue 22, parts: cell features and boxes, visual embeddings, k-means VQ, single-stream
and two-stream (co-attention) models."""

import pytest
import torch

from lmlab.errors import ConfigError, DataError
from lmlab.multimodal.co_attention import CoAttentionLayer
from lmlab.multimodal.models import MultimodalConfig, build_multimodal
from lmlab.multimodal.quantize import assign, kmeans
from lmlab.multimodal.visual import VisualConfig, VisualEmbedding, cell_boxes, cell_features


def test_cell_features_exact():
    image = torch.arange(4 * 4 * 3, dtype=torch.uint8).view(1, 4, 4, 3)
    features = cell_features(image, 2)  # (1, 4, 12)
    assert features.shape == (1, 4, 12)
    # cell 1 = rows 0-1, columns 2-3: pixels (0,2),(0,3),(1,2),(1,3)
    first = [6, 7, 8, 9, 10, 11, 18, 19, 20, 21, 22, 23]
    assert torch.allclose(features[0, 1], torch.tensor(first).float() / 127.5 - 1)
    assert features[0, 0, 0].item() == -1.0


def test_cell_boxes_exact():
    assert cell_boxes(2).tolist() == [[0.0, 0.0, 0.5, 0.5, 0.25], [0.5, 0.0, 1.0, 0.5, 0.25],
                                      [0.0, 0.5, 0.5, 1.0, 0.25], [0.5, 0.5, 1.0, 1.0, 0.25]]


@pytest.mark.parametrize("kind", ["patch", "grid"])
def test_visual_embedding_shapes(kind):
    embedding = VisualEmbedding(VisualConfig(kind, image_size=8, cell_size=4), hidden_size=6)
    images = torch.randint(0, 256, (2, 8, 8, 3), dtype=torch.uint8)
    features = embedding.features(images)
    assert features.shape == (2, 4, 48)
    assert embedding(features).shape == (2, 5, 6)  # [IMG] + 4 cells


def test_visual_embedding_wrong_size_names_the_source():
    embedding = VisualEmbedding(VisualConfig("patch", image_size=8, cell_size=4), hidden_size=6)
    with pytest.raises(DataError, match=r"pics\.npy: images of shape \(16, 16, 3\), the patch "
                                        r"embedding takes \(8, 8, 3\)"):
        embedding.features(torch.zeros(1, 16, 16, 3, dtype=torch.uint8), "pics.npy")
    with pytest.raises(ConfigError, match=r"v\.cell_size: 3 must divide v\.image_size=8"):
        VisualConfig(image_size=8, cell_size=3).validate("v")


def test_assign_picks_the_nearest_code_exact():
    codebook = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    features = torch.tensor([[1.0, 1.0], [9.0, 1.0], [1.0, 9.0], [5.0, 0.0], [0.0, 10.0]])
    # [5, 0] is equally near codes 0 and 1: the tie goes to the lower index.
    assert assign(features, codebook).tolist() == [0, 1, 2, 0, 2]


def test_kmeans_every_feature_goes_to_its_nearest_code():
    generator = torch.Generator().manual_seed(0)
    features = torch.cat([torch.randn(50, 3, generator=generator) + shift
                          for shift in (torch.tensor([8.0, 0, 0]), torch.tensor([0, 8.0, 0]),
                                        torch.tensor([0, 0, 8.0]))])
    codebook = kmeans(features, 3, iterations=30, seed=1)
    codes = assign(features, codebook)
    brute = [min(range(3), key=lambda k: float(((f - codebook[k]) ** 2).sum())) for f in features]
    assert codes.tolist() == brute
    assert sorted(torch.bincount(codes).tolist()) == [50, 50, 50]
    # the centroids are the means of their clusters (Lloyd's fixed point)
    for k in range(3):
        assert torch.allclose(codebook[k], features[codes == k].mean(0), atol=1e-5)
    assert torch.equal(kmeans(features, 3, iterations=30, seed=1), codebook)  # seeded


def test_fast_assignment_equals_the_reference_without_ties():
    generator = torch.Generator().manual_seed(2)
    features, codebook = torch.randn(500, 12, generator=generator), torch.randn(16, 12, generator=generator)
    assert torch.equal(assign(features, codebook, fast=True), assign(features, codebook))


def test_kmeans_refuses_too_many_codes():
    with pytest.raises(ConfigError, match=r"num_codes: 2 codes but only 1 distinct features"):
        kmeans(torch.ones(4, 2), 2)


def _config(architecture, kind="patch"):
    return MultimodalConfig(architecture=architecture, vocab_size=20, hidden_size=8, num_heads=2,
                            ffn_size=16, num_layers=1, num_co_layers=1, max_text_length=6,
                            dropout=0.0, visual=VisualConfig(kind, image_size=8, cell_size=4))


@pytest.mark.parametrize("architecture", ["single_stream", "two_stream"])
@pytest.mark.parametrize("kind", ["patch", "grid"])
def test_models_shapes_and_text_padding(architecture, kind):
    torch.manual_seed(0)
    model = build_multimodal(_config(architecture, kind)).eval()
    ids = torch.tensor([[2, 7, 8, 4, 0, 0], [2, 9, 4, 0, 0, 0]])
    mask = (ids != 0).long()
    features = torch.randn(2, 4, 48)
    out = model(ids, mask, features)
    assert out.text.shape == (2, 6, 8) and out.visual.shape == (2, 5, 8)
    assert out.pooled.shape == (2, 8)
    padded = ids.clone()
    padded[0, 4:] = 11  # other ids at padded positions change nothing real
    again = model(padded, mask, features)
    assert torch.allclose(again.text[0, :4], out.text[0, :4], atol=1e-6)
    assert torch.allclose(again.visual, out.visual, atol=1e-6)


def test_single_stream_type_embeddings_separate_modalities():
    model = build_multimodal(_config("single_stream"))
    assert model.types.weight.shape == (2, 8)
    assert not torch.equal(model.types.weight[0], model.types.weight[1])


def test_co_attention_text_reads_only_image_keys():
    torch.manual_seed(0)
    layer = CoAttentionLayer(hidden_size=8, num_heads=2, ffn_size=16, dropout=0.0).eval()
    text, visual = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    text_mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    visual_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    new_text, new_visual = layer(text, visual, text_mask, visual_mask)
    assert new_text.shape == (2, 3, 8) and new_visual.shape == (2, 5, 8)
    # Word 0's output depends on word 0 and the image only: changing words 1-2 leaves it.
    other_words = text.clone()
    other_words[:, 1:] = torch.randn(2, 2, 8)
    assert torch.allclose(layer(other_words, visual, text_mask, visual_mask)[0][:, 0],
                          new_text[:, 0], atol=1e-6)
    # ...and changing the image changes it.
    assert not torch.allclose(layer(text, visual + 1, text_mask, visual_mask)[0][:, 0],
                              new_text[:, 0], atol=1e-3)
    # Masked image keys (regions 3-4 of row 1) are never read by the text.
    hidden_regions = visual.clone()
    hidden_regions[1, 3:] = 100.0
    moved_text, _ = layer(text, hidden_regions, text_mask, visual_mask)
    assert torch.allclose(moved_text[1], new_text[1], atol=1e-6)
    # Masked word keys (word 2 of row 1) are never read by the image.
    hidden_word = text.clone()
    hidden_word[1, 2] = 100.0
    assert torch.allclose(layer(hidden_word, visual, text_mask, visual_mask)[1][1],
                          new_visual[1], atol=1e-6)
    # Region r's output depends on region r and the words only.
    other_regions = visual.clone()
    other_regions[:, 1:] = torch.randn(2, 4, 8)
    assert torch.allclose(layer(text, other_regions, text_mask, visual_mask)[1][:, 0],
                          new_visual[:, 0], atol=1e-6)


def test_multimodal_config_round_trip_and_errors():
    config = _config("two_stream", "grid")
    assert MultimodalConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match=r"model\.num_heads: 3 heads do not divide "
                                          r"model\.hidden_size=8"):
        MultimodalConfig(hidden_size=8, num_heads=3).validate()


def test_recall_at_k_exact():
    from lmlab.multimodal.retrieval import recall_at

    scores = torch.tensor([[0.9, 0.1, 0.0],   # picture 0: its caption first
                           [0.8, 0.5, 0.7],   # picture 1: its caption third
                           [0.0, 0.2, 0.3]])  # picture 2: first
    result = recall_at(scores, ks=(1, 2))
    assert result["image_to_text_r1"] == pytest.approx(2 / 3)
    assert result["image_to_text_r2"] == pytest.approx(2 / 3)
    # captions: 0 -> picture 0 first (0.9 > 0.8); 1 -> picture 1 first (0.5 > 0.2, 0.1);
    # 2 -> picture 2 (0.3) below picture 1 (0.7): rank 2
    assert result["text_to_image_r1"] == pytest.approx(2 / 3)
    assert result["text_to_image_r2"] == pytest.approx(1.0)
    tied = recall_at(torch.ones(4, 4), ks=(1, 4))  # one score for every pair: found only at k=N
    assert tied == {"image_to_text_r1": 0.0, "text_to_image_r1": 0.0,
                    "image_to_text_r4": 1.0, "text_to_image_r4": 1.0}
