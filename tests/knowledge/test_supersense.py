"""SenseBERT's allowed supersenses (Levine et al. 2020, §3) for words with known synsets."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.knowledge.lexnames import LEXNAME_INDEX
from lmlab.knowledge.supersense import (allowed_supersense_loss, allowed_supersense_mask,
                                        allowed_supersenses, supersense_accuracy)

# dog: dog.n.01 (noun.animal), frump.n.01, dog.n.03, cad.n.01 (noun.person), frank.n.02
# (noun.food), pawl.n.01, andiron.n.01 (noun.artifact), chase.v.01 (verb.motion)
DOG = ("noun.animal", "noun.artifact", "noun.food", "noun.person", "verb.motion")
# bass: 8 noun senses and bass.s.01 (the paper's own example of an ambiguous word)
BASS = ("adj.all", "noun.animal", "noun.artifact", "noun.attribute", "noun.communication",
        "noun.food", "noun.person")


def test_allowed_supersenses_of_words_with_known_synsets(wordnet):
    assert allowed_supersenses(wordnet, "dog") == DOG
    assert allowed_supersenses(wordnet, "Bass") == BASS
    assert allowed_supersenses(wordnet, "the") == ()


def test_the_mask_over_a_vocabulary(wordnet):
    vocabulary = ["[CLS]", "dog", "##s", "bass", "the", "<s>"]
    mask = allowed_supersense_mask(wordnet, vocabulary)
    assert mask.shape == (6, 45) and mask.dtype == torch.bool
    assert mask[1].nonzero().flatten().tolist() == [5, 6, 13, 18, 38]
    assert mask[1].nonzero().flatten().tolist() == sorted(LEXNAME_INDEX[n] for n in DOG)
    assert mask[3].nonzero().flatten().tolist() == [0, 5, 6, 7, 10, 13, 18]
    assert mask[[0, 2, 4, 5]].sum() == 0  # special tokens, pieces, words outside WordNet


def test_the_losses_on_uniform_and_peaked_scores():
    allowed = torch.zeros(3, 45, dtype=torch.bool)
    allowed[0, [5, 6, 13, 18, 38]] = True  # dog
    allowed[1, 7] = True
    # row 2: a word outside WordNet, no loss
    logits = torch.zeros(3, 45)
    logits[1, 7] = math.log(44.0)  # p(7) = 44 / (44 + 44) = 1/2
    loss_allowed, loss_reg = allowed_supersense_loss(logits, allowed)
    # row 0: -log(5/45) = log 9, reg -log(1/45) = log 45; row 1: -log(1/2) for both
    assert float(loss_allowed) == pytest.approx((math.log(9) + math.log(2)) / 2)
    assert float(loss_reg) == pytest.approx((math.log(45) + math.log(2)) / 2)
    # equal scores: row 0's top is index 0 (adj.all), not allowed; row 1's is 7, allowed
    assert supersense_accuracy(logits, allowed) == 0.5


def test_accuracy_counts_a_top_supersense_in_the_allowed_set():
    allowed = torch.zeros(2, 45, dtype=torch.bool)
    allowed[0, [5, 6]] = True
    allowed[1, 7] = True
    logits = torch.zeros(2, 45)
    logits[0, 6] = 1.0  # top is allowed
    logits[1, 8] = 1.0  # top is not
    assert supersense_accuracy(logits, allowed) == 0.5
    empty = allowed_supersense_loss(logits, torch.zeros(2, 45, dtype=torch.bool))
    assert [float(x) for x in empty] == [0.0, 0.0]
