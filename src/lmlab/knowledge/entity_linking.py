"""Entity linking to WordNet synsets: the mentions ERNIE-THU aligns (Zhang et al. 2019, §3.2
"we ... align the entities to the tokens": the entity sits at the mention's first token)
and KnowBERT's candidate generator with its prior (Peters et al. 2019, §3.1: "a list of
candidate entities ... with prior probabilities").

A mention is a run of tokens that spells a WordNet lemma, multi-word lemmas included
("new_york" = the tokens "new" "york"). Every word of the lemma must be one token of the
vocabulary (lower case), as LIBERT's pairs are. Matching is greedy, left to right, the
longest lemma first, and mentions do not overlap. A small fixed list of function words
(``STOPWORDS``: WordNet has "a" = vitamin A, "in" = inch) never starts a mention.

Candidates are the lemma's synsets over all parts of speech that the entity vocabulary
(the TransE ``entities.txt``) holds. The prior is the most-frequent-sense one:

* with WordNet's ``cntlist.rev`` (SemCor tag counts per sense; Debian's wordnet-base
  ships it) p(e_k | m) = (c_k + 1) / Σ_j (c_j + 1);
* without it, p(e_k | m) ∝ 1 / r_k, r_k the sense's rank (nouns first, then verbs,
  adjectives, adverbs, each in sense-number order: WordNet lists the most frequent first).

The candidates are sorted by prior (ties keep that order), cut to ``max_candidates`` and
renormalised. Linking is a pure function of the token ids, so a batch is linked the same
way whenever it is seen (exact resume, fixed held-out links).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.knowledge.wordnet import POS_FILES, WordNet

COUNT_FILE = "cntlist.rev"
STOPWORDS = frozenset(
    "a an the and or but if of in on at to for from by with as is are was were be been "
    "it its he she they we i you this that these those not no do does did have has had "
    "will would can could may might must shall should".split())
SS_TYPES = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}


@dataclass(frozen=True)
class Mention:
    start: int                      # first token (inclusive)
    end: int                        # last token (inclusive)
    candidates: tuple[int, ...]     # entity rows (lines of entities.txt), best prior first
    priors: tuple[float, ...]       # p(e | m), summing to 1


def sense_counts(folder: Path) -> dict[tuple[str, str, int], int]:
    """(lemma, pos, sense number) -> SemCor tag count, from ``cntlist.rev`` lines
    ``lemma%ss_type:lex_filenum:lex_id:head_word:head_id sense_number tag_cnt``; empty when
    the file is absent."""
    path = Path(folder) / COUNT_FILE
    counts: dict[tuple[str, str, int], int] = {}
    if not path.is_file():
        return counts
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if len(fields) != 3 or "%" not in fields[0]:
            continue
        lemma, _, rest = fields[0].partition("%")
        pos = SS_TYPES.get(rest[:1])
        if pos and fields[1].isdigit() and fields[2].isdigit():
            key = (lemma, pos, int(fields[1]))
            counts[key] = counts.get(key, 0) + int(fields[2])
    return counts


def lemma_candidates(wordnet: WordNet, lemma: str, entity_rows: dict[str, int],
                     counts: dict, max_candidates: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(candidate rows, priors) of one index lemma (module docstring)."""
    scored = []  # (score, order, row)
    for pos in POS_FILES:
        for number, synset in enumerate(wordnet.index.get((lemma, pos), ()), 1):
            row = entity_rows.get(synset)
            if row is None or any(r == row for _, _, r in scored):
                continue
            order = len(scored)
            score = counts.get((lemma, pos, number), 0) + 1 if counts else 1.0 / (order + 1)
            scored.append((score, order, row))
    scored.sort(key=lambda item: (-item[0], item[1]))
    kept = scored[:max_candidates]
    total = float(sum(score for score, _, _ in kept))
    return tuple(row for _, _, row in kept), tuple(score / total for score, _, _ in kept)


