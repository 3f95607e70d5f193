"""The distillation objective: a loss over a batch that runs the (frozen) teacher beside
the student and compares what each method compares (issue 20: "a distillation loss is an
objective that receives a teacher").

``kd``       Hinton et al. 2015: soft targets at temperature T (``soft: kl``), or Tang et
             al. 2019's squared logit distance (``soft: mse``), plus the hard label;
             ``cosine > 0`` adds DistilBERT's L_cos between the last hidden states (its
             triple loss without the MLM term: the fine-tuned teacher has no MLM head).
``pkd``      BERT-PKD (Sun et al. 2019 eq. 4): (1 − α)·CE + α·L_DS + β·L_PT, L_PT over the
             [CLS] states of the student's layers 1..M−1 and their mapped teacher layers.
stage ``general`` (on unlabeled text, :mod:`lmlab.finetune.general_distill`): the loss set
             is the method's. ``kd``: DistilBERT's L_cos on the last hidden states +
             Σ_m MSE(h_m^S, h_g(m)^T) over the layer map (TinyBERT eq. 8). ``tinybert``:
             TinyBERT's general distillation (Jiao et al. 2020 §3.3), the Transformer
             distillation of eq. 11 without L_pred: L_embd (eq. 9) + Σ_m L_attn (eq. 7) +
             L_hidn (eq. 8) over the mapping n = g(m).
``tinybert`` TinyBERT (Jiao et al. 2020 eq. 11), task-specific: stage ``intermediate``
             (L_embd + Σ_m (L_attn + L_hidn) over the layer map), then stage
             ``prediction`` (L_pred, soft cross-entropy at temperature t).

Regression heads (one output, STS-B) use squared errors for the soft terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.compression.distillation import losses
from lmlab.layers.attention import split_heads
from lmlab.objectives.base import LossOutput


@dataclass
class States:
    """One model's forward pass with what the losses read."""
    logits: torch.Tensor  # (B, C) or (B,) regression
    layers: list  # [embedding output, layer 1, .., layer L], each (B, T, D)
    scores: list  # per layer (B, H, T, T) QKᵀ/√d, or [] when not asked


