"""Deterministic batch schedules: batch ``step`` is a pure function of (data, step, seed).

That is what makes resume exact without saving an iterator: the trainer stores the step.

* :class:`StreamBatches` — Zaremba et al. (2014): the token stream cut into B parallel
  rows read left to right in windows of T; the recurrent state is carried from window to
  window and reset at each epoch.
* :class:`BlockBatches` — non-overlapping blocks shuffled every epoch (GPT/BERT style);
  MLM blocks are wrapped in ``[CLS] … [SEP]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmlab.errors import DataError

IGNORE = -100
"""Label of a position that is not predicted (PyTorch's ``ignore_index``)."""


@dataclass(frozen=True)
class Shard:
    """Process ``rank`` of ``count`` keeps rows ``[rank·b, (rank+1)·b)`` of every batch of
    B = count·b rows: the ranks together see each batch once, none twice, none skipped."""

    rank: int = 0
    count: int = 1

    def rows(self, batch: dict) -> dict:
        """This rank's rows of every per-row tensor of ``batch`` (B, ...) -> (b, ...)."""
        if self.count == 1:
            return batch
        size = batch["input_ids"].shape[0]
        if size % self.count:
            raise DataError(f"a batch of {size} rows cannot split evenly over {self.count} "
                            f"processes (data.batch_size is the global batch: use a multiple "
                            f"of {self.count})")
        share = size // self.count
        rows = slice(self.rank * share, (self.rank + 1) * share)
        return {key: value[rows] if torch.is_tensor(value) and value.dim() and
                value.shape[0] == size else value for key, value in batch.items()}


def wrap_cls_sep(rows: torch.Tensor, cls_id: int, sep_id: int) -> torch.Tensor:
    """(B, L) text blocks -> (B, L+2) ``[CLS] … [SEP]`` sequences (masked-LM inputs)."""
    cls = torch.full((rows.shape[0], 1), cls_id, dtype=torch.long)
    sep = torch.full((rows.shape[0], 1), sep_id, dtype=torch.long)
    return torch.cat([cls, rows, sep], dim=1)


def wrap_marks(marks: np.ndarray, starts: np.ndarray) -> torch.Tensor:
    """Unit marks (:mod:`lmlab.data.unit_marks`) of (B, L) text blocks at ``starts`` ->
    (B, L+2), with 0 (no unit) at the ``[CLS]`` and ``[SEP]`` that wrap_cls_sep adds."""
    rows = torch.from_numpy(np.asarray(marks[starts], dtype=np.int64))  # (B, L)
    return torch.nn.functional.pad(rows, (1, 1))


def wrap_languages(languages: np.ndarray, starts: np.ndarray) -> torch.Tensor:
    """Per-token language ids (XLM §3.1) of (B, L) text blocks at ``starts`` -> (B, L+2):
    ``[CLS]`` takes the first token's language, ``[SEP]`` the last one's."""
    rows = torch.from_numpy(np.asarray(languages[starts], dtype=np.int64))  # (B, L)
    return torch.cat([rows[:, :1], rows, rows[:, -1:]], dim=1)


def eval_blocks(ids: np.ndarray, seq_len: int, cls_id: int, sep_id: int, batch_size: int,
                max_blocks: int = 0, marks: np.ndarray | None = None,
                languages: np.ndarray | None = None):
    """Batches of the split's consecutive ``[CLS] … [SEP]`` blocks, in order (evaluation);
    with ``marks``, each batch carries its ``unit_marks``; with ``languages`` (N,), its
    per-token ``languages``."""
    block = seq_len - 2
    num_blocks = len(ids) // block
    if max_blocks:
        num_blocks = min(num_blocks, max_blocks)
    for first in range(0, num_blocks, batch_size):
        chosen = np.arange(first, min(first + batch_size, num_blocks))
        starts = chosen[:, None] * block + np.arange(block)  # (b, T-2)
        rows = torch.from_numpy(np.asarray(ids[starts], dtype=np.int64))
        batch = {"input_ids": wrap_cls_sep(rows, cls_id, sep_id), "step": 0,
                 "example_ids": torch.from_numpy(chosen.astype(np.int64))}
        if marks is not None:
            batch["unit_marks"] = wrap_marks(marks, starts)
        if languages is not None:
            batch["languages"] = wrap_languages(languages, starts)
        yield batch


def eval_windows(ids: np.ndarray, seq_len: int, stride: int | None = None,
                 batch_size: int = 16, max_tokens: int = 0):
    """Causal held-out windows: window w starts at ``w * stride`` and predicts the labels
    ``[start + 1, start + T]``; the first window scores all of them, every later one only
    its last ``stride`` (the rest is context, labelled IGNORE), so each token is scored
    once with at least ``T - stride`` tokens of context. The last, shorter window scores
    what is left. Yields {"input_ids", "labels"} (b, T)."""
    stride = stride or max(1, seq_len // 2)
    if not 0 < stride <= seq_len:
        raise DataError(f"stride must be in 1..seq_len={seq_len}, got {stride}")
    stream = torch.from_numpy(np.asarray(ids[: max_tokens or len(ids)], dtype=np.int64))
    last = len(stream) - 1  # number of predictable tokens
    starts = list(range(0, max(1, last - seq_len + stride), stride))
    full = [s for s in starts if s + seq_len <= last]
    tail = [s for s in starts if s + seq_len > last]
    for group in range(0, len(full), batch_size):
        chosen = full[group: group + batch_size]
        index = torch.tensor(chosen)[:, None] + torch.arange(seq_len + 1)  # (b, T+1)
        windows = stream[index]
        labels = windows[:, 1:].clone()  # (b, T)
        for row, start in enumerate(chosen):
            if start > 0:
                labels[row, : seq_len - stride] = IGNORE
        yield {"input_ids": windows[:, :-1], "labels": labels}
    for start in tail[:1]:
        scored_until = (full[-1] + seq_len) if full else 0
        window = stream[start: last + 1][None]  # (1, L+1)
        keep = last - scored_until
        if keep <= 0:
            continue
        labels = window[:, 1:].clone()
        labels[0, : labels.shape[1] - keep] = IGNORE
        yield {"input_ids": window[:, :-1], "labels": labels}


def eval_stream(ids: np.ndarray, seq_len: int, max_tokens: int = 0):
    """The split as one stream of (1, T) windows for recurrent encoders, which carry their
    state from window to window (reset at the first), so every token has the whole
    preceding split as context."""
    stream = torch.from_numpy(np.asarray(ids[: max_tokens or len(ids)], dtype=np.int64))
    for start in range(0, len(stream) - 1, seq_len):
        chunk = stream[start: start + seq_len + 1][None]  # (1, T+1)
        yield {"input_ids": chunk[:, :-1], "labels": chunk[:, 1:], "reset_memory": start == 0}


class StreamBatches:
    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int):
        columns = len(ids) // batch_size
        if columns < seq_len + 1:
            raise DataError(f"{len(ids)} tokens are too few for batch_size={batch_size} "
                            f"× seq_len={seq_len}")
        # A view of the memory map: only the window of each batch is ever read into RAM.
        self.rows = ids[: columns * batch_size].reshape(batch_size, columns)  # (B, N/B)
        self.seq_len = seq_len
        self.steps_per_epoch = (columns - 1) // seq_len

    def batch(self, step: int) -> dict:
        window = step % self.steps_per_epoch
        start = window * self.seq_len
        chunk = torch.from_numpy(self.rows[:, start: start + self.seq_len + 1].astype(np.int64))  # (B, T+1)
        return {"input_ids": chunk[:, :-1], "labels": chunk[:, 1:],
                "reset_memory": window == 0, "step": step}


class BlockBatches:
    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int, seed: int,
                 causal: bool, cls_id: int | None = None, sep_id: int | None = None,
                 marks: np.ndarray | None = None, languages: np.ndarray | None = None):
        # Causal blocks hold T+1 tokens (inputs and shifted labels); MLM blocks hold T-2
        # text tokens plus [CLS] and [SEP].
        self.block_len = seq_len + 1 if causal else seq_len - 2
        self.num_blocks = len(ids) // self.block_len
        if self.num_blocks < batch_size:
            raise DataError(f"{len(ids)} tokens make {self.num_blocks} blocks of "
                            f"{self.block_len}, fewer than batch_size={batch_size}")
        self.blocks = ids[: self.num_blocks * self.block_len]  # memmap view, read per batch
        self.batch_size, self.seed, self.causal = batch_size, seed, causal
        self.cls_id, self.sep_id = cls_id, sep_id
        self.marks = marks  # (N,) unit marks aligned with ids, or None
        self.languages = languages  # (N,) language ids aligned with ids (a mix), or None
        self.steps_per_epoch = self.num_blocks // batch_size
        self._order_epoch, self._order = -1, None

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if epoch != self._order_epoch:
            self._order = np.random.default_rng([self.seed, epoch]).permutation(self.num_blocks)
            self._order_epoch = epoch
        return self._order

    def batch(self, step: int) -> dict:
        epoch, index = divmod(step, self.steps_per_epoch)
        chosen = self._epoch_order(epoch)[index * self.batch_size: (index + 1) * self.batch_size]
        starts = chosen[:, None] * self.block_len + np.arange(self.block_len)  # (B, L)
        rows = torch.from_numpy(np.asarray(self.blocks[starts], dtype=np.int64))
        if self.causal:
            batch = {"input_ids": rows[:, :-1], "labels": rows[:, 1:], "step": step,
                     "example_ids": torch.from_numpy(chosen.astype(np.int64))}
            if self.languages is not None:  # (B, T): the inputs' languages
                batch["languages"] = torch.from_numpy(
                    np.asarray(self.languages[starts[:, :-1]], dtype=np.int64))
            return batch
        batch = {"input_ids": wrap_cls_sep(rows, self.cls_id, self.sep_id), "step": step,
                 "example_ids": torch.from_numpy(chosen.astype(np.int64))}
        if self.marks is not None:
            batch["unit_marks"] = wrap_marks(self.marks, starts)
        if self.languages is not None:
            batch["languages"] = wrap_languages(self.languages, starts)
        return batch
