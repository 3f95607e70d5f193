"""The fine-tuning composition: ``embedding -> encoder -> task head`` (DESIGN §1).

The pre-trained :class:`~lmlab.composition.LanguageModel` keeps its embedding and encoder
(its LM head is dropped); the head is chosen by the task kind from :data:`HEADS`. A
generation task keeps the whole model, decoder and LM head included: its head is the
pre-trained LM head (:class:`~lmlab.heads.generation.GenerationHead`).
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.errors import ConfigError
from lmlab.heads.generation import GenerationHead
from lmlab.heads.multiple_choice import MultipleChoiceHead
from lmlab.heads.sequence_classification import SequenceClassificationHead, SequenceHeadConfig
from lmlab.heads.span_qa import SpanQAHead
from lmlab.heads.token_classification import TokenClassificationHead, TokenHeadConfig


def _sequence(hidden, num_labels, options):
    return SequenceClassificationHead(hidden, num_labels,
                                      SequenceHeadConfig(options.pooling, options.dropout,
                                                         options.label_smoothing))


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


TASK_LANGUAGE_IDS = {"en": 0, "zh": 1}
"""The language ids the cross-lingual presets give their corpora (xlm/tiny, unicoder/tiny:
0 English, 1 Chinese): a task in language L is read with L's language embedding."""


def task_language(backbone: nn.Module, language: str) -> int | None:
    """The language id a fine-tuning task in ``language`` (``TaskSpec.language``) gives
    every token of an XLM-style backbone (Lample & Conneau 2019 §3.1: the language
    embedding is part of the input at fine-tuning time too), or None for a backbone
    without language embeddings (mBERT, XLM-R, BERT)."""
    count = getattr(getattr(getattr(backbone, "embedding", None), "config", None),
                    "num_languages", 0)
    if not count:
        return None
    language_id = TASK_LANGUAGE_IDS.get(language)
    if language_id is None or language_id >= count:
        raise ConfigError(f"task language {language!r}: no language id for it among the "
                          f"backbone's model.embedding.num_languages={count} "
                          f"(ids: {TASK_LANGUAGE_IDS})")
    return language_id


class FineTuneModel(nn.Module):
    language: int | None = None
    """The language id every token is read with (:func:`task_language`), set by whoever
    feeds the model a task; None: no language ids."""

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
            languages = ({} if self.language is None  # XLM: the task's language id
                         else {"languages": torch.full_like(batch["input_ids"], self.language)})
            if "languages" in batch:  # multi-language fine-tuning: a language a row (B,)
                languages = {"languages": batch["languages"][:, None].expand_as(
                    batch["input_ids"])}  # (B, T)
            hidden = self.backbone(batch["input_ids"],
                                   batch.get("visible", batch["attention_mask"]),
                                   batch["segments"], positions=batch.get("positions"),
                                   **languages).hidden
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
