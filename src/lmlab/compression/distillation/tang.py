"""Tang et al. 2019 ("Distilling Task-Specific Knowledge from BERT into Simple Neural
Networks"): a one-layer BiLSTM student trained to match the teacher's logits.

Student (§3.1): word embeddings -> one bidirectional LSTM layer -> the sentence vector ->
classifier. Here it is lmlab's parts, not a new module: the teacher's word-embedding
table (token embeddings only: no positions, segments or LayerNorm; it stands in for
Tang's word2vec vectors and keeps the teacher's tokenizer, so ``evaluate``/``predict``
read the run unchanged) -> the ``bilstm`` encoder (``num_layers: 1``, no residual) -> the
sequence head with ``pooling: mean`` over the [forward ; backward] states (B, T, 2D).
Tang concatenates the last forward and the first backward state and adds a ReLU layer;
the masked mean is the head lmlab has.

Loss (§3.2, eq. 2 with α = 0, the distillation term alone, as the synthetic sentences of
:mod:`augment` have no gold label): L = ||z_t − z_s||²₂, the squared distance of the
logit vectors (B, C), batch mean; a regression head (B,) uses the squared difference.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from lmlab.compression.distillation.losses import logit_mse_loss
from lmlab.encoders.bilstm import BiLSTMConfig
from lmlab.objectives.base import LossOutput


def bilstm_student_config(model_config, cell_size: int = 0, dropout: float = 0.1):
    """The student's ModelConfig from the teacher's: its vocabulary and word-vector width E,
    token embeddings only, one BiLSTM layer of ``cell_size`` cells a direction (0 = E).
    Another size projects the word vectors to it (the factorised embedding's E -> H
    projection), as an LSTM layer here reads and writes one width."""
    width = model_config.embedding.embedding_size or model_config.embedding.hidden_size
    hidden = cell_size or width
    embedding = dataclasses.replace(model_config.embedding, position="none", num_segments=0,
                                    num_languages=0, layer_norm=False, hidden_size=hidden,
                                    embedding_size=width if hidden != width else 0)
    encoder = BiLSTMConfig(num_layers=1, cell_size=0, residual=False, dropout=dropout)
    return dataclasses.replace(model_config, family="tang_bilstm", embedding=embedding,
                               encoder=encoder, decoder=None)


def copy_word_embeddings(student: nn.Module, teacher: nn.Module) -> None:
    """The teacher's token table (V, E) into the student's (the same tokenizer)."""
    with torch.no_grad():
        student.backbone.embedding.tokens.weight.copy_(teacher.backbone.embedding.tokens.weight)


class LogitMSEObjective:
    """loss(student, batch) -> LossOutput: ||z_t − z_s||² against the frozen teacher run
    in eval mode on the same batch (both read the teacher's tokenizer)."""

    def __init__(self, teacher: nn.Module):
        self.teacher = teacher.eval()
        for parameter in self.teacher.parameters():
            parameter.requires_grad_(False)

    def __call__(self, student: nn.Module, batch: dict) -> LossOutput:
        with torch.no_grad():
            target = self.teacher(batch)  # (B, C) | (B,)
        logits = student(batch)
        if logits.dim() == 1:  # regression: one output
            loss = (logits - target).pow(2).mean()
        else:
            loss = logit_mse_loss(logits, target, None, 0.0)
        return LossOutput(loss, {"logit_mse": float(loss.detach())})
