"""ELECTRA: replaced-token detection (Clark et al. 2020, §2, eq. 1–2).

A small masked-LM *generator* fills the masked positions with samples from its own
distribution; the *discriminator* (the model being pre-trained) labels every real token as
original or replaced. Loss: ``L_MLM(generator) + λ · L_Disc`` with λ = 50 (§2, eq. 2).

* The generator is a transformer of the discriminator's depth whose width, heads and FFN
  are ``generator_size`` × the discriminator's (¼ for ELECTRA-Small/Base, §3.2); it
  shares the token and position embeddings: it reads them through a projection to its
  width and decodes with the tied token matrix through a transform back to the
  embedding width (as in the official implementation when sizes differ).
* Sampling happens without gradient (the generator is trained by MLM only, not
  adversarially, §2); a sampled token equal to the original is labelled "original".
* The discriminator's loss covers every non-padding position, special tokens included
  as in the paper's code; the sampling draws from a generator seeded by (seed, step,
  example), so resume is exact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.data.batching import IGNORE
from lmlab.encoders.transformer import build_transformer
from lmlab.errors import ConfigError
from lmlab.heads.lm_head import LMHead, LMHeadConfig
from lmlab.layers.feed_forward import activation_fn
from lmlab.objectives.base import (ConfigDefaults, EvaluationSettings, LossOutput,
                                   StatelessObjective, held_out_blocks, perplexity_summary,
                                   row_generator)
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective


@dataclass
class ElectraConfig(ConfigDefaults):
    name: Literal["rtd"] = "rtd"
    weight: float = 1.0
    discriminator_weight: float = 50.0
    """λ of eq. 2."""
    generator_size: float = 0.25
    """Generator width / heads / FFN as a fraction of the discriminator's."""
    mask_rate: float = 0.15
    masking: Literal["static", "dynamic"] = "dynamic"

    def validate(self, path: str) -> None:
        if self.weight <= 0 or self.discriminator_weight <= 0:
            raise ConfigError(f"{path}: weight and discriminator_weight must be > 0")
        if not 0.0 < self.generator_size <= 1.0:
            raise ConfigError(f"{path}.generator_size: must be in (0, 1]")
        if not 0.0 < self.mask_rate < 1.0:
            raise ConfigError(f"{path}.mask_rate: must be in (0, 1)")

    def check_compatible(self, run_config, path: str) -> None:
        encoder = run_config.model.encoder
        if getattr(encoder, "name", None) != "transformer" or encoder.mask != "bidirectional":
            raise ConfigError(f"{path}: rtd needs a bidirectional transformer encoder")
        embedding = run_config.model.embedding
        if embedding.embedding_size not in (0, embedding.hidden_size):
            raise ConfigError(f"{path}: rtd with a factorised embedding (embedding_size != "
                              f"hidden_size) is not supported yet")
        hidden = embedding.hidden_size
        heads = max(1, round(encoder.num_heads * self.generator_size))
        if round(hidden * self.generator_size) % heads:
            raise ConfigError(f"{path}.generator_size: a generator of width "
                              f"{round(hidden * self.generator_size)} cannot have {heads} heads")

    def describe(self) -> str:
        return (f"{self.name} ({self.masking}, generator ×{self.generator_size:g}, "
                f"λ {self.discriminator_weight:g})")


