"""The entity links of a batch, for the objectives of an entity-fusion encoder (``dea``:
ERNIE-THU, ``entity_linking``: KnowBERT), and the held-out measure they share.

Linking (:mod:`lmlab.knowledge.entity_linking`) is a data step at batch time: it reads the
clean ``input_ids`` (so the objective that links must come before ``mlm`` in
``objectives:``) and adds ``batch["knowledge"]``, which :func:`~lmlab.objectives.base.
shared_forward` hands to the encoder. The linker is built once per process from WordNet,
the tokenizer's vocabulary and the encoder's entity vocabulary (the TransE
``entities.txt``).

A mention that contains a word MLM masks is not shown to the encoder (its alignment and
candidates are dropped, :func:`hide_mlm_words`): a WordNet synset names its lemma, so
showing it would hand MLM the answer. (A first 200-step ernie_thu/tiny run that showed
them reached a held-out masked perplexity of 268 against ~830 without: docs/knowledge.md.)

Held out, such a run is measured by masked-token perplexity, like BERT: BERT's static
masking (15%, 80/10/10, the fixed evaluation seed, :class:`MaskedLMConfig`'s defaults, the
same masks as ``bert/tiny``'s) with the entity links of the clean text, less the masked
words' mentions.
"""

from __future__ import annotations

from functools import lru_cache

import torch.nn.functional as F

from lmlab.errors import ConfigError
from lmlab.knowledge.entity_linking import EntityLinker, build_linker, hide_masked
from lmlab.knowledge.lexical_pairs import cached_wordnet
from lmlab.objectives.base import IGNORE, held_out_blocks, perplexity_summary
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective


@lru_cache(maxsize=2)
def _cached_linker(wordnet: str, vocabulary: tuple[str, ...], entities: tuple[str, ...],
                   max_candidates: int) -> EntityLinker:
    return build_linker(cached_wordnet(wordnet), list(vocabulary), list(entities),
                        max_candidates)


def check_fusion(run_config, path: str, kind: str, label: str) -> None:
    """The run's encoder fuses entities of ``kind``, and ``mlm`` (if any) comes after the
    objective at ``path`` (it links the clean text)."""
    knowledge = getattr(run_config.model.encoder, "knowledge", None)
    if knowledge is None or knowledge.kind != kind:
        raise ConfigError(f"{path}: {label} needs model.encoder.knowledge: {{kind: {kind}}} "
                          f"(a transformer with entity fusion)")
    names = [objective.name for objective in run_config.objectives]
    index = int(path.rsplit("[", 1)[1].rstrip("]")) if "[" in path else 0
    if "mlm" in names[:index]:
        raise ConfigError(f"{path}: {label} links the clean text; put it before mlm in "
                          f"objectives")


def hide_mlm_words(batch: dict) -> None:
    """Before the batch's one forward pass: drop the links of mentions that contain a word
    MLM predicts (:func:`~lmlab.knowledge.entity_linking.hide_masked`); the objective that
    links comes before ``mlm``, so its loss runs first and calls this."""
    if "encoder_output" not in batch and "mlm_labels" in batch:
        batch["knowledge"] = hide_masked(batch["knowledge"], batch["mlm_labels"] != IGNORE)


class EntityLinks:
    """Links batches for one objective; built lazily from the model's entity vocabulary."""

    def __init__(self, tokenizer, seed: int):
        self.tokenizer = tokenizer
        self.seed = seed
        self.linker: EntityLinker | None = None
        self.settings = None  # the encoder's KnowledgeConfig
        self.num_entities = 0

    def attach(self, model) -> None:
        encoder = model.encoder
        if self.linker is not None:
            return
        self.settings = encoder.knowledge_settings
        self.num_entities = len(encoder.entity_names)
        vocabulary = tuple(self.tokenizer.id_to_token(i) or ""
                           for i in range(self.tokenizer.vocab_size))
        self.linker = _cached_linker(self.settings.wordnet, vocabulary,
                                     tuple(encoder.entity_names), self.settings.max_candidates)

    def links(self, ids) -> dict:
        """The links of clean ids (B, T) (``EntityLinker.link_batch``)."""
        if self.linker is None:
            raise RuntimeError("entity links: prepare(model) was not called before corrupt()")
        return self.linker.link_batch(ids, self.settings.max_mentions,
                                      self.settings.max_candidates)

    def evaluation_batches(self, model, ids, settings):
        """Held-out ``[CLS] … [SEP]`` blocks, masked as BERT's static held-out masks, with
        the clean text's links."""
        self.attach(model)
        masking = MaskedLMObjective(MaskedLMConfig(masking="static"), self.tokenizer, self.seed)
        for batch in held_out_blocks(ids, settings, self.tokenizer):
            corrupted, labels = masking.choose(batch, static=True)
            links = hide_masked(self.links(batch["input_ids"]), labels != IGNORE)
            yield {**batch, "masked_ids": corrupted, "masked_labels": labels, "knowledge": links}

    @staticmethod
    def evaluate(model, batch: dict) -> dict:
        labels = batch["masked_labels"]
        hidden = model(batch["masked_ids"], knowledge=dict(batch["knowledge"])).hidden
        chosen = labels != IGNORE
        logits = model.lm_head(hidden[chosen])
        nll = F.cross_entropy(logits, labels[chosen], reduction="sum")
        return {"nll": nll.item(), "tokens": int(chosen.sum())}

    @staticmethod
    def summarize(totals: dict) -> dict:
        return perplexity_summary(totals, "masked")
