"""K-BERT at fine-tuning time (Liu et al. 2020, §3): turn encoded task features (ids,
segments of "[CLS] a [SEP] (b [SEP])") into sentence trees with WordNet knowledge.

Each word (a token and its "##" continuations) whose text is in WordNet gets up to
``max_branches`` branches [relation words, target lemma words] from its most frequent
synset (:class:`lmlab.knowledge.kbert.WordNetBranches`), tokenized by the model's own
tokenizer. Branches are injected left to right while the sequence stays within
``max_len`` (the sentence itself is never cut for knowledge). A branch token takes its
entity's segment. The feature gains "positions" (soft positions) and "visible" (T, T);
the fine-tuning batch passes them to the encoder as position ids and a (B, T, T) mask, so
any imported BERT (the real MiniLM included) reads knowledge without pre-training.
"""

from __future__ import annotations

from functools import lru_cache

from lmlab.knowledge.kbert import WordNetBranches, build_sentence_tree
from lmlab.knowledge.triples import check_relations
from lmlab.knowledge.wordnet import WordNet, load_wordnet, wordnet_folder


@lru_cache(maxsize=1)
def _wordnet(folder: str) -> WordNet:
    """One WordNet per process: train, dev and test features share it."""
    return load_wordnet(folder)


def _words(tokens: list[str], special: set[str]) -> list[tuple[list[int], str | None]]:
    """Token indices of each word and its text (None for special tokens)."""
    words: list[tuple[list[int], str | None]] = []
    for index, token in enumerate(tokens):
        if token.startswith("##") and words and words[-1][1] is not None:
            words[-1][0].append(index)
            words[-1] = (words[-1][0], words[-1][1] + token[2:])
        else:
            words.append(([index], None if token in special else token))
    return words


def kbert_features(features: list[dict], tokenizer, relations, max_branches: int,
                   max_len: int, wordnet: WordNet | None = None) -> list[dict]:
    """``features`` with WordNet branches injected (see the module docstring)."""
    relations = check_relations(relations, "finetune.kbert_relations")
    wordnet = wordnet or _wordnet(str(wordnet_folder()))
    query = WordNetBranches(wordnet, relations, max_branches)
    special = {tokenizer.id_to_token(i) for i in (tokenizer.pad_id, tokenizer.unk_id,
                                                  tokenizer.eos_id, tokenizer.cls_id,
                                                  tokenizer.sep_id, tokenizer.mask_id)}
    cache: dict[str, list[list[int]]] = {}
    result = []
    for feature in features:
        ids, segments = feature["ids"], feature["segments"]
        words = _words([tokenizer.id_to_token(i) for i in ids], special)
        budget = max_len - len(ids)
        branches: dict[int, list[list[int]]] = {}
        for number, (indices, text) in enumerate(words):
            if text is None or budget <= 0:
                continue
            if text not in cache:
                cache[text] = [tokenizer.encode(" ".join(branch).replace("_", " "))
                               for branch in query(text)]
            for branch in cache[text]:
                if 0 < len(branch) <= budget:
                    branches.setdefault(number, []).append(branch)
                    budget -= len(branch)
        tree = build_sentence_tree([[ids[i] for i in indices] for indices, _ in words],
                                   branches)
        first_token = [indices[0] for indices, _ in words]
        result.append({**feature, "ids": [int(t) for t in tree.tokens],
                       "segments": [segments[first_token[w]] for w in tree.word_index],
                       "positions": tree.soft_positions, "visible": tree.visible})
    return result