def _scores(attention: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A self-attention module's unnormalised scores QKᵀ/√d (B, H, T, T) for its input x
    (B, T, D), from its own fused projection (``qkv``)."""
    q, k, _ = (split_heads(t, attention.num_heads)
               for t in attention.qkv(x).chunk(3, dim=-1))
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


def run(model: nn.Module, batch: dict, scores: bool = False) -> States:
    """``model`` (a FineTuneModel over a transformer) on ``batch``, keeping the embedding
    output, every layer's output and (``scores``) every layer's attention scores."""
    captured, handles = [], []
    backbone = model.backbone
    handles.append(backbone.embedding.register_forward_hook(
        lambda module, args, output: captured.append(output)))
    attention_scores: list = []
    if scores:
        for layer in backbone.encoder.layers:
            handles.append(layer.attention.register_forward_pre_hook(
                lambda module, args: attention_scores.append(_scores(module, args[0]))))
    try:
        out = backbone(batch["input_ids"], batch["attention_mask"], batch["segments"],
                       return_layers=True)
    finally:
        for handle in handles:
            handle.remove()
    logits = model.head(out.hidden, batch)
    return States(logits, [captured[0], *out.layer_states], attention_scores)


def tinybert_projections(student_width: int, teacher_width: int) -> nn.ModuleDict | None:
    """TinyBERT's learnable W_e (eq. 9) and W_h (eq. 8), each d'×d (student width d' to
    teacher width d; no bias, as the paper writes H^S W_h), or None when the widths are
    equal (the states are then compared as they are). They train with the student."""
    if student_width == teacher_width:
        return None
    return nn.ModuleDict({name: nn.Linear(student_width, teacher_width, bias=False)
                          for name in ("embedding", "hidden")})


@dataclass
class DistillationSettings:
    method: str = "kd"  # kd | pkd | tinybert
    temperature: float = 1.0
    alpha: float = 0.5
    beta: float = 0.0  # pkd: weight of L_PT
    soft: str = "kl"  # kd: kl (Hinton) | mse (Tang et al.)
    stage: str = "prediction"  # tinybert: intermediate | prediction; kd: general (unlabeled)
    cosine: float = 0.0  # kd: weight of DistilBERT's cosine loss (Sanh et al. 2019 §2)


class DistillationObjective:
    """loss(student, batch) -> LossOutput, with the teacher run under no_grad in eval mode.
    ``layer_map``: the teacher layer (1..N) matched by each student layer 1..M.
    ``projections``: TinyBERT's W_e and W_h (student width -> teacher width) when the widths
    differ, else None; they train with the student (attach them to it)."""

    def __init__(self, teacher: nn.Module, settings: DistillationSettings, layer_map: list[int],
                 projections: nn.ModuleDict | None = None, more_teachers: tuple = ()):
        """``more_teachers``: further fine-tuned models of the same task whose soft targets
        are averaged with the teacher's (``kd`` only; MT-DNN-KD, Liu et al. 2019 §3)."""
        self.teacher = teacher.eval()
        self.more_teachers = [model.eval() for model in more_teachers]
        for model in (self.teacher, *self.more_teachers):
            for parameter in model.parameters():
                parameter.requires_grad_(False)
        self.settings, self.layer_map, self.projections = settings, layer_map, projections

    def _ensemble(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        """The teachers' averaged target as logits: MT-DNN-KD's soft target is the mean of
        the teachers' softmax(z_k / T); returned as T·log(mean), whose softmax at T is that
        mean. Regression heads and ``soft: mse`` average the logits themselves."""
        if not self.more_teachers:
            return logits
        every = [logits] + [run(model, batch).logits for model in self.more_teachers]
        if logits.dim() == 1 or self.settings.soft == "mse":
            return torch.stack(every).mean(0)
        temperature = self.settings.temperature
        probabilities = torch.stack([torch.softmax(z / temperature, dim=-1) for z in every])
        return temperature * probabilities.mean(0).log()

    def _project(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return x if self.projections is None else self.projections[name](x)

    def _transformer_terms(self, mine: States, teacher: States, keep: torch.Tensor) -> dict:
        """TinyBERT's Transformer distillation (Jiao et al. 2020 eq. 11 without L_pred):
        L_embd = MSE(E^S W_e, E^T) (eq. 9), and for each student layer m and its teacher
        layer n = g(m) (``layer_map``) L_attn (eq. 7, unnormalised scores) + L_hidn =
        MSE(H_m^S W_h, H_n^T) (eq. 8). Padding positions are left out of every mean."""
        hidden = attention = mine.logits.new_zeros(())
        for m, n in enumerate(self.layer_map, start=1):
            hidden = hidden + losses.masked_mse(self._project("hidden", mine.layers[m]),
                                                teacher.layers[n], keep)
            attention = attention + losses.attention_mse(mine.scores[m - 1],
                                                         teacher.scores[n - 1], keep)
        return {"embedding": losses.masked_mse(self._project("embedding", mine.layers[0]),
                                               teacher.layers[0], keep),
                "hidden": hidden, "attention": attention}

    def __call__(self, student: nn.Module, batch: dict) -> LossOutput:
        settings = self.settings
        transformer = settings.method == "tinybert" and settings.stage in ("intermediate",
                                                                           "general")
        with torch.no_grad():
            teacher = run(self.teacher, batch, transformer)
            teacher.logits = self._ensemble(teacher.logits, batch)
        mine = run(student, batch, transformer)
        labels = batch.get("labels")
        regression = mine.logits.dim() == 1
        terms = {}
        if transformer:  # tinybert general (§3.3) or task intermediate stage: eq. 11 - L_pred
            terms.update(self._transformer_terms(mine, teacher, batch["attention_mask"].bool()))
        elif settings.stage == "general":  # task-agnostic (DistilBERT without its MLM terms)
            keep = batch["attention_mask"].bool()
            terms["cosine"] = losses.cosine_loss(mine.layers[-1], teacher.layers[-1], keep)
            terms["hidden"] = sum(losses.masked_mse(mine.layers[m], teacher.layers[n], keep)
                                  for m, n in enumerate(self.layer_map, start=1))
        elif settings.method == "kd":
            if regression:
                terms["soft"] = settings.alpha * F.mse_loss(mine.logits, teacher.logits)
                terms["hard"] = (1 - settings.alpha) * F.mse_loss(mine.logits, labels.to(mine.logits.dtype))
            elif settings.soft == "mse":
                terms["kd"] = losses.logit_mse_loss(mine.logits, teacher.logits, labels,
                                                    1 - settings.alpha)
            else:
                terms["kd"] = losses.kd_loss(mine.logits, teacher.logits, labels,
                                             settings.temperature, settings.alpha)
            if settings.cosine:  # DistilBERT's L_cos on the last hidden states
                terms["cosine"] = settings.cosine * losses.cosine_loss(
                    mine.layers[-1], teacher.layers[-1], batch["attention_mask"].bool())
        elif settings.method == "pkd":
            terms["hard"] = (1 - settings.alpha) * (
                F.mse_loss(mine.logits, labels.to(mine.logits.dtype)) if regression
                else F.cross_entropy(mine.logits, labels))
            terms["soft"] = settings.alpha * (
                F.mse_loss(mine.logits, teacher.logits) if regression
                else losses.soft_cross_entropy(mine.logits, teacher.logits, settings.temperature))
            middle = range(1, len(self.layer_map))  # student layers 1..M-1 (none for M = 1)
            if middle:
                terms["patient"] = settings.beta * losses.patient_loss(
                    [mine.layers[m][:, 0] for m in middle],
                    [teacher.layers[self.layer_map[m - 1]][:, 0] for m in middle])
        else:  # tinybert prediction-layer distillation (eq. 10)
            terms["prediction"] = (F.mse_loss(mine.logits, teacher.logits) if regression else
                                   losses.soft_cross_entropy(mine.logits, teacher.logits,
                                                             settings.temperature))
        total = sum(terms.values())
        return LossOutput(total, {name: float(value.detach()) for name, value in terms.items()})
