"""ERNIE-THU's knowledgeable encoder and dEA, KnowBERT's KAR and entity-linking loss
(issue 21), on tiny shapes with a written-out 3-entity TransE folder."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.config import load_config
from lmlab.encoders.ernie_thu import Aggregator, ErnieThuEncoder
from lmlab.encoders.knowbert import MASKED, KnowBertEncoder
from lmlab.encoders.knowledge_config import KnowledgeConfig
from lmlab.encoders.transformer import TransformerConfig
from lmlab.errors import ConfigError, DataError
from lmlab.knowledge.embedding_files import Embeddings, save_embeddings
from lmlab.objectives.base import IGNORE, row_generator
from lmlab.objectives.entity_denoising import STREAM, corrupt_alignments
from lmlab.objectives.knowbert_linking import EntityLinkingConfig, EntityLinkingObjective
from lmlab.presets import preset_path
from lmlab.registry import build_model


@pytest.fixture(scope="module")
def transe(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transe")
    generator = torch.Generator().manual_seed(0)
    save_embeddings(folder, Embeddings(["00000001-n", "00000002-n", "00000003-n"], ["hypernym"],
                                       torch.randn(3, 4, generator=generator),
                                       torch.randn(1, 4, generator=generator)))
    return folder


def _config(kind: str, folder, layer: int = 1) -> TransformerConfig:
    config = TransformerConfig(num_layers=2, num_heads=2, ffn_size=8, norm="post",
                               mask="bidirectional", dropout=0.0, attention_dropout=0.0,
                               knowledge=KnowledgeConfig(kind=kind, entities=str(folder),
                                                         layer=layer, entity_heads=2))
    config.validate("model.encoder")
    return config


def test_ernie_thu_fuses_entities_only_into_aligned_tokens(transe):
    torch.manual_seed(0)
    encoder = ErnieThuEncoder(6, _config("ernie_thu", transe)).eval()
    assert len(encoder.text.layers) == 1 and len(encoder.aggregators) == 1  # N = 1, M = 1
    assert encoder.entity_vectors.shape == (4, 4)  # row 0: no entity
    assert "entity_vectors" not in encoder.state_dict()  # fixed, read from the TransE file
    x = torch.randn(2, 5, 6)
    links = {"token_entities": torch.tensor([[0, 2, 0, 3, 0], [0, 0, 0, 0, 0]])}
    out = encoder(x, torch.ones(2, 5), knowledge=links).hidden
    assert out.shape == (2, 5, 6)
    encoder.entity_vectors[1:] = torch.randn(3, 4)  # other entity vectors
    changed = encoder(x, torch.ones(2, 5), knowledge=links).hidden
    unaligned = torch.tensor([[1, 0, 1, 0, 1], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(out[unaligned], changed[unaligned])  # eq. 5: no entity contribution
    assert not torch.allclose(out[~unaligned], changed[~unaligned])  # eq. 4
    # without links the encoder sees no entity, as a row with none
    plain = encoder(x, torch.ones(2, 5)).hidden
    assert torch.equal(plain[1], changed[1])


def test_aggregator_shapes_and_zero_entity_stream_where_unaligned():
    torch.manual_seed(0)
    config = TransformerConfig(num_heads=2, ffn_size=8, dropout=0.0, attention_dropout=0.0)
    aggregator = Aggregator(6, 4, config, entity_heads=2)
    aligned = torch.tensor([[False, True, False]])
    tokens, entities = aggregator(torch.randn(1, 3, 6), torch.randn(1, 3, 4) * aligned[..., None],
                                  None, aligned)
    assert tokens.shape == (1, 3, 6) and entities.shape == (1, 3, 4)
    assert entities[0, 0].abs().sum() == 0 and entities[0, 2].abs().sum() == 0
    assert entities[0, 1].abs().sum() > 0
    assert aggregator.fuse_entities.bias is None  # eq. 4 has one bias b̃ (W̃_t's)


def test_dea_corruption_and_targets_are_written_out():
    token_entities = torch.tensor([[0, 5, 0, 2, 5, 0, 7, 7, 2, 0], [0] * 10])
    generators = [row_generator(0, 0, 0, STREAM), row_generator(0, 0, 1, STREAM)]
    corrupted, sets, targets = corrupt_alignments(token_entities, generators, 9, 0.2, 0.3)
    # row 0's draws at its 6 aligned tokens: 0.489 0.310 masked, 0.159 replaced (-> 3),
    # 0.958 0.834 0.841 kept
    assert corrupted.tolist() == [[0, 0, 0, 0, 3, 0, 7, 7, 2, 0], [0] * 10]
    assert sets.tolist() == [[2, 5, 7], [0, 0, 0]]  # the sequence's entities (eq. 7's set)
    assert targets.tolist() == [[IGNORE, 1, IGNORE, 0, 1, IGNORE, 2, 2, 0, IGNORE],
                                [IGNORE] * 10]
    kept, _, _ = corrupt_alignments(token_entities, generators, 9, 0.0, 0.0)
    assert torch.equal(kept, token_entities)
    replaced, _, _ = corrupt_alignments(token_entities, [row_generator(3, 0, 0, STREAM)] * 2,
                                        9, 1.0, 0.0)
    aligned = token_entities > 0
    assert (replaced[aligned] != token_entities[aligned]).all()  # another entity, always
    assert ((replaced[aligned] >= 1) & (replaced[aligned] <= 9)).all()
    assert torch.equal(replaced[~aligned], token_entities[~aligned])


def _knowbert_links():
    return {"mention_spans": torch.tensor([[[1, 2], [4, 4]], [[0, 0], [0, 0]]]),
            "mention_mask": torch.tensor([[True, True], [False, False]]),
            "candidates": torch.tensor([[[1, 3, 0], [2, 0, 0]], [[0, 0, 0], [0, 0, 0]]]),
            "priors": torch.tensor([[[0.7, 0.3, 0.0], [1.0, 0.0, 0.0]], [[0.0] * 3] * 2])}


def test_knowbert_kar_shapes_scores_and_mentionless_rows(transe):
    torch.manual_seed(0)
    encoder = KnowBertEncoder(6, _config("knowbert", transe)).eval()
    assert len(encoder.lower.layers) == 1 and len(encoder.upper.layers) == 1
    x = torch.randn(2, 5, 6)
    links = _knowbert_links()
    out = encoder(x, torch.ones(2, 5), knowledge=links).hidden
    scores = links["linker_scores"]
    assert out.shape == (2, 5, 6) and scores.shape == (2, 2, 3)  # (B, M, K)
    padded = torch.tensor([[[False, False, True], [False, True, True]], [[True] * 3] * 2])
    assert (scores[padded] == MASKED).all() and (scores[~padded] > MASKED).all()
    encoder.entity_vectors[1:] = torch.randn(3, 4)
    links_again = _knowbert_links()
    changed = encoder(x, torch.ones(2, 5), knowledge=links_again).hidden
    assert torch.equal(out[1], changed[1])  # no mention: the entities play no part
    assert not torch.allclose(out[0], changed[0])
    assert not torch.equal(scores[0, 0, :2], links_again["linker_scores"][0, 0, :2])  # s·e


def test_entity_linking_loss_is_the_silver_log_likelihood():
    objective = EntityLinkingObjective(EntityLinkingConfig(), tokenizer=None)
    scores = torch.tensor([[[2.0, 0.0, MASKED], [0.0, 1.0, MASKED]], [[MASKED] * 3] * 2])
    batch = {"encoder_output": None, "knowledge": {
        "linker_scores": scores, "mention_mask": torch.tensor([[True, True], [False, False]])}}
    output = objective.loss(None, batch)
    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.e)) / 2  # 0.720095
    assert output.loss.item() == pytest.approx(expected, abs=1e-6)
    assert output.metrics["prior_agreement"] == 0.5 and output.metrics["mentions"] == 2


@pytest.mark.parametrize("preset, overrides, message", [
    ("ernie_thu/tiny", ["model.encoder.knowledge=null"], "needs model.encoder.knowledge"),
    ("knowbert/tiny", ["model.encoder.knowledge.kind=ernie_thu"], "kind: knowbert"),
    ("ernie_thu/tiny", ["model.encoder.knowledge.layer=2"], "expected 1..1"),
    ("knowbert/tiny", ["model.encoder.knowledge.layer=3"], "expected 1..2"),
    ("ernie_thu/tiny", ["model.encoder.norm=pre"], "BERT's layer"),
    ("ernie_thu/tiny", ["objectives=[{name: mlm}, {name: dea}]"], "before mlm"),
    ("knowbert/tiny", ["objectives=[{name: mlm}, {name: entity_linking}]"], "before mlm"),
])
def test_incompatible_runs_are_one_line_errors(preset, overrides, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_config(preset_path(preset), overrides)
    assert "\n" not in str(error.value)


def test_missing_or_mismatched_transe_files_are_one_line_errors(transe, tmp_path):
    config = load_config(preset_path("ernie_thu/tiny"),
                         [f"model.encoder.knowledge.entities={tmp_path / 'none'}"])
    with pytest.raises(DataError, match="no such TransE folder") as error:
        build_model(config.model, 20)
    assert "\n" not in str(error.value)
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("embeddings.safetensors", "relations.txt"):
        (bad / name).write_bytes((transe / name).read_bytes())
    (bad / "entities.txt").write_text("00000001-n\n00000002-n\n")  # 2 names, 3 vectors
    config = load_config(preset_path("knowbert/tiny"), [f"model.encoder.knowledge.entities={bad}"])
    with pytest.raises(DataError, match="entities.txt: 2 names, but") as error:
        build_model(config.model, 20)
    assert "\n" not in str(error.value)
