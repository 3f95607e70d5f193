"""Entity linking to WordNet synsets (issue 21): lemma match, multi-word lemmas, the
most-frequent-sense prior from SemCor's tag counts (cntlist.rev) or from sense order."""

from __future__ import annotations

import pytest
import torch

from lmlab.knowledge.entity_linking import build_linker, hide_masked, sense_counts

SPECIAL = ["[PAD]", "[UNK]", "<eos>", "[CLS]", "[SEP]", "[MASK]"]
SENTENCE = "the dog chased a hot cat in new york".split()  # ids 6..14


def _linker(wordnet, counts=None):
    entities = sorted(wordnet.synsets)
    return build_linker(wordnet, SPECIAL + SENTENCE, entities, 3, counts), entities


@pytest.fixture(scope="module")
def linked(wordnet):
    return _linker(wordnet)


def _named(wordnet, entities, mention):
    return [wordnet.name(entities[row]) for row in mention.candidates]


def test_a_written_out_sentence_links_with_semcor_priors(wordnet, linked):
    counts = sense_counts(wordnet.folder)
    # cntlist.rev: dog n1 42, dog v1 2, dog n2 0 -> (c + 1) / sum over the 3 kept
    assert counts[("dog", "n", 1)] == 42 and counts[("new_york", "n", 2)] == 16
    linker, entities = linked
    mentions = linker.link(list(range(6, 15)))
    # "the", "a", "in" are stopwords; "new york" is one two-token mention
    assert [(m.start, m.end) for m in mentions] == [(1, 1), (2, 2), (4, 4), (5, 5), (7, 8)]
    dog, chased, hot, cat, new_york = mentions
    assert _named(wordnet, entities, dog) == ["dog.n.01", "chase.v.01", "frump.n.01"]
    assert torch.allclose(torch.tensor(dog.priors), torch.tensor([43, 3, 1]) / 47.0)
    assert _named(wordnet, entities, chased) == ["pursued.n.01"] and chased.priors == (1.0,)
    assert _named(wordnet, entities, hot) == ["hot.a.01", "hot.s.02", "hot.a.03"]
    assert torch.allclose(torch.tensor(hot.priors), torch.tensor([51, 5, 4]) / 60.0)
    assert _named(wordnet, entities, cat) == ["cat.n.01", "guy.n.01", "cat.n.03"]
    assert _named(wordnet, entities, new_york) == ["new_york.n.01", "new_york.n.02",
                                                   "new_york.n.03"]
    assert torch.allclose(torch.tensor(new_york.priors), torch.tensor([47, 17, 1]) / 65.0)


def test_without_counts_the_prior_follows_sense_order(wordnet):
    linker, entities = _linker(wordnet, counts={})
    dog = linker.link([7])[0]
    # nouns first in sense order (dog.n.01, frump.n.01, dog.n.03), p ∝ 1/rank
    assert _named(wordnet, entities, dog) == ["dog.n.01", "frump.n.01", "dog.n.03"]
    assert torch.allclose(torch.tensor(dog.priors), torch.tensor([1, 1 / 2, 1 / 3]) / (11 / 6))


def test_only_synsets_of_the_entity_vocabulary_are_candidates(wordnet):
    dog_n1 = "02084071-n"
    frump = next(s.id for s in wordnet.synsets_of("dog", "n") if wordnet.name(s.id) == "frump.n.01")
    linker = build_linker(wordnet, SPECIAL + ["dog", "cat"], [frump, dog_n1], 4)
    (mention,) = linker.link([6, 0])
    assert mention.candidates == (1, 0)  # rows of the entity list: dog.n.01, frump.n.01
    assert torch.allclose(torch.tensor(mention.priors), torch.tensor([43.0, 1.0]) / 44)
    assert linker.link([7]) == []  # cat's synsets are not entities here


def test_batch_tensors_mark_spans_candidates_and_first_token_alignment(linked):
    linker, _ = linked
    ids = torch.tensor([[3, 13, 14, 7, 4], [3, 6, 12, 4, 0]])  # [CLS] new york dog [SEP] / the in
    links = linker.link_batch(ids, max_mentions=2, max_candidates=2)
    new_york, dog = linker.link([13, 14, 7])
    assert links["token_entities"].tolist() == [
        [0, new_york.candidates[0] + 1, 0, dog.candidates[0] + 1, 0], [0, 0, 0, 0, 0]]
    assert links["mention_spans"].tolist() == [[[1, 2], [3, 3]], [[0, 0], [0, 0]]]
    assert links["mention_mask"].tolist() == [[True, True], [False, False]]
    assert links["candidates"][0, 0].tolist() == [r + 1 for r in new_york.candidates[:2]]
    assert links["candidates"][1].tolist() == [[0, 0], [0, 0]]
    assert torch.allclose(links["priors"][0, 1], torch.tensor(dog.priors[:2]))
    assert links["priors"][1].sum().item() == 0.0


def test_mentions_with_a_masked_word_are_hidden_from_the_encoder(linked):
    linker, _ = linked
    ids = torch.tensor([[3, 13, 14, 7, 4], [3, 7, 12, 7, 4]])  # new york dog / dog in dog
    links = linker.link_batch(ids, max_mentions=2, max_candidates=2)
    assert links["token_mentions"].tolist() == [[-1, 0, 0, 1, -1], [-1, 0, -1, 1, -1]]
    masked = torch.tensor([[False, False, True, False, False], [False, False, False, True, False]])
    hidden = hide_masked(links, masked)  # "york" and the second "dog" are masked
    dog = links["token_entities"][0, 3].item()
    assert hidden["token_entities"].tolist() == [[0, 0, 0, dog, 0], [0, dog, 0, 0, 0]]
    assert hidden["mention_mask"].tolist() == [[False, True], [True, False]]
    assert torch.equal(hidden["candidates"], links["candidates"])  # masked by mention_mask
