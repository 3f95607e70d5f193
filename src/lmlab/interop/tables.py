"""One name table per HF architecture, read in both directions (import and export).

A :class:`Rule` pairs lmlab state-dict keys with HF keys. Reading it forwards
(:func:`to_lmlab`) turns an HF state dict into lmlab's names; backwards (:func:`to_hf`)
turns lmlab's into HF's, so an exported folder and an imported one can never disagree
on a tensor. Three shapes of pairing occur:

* one tensor each side (most weights);
* three HF tensors, one lmlab tensor: BERT's separate query/key/value are lmlab's fused
  ``attention.qkv`` (rows stacked q, k, v, as ``torch.cat(dim=0)``);
* one HF tensor, several lmlab names: ALBERT's shared layer is named at every depth by
  lmlab (the same Parameter), and a tied decoder names the token embedding again.

GPT-2 stores its ``Conv1D`` weights (in, out) where ``nn.Linear`` stores (out, in):
``transpose``. RoBERTa numbers positions from ``pad_id + 1`` (HF's
``create_position_ids_from_input_ids``): ``offset`` rows precede lmlab's position 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lmlab.errors import CheckpointError


@dataclass(frozen=True)
class Rule:
    ours: tuple[str, ...]
    """lmlab keys naming this tensor; the first is read on export, all are written on import."""
    theirs: tuple[str, ...]
    """HF keys; several = stacked along dim 0 in ours (query, key, value)."""
    transpose: bool = False
    offset: int = 0
    """HF rows before lmlab's row 0 (RoBERTa's position table)."""
    to_ours: Callable[[torch.Tensor], torch.Tensor] | None = None
    """A reshaping of the (stacked) HF tensor into lmlab's (XLNet's (D, H, d) einsum
    weights into ``nn.Linear``'s), applied last on import ..."""
    to_theirs: Callable[[torch.Tensor], torch.Tensor] | None = None
    """... and its inverse, applied to each HF part on export."""


def _pair(ours: str | tuple[str, ...], theirs: str | tuple[str, ...], **options) -> list[Rule]:
    """A weight+bias (or weight+bias of q, k, v) pair of rules for two module names."""
    ours = (ours,) if isinstance(ours, str) else ours
    theirs = (theirs,) if isinstance(theirs, str) else theirs
    return [Rule(tuple(f"{o}.{kind}" for o in ours), tuple(f"{t}.{kind}" for t in theirs),
                 **options) for kind in ("weight", "bias")]


def _one(ours: str | tuple[str, ...], theirs: str, **options) -> Rule:
    return Rule((ours,) if isinstance(ours, str) else ours, (theirs,), **options)


# --- bodies ---------------------------------------------------------------------------

def bert_embedding_rules(theirs: str, ours: str = "embedding.", position_offset: int = 0,
                         tied_decoders: tuple[str, ...] = ()) -> list[Rule]:
    """Word + position + token-type embeddings and their LayerNorm (BERT, RoBERTa, ALBERT,
    ELECTRA). ``tied_decoders``: lmlab decoders that name the token matrix again."""
    return [_one((f"{ours}tokens.weight",) + tied_decoders, f"{theirs}word_embeddings.weight"),
            _one(f"{ours}positions.weight", f"{theirs}position_embeddings.weight",
                 offset=position_offset),
            _one(f"{ours}segments.weight", f"{theirs}token_type_embeddings.weight"),
            *_pair(f"{ours}norm", f"{theirs}LayerNorm")]


def bert_layer_rules(theirs: str, ours: str) -> list[Rule]:
    """One post-LN layer as BERT names it (RoBERTa and ELECTRA name it the same way)."""
    return [*_pair(f"{ours}attention.qkv",
                   tuple(f"{theirs}attention.self.{n}" for n in ("query", "key", "value"))),
            *_pair(f"{ours}attention.out", f"{theirs}attention.output.dense"),
            *_pair(f"{ours}attention_norm", f"{theirs}attention.output.LayerNorm"),
            *_pair(f"{ours}ffn.up", f"{theirs}intermediate.dense"),
            *_pair(f"{ours}ffn.down", f"{theirs}output.dense"),
            *_pair(f"{ours}ffn_norm", f"{theirs}output.LayerNorm")]


