"""The task-agnostic stages of ``lmlab compress --method kd`` (issue 20), run on unlabeled
text before the task distillation:

- ``pretrain_epochs`` — PD, pre-trained distillation (Turc, Chang, Lee & Toutanova 2019,
  "Well-Read Students Learn Better", §3, Algorithm 1): the compact student is first
  pre-trained with masked LM (BERT's cloze, :class:`lmlab.objectives.mlm.
  MaskedLMObjective`: 15% of the tokens, 80/10/10) on unlabeled text through the
  backbone's own LM head, then distilled on the task (step 2 of Algorithm 1; Turc et al.
  skip the task fine-tuning step 3 as optional).
- ``general_epochs`` — DistilBERT's task-agnostic distillation (Sanh et al. 2019 §2-3): the
  student (every other teacher layer) learns on unlabeled text to match the teacher. Its
  triple loss is L_ce (soft MLM targets) + L_mlm + L_cos; the fine-tuned MiniLM teacher has
  no MLM head (a sentence-embedding model), so here L = L_cos (the cosine of the last
  hidden states, Sanh eq. L_cos) + Σ_m MSE(h_m^S, h_g(m)^T) over the layer map (TinyBERT's
  hidden loss, Jiao et al. 2020 eq. 8), without the two MLM terms. With ``--method
  tinybert`` the same stage is TinyBERT's general distillation (Jiao et al. 2020 §3.3):
  its Transformer-layer losses L_embd + Σ_m (L_attn + L_hidn) over n = g(m) = m·N/M
  (eqs. 7-9, 11); the objective picks the loss set by the method.

The teacher of the task-agnostic stage (``general_teacher``): ``finetuned`` (the run being
compressed) or ``base`` — the pre-trained model the run was fine-tuned from, as TinyBERT's
general distillation uses "the original BERT without fine-tuning as the teacher" (Jiao et
al. 2020 §3.3) and DistilBERT its pre-trained BERT (:func:`base_teacher`).

The unlabeled text (``general_text``): ``wikitext-2`` (the WikiText-2 train paragraphs,
headings dropped), ``task`` (the task's own training sentences, labels not read) or
``both``; ``general_examples`` of them (a fixed subset), each cut at the run's max_seq_len.
"""

from __future__ import annotations

import copy
import dataclasses

from lmlab.data.catalogue import data_dir
from lmlab.errors import ConfigError, DataError
from lmlab.finetune import task_data
from lmlab.finetune.run_folder import load_base
from lmlab.heads.lm_head import LMHead
from lmlab.objectives.base import LossOutput
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective
from lmlab.tasks.examples import TextExample

TEXTS = ("wikitext-2", "task", "both")
TEACHERS = ("finetuned", "base")


def base_teacher(teacher, base: str, run: str):
    """A copy of the fine-tuned ``teacher`` whose backbone is the pre-trained model ``base``
    it was fine-tuned from (embedding and encoder as pre-trained; the task head, unread by
    the general losses, kept). A one-line ConfigError when ``base`` holds no pre-trained
    weights or its vocabulary differs from the run's."""
    if base in ("", "random"):
        raise ConfigError(f"--set general_teacher=base: {run} was fine-tuned from random "
                          f"weights, so there is no pre-trained teacher; use finetuned")
    backbone = load_base(base)[2]
    words, expected = (backbone.embedding.tokens.num_embeddings,
                       teacher.backbone.embedding.tokens.num_embeddings)
    if words != expected:
        raise ConfigError(f"--set general_teacher=base: {base} has {words} word embeddings, "
                          f"the run {run} {expected}; they must share the vocabulary")
    model = copy.deepcopy(teacher)
    model.backbone = backbone.to(next(teacher.parameters()).device)
    return model.eval()


def wikitext_paragraphs(folder=None) -> list[str]:
    """WikiText-2 train paragraphs (no blank lines, no `` = heading = `` lines)."""
    path = (folder or data_dir()) / "wikitext-2" / "train.txt"
    if not path.exists():
        raise DataError(f"{path}: WikiText-2 train text not found (general_text: wikitext-2 "
                        f"reads it; see the data catalogue)")
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("=")]


def unlabeled_features(spec, tokenizer, config, text: str, examples: int, seed: int) -> list:
    """Model inputs of the unlabeled text ``text`` (see the module docstring), each given the
    first label (never read: the general stages' losses ignore labels)."""
    label = 0.0 if spec.kind == "regression" else config.labels[0]
    unlabeled = []
    if text in ("wikitext-2", "both"):
        unlabeled += [TextExample(line, None, label, "wikitext-2") for line in
                      wikitext_paragraphs()]
    if text in ("task", "both"):
        unlabeled += [dataclasses.replace(e, label=label)
                      for e in spec.read(config.options.train_split)]
    chosen = task_data.subset(unlabeled, examples, seed)
    return task_data.encode(spec, tokenizer, chosen, config)


class MaskedLMStage:
    """loss(model, batch): BERT's MLM on the batch's tokens through ``model.backbone`` and
    its LM head (:meth:`attach_head` first); a fresh dynamic masking at each call (seeded
    by the call count)."""

    def __init__(self, tokenizer, seed: int = 0):
        self.mlm = MaskedLMObjective(MaskedLMConfig(), tokenizer, seed)
        self.calls = 0

    def attach_head(self, model, model_config) -> None:
        """Give ``model.backbone`` an MLM head (BERT's transform + decoder tied to the word
        embeddings, a fresh bias) when it has none (a fine-tuned run keeps no LM head);
        :meth:`detach_head` removes it after the stage."""
        backbone = model.backbone
        self.attached = backbone.lm_head is None
        if self.attached:
            embedding = model_config.embedding
            backbone.lm_head = LMHead(embedding.hidden_size,
                                      backbone.embedding.tokens.num_embeddings,
                                      model_config.lm_head, backbone.embedding.tokens,
                                      output_size=embedding.embedding_size or None)
            backbone.lm_head.to(next(backbone.parameters()).device)

    def detach_head(self, model) -> None:
        if getattr(self, "attached", False):
            model.backbone.lm_head = None

    def __call__(self, model, batch: dict) -> LossOutput:
        corrupted = self.mlm.corrupt({key: value for key, value in batch.items()
                                      if key != "labels"} | {"step": self.calls})
        self.calls += 1
        out = self.mlm.loss(model.backbone, corrupted)
        return LossOutput(out.loss, {"mlm": out.metrics["loss"]})

    def state_dict(self) -> dict:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict) -> None:
        self.calls = int(state["calls"])
