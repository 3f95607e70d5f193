"""Sentence-pair batches for the sentence-level objectives of the BERT family.

Each example is ``[CLS] A [SEP] B [SEP]`` padded to ``seq_len``, with segment ids 0/1 and a
pair label, built from the token store's sentence (line) and document boundaries:

* A is a run of consecutive sentences from a random document position, B the run that
  follows it; together they fill about ``seq_len - 3`` tokens (both trimmed if too long,
  as BERT's ``truncate_seq_pair`` does, from the longer side).
* ``nsp`` (Devlin et al. 2019, §3.1 "Task #2"): label 0 = B follows A; 1 = B is a random
  segment of another document (of a distant position when the corpus is one document).
* ``sop`` (ALBERT, Lan et al. 2020 §3.1): label 0 = (A, B) in order; 1 = swapped (B, A).
* ``sso`` (StructBERT, Wang et al. 2019 §2.2, sentence-structural objective): 0 = B is
  next, 1 = B is previous (the pair swapped), 2 = B random from another document.
* ``sd`` (ERNIE 2.0, Sun et al. 2020 §4.2.3, sentence distance): 0 = B follows A
  (adjacent), 1 = B is a line of A's document that neither touches A nor follows it
  directly, 2 = B comes from another document. A class-1 example redraws A (up to 20
  times) until its document has such a line; a corpus without one is refused.

Labels are balanced by construction (each class drawn with equal probability). Example
``i`` of epoch ``e`` is a pure function of (seed, e, i), so resume stays exact.
"""

from __future__ import annotations

import numpy as np
import torch

from lmlab.errors import DataError

PAIR_TASKS = {"nsp": 2, "sop": 2, "sso": 3, "sd": 3}  # task -> number of classes


