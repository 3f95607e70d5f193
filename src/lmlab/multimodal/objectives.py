"""Vision–language pre-training objectives; each owns its corruption (DESIGN §1, §5) and
follows :class:`lmlab.objectives.base.Objective` (``heads``, ``prepare``, ``corrupt``,
``loss``). They run on their own corrupted copy of a batch (UNITER's conditional masking:
one modality corrupted at a time, Chen et al. 2020 §3.2), and the job sums their weighted
losses.

A batch holds ``input_ids`` / ``attention_mask`` (B, T), ``features`` (B, N, F) fixed
cell features, ``image_ids`` (B,) the picture each row shows, ``caption_ids`` (B,) the
identity of the row's text (equal texts, equal ids), ``example_ids`` (B,) and ``step``.
Every random choice comes from :func:`~lmlab.objectives.base.row_generator` seeded by
(objective seed, step, example id, stream), so resuming re-creates the same corruption.

* ``mlm_image`` — masked language modelling conditioned on the image (ViLBERT §3.2, UNITER
  MLM eq. 1): BERT's 80/10/10 token masking, the visual tokens left intact.
* ``mrm`` — masked region modelling (UNITER §3.2 MRM; ViLBERT §3.2): ``mask_rate`` of the
  regions have their features zeroed; ``target: regression`` regresses the original
  features (MRFR, L2), ``target: classification`` predicts each masked region's k-means
  code (:mod:`lmlab.multimodal.quantize`; VideoBERT's visual words) instead of the
  detector's object class (MRC).
  ``target: nce`` is CBT's contrastive loss over the features instead (:func:`nce_loss`).
* ``wra`` — word–region alignment by optimal transport (UNITER §3.2 WRA), in
  :mod:`lmlab.multimodal.alignment`.
* ``itm`` — image–text matching (UNITER ITM eq. 4; ViLBERT's alignment prediction): with
  probability ``negative_rate`` a row's picture is swapped for another row's whose image and
  caption differ, and a binary head on the pooled output says whether they match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.data.batching import IGNORE
from lmlab.errors import ConfigError
from lmlab.heads.lm_head import LMHead, LMHeadConfig
from lmlab.multimodal.alignment import (WordRegionAlignmentConfig,
                                        WordRegionAlignmentObjective)
from lmlab.multimodal.quantize import assign, kmeans, squared_distances
from lmlab.multimodal.sampling import check_rate as _check_rate
from lmlab.multimodal.sampling import draw_negatives
from lmlab.multimodal.sampling import forward_batch as _forward
from lmlab.multimodal.sampling import needs_visual_outputs
from lmlab.multimodal.sampling import row_generators as _generators
from lmlab.objectives.base import ConfigDefaults, LossOutput, StatelessObjective
from lmlab.objectives.mlm import MaskedLMConfig, mask_tokens

MLM_STREAM, MRM_STREAM, ITM_STREAM = 0, 1, 2


@dataclass
class ImageMLMConfig(ConfigDefaults):
    name: Literal["mlm_image"] = "mlm_image"
    weight: float = 1.0
    mask_rate: float = 0.15
    replace_with_mask: float = 0.8
    replace_with_random: float = 0.1

    def validate(self, path: str) -> None:
        _check_rate(self.mask_rate, path, "mask_rate")

    def check_compatible(self, run_config, path: str) -> None:
        return None


class ImageMLMObjective(StatelessObjective):
    evaluation_kind = "masked"

    def __init__(self, config: ImageMLMConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.mask_id, self.num_special = tokenizer.mask_id, tokenizer.num_special
        self.vocab_size = tokenizer.vocab_size
        self.masking = MaskedLMConfig(mask_rate=config.mask_rate,
                                      replace_with_mask=config.replace_with_mask,
                                      replace_with_random=config.replace_with_random)

    def heads(self, model_config, embedding: nn.Embedding) -> dict[str, nn.Module]:
        head_config = LMHeadConfig(tie_weights=True, transform=True, bias=True)
        return {self.config.name: LMHead(model_config.hidden_size, model_config.vocab_size,
                                         head_config, embedding)}

    def corrupt(self, batch: dict) -> dict:
        ids = batch["input_ids"]
        maskable = (ids >= self.num_special) & batch["attention_mask"].bool()
        corrupted, labels = mask_tokens(ids, maskable, _generators(batch, self.seed, MLM_STREAM),
                                        self.masking, self.mask_id, self.num_special,
                                        self.vocab_size)
        return {**batch, "input_ids": corrupted, "mlm_labels": labels}

    def loss(self, model, batch: dict) -> LossOutput:
        labels = batch["mlm_labels"]
        chosen = labels != IGNORE  # (B, T)
        hidden = _forward(model, batch).text[chosen]  # (n, D)
        loss = model.heads[self.config.name].loss(hidden, labels[chosen])
        return LossOutput(loss, {"mlm_image_loss": loss.item()})

    def evaluate(self, model, batch: dict) -> dict:
        labels = batch["mlm_labels"]
        chosen = labels != IGNORE
        logits = model.heads[self.config.name](_forward(model, batch).text[chosen])
        return {"nll": F.cross_entropy(logits, labels[chosen], reduction="sum").item(),
                "correct": int((logits.argmax(-1) == labels[chosen]).sum()),
                "tokens": int(chosen.sum())}


@dataclass
class MaskedRegionConfig(ConfigDefaults):
    name: Literal["mrm"] = "mrm"
    weight: float = 1.0
    mask_rate: float = 0.15
    target: Literal["regression", "classification", "kl", "nce"] = "regression"
    """``kl``: UNITER's MRC-kl with the soft assignment over the k-means codes as the target
    distribution; ``nce``: CBT's contrastive loss over the masked regions' features."""
    temperature: float = 1.0
    """nce: logits are (prediction · feature) / temperature; kl: the soft targets are
    softmax(-||v - c_k||² / temperature)."""
    num_codes: int = 64
    """classification: the k-means codebook size (visual words)."""
    kmeans_iterations: int = 20
    kmeans_sample: int = 20000
    """classification: fit the codebook on at most this many training features (a seeded
    sample; VideoBERT clusters a sample of its clips too); every region is then assigned."""

    def validate(self, path: str) -> None:
        _check_rate(self.mask_rate, path, "mask_rate")
        if self.target not in ("regression", "classification", "kl", "nce"):
            raise ConfigError(f"{path}.target: one of regression, classification, kl, nce, got "
                              f"{self.target!r}")
        if self.temperature <= 0:
            raise ConfigError(f"{path}.temperature: must be > 0, got {self.temperature}")
        if self.num_codes < 2:
            raise ConfigError(f"{path}.num_codes: must be >= 2, got {self.num_codes}")

    def check_compatible(self, run_config, path: str) -> None:
        needs_visual_outputs(run_config, path, "masked region modelling")

    def describe(self) -> str:
        names = {"regression": "MRFR", "classification": "MRC-VQ", "kl": "MRC-kl-VQ",
                 "nce": "NCE"}
        return f"mrm ({names[self.target]})"


class RegionHead(nn.Module):
    """hidden (n, D) -> predicted features (n, F) or code logits (n, K); the codebook (K, F)
    rides in the checkpoint as a buffer."""

    def __init__(self, hidden_size: int, outputs: int, codebook_shape: tuple[int, int] | None):
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.GELU(),
                                       nn.LayerNorm(hidden_size))
        self.out = nn.Linear(hidden_size, outputs)
        self.register_buffer("codebook", torch.zeros(codebook_shape or (0, 0)))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.out(self.transform(hidden))


class MaskedRegionObjective(StatelessObjective):
    def __init__(self, config: MaskedRegionConfig, tokenizer=None, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.codebook: torch.Tensor | None = None

    def heads(self, model_config, embedding) -> dict[str, nn.Module]:
        features = model_config.visual.feature_size
        classify = self.config.target in ("classification", "kl")
        outputs = self.config.num_codes if classify else features
        shape = (self.config.num_codes, features) if classify else None
        return {self.config.name: RegionHead(model_config.hidden_size, outputs, shape)}

    def prepare(self, model, train_features: torch.Tensor) -> None:
        """classification: k-means over the training cell features (n, F) -> the codebook."""
        if self.config.target not in ("classification", "kl"):
            return
        if train_features.shape[0] > self.config.kmeans_sample:
            generator = torch.Generator().manual_seed(self.seed)
            rows = torch.randperm(train_features.shape[0], generator=generator)
            train_features = train_features[rows[:self.config.kmeans_sample]]
        self.codebook = kmeans(train_features, self.config.num_codes,
                               self.config.kmeans_iterations, self.seed)
        model.heads[self.config.name].codebook.copy_(self.codebook)

    def choose(self, batch: dict) -> torch.Tensor:
        """(B, N) bool: round(mask_rate · N) regions per row (at least one)."""
        batch_size, regions = batch["features"].shape[:2]
        count = max(1, round(self.config.mask_rate * regions))
        chosen = torch.zeros(batch_size, regions, dtype=torch.bool)
        for row, generator in enumerate(_generators(batch, self.seed, MRM_STREAM)):
            chosen[row, torch.randperm(regions, generator=generator)[:count]] = True
        return chosen

    def corrupt(self, batch: dict) -> dict:
        features = batch["features"]
        chosen = self.choose(batch)
        corrupted = features.masked_fill(chosen[..., None], 0.0)  # UNITER: zeroed features
        targets = features.clone()
        if self.config.target in ("classification", "kl"):
            if self.codebook is None:
                raise ConfigError(f"objectives.{self.config.name}: region classification "
                                  f"needs its k-means codebook; call prepare() first")
            targets = (assign(features, self.codebook) if self.config.target == "classification"
                       else soft_codes(features, self.codebook, self.config.temperature))
        return {**batch, "features": corrupted, "mrm_mask": chosen, "mrm_targets": targets}

    def loss(self, model, batch: dict) -> LossOutput:
        chosen = batch["mrm_mask"]
        hidden = _forward(model, batch).visual[:, 1:][chosen]  # (n, D); row 0 is [IMG]
        predicted = model.heads[self.config.name](hidden)
        targets = batch["mrm_targets"][chosen]
        if self.config.target == "regression":
            loss = F.mse_loss(predicted, targets)
        elif self.config.target == "nce":
            loss = nce_loss(predicted, targets, self.config.temperature)
        elif self.config.target == "kl":  # KL(target || predicted), UNITER MRC-kl
            loss = F.kl_div(F.log_softmax(predicted, -1), targets, reduction="batchmean")
        else:
            loss = F.cross_entropy(predicted, targets)
        return LossOutput(loss, {"mrm_loss": loss.item()})


def soft_codes(features: torch.Tensor, codebook: torch.Tensor, temperature: float = 1.0):
    """(..., F), (K, F) -> (..., K): softmax(-||v - c_k||² / temperature) over the codes, the
    soft label of MRC-kl (UNITER §3.2 uses the detector's class distribution; here the
    k-means codes stand in for the detector's classes)."""
    flat = features.reshape(-1, features.shape[-1]).float()
    distances = squared_distances(flat, codebook.float())  # (n, K)
    return torch.softmax(-distances / temperature, -1).view(*features.shape[:-1], -1)


def nce_loss(predicted: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0):
    """CBT's noise-contrastive loss (Sun et al. 2019, "Learning Video Representations using
    Contrastive Bidirectional Transformer", §3.1 eq. 2): each masked region's prediction
    ŷ_t (n, F) scores its own feature e_t against the other masked regions' features in the
    batch, -log exp(ŷ_tᵀe_t) / Σ_j exp(ŷ_tᵀe_j), with temperature. A negative whose feature
    equals the positive's (a blank cell beside another) is left out: it is no negative."""
    logits = predicted @ targets.T / temperature  # (n, n)
    same = (targets[:, None, :] == targets[None, :, :]).all(-1)  # (n, n)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    return F.cross_entropy(logits, torch.arange(targets.shape[0], device=targets.device))


@dataclass
class ImageTextMatchingConfig(ConfigDefaults):
    name: Literal["itm"] = "itm"
    weight: float = 1.0
    negative_rate: float = 0.5

    def validate(self, path: str) -> None:
        _check_rate(self.negative_rate, path, "negative_rate")

    def check_compatible(self, run_config, path: str) -> None:
        return None


class ImageTextMatchingObjective(StatelessObjective):
    def heads(self, model_config, embedding) -> dict[str, nn.Module]:
        return {self.config.name: nn.Linear(model_config.hidden_size, 2)}

    def corrupt(self, batch: dict) -> dict:
        source = draw_negatives(batch["image_ids"], batch["caption_ids"],
                                self.config.negative_rate,
                                _generators(batch, self.seed, ITM_STREAM))
        labels = (source == torch.arange(source.shape[0])).long()  # 1 = the text's own image
        return {**batch, "features": batch["features"][source],
                "itm_image_ids": batch["image_ids"][source], "itm_labels": labels}

    def loss(self, model, batch: dict) -> LossOutput:
        logits = model.heads[self.config.name](_forward(model, batch).pooled)  # (B, 2)
        loss = F.cross_entropy(logits, batch["itm_labels"])
        accuracy = (logits.argmax(-1) == batch["itm_labels"]).float().mean().item()
        return LossOutput(loss, {"itm_loss": loss.item(), "itm_accuracy": accuracy})


MULTIMODAL_OBJECTIVES = {
    "mlm_image": (ImageMLMConfig, ImageMLMObjective),
    "mrm": (MaskedRegionConfig, MaskedRegionObjective),
    "itm": (ImageTextMatchingConfig, ImageTextMatchingObjective),
    "wra": (WordRegionAlignmentConfig, WordRegionAlignmentObjective),
}
"""YAML name -> (config class, objective class), read in one place (DESIGN §6.2)."""


class PretrainingModel(nn.Module):
    """A backbone (single or two streams) plus the objectives' heads (``heads[name]``)."""

    def __init__(self, backbone: nn.Module, objectives: list):
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        embedding = backbone.text_embedding.tokens
        self.heads = nn.ModuleDict()
        for objective in objectives:
            self.heads.update(objective.heads(backbone.config, embedding))

    def forward(self, input_ids, attention_mask, features):
        return self.backbone(input_ids, attention_mask, features)
