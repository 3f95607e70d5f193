"""HF transformers interop for encoder–decoders: BART and T5 weights and configs onto
lmlab's parts (:mod:`lmlab.decoders`), and back. Only tensors and JSON are read.

Each architecture is one :class:`Layout` read in both directions, so an imported and an
exported checkpoint can never disagree on a tensor: a name table
(:mod:`lmlab.interop.tables`), the lmlab biases the HF model lacks, and the scalings
folded into lmlab's weights.

BART (Lewis et al. 2020; ``BartForConditionalGeneration``) maps one to one; its learned
position tables carry two leading rows HF never reads (its offset of 2): dropped on
import, written as zeros on export.

T5 (Raffel et al. 2020; ``T5ForConditionalGeneration``) differs from lmlab's transformer
in three places, all folded into the weights so the same function is computed:

* T5 has no biases: lmlab's linear biases are set to zero (and must be zero to export);
* T5 does not divide attention logits by sqrt(d): the query projections are multiplied
  by sqrt(d) (exact, both ways, for d a power of 4);
* with tied embeddings T5 scales the decoder output by d_model^-0.5 before the output
  projection: the decoder's final RMSNorm gain is multiplied by it.

``lmlab.interop.hf_seq2seq.load_hf_seq2seq(folder)`` builds the model from an HF folder
(``config.json`` + ``model.safetensors``); the parity tests check the logits to 1e-5 and
that import then export gives back every tensor. Which lmlab models export, and their
HF config, is :mod:`lmlab.interop.hf_seq2seq_export`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lmlab.config import ModelConfig, from_dict
from lmlab.errors import CheckpointError
from lmlab.interop.configs import _activation
from lmlab.interop.tables import Rule, _one, _pair, to_lmlab
from lmlab.registry import build_model

BART_POSITION_OFFSET = 2  # HF's BartLearnedPositionalEmbedding reads rows from 2
BART_NORM_EPS = 1e-5  # HF BART's nn.LayerNorm default, not configurable


@dataclass(frozen=True)
class Fold:
    """lmlab = HF * ``factor`` for the first ``rows`` rows of ``key`` (0 = all rows)."""
    key: str
    factor: float
    rows: int = 0


@dataclass
class Layout:
    """One HF architecture's weights against lmlab's, read in both directions."""
    rules: list[Rule]
    zero_biases: list[str] = field(default_factory=list)
    """lmlab biases the HF model has none of: zeros on import, checked to be zero on export."""
    folds: list[Fold] = field(default_factory=list)


def fold_weights(state: dict, folds: list[Fold], inverse: bool) -> None:
    """Apply ``folds`` to the lmlab-named ``state`` in place: HF -> lmlab, or back."""
    for fold in folds:
        tensor = state[fold.key]
        rows = fold.rows or tensor.shape[0]
        # Divide on export (not multiply by 1/factor) so a power-of-2 factor undoes exactly.
        part = tensor[:rows] / fold.factor if inverse else tensor[:rows] * fold.factor
        state[fold.key] = torch.cat([part, tensor[rows:]])


def _untie(state: dict, name: str, *aliases: str) -> dict:
    """``state`` holding ``name``: a saved file keeps a tied tensor under one of its names."""
    if name in state:
        return state
    for alias in aliases:
        if alias in state:
            return {**state, name: state[alias]}
    raise CheckpointError(f"HF checkpoint lacks {name!r}; is it the expected architecture?")


def layout_to_lmlab(layout: Layout, state: dict) -> dict:
    """An HF state dict -> lmlab names."""
    out = to_lmlab(layout.rules, state)
    for key in layout.zero_biases:  # (out,) zeros beside the (out, in) weight
        out[key] = torch.zeros(out[key.removesuffix("bias") + "weight"].shape[0])
    fold_weights(out, layout.folds, inverse=False)
    return out


# --- BART --------------------------------------------------------------------------------

def _bart_attention(theirs: str, ours: str, fused_query: bool) -> list[Rule]:
    """HF q/k/v/out_proj (D, D) each -> lmlab's fused qkv (3D, D) (self) or query (D, D) +
    key_value (2D, D) (cross)."""
    q, k, v = (f"{theirs}.{n}_proj" for n in "qkv")
    rules = (_pair(f"{ours}.qkv", (q, k, v)) if fused_query else
             _pair(f"{ours}.query", q) + _pair(f"{ours}.key_value", (k, v)))
    return rules + _pair(f"{ours}.out", f"{theirs}.out_proj")


def _bart_ffn(theirs: str, ours: str) -> list[Rule]:
    return (_pair(f"{ours}ffn.up", f"{theirs}fc1") + _pair(f"{ours}ffn.down", f"{theirs}fc2")
            + _pair(f"{ours}ffn_norm", f"{theirs}final_layer_norm"))


def bart_layout(encoder_layers: int, decoder_layers: int,
                decoder_embedding: str = "decoder_embedding") -> Layout:
    """``BartForConditionalGeneration``. ``decoder_embedding``: the lmlab module holding the
    decoder's positions and norm (``embedding`` when fully shared, as MASS)."""
    tokens = ("embedding.tokens.weight", "decoder_embedding.tokens.weight",
              "lm_head.decoder.weight")
    rules = [_one(tokens, "model.shared.weight")]  # (V, D), tied
    for side, ours in (("encoder", "embedding"), ("decoder", decoder_embedding)):
        rules += [_one(f"{ours}.positions.weight",  # HF (P + 2, D), lmlab (P, D)
                       f"model.{side}.embed_positions.weight", offset=BART_POSITION_OFFSET),
                  *_pair(f"{ours}.norm", f"model.{side}.layernorm_embedding")]
    for i in range(encoder_layers):
        h, l = f"model.encoder.layers.{i}.", f"encoder.layers.{i}."
        rules += (_bart_attention(h + "self_attn", l + "attention", fused_query=True)
                  + _pair(l + "attention_norm", h + "self_attn_layer_norm") + _bart_ffn(h, l))
    for i in range(decoder_layers):
        h, l = f"model.decoder.layers.{i}.", f"decoder.layers.{i}."
        rules += (_bart_attention(h + "self_attn", l + "self_attention", fused_query=True)
                  + _pair(l + "self_attention_norm", h + "self_attn_layer_norm")
                  + _bart_attention(h + "encoder_attn", l + "cross_attention", fused_query=False)
                  + _pair(l + "cross_attention_norm", h + "encoder_attn_layer_norm")
                  + _bart_ffn(h, l))
    return Layout(rules)