class PairBatches:
    def __init__(self, store, batch_size: int, seq_len: int, seed: int, task: str,
                 cls_id: int, sep_id: int, pad_id: int, marks: np.ndarray | None = None):
        if task not in PAIR_TASKS:
            raise ValueError(f"unknown pair task {task!r}")
        self.ids, self.line_ends = store.ids, np.asarray(store.line_ends)
        self.line_starts = np.concatenate([[0], self.line_ends[:-1]])
        doc_ends = np.asarray(store.doc_ends)
        # Document index of every line (lines are ordered; doc_ends are token offsets).
        self.line_doc = np.searchsorted(doc_ends, self.line_ends, side="left")
        if len(self.line_ends) < 4:
            raise DataError(f"{len(self.line_ends)} sentences are too few for sentence pairs")
        self.batch_size, self.seq_len, self.seed, self.task = batch_size, seq_len, seed, task
        self.cls_id, self.sep_id, self.pad_id = cls_id, sep_id, pad_id
        self.marks = marks  # (N,) unit marks aligned with the store's ids, or None
        budget = seq_len - 3
        average_line = max(1.0, len(self.ids) / len(self.line_ends))
        # One epoch visits about as many tokens as the corpus holds.
        self.examples_per_epoch = max(batch_size, int(len(self.ids) / budget))
        self.steps_per_epoch = self.examples_per_epoch // batch_size
        self._half_lines = max(1, int(budget / 2 / average_line))

    def _segment(self, first_line: int, max_lines: int, budget: int) -> list[int]:
        """Tokens of up to ``max_lines`` consecutive lines of one document, within ``budget``."""
        tokens: list[int] = []
        doc = self.line_doc[first_line]
        line = first_line
        while (line < len(self.line_ends) and line - first_line < max_lines
               and self.line_doc[line] == doc and len(tokens) < budget):
            tokens.extend(self.ids[self.line_starts[line]: self.line_ends[line]].tolist())
            line += 1
        return tokens[:budget]

    def _start_with_a_next_line(self, rng) -> int:
        """A line whose next line is in the same document (retry a few random draws)."""
        lines = len(self.line_ends)
        for _ in range(20):
            first = int(rng.integers(lines - 1))
            if self.line_doc[first + 1] == self.line_doc[first]:
                return first
        raise DataError("no document has two sentences; sentence-pair objectives need "
                        "documents of at least two lines")

    def _random_line_elsewhere(self, rng, line: int) -> int:
        lines = len(self.line_ends)
        for _ in range(10):
            other = int(rng.integers(lines))
            if self.line_doc[other] != self.line_doc[line]:
                return other
        # A single-document corpus: a position at least a quarter of the corpus away.
        return (line + lines // 4 + int(rng.integers(max(1, lines // 2)))) % lines

    def _far_lines(self, first: int, next_line: int) -> list[int]:
        """Lines of ``first``'s document that neither touch A (lines first..next_line-1)
        nor are the line right after it: sd's class 1."""
        doc = self.line_doc[first]
        low = int(np.searchsorted(self.line_doc, doc, side="left"))
        high = int(np.searchsorted(self.line_doc, doc, side="right"))
        return [*range(low, max(low, first - 1)), *range(next_line + 1, high)]

    def example(self, epoch: int, index: int) -> tuple[list[int], list[int], int]:
        """(A tokens, B tokens, label) of example ``index`` in ``epoch``."""
        a, b, label, _, _ = self._example(epoch, index)
        return a, b, label

    def _example(self, epoch: int, index: int):
        """(A, B, label, A's first token offset, B's): A and B are each a prefix of the
        store's tokens from that offset, so unit marks slice the same way."""
        rng = np.random.default_rng([self.seed, epoch, index])
        budget = self.seq_len - 3
        label = int(rng.integers(PAIR_TASKS[self.task]))
        far_lines: list[int] = []
        for _ in range(20 if (self.task == "sd" and label == 1) else 1):
            first = self._start_with_a_next_line(rng)
            a_lines = int(rng.integers(1, self._half_lines + 1))
            next_line = first + 1
            while (next_line < first + a_lines and next_line + 1 < len(self.line_ends)
                   and self.line_doc[next_line + 1] == self.line_doc[first]):
                next_line += 1  # B starts right after A's last line, in the same document
            if self.task == "sd" and label == 1:
                far_lines = self._far_lines(first, next_line)
                if far_lines:
                    break
        if self.task == "sd" and label == 1 and not far_lines:
            raise DataError("sentence distance (sd) needs documents of at least three lines; "
                            "20 draws found none with a line apart from A")
        a = self._segment(first, next_line - first, budget)
        random_b = ((self.task == "nsp" and label == 1) or (self.task == "sso" and label == 2)
                    or (self.task == "sd" and label == 2))
        b_start = self._random_line_elsewhere(rng, first) if random_b else next_line
        if far_lines:
            b_start = far_lines[int(rng.integers(len(far_lines)))]
        b = self._segment(b_start, self._half_lines * 2, budget)
        while len(a) + len(b) > budget:  # BERT's truncate_seq_pair: trim the longer side
            (a if len(a) > len(b) else b).pop()
        swapped = (self.task == "sop" and label == 1) or (self.task == "sso" and label == 1)
        a_at, b_at = int(self.line_starts[first]), int(self.line_starts[b_start])
        return (b, a, label, b_at, a_at) if swapped else (a, b, label, a_at, b_at)

    def batch(self, step: int) -> dict:
        epoch, index = divmod(step, self.steps_per_epoch)
        rows = [self._example(epoch, index * self.batch_size + i) for i in range(self.batch_size)]
        ids = torch.full((self.batch_size, self.seq_len), self.pad_id, dtype=torch.long)
        segments = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        marks = torch.zeros_like(ids)  # (B, T): 0 at [CLS]/[SEP]/padding
        for row, (a, b, _, a_at, b_at) in enumerate(rows):
            tokens = [self.cls_id, *a, self.sep_id, *b, self.sep_id]
            ids[row, : len(tokens)] = torch.tensor(tokens)
            segments[row, len(a) + 2: len(tokens)] = 1
            mask[row, : len(tokens)] = 1
            if self.marks is not None:
                for at, length, offset in ((a_at, len(a), 1), (b_at, len(b), len(a) + 2)):
                    marks[row, offset: offset + length] = torch.from_numpy(
                        np.asarray(self.marks[at: at + length], dtype=np.int64))
        example_ids = torch.arange(index * self.batch_size, (index + 1) * self.batch_size)
        batch = {"input_ids": ids, "segments": segments, "attention_mask": mask,
                 "pair_labels": torch.tensor([row[2] for row in rows]),
                 "example_ids": example_ids + epoch * self.examples_per_epoch, "step": step}
        if self.marks is not None:
            batch["unit_marks"] = marks
        return batch
