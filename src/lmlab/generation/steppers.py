"""Steppers: how each kind of model produces next-token logits, one step at a time.

Search (:mod:`lmlab.generation.search`) only sees this protocol, so greedy, sampling and
beam search serve every model that can generate:

* :class:`EncoderDecoderStepper` (MASS, BART, T5): the source is encoded once; the decoder
  keeps a key/value cache, so each step projects only its new token.
* :class:`CausalTransformerStepper` (GPT): prompts are left-padded into one batch, with
  position ids counted from each prompt's first real token; the encoder keeps a key/value
  cache. ``use_cache=False`` recomputes the whole prefix each step: the reference twin
  that the cached path is tested against (DESIGN §6.9).
* :class:`RecurrentStepper` (NNLM, RNNLM, LSTM, attention RNN): the carried state is the
  cache; one prompt at a time (prompts of different lengths cannot share a state batch).

``select(rows)`` keeps the batch rows ``rows`` in that order: beams reordered after a
step, finished sequences dropped so they cost nothing more.
"""

from __future__ import annotations

from typing import Protocol

import torch


class Stepper(Protocol):
    def start(self, prompts: list[list[int]]) -> torch.Tensor:
        """Read the prompts; (B, V) logits of the first new token."""

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append ``tokens`` (B,); (B, V) logits of the next token."""

    def select(self, rows: torch.Tensor) -> None:
        """Keep batch rows ``rows`` (B',), in that order."""


def _logits(model, hidden: torch.Tensor) -> torch.Tensor:
    return model.lm_head(hidden[:, -1]).float()  # (B, V)


class EncoderDecoderStepper:
    def __init__(self, model, decoder_start_id: int, pad_id: int, use_cache: bool = True):
        self.model, self.start_id, self.pad_id, self.use_cache = (model, decoder_start_id,
                                                                  pad_id, use_cache)

    def start(self, prompts: list[list[int]]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        width = max(len(prompt) for prompt in prompts)
        source = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)  # (B, S)
        for row, prompt in enumerate(prompts):
            source[row, :len(prompt)] = torch.tensor(prompt)
        self.mask = (torch.arange(width)[None] < torch.tensor([len(p) for p in prompts])[:, None])
        source, self.mask = source.to(device), self.mask.long().to(device)
        self.memory = self.model.encode(source, self.mask)  # (B, S, D)
        self.cache = self.model.decoder.new_cache() if self.use_cache else None
        self.decoded = torch.full((len(prompts), 1), self.start_id, dtype=torch.long,
                                  device=device)  # (B, t): decoder inputs so far
        return self._run(self.decoded)

    def _run(self, new: torch.Tensor) -> torch.Tensor:
        ids = new if self.use_cache else self.decoded
        return _logits(self.model, self.model.decode(ids, self.memory, self.mask,
                                                     cache=self.cache))

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        new = tokens[:, None].to(self.decoded.device)  # (B, 1)
        self.decoded = torch.cat([self.decoded, new], dim=1)
        return self._run(new)

    def select(self, rows: torch.Tensor) -> None:
        rows = rows.to(self.decoded.device)
        self.memory, self.mask = self.memory[rows], self.mask[rows]
        self.decoded = self.decoded[rows]
        if self.cache is not None:
            self.cache.select(rows)


class LeftPadded:
    """The token rows of a batch being generated, left-padded so that every prompt ends in
    the same column: ``ids`` (B, L), ``keep`` (B, L) real tokens, ``positions`` (B, L)
    counted from each row's first real token."""

    def __init__(self, prompts: list[list[int]], pad_id: int, device):
        width = max(len(prompt) for prompt in prompts)
        ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)  # (B, P)
        keep = torch.zeros(len(prompts), width, dtype=torch.bool)  # (B, P)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt):] = torch.tensor(prompt)
            keep[row, width - len(prompt):] = True
        self.prompt_width = width
        self.ids, self.keep = ids.to(device), keep.to(device)
        self.positions = (self.keep.long().cumsum(1) - 1).clamp(min=0)  # (B, P)

    def append(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add ``tokens`` (B,); their (B, 1) ids and positions."""
        new = tokens[:, None].to(self.ids.device)  # (B, 1)
        position = self.positions[:, -1:] + 1  # (B, 1)
        self.ids = torch.cat([self.ids, new], dim=1)
        self.keep = torch.cat([self.keep, torch.ones_like(new, dtype=torch.bool)], dim=1)
        self.positions = torch.cat([self.positions, position], dim=1)
        return new, position

    def select(self, rows: torch.Tensor) -> None:
        rows = rows.to(self.ids.device)
        self.ids, self.keep, self.positions = self.ids[rows], self.keep[rows], self.positions[rows]


class CausalTransformerStepper:
    def __init__(self, model, pad_id: int, use_cache: bool = True):
        self.model, self.pad_id, self.use_cache = model, pad_id, use_cache

    def start(self, prompts: list[list[int]]) -> torch.Tensor:
        self.rows = LeftPadded(prompts, self.pad_id, next(self.model.parameters()).device)
        self.cache = self.model.encoder.new_cache() if self.use_cache else None
        return self._run(self.rows.ids, self.rows.positions)

    def _mask(self, query_length: int) -> torch.Tensor:
        """(B, Tq, Tk) keep-mask: the real keys; a padding query sees itself, so no row of
        the attention is empty (an empty row would be NaN and spread through the values).
        The encoder adds the causal triangle."""
        keep = self.rows.keep
        keys = keep.shape[1]
        own = torch.eye(keys, dtype=torch.bool, device=keep.device)[keys - query_length:]
        return keep[:, None, :] | own[None]  # (B, Tq, Tk)

    def _run(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if not self.use_cache:
            ids, positions = self.rows.ids, self.rows.positions
        output = self.model(ids, self._mask(ids.shape[1]), positions=positions, cache=self.cache)
        return _logits(self.model, output.hidden)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._run(*self.rows.append(tokens))

    def select(self, rows: torch.Tensor) -> None:
        self.rows.select(rows)
        if self.cache is not None:
            self.cache.select(rows.to(self.rows.ids.device))


def select_memory(memory, batch_dims, rows: torch.Tensor):
    """The rows ``rows`` of a recurrent state laid out as ``batch_dims`` says (an int for a
    tensor, a tuple for a tuple of tensors: the encoder's ``memory_batch_dims``)."""
    if isinstance(batch_dims, int):
        return memory.index_select(batch_dims, rows)
    return tuple(part.index_select(dim, rows) for part, dim in zip(memory, batch_dims))


class RecurrentStepper:
    """Prompts of one length (one prompt, or its K copies for beam search)."""

    def __init__(self, model):
        self.model = model

    def start(self, prompts: list[list[int]]) -> torch.Tensor:
        if len({len(prompt) for prompt in prompts}) != 1:
            raise ValueError("RecurrentStepper: prompts of different lengths cannot share "
                             "a state batch; generate them one at a time")
        device = next(self.model.parameters()).device
        output = self.model(torch.tensor(prompts, device=device))  # (B, P) -> (B, P, D)
        self.memory = output.memory
        return _logits(self.model, output.hidden)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        output = self.model(tokens[:, None], memory=self.memory)  # (B, 1) -> (B, 1, D)
        self.memory = output.memory
        return _logits(self.model, output.hidden)

    def select(self, rows: torch.Tensor) -> None:
        self.memory = select_memory(self.memory, self.model.encoder.memory_batch_dims, rows)
