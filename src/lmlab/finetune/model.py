"""The fine-tuning composition: ``embedding -> encoder -> task head`` (DESIGN §1).

The pre-trained :class:`~lmlab.composition.LanguageModel` keeps its embedding and encoder
(its LM head is dropped); the head is chosen by the task kind from :data:`HEADS`. A
generation task keeps the whole model, decoder and LM head included: its head is the
pre-trained LM head (:class:`~lmlab.heads.generation.GenerationHead`).
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.heads.generation import GenerationHead
from lmlab.heads.multiple_choice import MultipleChoiceHead
from lmlab.heads.sequence_classification import SequenceClassificationHead, SequenceHeadConfig
from lmlab.heads.span_qa import SpanQAHead
from lmlab.heads.token_classification import TokenClassificationHead, TokenHeadConfig


def _sequence(hidden, num_labels, options):
    return SequenceClassificationHead(hidden, num_labels,
                                      SequenceHeadConfig(options.pooling, options.dropout))


# task kind -> builder(hidden_size, num_labels, options); read here only (DESIGN §6.2).
HEADS = {
    "classification": _sequence,
    "regression": lambda hidden, _, options: _sequence(hidden, 1, options),
    "tagging": lambda hidden, n, options: TokenClassificationHead(
        hidden, n, TokenHeadConfig(options.crf, options.dropout)),
    "span_qa": lambda hidden, _, options: SpanQAHead(hidden),
    "multiple_choice": lambda hidden, _, options: MultipleChoiceHead(
        hidden, SequenceHeadConfig(options.pooling, options.dropout)),
}


class FineTuneModel(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        if not isinstance(head, GenerationHead):
            backbone.lm_head = None  # not used, not saved
        if hasattr(backbone, "heads"):  # pre-training heads (NSP/SOP classifiers) likewise
            backbone.heads = nn.ModuleDict()
        self.backbone = backbone
        self.head = head

    def forward(self, batch: dict) -> torch.Tensor:
        if "decoder_ids" in batch:  # encoder–decoder, teacher-forced: decoder states
            memory = self.backbone.encode(batch["input_ids"], batch["attention_mask"])
            hidden = self.backbone.decode(batch["decoder_ids"], memory, batch["attention_mask"])
        else:
            # K-BERT batches carry a (B, T, T) visible matrix and soft positions
            hidden = self.backbone(batch["input_ids"],
                                   batch.get("visible", batch["attention_mask"]),
                                   batch["segments"], positions=batch.get("positions")).hidden
        # (B, C) | (B,) | (B, W, K) | (B, T, 2) | (B, K) | (B, T, D) (generation)
        return self.head(hidden, batch)


def build_finetune_model(backbone, kind: str, num_labels: int, options,
                         pooler: dict | None = None, seed: int = 0) -> FineTuneModel:
    if kind == "generation":
        return FineTuneModel(backbone, GenerationHead(backbone.lm_head))
    # What the head reads: the encoder's output width (a biLSTM's [forward ; backward]).
    hidden = getattr(backbone.encoder, "output_size", backbone.embedding.config.hidden_size)
    torch.manual_seed(seed)
    head = HEADS[kind](hidden, num_labels, options)
    for module in head.modules():  # BERT's initialiser: normal(0, 0.02), zero bias
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.02)
            nn.init.zeros_(module.bias)
    cls = getattr(options, "pooling", "cls") == "cls"  # ``last`` (XLNet) starts fresh
    if pooler is not None and cls and getattr(head, "pooler", None) is not None:
        with torch.no_grad():  # start from the checkpoint's pre-trained [CLS] pooler
            head.pooler.weight.copy_(pooler["weight"])
            head.pooler.bias.copy_(pooler["bias"])
    return FineTuneModel(backbone, head)
