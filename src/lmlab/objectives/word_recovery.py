"""Cross-lingual word recovery (Unicoder, Huang et al. 2019, §3.1, eqs. 1-2).

For a parallel pair (X, Y) each word x_i of the sentence to recover is replaced by an
attention-weighted mix of the *other* language's word embeddings,

    A_ij = W [x_i ; y_j ; x_i ⊙ y_j]        (eq. 1, W a learned 3E vector)
    x^t_i = Σ_j softmax_j(A_ij) y_j          (eq. 2)

and the encoder, reading X^t = (x^t_1 .. x^t_m) alone, must predict X at every position.
The attention of a word only ever reaches words of the other language: that is what makes
the task cross-lingual (:func:`recovery_attention`, tested).

Layout: one row ``[CLS] R [SEP] C [SEP]`` per pair (:func:`lmlab.objectives.tlm.pair_sequence`),
R the sentence to recover, C the context in the other language; even rows of a step
recover the source sentence (English), odd rows the target (Chinese). The encoder reads
``[CLS] R^t [SEP]`` (C is masked out of its attention); R^t enters through the model's own
embedding (positions, R's language vector, LayerNorm) in place of the token vectors.
x and y are the token embeddings (the paper's word embeddings, tied to the LM head here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.objectives.base import LossOutput, StatelessObjective
from lmlab.objectives.parallel_stream import ParallelStream, ParallelStreamConfig
from lmlab.objectives.tlm import pair_batch

WORD_RECOVERY_STREAM = 25


@dataclass
class WordRecoveryConfig(ParallelStreamConfig):
    name: Literal["xwr"] = "xwr"


def recovery_attention(vectors: torch.Tensor, recover: torch.Tensor, context: torch.Tensor,
                       weight: torch.Tensor) -> torch.Tensor:
    """Eq. 1-2's attention weights (B, T, T): row i (a word to recover) spreads over the
    context words j only (another language), softmax of W [x_i; y_j; x_i ⊙ y_j]; every other
    entry, and every row not to recover, is 0. vectors (B, T, E); recover, context (B, T)
    bool; weight (3E,)."""
    w_x, w_y, w_xy = weight.split(vectors.shape[-1])  # (E,) each
    scores = ((vectors @ w_x)[:, :, None] + (vectors @ w_y)[:, None, :]
              + (vectors * w_xy) @ vectors.transpose(1, 2))  # (B, T, T)
    allowed = recover[:, :, None] & context[:, None, :]  # (B, T, T)
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.where(allowed, weights, torch.zeros_like(weights))  # rows of all -inf: 0, not NaN


class RecoveryAttention(nn.Module):
    """W of eq. 1, one score per (x_i, y_j) pair."""

    def __init__(self, width: int):
        super().__init__()
        self.score = nn.Linear(3 * width, 1, bias=False)

    def forward(self, vectors, recover, context) -> torch.Tensor:
        return recovery_attention(vectors, recover, context, self.score.weight[0])


class WordRecoveryObjective(StatelessObjective):
    """Unicoder's word recovery; auxiliary (the run's held-out measure is its MLM's)."""

    def __init__(self, config: WordRecoveryConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.tokenizer = tokenizer
        self.stream = ParallelStream(config, tokenizer, seed, WORD_RECOVERY_STREAM)
        self.languages = (config.source_language, config.target_language)

    def heads(self, model_config, embedding) -> dict:
        width = model_config.embedding.embedding_size or model_config.embedding.hidden_size
        return {self.config.name: RecoveryAttention(width)}

    def prepare(self, model, train_ids) -> None:
        self.stream.train()  # a bad parallel file fails before training starts

    def rows(self, step: int, count: int, max_len: int) -> dict:
        """The ``xwr_*`` batch of a step: pair layout, ``xwr_recover`` (R's ordinary tokens),
        ``xwr_context`` (C's ordinary tokens), ``xwr_first`` (``[CLS] R [SEP]``)."""
        train = self.stream.train()
        pairs, languages = [], []
        for k, index in zip(range(step * count, (step + 1) * count),
                            self.stream.chosen(step, count)):
            source, target = train[index]
            swap = k % 2 == 1  # odd rows recover the target sentence
            pairs.append((target, source) if swap else (source, target))
            languages.append(self.languages[::-1] if swap else self.languages)
        rows = [pair_batch([pair], self.tokenizer, langs, max_len)
                for pair, langs in zip(pairs, languages)]
        length = max(row["tlm_input_ids"].shape[1] for row in rows)
        batch = {key: torch.zeros(count, length, dtype=torch.long)
                 for key in ("ids", "positions", "languages", "attention")}
        batch["ids"].fill_(self.tokenizer.pad_id)
        for i, row in enumerate(rows):
            width = row["tlm_input_ids"].shape[1]
            for key, name in (("ids", "tlm_input_ids"), ("positions", "tlm_positions"),
                              ("languages", "tlm_languages"), ("attention", "tlm_attention_mask")):
                batch[key][i, :width] = row[name][0]
        # [CLS] R [SEP] is the part before the first [SEP] (inclusive); C follows it.
        is_sep = batch["ids"] == self.tokenizer.sep_id
        after_first = (is_sep.long().cumsum(1) - is_sep.long()) >= 1  # (B, T)
        ordinary = (batch["ids"] >= self.tokenizer.num_special) & batch["attention"].bool()
        return {"xwr_input_ids": batch["ids"], "xwr_positions": batch["positions"],
                "xwr_languages": batch["languages"], "xwr_recover": ordinary & ~after_first,
                "xwr_context": ordinary & after_first,
                "xwr_first": (~after_first & batch["attention"].bool()).long()}

    def corrupt(self, batch: dict) -> dict:
        rows, length = batch["input_ids"].shape
        return {**batch, **self.rows(int(batch.get("step", 0)), rows, length)}

    def loss(self, model, batch: dict) -> LossOutput:
        ids, recover = batch["xwr_input_ids"], batch["xwr_recover"]
        tokens = model.embedding.tokens
        vectors = tokens(ids)  # (B, T, E)
        weights = model.heads[self.config.name](vectors, recover, batch["xwr_context"])
        mixed = torch.where(recover[..., None], weights @ vectors, vectors)  # (B, T, E)
        # R^t goes through the model's own embedding (positions, language, norm) in place
        # of the token vectors: the hook swaps the token table's output for this call only.
        handle = tokens.register_forward_hook(lambda module, args, output: mixed)
        try:
            hidden = model(ids, batch["xwr_first"], positions=batch["xwr_positions"],
                           languages=batch["xwr_languages"]).hidden
        finally:
            handle.remove()
        logits_loss = model.lm_head.loss(hidden[recover], ids[recover])
        return LossOutput(logits_loss, {"loss": logits_loss.item(), "tokens": int(recover.sum())})