class ElectraModules(nn.Module):
    """The generator (projection, encoder, MLM head) and the discriminator's RTD head."""

    def __init__(self, model_config, embedding, config: ElectraConfig):
        super().__init__()

        width = embedding.tokens.embedding_dim  # E, shared with the discriminator
        hidden = model_config.embedding.hidden_size
        encoder_config = model_config.encoder
        generator_width = round(hidden * config.generator_size)
        generator_encoder = dataclasses.replace(
            encoder_config, num_heads=max(1, round(encoder_config.num_heads * config.generator_size)),
            ffn_size=max(1, round(encoder_config.ffn_size * config.generator_size)),
            share_layers="none")
        self.generator_in = nn.Linear(width, generator_width)
        self.generator = build_transformer(generator_width, generator_encoder)
        self.generator_head = LMHead(generator_width, embedding.tokens.num_embeddings,
                                     LMHeadConfig(tie_weights=True, transform=True, bias=True,
                                                  activation=encoder_config.activation),
                                     embedding.tokens, output_size=width)
        self.discriminator_dense = nn.Linear(hidden, hidden)
        self.discriminator_out = nn.Linear(hidden, 1)
        self.activation = activation_fn(encoder_config.activation)

    def discriminate(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.discriminator_out(self.activation(self.discriminator_dense(hidden))).squeeze(-1)  # (B, T)


class ElectraObjective(StatelessObjective):
    """Held out: the generator's masked-token perplexity and the discriminator's
    replaced-token accuracy on fixed-seed masks (ELECTRA has no LM over its own outputs)."""

    evaluation_kind = "generator-masked"

    def __init__(self, config: ElectraConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.masker = MaskedLMObjective(
            MaskedLMConfig(mask_rate=config.mask_rate, masking=config.masking), tokenizer, seed)

    def heads(self, model_config, embedding) -> dict:
        return {self.config.name: ElectraModules(model_config, embedding, self.config)}

    def corrupt(self, batch: dict) -> dict:
        corrupted, labels = self.masker.choose(batch)
        return {**batch, "rtd_input_ids": corrupted, "rtd_labels": labels,
                "rtd_uniform": _sampling_uniforms(labels != IGNORE, batch, self.seed)}

    def loss(self, model, batch: dict) -> LossOutput:
        modules: ElectraModules = model.heads[self.config.name]
        ids, mask, segments = batch["input_ids"], batch.get("attention_mask"), batch.get("segments")
        corrupted, labels = batch["rtd_input_ids"], batch["rtd_labels"]
        chosen = labels != IGNORE  # (B, T)
        # Generator: shared embeddings -> its width -> its encoder -> MLM at chosen positions.
        embedded = model.embedding(corrupted, segments)  # (B, T, H = E, see check_compatible)
        generator_hidden = modules.generator(modules.generator_in(embedded), mask).hidden
        # The sampling needs every logit of the chosen positions, so the MLM loss reuses them
        # (one decoder product instead of two).
        logits = modules.generator_head(generator_hidden[chosen]).float()  # (N, V)
        generator_loss = F.cross_entropy(logits, labels[chosen])
        # Sample replacements (no gradient: the generator is trained by MLM only).
        with torch.no_grad():
            sampled = _sample_rows(logits, batch["rtd_uniform"])
        replaced_ids = ids.clone()
        replaced_ids[chosen] = sampled
        is_replaced = (replaced_ids != ids).float()  # sampling the original = "original"
        hidden = model(replaced_ids, mask, segments).hidden  # (B, T, H)
        scores = modules.discriminate(hidden)  # (B, T)
        real = mask.bool() if mask is not None else torch.ones_like(ids, dtype=torch.bool)
        discriminator_loss = F.binary_cross_entropy_with_logits(scores[real], is_replaced[real])
        loss = generator_loss + self.config.discriminator_weight * discriminator_loss
        accuracy = ((scores[real] > 0).float() == is_replaced[real]).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "generator_loss": generator_loss.item(),
                                 "discriminator_loss": discriminator_loss.item(),
                                 "replaced_fraction": is_replaced[real].mean().item(),
                                 "discriminator_accuracy": accuracy})

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        return map(self.corrupt, held_out_blocks(ids, settings, self.masker.tokenizer))

    def evaluate(self, model, batch: dict) -> dict:
        """Per-batch means, averaged over batches by :meth:`summarize`."""
        metrics = self.loss(model, batch).metrics
        block = batch["input_ids"].shape[1] - 2
        return {"generator_loss": metrics["generator_loss"], "batches": 1,
                "discriminator_accuracy": metrics["discriminator_accuracy"],
                "tokens": batch["input_ids"].shape[0] * block}

    def summarize(self, totals: dict) -> dict:
        batches = max(1, totals.get("batches", 0))
        # The generator's loss is a mean per batch: average those means over batches.
        generator = perplexity_summary({"nll": totals.get("generator_loss", 0.0),
                                        "tokens": batches}, "generator-masked")
        return {**generator, "tokens": int(totals.get("tokens", 0)),
                "discriminator_accuracy": totals.get("discriminator_accuracy", 0.0) / batches}


def _sampling_uniforms(chosen: torch.Tensor, batch: dict, seed: int) -> torch.Tensor:
    """A uniform per chosen position (B, T) -> (N,), row-major, from a generator per
    (seed, step, example): the sample is then a pure function of the seed, on any device."""
    example_ids = batch.get("example_ids", torch.arange(chosen.shape[0]))
    rows = chosen.nonzero()[:, 0]  # batch row of each chosen position
    uniform = torch.empty(len(rows))
    for row in rows.unique().tolist():
        generator = row_generator(seed, batch.get("step", 0), int(example_ids[row]), 7)
        where = rows == row
        uniform[where] = torch.rand(int(where.sum()), generator=generator)
    return uniform


def _sample_rows(logits: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """One draw per chosen position from softmax(logits), by inverse CDF: its uniform
    located in the row's cumulative distribution. (``torch.multinomial`` draws V
    exponentials per row: 5% of an ELECTRA step at V = 8k.) logits (N, V), uniform (N,)
    -> (N,) token ids."""
    cumulative = torch.softmax(logits, dim=-1).cumsum(dim=-1)  # (N, V)
    draws = (uniform * cumulative[:, -1])[:, None]  # (N, 1) in [0, total)
    samples = torch.searchsorted(cumulative, draws, right=True).squeeze(1)  # first cum > draw
    return samples.clamp_(max=logits.shape[-1] - 1)