def bert_body(prefix: str, num_layers: int, ours: str = "", position_offset: int = 0,
              tied_decoders: tuple[str, ...] = ()) -> list[Rule]:
    """Embeddings + layers of a BERT-shaped encoder under ``prefix`` (``bert.``,
    ``roberta.``, ``electra.``); lmlab's keys under ``ours`` (``backbone.`` when fine-tuned)."""
    rules = bert_embedding_rules(prefix + "embeddings.", ours + "embedding.", position_offset,
                                 tied_decoders)
    for i in range(num_layers):
        rules += bert_layer_rules(f"{prefix}encoder.layer.{i}.", f"{ours}encoder.layers.{i}.")
    return rules


def albert_body(prefix: str, num_layers: int, shared: bool, ours: str = "",
                tied_decoders: tuple[str, ...] = ()) -> list[Rule]:
    """ALBERT: factorised embedding (E -> H mapping) and one layer group shared by every
    depth (``shared``) or one group per depth (``num_hidden_groups = num_layers``)."""
    rules = bert_embedding_rules(prefix + "embeddings.", ours + "embedding.", 0, tied_decoders)
    rules += _pair(ours + "embedding.projection", prefix + "encoder.embedding_hidden_mapping_in")
    names = {"attention.qkv": tuple(f"attention.{n}" for n in ("query", "key", "value")),
             "attention.out": "attention.dense", "attention_norm": "attention.LayerNorm",
             "ffn.up": "ffn", "ffn.down": "ffn_output", "ffn_norm": "full_layer_layer_norm"}
    groups = [list(range(num_layers))] if shared else [[i] for i in range(num_layers)]
    for group, depths in enumerate(groups):
        h = f"{prefix}encoder.albert_layer_groups.{group}.albert_layers.0."
        for mine, hf in names.items():
            hf = tuple(h + n for n in hf) if isinstance(hf, tuple) else h + hf
            rules += _pair(tuple(f"{ours}encoder.layers.{d}.{mine}" for d in depths), hf)
    return rules


def gpt2_body(num_layers: int, ours: str = "", tied_decoders: tuple[str, ...] = ()) -> list[Rule]:
    p = "transformer."
    rules = [_one((f"{ours}embedding.tokens.weight",) + tied_decoders, p + "wte.weight"),
             _one(f"{ours}embedding.positions.weight", p + "wpe.weight"),
             *_pair(f"{ours}encoder.final_norm", p + "ln_f")]
    for i in range(num_layers):
        h, l = f"{p}h.{i}.", f"{ours}encoder.layers.{i}."
        rules += _pair(l + "attention_norm", h + "ln_1") + _pair(l + "ffn_norm", h + "ln_2")
        for theirs, mine in {"attn.c_attn": "attention.qkv", "attn.c_proj": "attention.out",
                             "mlp.c_fc": "ffn.up", "mlp.c_proj": "ffn.down"}.items():
            rules += [_one(l + mine + ".weight", h + theirs + ".weight", transpose=True),
                      _one(l + mine + ".bias", h + theirs + ".bias")]
    return rules


# --- pre-training heads ---------------------------------------------------------------

def bert_mlm_head() -> list[Rule]:
    """``BertForMaskedLM.cls``: transform (dense, act, LayerNorm), tied decoder + bias."""
    c = "cls.predictions."
    return [*_pair("lm_head.transform", c + "transform.dense"),
            *_pair("lm_head.norm", c + "transform.LayerNorm"),
            _one("lm_head.decoder.bias", c + "bias")]


