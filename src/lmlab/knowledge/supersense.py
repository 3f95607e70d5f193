"""SenseBERT's allowed supersenses (Levine et al. 2020, "SenseBERT: Driving Some Sense into
BERT", §3).

For a word w, A(w) is the set of WordNet supersenses (the 45 lexnames) of all of w's
synsets, every part of speech together: "bass" may be a fish, a guitar, a singer, a
quality of sound. SenseBERT has no sense-annotated text, so a masked word's supersense
head is trained to put its probability on A(w):

    L_allowed = −log p(s ∈ A(w) | context) = −log Σ_{s ∈ A(w)} p(s | context)

with the soft-labelling regulariser that spreads it over the allowed set,

    L_reg = −Σ_{s ∈ A(w)} (1 / |A(w)|) log p(s | context).

A word outside WordNet (A(w) empty: punctuation, subword pieces, special tokens) gives no
supersense loss. Lemmas are matched exactly (lower case); no morphological reduction.
"""

from __future__ import annotations

import torch

from lmlab.knowledge.lexnames import LEXNAMES
from lmlab.knowledge.wordnet import WordNet

NUM_SUPERSENSES = len(LEXNAMES)  # 45


def allowed_supersenses(wordnet: WordNet, word: str) -> tuple[str, ...]:
    """A(word): the lexnames of the word's synsets, in LEXNAMES order."""
    found = {synset.lex_filenum for synset in wordnet.synsets_of(word)}
    return tuple(LEXNAMES[i] for i in sorted(found))


def allowed_supersense_mask(wordnet: WordNet, vocabulary: list[str]) -> torch.Tensor:
    """(V, 45) bool: row v marks A(vocabulary[v]). A token that is a WordPiece
    continuation ("##s") or a special token ("[CLS]", "<s>") has an empty row."""
    mask = torch.zeros(len(vocabulary), NUM_SUPERSENSES, dtype=torch.bool)
    for row, token in enumerate(vocabulary):
        if token.startswith("##") or (token[:1] in "[<" and token[-1:] in "]>") or not token:
            continue
        for synset in wordnet.synsets_of(token):
            mask[row, synset.lex_filenum] = True
    return mask


def allowed_supersense_loss(logits: torch.Tensor,
                            allowed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_allowed, L_reg), each the mean over the rows whose allowed set is not empty.

    logits: (N, 45) supersense scores of N masked words; allowed: (N, 45) bool, A(w) of each.
    """
    has_sense = allowed.any(dim=-1)  # (N,)
    logits, allowed = logits[has_sense], allowed[has_sense]
    if logits.shape[0] == 0:
        zero = logits.sum() * 0.0  # keeps the graph: a batch without senses adds nothing
        return zero, zero
    log_p = torch.log_softmax(logits.float(), dim=-1)  # (N', 45)
    masked = log_p.masked_fill(~allowed, float("-inf"))
    loss_allowed = -torch.logsumexp(masked, dim=-1).mean()
    size = allowed.sum(dim=-1)  # (N',) = |A(w)|
    loss_reg = -(log_p.masked_fill(~allowed, 0.0).sum(dim=-1) / size).mean()
    return loss_allowed, loss_reg


def supersense_accuracy(logits: torch.Tensor, allowed: torch.Tensor) -> float:
    """Share of rows (with a non-empty A(w)) whose top supersense is an allowed one."""
    has_sense = allowed.any(dim=-1)
    if not has_sense.any():
        return float("nan")
    top = logits[has_sense].argmax(dim=-1)  # (N',)
    return float(allowed[has_sense].gather(1, top[:, None]).float().mean())
