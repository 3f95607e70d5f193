"""Sequence autoencoder (SA-LSTM): Dai & Le (2015), "Semi-supervised Sequence Learning", §2.

An LSTM reads the sequence into its state; a decoder LSTM, starting from that state and
teacher-forced, reconstructs the same sequence token by token through a softmax (the
model's LM head). Loss: the mean over the reconstructed tokens of
``-log P(x_t | x_<t, encoder state)`` (the seq2seq objective of Sutskever et al. 2014 with
the input sequence as its own target). After pre-training, the LSTM and the embedding
initialise a classifier (``lmlab finetune RUN --pooling last``).

Weight sharing. Dai & Le §2: "In our sequence autoencoders, the weights for the decoder
network and the encoder network are the same" (their Figure 1 draws one recurrent network
that reads ``W X Y Z <eos>`` and then emits ``W X Y Z <eos>``). ``share_weights: true`` (the
default) follows that: the decoder is the model's own ``lstm`` encoder, continuing from its
state. ``share_weights: false`` gives the decoder its own LSTM of the same shape, the
objective's head ``heads.autoencoder`` (Sutskever et al.'s separate decoder).

Batches are the ``[CLS] x_1 … x_L [SEP]`` blocks of the corpus (``data.batching: blocks``,
the same blocks the MLM objectives read, so :func:`held_out_blocks` serves held out). With
``[SEP]`` in the role of Figure 1's ``<eos>``:

* encoder reads ``[CLS] x_1 … x_L``;
* decoder reads ``[SEP] x_1 … x_L`` from the encoder's final (h, c) and predicts
  ``x_1 … x_L [SEP]``.

With shared weights this is one left-to-right pass over ``[CLS] x [SEP] x`` scored on its
second half; the state after ``[SEP]`` — what the classifier reads from a fine-tuning input
``[CLS] x [SEP]`` — is the state the reconstruction starts from. Held out: reconstruction
perplexity and teacher-forced token accuracy (``evaluation_kind = "reconstruction"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lmlab.encoders.lstm import build_lstm
from lmlab.errors import ConfigError
from lmlab.objectives.base import (ConfigDefaults, EvaluationSettings, LossOutput,
                                   StatelessObjective, held_out_blocks, perplexity_summary)


@dataclass
class SequenceAutoencoderConfig(ConfigDefaults):
    name: Literal["autoencoder"] = "autoencoder"
    weight: float = 1.0
    share_weights: bool = True
    """Decoder LSTM = the encoder LSTM (Dai & Le §2); false: a separate decoder LSTM."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")

    def describe(self) -> str:
        return self.name if self.share_weights else f"{self.name} (separate decoder)"

    def check_compatible(self, run_config, path: str) -> None:
        encoder = getattr(run_config.model.encoder, "name", None)
        if encoder != "lstm":
            raise ConfigError(f"{path}: autoencoder (Dai & Le's SA-LSTM) needs "
                              f"model.encoder.name: lstm, got {encoder}")
        if run_config.model.decoder is not None:
            raise ConfigError(f"{path}: autoencoder brings its own LSTM decoder; remove "
                              f"model.decoder")
        if run_config.data.batching != "blocks":
            raise ConfigError(f"{path}: autoencoder needs data.batching: blocks, got "
                              f"{run_config.data.batching}")


def teacher_forcing(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[CLS] x_1 … x_L [SEP]`` (B, T) -> encoder inputs ``[CLS] x_1 … x_L``, decoder
    inputs ``[SEP] x_1 … x_L`` and labels ``x_1 … x_L [SEP]``, each (B, T-1)."""
    encoder_ids = ids[:, :-1]  # (B, T-1)
    decoder_ids = torch.cat([ids[:, -1:], ids[:, 1:-1]], dim=1)  # (B, T-1)
    labels = ids[:, 1:]  # (B, T-1)
    return encoder_ids, decoder_ids, labels


class SequenceAutoencoderObjective(StatelessObjective):
    causal = False  # [CLS] … [SEP] blocks, no shifted labels from the batching
    evaluation_kind = "reconstruction"

    def __init__(self, config: SequenceAutoencoderConfig, tokenizer=None, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.tokenizer = tokenizer

    def heads(self, model_config, embedding) -> dict:
        if self.config.share_weights:
            return {}
        return {self.config.name: build_lstm(model_config.embedding.hidden_size,
                                             model_config.encoder)}

    def _decoder(self, model):
        return model.encoder if self.config.share_weights else model.heads[self.config.name]

    def _decode(self, model, decoder_ids: torch.Tensor, state):
        """Decoder hidden states (B, t, D) and its state after reading ``decoder_ids``."""
        x = model.embedding(decoder_ids)  # (B, t, D); the embedding is shared (Dai & Le)
        output = self._decoder(model)(x, None, memory=state)
        return output.hidden, output.memory

    def logits(self, model, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced reconstruction logits (B, T-1, V) of blocks ``ids`` (B, T) and
        their labels (B, T-1)."""
        encoder_ids, decoder_ids, labels = teacher_forcing(ids)
        state = model(encoder_ids).memory  # (h, c), each (layers, B, D)
        hidden, _ = self._decode(model, decoder_ids, state)  # (B, T-1, D)
        return model.lm_head(hidden), labels

    def loss(self, model, batch: dict) -> LossOutput:
        encoder_ids, decoder_ids, labels = teacher_forcing(batch["input_ids"])
        state = model(encoder_ids).memory
        hidden, _ = self._decode(model, decoder_ids, state)  # (B, T-1, D)
        loss = model.lm_head.loss(hidden.flatten(0, 1), labels.flatten())
        return LossOutput(loss, {"loss": loss.item(), "tokens": labels.numel()})

    @torch.no_grad()
    def reconstruct(self, model, text_ids: torch.Tensor) -> torch.Tensor:
        """Greedy reconstruction (no teacher forcing) of ``text_ids`` (B, L): the encoder
        reads ``[CLS] x``, the decoder starts from ``[SEP]`` and feeds back its own argmax;
        returns the L + 1 predicted tokens (B, L+1) (x and the end marker, if learnt)."""
        batch = text_ids.shape[0]
        cls = torch.full((batch, 1), self.tokenizer.cls_id, dtype=torch.long)
        state = model(torch.cat([cls, text_ids], dim=1)).memory
        token = torch.full((batch, 1), self.tokenizer.sep_id, dtype=torch.long)  # (B, 1)
        predicted = []
        for _ in range(text_ids.shape[1] + 1):
            hidden, state = self._decode(model, token, state)  # (B, 1, D)
            token = model.lm_head(hidden).argmax(-1)  # (B, 1)
            predicted.append(token)
        return torch.cat(predicted, dim=1)  # (B, L+1)

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        return held_out_blocks(ids, settings, self.tokenizer)

    def evaluate(self, model, batch: dict) -> dict:
        """Summed NLL, correct argmax predictions and count of the reconstructed tokens."""
        logits, labels = self.logits(model, batch["input_ids"])  # (b, T-1, V), (b, T-1)
        nll = F.cross_entropy(logits.float().transpose(1, 2), labels, reduction="sum")
        correct = (logits.argmax(-1) == labels).sum()
        return {"nll": nll.item(), "correct": int(correct), "tokens": labels.numel()}

    def summarize(self, totals: dict) -> dict:
        summary = perplexity_summary(totals, "reconstruction")
        summary["accuracy"] = totals.get("correct", 0) / max(1, totals.get("tokens", 0))
        return summary
