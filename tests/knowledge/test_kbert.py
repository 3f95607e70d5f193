"""K-BERT's sentence tree (Liu et al. 2020, §3): soft positions and the visible matrix of a
written-out sentence, checked entry by entry."""

from __future__ import annotations

import torch

from lmlab.knowledge.kbert import WordNetBranches, build_sentence_tree, sentence_tree_batch

SENTENCE = ["Tim", "Cook", "is", "visiting", "Beijing", "now"]  # 6 tokens
# (Cook, CEO, Apple) and (Beijing, capital, China): the paper's running example
BRANCHES = {1: [["CEO", "Apple"]], 4: [["capital", "China"]]}

VISIBLE = """
           Tim Cook CEO Apple is visiting Beijing capital China now
Tim         1   1    0   0    1    1       1       0      0     1
Cook        1   1    1   1    1    1       1       0      0     1
CEO         0   1    1   1    0    0       0       0      0     0
Apple       0   1    1   1    0    0       0       0      0     0
is          1   1    0   0    1    1       1       0      0     1
visiting    1   1    0   0    1    1       1       0      0     1
Beijing     1   1    0   0    1    1       1       1      1     1
capital     0   0    0   0    0    0       1       1      1     0
China       0   0    0   0    0    0       1       1      1     0
now         1   1    0   0    1    1       1       0      0     1
"""


def written_matrix(text: str) -> torch.Tensor:
    rows = [line.split()[1:] for line in text.strip().splitlines()[1:]]
    return torch.tensor([[cell == "1" for cell in row] for row in rows])


def test_six_tokens_with_two_injected_triples():
    tree = build_sentence_tree([[word] for word in SENTENCE], BRANCHES)
    assert tree.tokens == ["Tim", "Cook", "CEO", "Apple", "is", "visiting", "Beijing",
                           "capital", "China", "now"]
    assert tree.soft_positions == [0, 1, 2, 3, 2, 3, 4, 5, 6, 5]
    assert tree.is_knowledge == [False, False, True, True, False, False, False, True, True,
                                 False]
    assert tree.word_index == [0, 1, 1, 1, 2, 3, 4, 4, 4, 5]
    assert torch.equal(tree.visible, written_matrix(VISIBLE))
    assert torch.equal(tree.visible, tree.visible.T)  # "same branch" is symmetric


def test_branches_of_one_entity_share_positions_but_not_sight():
    # the paper's Figure: Beijing gets (capital, China) and (is_a, City)
    words = [["[CLS]"], ["Tim"], ["Cook"], ["is"], ["visiting"], ["Beijing"], ["now"]]
    tree = build_sentence_tree(words, {2: [["CEO", "Apple"]],
                                       5: [["capital", "China"], ["is_a", "City"]]})
    assert tree.soft_positions == [0, 1, 2, 3, 4, 3, 4, 5, 6, 7, 6, 7, 6]
    china, city, beijing = tree.tokens.index("China"), tree.tokens.index("City"), 7
    assert not tree.visible[china, city] and not tree.visible[city, china]
    assert tree.visible[city, beijing] and tree.visible[beijing, city]


def test_a_word_of_several_tokens_and_truncation():
    tree = build_sentence_tree([["bei", "##jing"], ["now"]], {0: [["capital", "china"]]})
    assert tree.tokens == ["bei", "##jing", "capital", "china", "now"]
    assert tree.soft_positions == [0, 1, 2, 3, 2]
    assert tree.visible[2].tolist() == [True, True, True, True, False]  # both pieces of the word
    cut = build_sentence_tree([["bei", "##jing"], ["now"]], {0: [["capital", "china"]]},
                              max_length=3)
    assert cut.tokens == ["bei", "##jing", "capital"] and cut.visible.shape == (3, 3)


def test_a_padded_batch():
    tree = build_sentence_tree([["a"], ["b"]], {0: [["r", "c"]]})
    batch = sentence_tree_batch([tree], [[5, 6, 7, 8]], length=6, pad_id=0)
    assert batch["ids"].tolist() == [[5, 6, 7, 8, 0, 0]]
    assert batch["positions"].tolist() == [[0, 1, 2, 1, 0, 0]]
    mask = batch["attention_mask"][0]
    assert mask.shape == (6, 6)
    assert torch.equal(mask[:4, :4], tree.visible)
    assert mask[4].tolist() == [False] * 4 + [True, False]  # padding sees only itself
    assert not mask[:4, 4:].any()


def test_wordnet_branches(wordnet):
    query = WordNetBranches(wordnet, ("hypernym",), max_branches=2)
    # dog.n.01 → canine.n.02 and domestic_animal.n.01
    assert query("dog") == [["is", "a", "canine"], ["is", "a", "domestic", "animal"]]
    assert query("the") == [] and query(",") == []
    assert WordNetBranches(wordnet, ("antonym",))("good") == []  # good.n.01 has none
