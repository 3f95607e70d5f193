"""The task model of feature-based transfer: features -> one BiLSTM -> an existing head.

The same model reads every source, so a table row differs only in its inputs:

* input: :class:`TrainableWordEmbedding` (the random baseline: a table over the task's
  training words, trained with the task) or :class:`FrozenFeatureInput` (cached frozen
  features; with ``layers: mix`` ELMo's task-specific scalar mix of all layers, eq. 1,
  γ Σ_j softmax(s)_j h_j, learned with the task model while the biLM stays frozen, §3.3;
  with ``layers: top`` the last layer only, as the paper's "top layer" baseline, Table 2);
* a one-layer BiLSTM (``hidden_size`` per direction) over the words, dropout on its input;
* the head: the CRF tagger of :mod:`lmlab.heads.token_classification` (BiLSTM-CRF, Lample
  et al. 2016) for tagging, or :mod:`lmlab.heads.sequence_classification` with ``pooling:
  mean`` (the masked mean of the BiLSTM states, no pooler) + a linear classifier.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lmlab.heads.sequence_classification import SequenceClassificationHead, SequenceHeadConfig
from lmlab.heads.token_classification import TokenClassificationHead, TokenHeadConfig

PAD, UNK = "<pad>", "<unk>"


class TrainableWordEmbedding(nn.Module):
    """The random baseline: N(0, 1) vectors for the training words seen ``min_count``
    times, plus a trained UNK row for all other words (row 1) and padding (row 0)."""

    def __init__(self, words: list[str], size: int, seed: int = 0):
        super().__init__()
        self.words = [PAD, UNK] + list(words)
        self.index = {word: row for row, word in enumerate(self.words)}
        generator = torch.Generator().manual_seed(seed)
        table = torch.randn(len(self.words), size, generator=generator)
        table[0] = 0.0
        self.table = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0)
        self.width = size

    def ids(self, words: list[str]) -> list[int]:
        return [self.index.get(word, 1) for word in words]

    def forward(self, batch: dict) -> torch.Tensor:
        return self.table(batch["word_ids"])  # (B, T, D)


class FrozenFeatureInput(nn.Module):
    """Cached features (B, L, T, F) -> (B, T, F): the scalar mix of the L layers, or the
    last layer. ``mix`` is ELMo's :class:`lmlab.layers.scalar_mix.ScalarMix` (its weights
    are the only trained parameters of the input)."""

    def __init__(self, width: int, mix: nn.Module | None = None):
        super().__init__()
        self.width = width
        self.mix = mix

    def forward(self, batch: dict) -> torch.Tensor:
        layers = batch["features"].float()  # (B, L, T, F)
        if self.mix is None:
            return layers[:, -1]  # (B, T, F): the top layer (or the only one)
        # L x (B, T, F) -> (B, T, F); the mask keeps padding out of a mix's layer norm
        return self.mix(list(layers.unbind(1)), batch["attention_mask"])


def build_head(kind: str, hidden_size: int, num_labels: int, dropout: float) -> nn.Module:
    if kind == "tagging":
        return TokenClassificationHead(hidden_size, num_labels, TokenHeadConfig(True, dropout))
    if kind == "classification":
        return SequenceClassificationHead(hidden_size, num_labels,
                                          SequenceHeadConfig("mean", dropout))
    raise ValueError(f"feature-based transfer reads tagging or classification tasks, not {kind}")


class FeatureTaskModel(nn.Module):
    """``inputs -> dropout -> BiLSTM -> head``; ``forward`` gives the head's logits."""

    def __init__(self, inputs: nn.Module, hidden_size: int, dropout: float, head: nn.Module):
        super().__init__()
        self.inputs = inputs
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(inputs.width, hidden_size, batch_first=True, bidirectional=True)
        self.head = head

    def forward(self, batch: dict) -> torch.Tensor:
        x = self.dropout(self.inputs(batch))  # (B, T, F)
        mask = batch["attention_mask"]  # (B, T)
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        states, _ = self.lstm(packed)
        hidden, _ = pad_packed_sequence(states, batch_first=True, total_length=x.shape[1])
        return self.head(hidden, batch)  # (B, T, K) tagging | (B, C) classification


def collate(items: list[dict], kind: str) -> dict:
    """Pad one batch. An item holds ``features`` (L, n, F) or ``word_ids`` (n,), and its
    ``label`` (a class id, or one tag id per word)."""
    length = max(item["length"] for item in items)
    batch_size = len(items)
    mask = torch.zeros(batch_size, length, dtype=torch.long)  # (B, T)
    for row, item in enumerate(items):
        mask[row, :item["length"]] = 1
    batch = {"attention_mask": mask}
    if "features" in items[0]:
        layers, _, width = items[0]["features"].shape
        features = torch.zeros(batch_size, layers, length, width,
                               dtype=items[0]["features"].dtype)  # (B, L, T, F)
        for row, item in enumerate(items):
            features[row, :, :item["length"]] = item["features"]
        batch["features"] = features
    else:
        ids = torch.zeros(batch_size, length, dtype=torch.long)  # (B, T)
        for row, item in enumerate(items):
            ids[row, :item["length"]] = torch.tensor(item["word_ids"])
        batch["word_ids"] = ids
    if kind == "tagging":  # one position per word: the head reads position t for word t
        batch["word_starts"] = torch.arange(length).expand(batch_size, length)
        batch["word_mask"] = mask
        if all("label" in item for item in items):
            labels = torch.full((batch_size, length), -100, dtype=torch.long)
            for row, item in enumerate(items):
                labels[row, :item["length"]] = torch.tensor(item["label"])
            batch["labels"] = labels
    elif all("label" in item for item in items):
        batch["labels"] = torch.tensor([item["label"] for item in items])
    return batch
