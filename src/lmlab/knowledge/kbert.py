"""K-BERT's sentence tree (Liu et al. 2020, "K-BERT: Enabling Language Representation with
Knowledge Graph", §3).

Knowledge layer: for each entity word w_i of a sentence, the knowledge graph gives triples
(w_i, r_ik, w_ik); they are injected as branches of w_i, giving the sentence tree
t = {w_0, ..., w_i{(r_i0, w_i0), ..., (r_ik, w_ik)}, ..., w_n}.

Embedding layer: the tree is flattened with each branch right after its entity ("hard"
positions: the order of the tokens in the sequence), but the position embedding reads
*soft* positions: a branch continues from its entity (every branch of one entity from the
same place), and the sentence after the entity continues as if there were no branch.
"Tim Cook is visiting Beijing now" with (Cook, CEO, Apple), (Beijing, capital, China) and
(Beijing, is_a, City) becomes::

    tokens  [CLS] Tim Cook CEO Apple is visiting Beijing capital China is_a City now
    soft      0    1   2    3    4   3     4       5       6      7     6    7    6

Seeing layer: the visible matrix M (M_ij = 0 if w_i and w_j are in the same branch,
−∞ otherwise) keeps injected knowledge from changing the meaning of the rest of the
sentence: sentence tokens see one another and their own entity's branches; a branch token
sees its own branch and its entity. The mask-self-attention adds M to the scores,
softmax((Q Kᵀ + M) / √d_k) V; here M is the boolean "visible" matrix (True for 0), which
is what lmlab's encoders take as a (B, T, T) attention mask. The visibility and the soft
positions follow the authors' code (``brain/knowgraph.py``): a word may be several tokens
(sub-words or characters); they share the word's visibility.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmlab.knowledge.wordnet import WordNet


@dataclass
class SentenceTree:
    tokens: list[str]            # flattened: branches right after their entity word
    soft_positions: list[int]    # position ids for the embedding (T,)
    visible: torch.Tensor        # (T, T) bool, True where token i may attend to token j
    is_knowledge: list[bool]     # True for tokens of an injected branch
    word_index: list[int]        # the sentence word a token is (or whose branch it is in)


def build_sentence_tree(words: list[list[str]], branches: dict[int, list[list[str]]],
                        max_length: int | None = None) -> SentenceTree:
    """Flatten ``words`` (each a list of tokens) with ``branches[i]`` (token lists, e.g.
    ["CEO", "Apple"]: relation then object) injected after word i; cut to ``max_length``."""
    tokens: list[str] = []
    soft: list[int] = []
    knowledge: list[bool] = []
    owner: list[int] = []
    groups: list[tuple[list[int], list[list[int]]]] = []  # (word's tokens, its branches')
    position = -1
    for index, word in enumerate(words):
        word_tokens = []
        for token in word:
            position += 1
            word_tokens.append(len(tokens))
            tokens.append(token), soft.append(position), knowledge.append(False)
            owner.append(index)
        branch_groups = []
        for branch in branches.get(index, []):
            branch_tokens = []
            for offset, token in enumerate(branch, 1):
                branch_tokens.append(len(tokens))
                tokens.append(token), soft.append(position + offset), knowledge.append(True)
                owner.append(index)
            branch_groups.append(branch_tokens)
        groups.append((word_tokens, branch_groups))
    size = len(tokens)
    visible = torch.zeros(size, size, dtype=torch.bool)
    sentence = [i for word_tokens, _ in groups for i in word_tokens]
    for word_tokens, branch_groups in groups:
        own_branches = [i for branch in branch_groups for i in branch]
        for i in word_tokens:
            visible[i, sentence + own_branches] = True
        for branch in branch_groups:
            for i in branch:
                visible[i, branch + word_tokens] = True
    if max_length is not None and size > max_length:
        tokens, soft, knowledge, owner = (tokens[:max_length], soft[:max_length],
                                          knowledge[:max_length], owner[:max_length])
        visible = visible[:max_length, :max_length]
    return SentenceTree(tokens, soft, visible, knowledge, owner)


RELATION_PHRASES: dict[str, str] = {
    "hypernym": "is a", "instance_hypernym": "is a", "hyponym": "such as",
    "part_meronym": "has part", "member_meronym": "has member",
    "substance_meronym": "made of", "part_holonym": "part of", "member_holonym": "member of",
    "substance_holonym": "substance of", "antonym": "opposite of", "similar_to": "like",
    "derivation": "related to", "pertainym": "pertains to", "also_see": "see also",
    "entailment": "entails", "cause": "causes", "verb_group": "like", "attribute": "about",
}
"""The words a branch spells a relation with, as K-BERT's branches read as text ("Cook
CEO Apple"); any other relation is its name with spaces."""


class WordNetBranches:
    """K-BERT's knowledge query on WordNet: a word's most frequent synset (the first of
    its index entry) and, for each chosen relation, its first targets, each as a branch
    of words [relation phrase..., target lemma...] ("dog" → ["is", "a", "canine"])."""

    def __init__(self, wordnet: WordNet, relations: tuple[str, ...] = ("hypernym",),
                 max_branches: int = 2):
        self.wordnet = wordnet
        self.relations = relations
        self.max_branches = max_branches

    def __call__(self, word: str) -> list[list[str]]:
        senses = self.wordnet.synsets_of(word)
        if not senses or not word.isalpha():
            return []
        found = []
        for relation in self.relations:
            for pointer in senses[0].pointers:
                if pointer.relation == relation and len(found) < self.max_branches:
                    lemma = self.wordnet.synset(pointer.target).lemmas[0]
                    phrase = RELATION_PHRASES.get(relation, relation.replace("_", " "))
                    found.append([*phrase.split(), *lemma.replace("_", " ").split()])
        return found


def sentence_tree_batch(trees: list[SentenceTree], token_ids: list[list[int]], length: int,
                        pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad trees to ``length``: ids (B, T), positions (B, T), attention_mask (B, T, T)
    (padding sees nothing and is seen by nothing but itself, so no softmax row is empty)."""
    batch = len(trees)
    ids = torch.full((batch, length), pad_id, dtype=torch.long)
    positions = torch.zeros(batch, length, dtype=torch.long)
    mask = torch.eye(length, dtype=torch.bool).repeat(batch, 1, 1)  # (B, T, T)
    for row, (tree, tree_ids) in enumerate(zip(trees, token_ids)):
        size = min(len(tree_ids), length)
        ids[row, :size] = torch.tensor(tree_ids[:size])
        positions[row, :size] = torch.tensor(tree.soft_positions[:size])
        mask[row, :size, :size] = tree.visible[:size, :size]
    return {"ids": ids, "positions": positions, "attention_mask": mask}