def roberta_mlm_head() -> list[Rule]:
    return [*_pair("lm_head.transform", "lm_head.dense"),
            *_pair("lm_head.norm", "lm_head.layer_norm"),
            _one("lm_head.decoder.bias", "lm_head.bias")]


def albert_mlm_head() -> list[Rule]:
    return [*_pair("lm_head.transform", "predictions.dense"),
            *_pair("lm_head.norm", "predictions.LayerNorm"),
            _one("lm_head.decoder.bias", "predictions.bias")]


def electra_discriminator_head() -> list[Rule]:
    """``ElectraForPreTraining``: dense, act, one logit per token (replaced or not)."""
    return [*_pair("heads.rtd.discriminator_dense", "discriminator_predictions.dense"),
            *_pair("heads.rtd.discriminator_out", "discriminator_predictions.dense_prediction")]


def electra_generator(num_layers: int) -> list[Rule]:
    """``ElectraForMaskedLM`` = lmlab's generator: the shared embeddings, ``generator_in``
    (HF's ``embeddings_project``), its own layers, and its MLM head (tied decoder)."""
    g = "heads.rtd."
    rules = bert_embedding_rules("electra.embeddings.", "embedding.",
                                 tied_decoders=(g + "generator_head.decoder.weight",))
    rules += _pair(g + "generator_in", "electra.embeddings_project")
    for i in range(num_layers):
        rules += bert_layer_rules(f"electra.encoder.layer.{i}.", f"{g}generator.layers.{i}.")
    return rules + [*_pair(g + "generator_head.transform", "generator_predictions.dense"),
                    *_pair(g + "generator_head.norm", "generator_predictions.LayerNorm"),
                    _one(g + "generator_head.decoder.bias", "generator_lm_head.bias")]


# --- fine-tuning heads (lmlab's ``head.*`` of a FineTuneModel) ---------------------------

def pooled_head(pooler: str, classifier: str, scorer: bool = False) -> list[Rule]:
    """[CLS] -> dense + tanh -> linear: BERT/ALBERT's ``pooler`` + ``classifier``,
    RoBERTa's ``classifier.dense`` + ``classifier.out_proj``, ELECTRA's sequence summary."""
    return _pair("head.pooler", pooler) + _pair("head.scorer" if scorer else "head.classifier",
                                                classifier)


def token_head() -> list[Rule]:
    return _pair("head.classifier", "classifier")


def span_head() -> list[Rule]:
    return _pair("head.span", "qa_outputs")


# --- reading a table --------------------------------------------------------------------

def _take(state: dict, key: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f"HF checkpoint lacks {key!r}; is it the expected architecture?")
    return state[key]


def to_lmlab(rules: list[Rule], state: dict) -> dict:
    """HF state dict -> lmlab names (every alias of a shared or tied tensor)."""
    out = {}
    for rule in rules:
        parts = [_take(state, key) for key in rule.theirs]
        tensor = torch.cat(parts, dim=0) if len(parts) > 1 else parts[0]
        if rule.transpose:
            tensor = tensor.t()
        tensor = tensor[rule.offset:]
        if rule.to_ours is not None:
            tensor = rule.to_ours(tensor)
        tensor = tensor.contiguous()
        for key in rule.ours:
            out[key] = tensor
    return out


def to_hf(rules: list[Rule], state: dict) -> dict:
    """lmlab state dict -> HF names (the first lmlab alias is read)."""
    out = {}
    for rule in rules:
        key = rule.ours[0]
        if key not in state:
            raise CheckpointError(f"lmlab model lacks {key!r}; is it the expected family?")
        tensor = state[key]
        if rule.offset:  # rows HF never reads for a real token (padding's own position)
            tensor = torch.cat([tensor.new_zeros(rule.offset, *tensor.shape[1:]), tensor])
        if rule.transpose:
            tensor = tensor.t()
        for name, part in zip(rule.theirs, tensor.chunk(len(rule.theirs), dim=0)):
            out[name] = (rule.to_theirs(part) if rule.to_theirs is not None else part).contiguous()
    return out