class EntityLinker:
    """Token-id sequences -> candidate synsets with priors (module docstring)."""

    def __init__(self, table: dict[tuple[int, ...], tuple[tuple[int, ...], tuple[float, ...]]]):
        self.table = table
        self.longest = max((len(key) for key in table), default=0)

    def link(self, ids: list[int]) -> list[Mention]:
        mentions, at = [], 0
        while at < len(ids):
            for length in range(min(self.longest, len(ids) - at), 0, -1):
                found = self.table.get(tuple(ids[at: at + length]))
                if found is not None:
                    mentions.append(Mention(at, at + length - 1, *found))
                    at += length
                    break
            else:
                at += 1
        return mentions

    def link_batch(self, ids: torch.Tensor, max_mentions: int, max_candidates: int) -> dict:
        """ids (B, T) -> the batch's links, as tensors (entity row + 1; 0 = none/padding):

        * ``token_entities`` (B, T): the best-prior entity at each mention's first token
          (ERNIE-THU's alignment), every mention of the row;
        * ``token_mentions`` (B, T): the index of the mention each token is in (-1: none);
        * ``mention_spans`` (B, M, 2) first and last token, ``mention_mask`` (B, M);
        * ``candidates`` (B, M, C) and ``priors`` (B, M, C) (KnowBERT's candidates).

        The spans and candidates keep the first ``max_mentions`` mentions of a row."""
        rows, length = ids.shape
        token_entities = torch.zeros(rows, length, dtype=torch.long)
        token_mentions = torch.full((rows, length), -1, dtype=torch.long)
        spans = torch.zeros(rows, max_mentions, 2, dtype=torch.long)
        mention_mask = torch.zeros(rows, max_mentions, dtype=torch.bool)
        candidates = torch.zeros(rows, max_mentions, max_candidates, dtype=torch.long)
        priors = torch.zeros(rows, max_mentions, max_candidates)
        for row, sequence in enumerate(ids.tolist()):
            mentions = self.link(sequence)
            for index, mention in enumerate(mentions):
                token_entities[row, mention.start] = mention.candidates[0] + 1
                token_mentions[row, mention.start: mention.end + 1] = index
            for index, mention in enumerate(mentions[:max_mentions]):
                spans[row, index] = torch.tensor([mention.start, mention.end])
                mention_mask[row, index] = True
                count = min(max_candidates, len(mention.candidates))
                candidates[row, index, :count] = torch.tensor(mention.candidates[:count]) + 1
                priors[row, index, :count] = torch.tensor(mention.priors[:count])
        return {"token_entities": token_entities, "token_mentions": token_mentions,
                "mention_spans": spans,
                "mention_mask": mention_mask, "candidates": candidates, "priors": priors}


def build_linker(wordnet: WordNet, vocabulary: list[str], entities: list[str],
                 max_candidates: int = 4, counts: dict | None = None) -> EntityLinker:
    """The linker of a tokenizer's ``vocabulary`` (tokens in id order) onto the entity
    vocabulary ``entities`` (synset ids, "02084071-n"); ``counts``: :func:`sense_counts`
    (None: read them from the WordNet folder)."""
    if counts is None:
        counts = sense_counts(wordnet.folder)
    token_ids: dict[str, int] = {}
    for index, token in enumerate(vocabulary):
        token_ids.setdefault(token.lower(), index)
    entity_rows = {name: row for row, name in enumerate(entities)}
    table = {}
    for lemma in sorted({lemma for lemma, _ in wordnet.index}):
        words = lemma.split("_")
        if words[0] in STOPWORDS or not all(word in token_ids for word in words):
            continue
        found = lemma_candidates(wordnet, lemma, entity_rows, counts, max_candidates)
        if found[0]:
            table[tuple(token_ids[word] for word in words)] = found
    return EntityLinker(table)


def hide_masked(links: dict, masked: torch.Tensor) -> dict:
    """``links`` without the mentions that contain a masked token (``masked`` (B, T) bool:
    the positions MLM predicts). A masked word's synset (or its candidates) names the word,
    so the encoder must not read it: its alignment (ERNIE-THU) and its mention (KnowBERT)
    are dropped."""
    token_mentions = links["token_mentions"]
    masked = masked.to(token_mentions.device)
    rows, length = token_mentions.shape
    hit_index = torch.where(masked & (token_mentions >= 0), token_mentions,
                            torch.full_like(token_mentions, length))  # length = no mention
    hit = torch.zeros(rows, length + 1, dtype=torch.bool).scatter_(1, hit_index, True)[:, :length]
    hidden_tokens = hit.gather(1, token_mentions.clamp(min=0)) & (token_mentions >= 0)
    mention_mask = links["mention_mask"].clone()
    kept = min(mention_mask.shape[1], length)
    mention_mask[:, :kept] &= ~hit[:, :kept]
    return {**links, "token_entities": links["token_entities"].masked_fill(hidden_tokens, 0),
            "mention_mask": mention_mask}
