"""LIBERT's lexical relation classification (issue 21): WordNet pairs, in-batch negatives,
the pair inputs and the objective's loss."""

from __future__ import annotations

import pytest
import torch

from lmlab.config import load_config
from lmlab.errors import ConfigError
from lmlab.knowledge.lexical_pairs import lexical_pairs
from lmlab.objectives.lexical_relation import (LexicalRelationConfig, LexicalRelationObjective,
                                               pair_inputs, pick_negatives)
from lmlab.objectives.base import row_generator
from lmlab.presets import preset_path
from lmlab.registry import build_model

SPECIAL = ["[PAD]", "[UNK]", "[EOS]", "[CLS]", "[SEP]", "[MASK]"]


class WordTokenizer:
    """The six special ids first, then the words: enough of TextTokenizer for lrc."""

    def __init__(self, words):
        self.tokens = SPECIAL + list(words)
        self.pad_id, self.unk_id, self.eos_id, self.cls_id, self.sep_id, self.mask_id = range(6)
        self.num_special = 6
        self.vocab_size = len(self.tokens)

    def id_to_token(self, index):
        return self.tokens[index]


def test_wordnet_pairs_of_a_small_vocabulary(wordnet):
    vocabulary = SPECIAL + ["dog", "canine", "cat", "feline", "car", "automobile", "Machine"]
    assert lexical_pairs(wordnet, vocabulary) == [
        ("automobile", "car", "synonym"), ("automobile", "machine", "synonym"),
        ("car", "machine", "synonym"), ("cat", "feline", "hypernym"),
        ("dog", "canine", "hypernym")]
    assert lexical_pairs(wordnet, vocabulary, ["hypernym"]) == [
        ("cat", "feline", "hypernym"), ("dog", "canine", "hypernym")]


def test_pair_inputs_are_cls_a_sep_b_sep():
    ids, segments = pair_inputs(torch.tensor([7, 8]), torch.tensor([9, 10]), cls_id=3, sep_id=4)
    assert ids.tolist() == [[3, 7, 4, 9, 4], [3, 8, 4, 10, 4]]
    assert segments.tolist() == [[0, 0, 0, 1, 1]] * 2


def test_negative_is_the_nearest_batch_word_that_is_not_a_known_pair():
    vocab = 100
    words, partners = torch.tensor([10, 11, 12]), torch.tensor([20, 21, 22])
    vectors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    known = [(10, 20), (11, 21), (12, 22), (11, 20)]  # (11, 20): 11 may not replace 10
    keys = torch.unique(torch.tensor([a * vocab + b for a, b in known]
                                     + [b * vocab + a for a, b in known]))
    chosen = pick_negatives(words, partners, vectors, keys, vocab, row_generator(0))
    # row 0: 11 is nearest but (11, 20) is a positive, so 12; row 1: 10; row 2: 11 (cos 0.11 > 0)
    assert chosen.tolist() == [2, 0, 1]


def _objective(negatives="similar", batch_size=3):
    tokenizer = WordTokenizer(["dog", "canine", "cat", "feline", "car", "automobile"])
    pairs = [("dog", "canine", "hypernym"), ("cat", "feline", "hypernym"),
             ("automobile", "car", "synonym")]
    config = LexicalRelationConfig(batch_size=batch_size, negatives=negatives)
    return LexicalRelationObjective(config, tokenizer, seed=0, pairs=pairs)


def test_pair_batch_has_positives_then_two_negatives_each():
    objective = _objective()
    # ids: dog 6, canine 7, cat 8, feline 9, car 10, automobile 11
    assert objective.pairs.tolist() == [[6, 7], [8, 9], [11, 10]]
    vectors = torch.eye(12)
    vectors[8] = vectors[6] + 0.5 * vectors[8]  # cat is near dog
    batch = objective.pair_batch(step=0, token_vectors=vectors)
    ids, labels = batch["ids"], batch["labels"]
    assert labels.tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0]
    first, second = ids[:, 1], ids[:, 3]
    positives = {tuple(p) for p in objective.pairs.tolist()}
    assert all((int(a), int(b)) in positives for a, b in zip(first[:3], second[:3]))
    # negatives swap one word for another of the batch, never into a known pair
    assert torch.equal(second[3:6], second[:3]) and torch.equal(first[6:], first[:3])
    for a, b in zip(first[3:].tolist(), second[3:].tolist()):
        assert (a, b) not in positives and (b, a) not in positives and a != b
    # the same step draws the same pairs (exact resume)
    assert torch.equal(objective.pair_batch(0, vectors)["ids"], ids)


def test_loss_trains_the_pair_classifier(tiny_bert):
    model, objective = tiny_bert
    output = objective.loss(model, {"step": 0})
    assert output.loss.requires_grad and 0.0 <= output.metrics["accuracy"] <= 1.0
    output.loss.backward()
    assert model.heads["lrc"].classifier.weight.grad.abs().sum() > 0


@pytest.fixture
def tiny_bert():
    objective = _objective()
    config = load_config(preset_path("libert/tiny"), ["model.encoder.num_layers=1"])
    model = build_model(config.model, objective.vocab_size, seed=0, objectives=[objective])
    return model, objective


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 1, "batch_size: must be >= 2"),
    ("relations", ["antonym"], "relations: expected a non-empty list"),
])
def test_bad_config_is_one_line(field, value, message):
    config = LexicalRelationConfig(**{field: value})
    with pytest.raises(ConfigError, match=message) as error:
        config.validate("objectives[2]")
    assert "\n" not in str(error.value) and "objectives[2]" in str(error.value)


def test_vocabulary_without_pairs_is_a_config_error():
    with pytest.raises(ConfigError, match="lrc: no"):
        LexicalRelationObjective(LexicalRelationConfig(), WordTokenizer(["zzz"]), pairs=[])