def bart_to_lmlab(state: dict, encoder_layers: int, decoder_layers: int) -> dict:
    """``BartForConditionalGeneration`` state dict -> lmlab names (decoder embedding:
    ``shared_tokens``)."""
    state = _untie(state, "model.shared.weight", "model.encoder.embed_tokens.weight",
                   "lm_head.weight")
    return layout_to_lmlab(bart_layout(encoder_layers, decoder_layers), state)


# --- T5 ----------------------------------------------------------------------------------

def t5_layout(encoder_layers: int, decoder_layers: int, head_size: int,
              hidden_size: int, biases: bool = False) -> Layout:
    """``T5ForConditionalGeneration`` (tied, ReLU), with the folds of the module docstring.
    ``biases``: the lmlab model has (zero) projection biases; by default it has none
    (``bias: false``, as T5)."""
    layout = Layout([_one(("embedding.tokens.weight", "lm_head.decoder.weight"), "shared.weight")])

    def linear(ours: str, *theirs: str) -> None:
        layout.rules.append(Rule((f"{ours}.weight",), tuple(f"{t}.weight" for t in theirs)))
        if biases:
            layout.zero_biases.append(f"{ours}.bias")

    for side, layers in (("encoder", encoder_layers), ("decoder", decoder_layers)):
        layout.rules += [
            _one(f"{side}.relative_bias.table.weight",
                 f"{side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
            _one(f"{side}.final_norm.weight", f"{side}.final_layer_norm.weight")]
        blocks = ([("attention", "SelfAttention")] if side == "encoder" else
                  [("self_attention", "SelfAttention"), ("cross_attention", "EncDecAttention")])
        for i in range(layers):
            h, l = f"{side}.block.{i}.layer.", f"{side}.layers.{i}."
            for index, (ours, name) in enumerate(blocks):
                theirs = f"{h}{index}.{name}"
                if name == "SelfAttention":  # fused (3D, D): the query is the first D rows
                    linear(f"{l}{ours}.qkv", *(f"{theirs}.{n}" for n in "qkv"))
                    query = Fold(f"{l}{ours}.qkv.weight", math.sqrt(head_size), hidden_size)
                else:  # query (D, D), key_value (2D, D)
                    linear(f"{l}{ours}.query", f"{theirs}.q")
                    linear(f"{l}{ours}.key_value", f"{theirs}.k", f"{theirs}.v")
                    query = Fold(f"{l}{ours}.query.weight", math.sqrt(head_size))
                layout.folds.append(query)  # T5 leaves out the 1/sqrt(d) that lmlab applies
                linear(f"{l}{ours}.out", f"{theirs}.o")
                layout.rules.append(_one(f"{l}{ours}_norm.weight", f"{h}{index}.layer_norm.weight"))
            ffn = f"{h}{len(blocks)}."
            linear(f"{l}ffn.up", ffn + "DenseReluDense.wi")
            linear(f"{l}ffn.down", ffn + "DenseReluDense.wo")
            layout.rules.append(_one(f"{l}ffn_norm.weight", ffn + "layer_norm.weight"))
    # Tied T5 rescales the decoder output by d_model^-0.5 before the projection.
    layout.folds.append(Fold("decoder.final_norm.weight", hidden_size ** -0.5))
    return layout


def t5_to_lmlab(state: dict, encoder_layers: int, decoder_layers: int, head_size: int,
                hidden_size: int) -> dict:
    """``T5ForConditionalGeneration`` (tied, ReLU) state dict -> lmlab names (decoder
    embedding: ``shared``), with the folds of the module docstring."""
    state = _untie(state, "shared.weight", "encoder.embed_tokens.weight", "lm_head.weight")
    return layout_to_lmlab(t5_layout(encoder_layers, decoder_layers, head_size, hidden_size),
                           state)


# --- configs and folders -----------------------------------------------------------------

def seq2seq_model_config_from_hf(hf: dict) -> dict:
    """A raw lmlab ``model:`` section from an HF BART or T5 ``config.json``."""
    model_type = hf.get("model_type")
    if model_type == "bart":
        activation = _activation(hf, "activation_function", "gelu")
        if hf.get("scale_embedding") or hf.get("normalize_before") or hf.get("add_final_layer_norm"):
            raise CheckpointError("BART variants with scale_embedding, normalize_before or "
                                  "add_final_layer_norm (mBART) are not supported")

        def stack(side: str) -> dict:
            return {"name": "transformer", "num_layers": hf[f"{side}_layers"],
                    "num_heads": hf[f"{side}_attention_heads"], "ffn_size": hf[f"{side}_ffn_dim"],
                    "norm": "post", "activation": activation, "dropout": hf.get("dropout", 0.1),
                    "attention_dropout": hf.get("attention_dropout", 0.0),
                    "layer_norm_eps": BART_NORM_EPS}

        decoder = {**stack("decoder"), "embedding": "shared_tokens"}
        return {"family": "bart",
                "embedding": {"vocab_size": hf["vocab_size"], "hidden_size": hf["d_model"],
                              "position": "learned", "max_positions": hf["max_position_embeddings"],
                              "layer_norm": True, "layer_norm_eps": BART_NORM_EPS,
                              "dropout": hf.get("dropout", 0.1)},
                "encoder": {**stack("encoder"), "mask": "bidirectional"}, "decoder": decoder,
                "lm_head": {"tie_weights": True, "bias": False}}
    if model_type == "t5":
        if hf.get("feed_forward_proj", "relu") != "relu" or not hf.get("tie_word_embeddings", True):
            raise CheckpointError("only the original T5 (ReLU feed-forward, tied embeddings) "
                                  "is supported, not T5 v1.1 / gated-GELU")
        if hf["d_kv"] * hf["num_heads"] != hf["d_model"]:
            raise CheckpointError("T5 with d_kv * num_heads != d_model is not supported")

        def stack(layers: int) -> dict:
            return {"name": "transformer", "num_layers": layers, "num_heads": hf["num_heads"],
                    "ffn_size": hf["d_ff"], "norm": "pre", "norm_type": "rms",
                    "activation": "relu", "dropout": hf.get("dropout_rate", 0.1),
                    "attention_dropout": 0.0,
                    "layer_norm_eps": hf.get("layer_norm_epsilon", 1e-6),
                    "relative_buckets": hf.get("relative_attention_num_buckets", 32),
                    "relative_max_distance": hf.get("relative_attention_max_distance", 128),
                    "bias": False}

        return {"family": "t5",
                "embedding": {"vocab_size": hf["vocab_size"], "hidden_size": hf["d_model"],
                              "position": "none", "dropout": hf.get("dropout_rate", 0.1)},
                "encoder": {**stack(hf["num_layers"]), "mask": "bidirectional"},
                "decoder": {**stack(hf.get("num_decoder_layers") or hf["num_layers"]),
                            "embedding": "shared"},
                "lm_head": {"tie_weights": True, "bias": False}}
    raise CheckpointError(f"HF model_type {model_type!r} is not an encoder–decoder lmlab "
                          f"imports (bart, t5)")


def seq2seq_to_lmlab(state: dict, hf: dict) -> dict:
    """An HF BART or T5 state dict -> lmlab names, by the config's ``model_type``."""
    if hf.get("model_type") == "bart":
        return bart_to_lmlab(state, hf["encoder_layers"], hf["decoder_layers"])
    return t5_to_lmlab(state, hf["num_layers"], hf.get("num_decoder_layers") or hf["num_layers"],
                       hf["d_kv"], hf["d_model"])


def read_hf_folder(folder: str | Path) -> tuple[dict, dict]:
    """(config.json, state dict) of an HF folder with ``model.safetensors``."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config_path, weights = folder / "config.json", folder / "model.safetensors"
    if not config_path.exists() or not weights.exists():
        raise CheckpointError(f"{folder}: expected config.json and model.safetensors "
                              f"(an HF model folder)")
    return json.loads(config_path.read_text(encoding="utf-8")), load_file(str(weights))


def load_hf_seq2seq(folder: str | Path):
    """(model config, lmlab model in eval mode) from an HF BART or T5 folder."""
    hf, state = read_hf_folder(folder)
    config = from_dict(ModelConfig, seq2seq_model_config_from_hf(hf), "model")
    model = build_model(config)
    model.load_state_dict(seq2seq_to_lmlab(state, hf), strict=True)
    return config, model.eval()
