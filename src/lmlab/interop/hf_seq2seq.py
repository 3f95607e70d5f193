"""HF transformers interop for encoder–decoders: BART and T5 weights and configs onto
lmlab's parts (:mod:`lmlab.decoders`). Only tensors and JSON are read.

BART (``BartForConditionalGeneration``) maps one to one; its learned position tables
carry two unused leading rows (HF's offset of 2), which are dropped.

T5 (``T5ForConditionalGeneration``) differs from lmlab's transformer in three places,
all folded into the weights so the same function is computed:

* T5 has no biases: lmlab's linear biases are set to zero;
* T5 does not divide attention logits by sqrt(d): the query projections are multiplied
  by sqrt(d) (exact for d a power of 4);
* with tied embeddings T5 scales the decoder output by d_model^-0.5 before the output
  projection: the decoder's final RMSNorm gain is multiplied by it.

``lmlab.interop.hf_seq2seq.load_hf_seq2seq(folder)`` builds the model from an HF folder
(``config.json`` + ``model.safetensors``); the parity tests check the logits to 1e-5.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from lmlab.config import ModelConfig, from_dict
from lmlab.errors import CheckpointError
from lmlab.registry import build_model


def _take(state: dict, *keys: str) -> torch.Tensor:
    """The first of ``keys`` that ``state`` holds (tied tensors appear under one name)."""
    for key in keys:
        if key in state:
            return state[key]
    raise CheckpointError(f"HF checkpoint lacks {keys[0]!r}; is it the expected architecture?")


def _linear(out: dict, ours: str, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    out[f"{ours}.weight"] = weight
    out[f"{ours}.bias"] = bias if bias is not None else torch.zeros(weight.shape[0])


def _bart_attention(state, out, theirs: str, ours: str, fused_query: bool) -> None:
    """HF q/k/v/out_proj -> lmlab's fused qkv (self) or query + key_value (cross)."""
    weight = {n: _take(state, f"{theirs}.{n}_proj.weight") for n in ("q", "k", "v", "out")}
    bias = {n: _take(state, f"{theirs}.{n}_proj.bias") for n in ("q", "k", "v", "out")}
    if fused_query:
        _linear(out, f"{ours}.qkv", torch.cat([weight[n] for n in "qkv"]),
                torch.cat([bias[n] for n in "qkv"]))
    else:
        _linear(out, f"{ours}.query", weight["q"], bias["q"])
        _linear(out, f"{ours}.key_value", torch.cat([weight["k"], weight["v"]]),
                torch.cat([bias["k"], bias["v"]]))
    _linear(out, f"{ours}.out", weight["out"], bias["out"])


def _norm(state, out, theirs: str, ours: str, with_bias: bool = True) -> None:
    out[f"{ours}.weight"] = _take(state, f"{theirs}.weight")
    if with_bias:
        out[f"{ours}.bias"] = _take(state, f"{theirs}.bias")


def bart_to_lmlab(state: dict, encoder_layers: int, decoder_layers: int) -> dict:
    """``BartForConditionalGeneration`` state dict -> lmlab names (decoder embedding:
    ``shared_tokens``)."""
    tokens = _take(state, "model.shared.weight", "model.encoder.embed_tokens.weight",
                   "lm_head.weight")
    out = {"embedding.tokens.weight": tokens, "decoder_embedding.tokens.weight": tokens,
           "lm_head.decoder.weight": tokens}
    for side, ours in (("encoder", "embedding"), ("decoder", "decoder_embedding")):
        positions = _take(state, f"model.{side}.embed_positions.weight")
        out[f"{ours}.positions.weight"] = positions[2:]  # HF's offset of 2
        _norm(state, out, f"model.{side}.layernorm_embedding", f"{ours}.norm")
    for i in range(encoder_layers):
        h, l = f"model.encoder.layers.{i}", f"encoder.layers.{i}"
        _bart_attention(state, out, f"{h}.self_attn", f"{l}.attention", fused_query=True)
        _norm(state, out, f"{h}.self_attn_layer_norm", f"{l}.attention_norm")
        _linear(out, f"{l}.ffn.up", _take(state, f"{h}.fc1.weight"), _take(state, f"{h}.fc1.bias"))
        _linear(out, f"{l}.ffn.down", _take(state, f"{h}.fc2.weight"), _take(state, f"{h}.fc2.bias"))
        _norm(state, out, f"{h}.final_layer_norm", f"{l}.ffn_norm")
    for i in range(decoder_layers):
        h, l = f"model.decoder.layers.{i}", f"decoder.layers.{i}"
        _bart_attention(state, out, f"{h}.self_attn", f"{l}.self_attention", fused_query=True)
        _norm(state, out, f"{h}.self_attn_layer_norm", f"{l}.self_attention_norm")
        _bart_attention(state, out, f"{h}.encoder_attn", f"{l}.cross_attention", fused_query=False)
        _norm(state, out, f"{h}.encoder_attn_layer_norm", f"{l}.cross_attention_norm")
        _linear(out, f"{l}.ffn.up", _take(state, f"{h}.fc1.weight"), _take(state, f"{h}.fc1.bias"))
        _linear(out, f"{l}.ffn.down", _take(state, f"{h}.fc2.weight"), _take(state, f"{h}.fc2.bias"))
        _norm(state, out, f"{h}.final_layer_norm", f"{l}.ffn_norm")
    return out


def _t5_attention(state, out, theirs: str, ours: str, fused_query: bool, head_size: int) -> None:
    q, k, v, o = (_take(state, f"{theirs}.{n}.weight") for n in "qkvo")
    q = q * math.sqrt(head_size)  # T5 leaves out the 1/sqrt(d) that lmlab applies
    if fused_query:
        _linear(out, f"{ours}.qkv", torch.cat([q, k, v]), None)
    else:
        _linear(out, f"{ours}.query", q, None)
        _linear(out, f"{ours}.key_value", torch.cat([k, v]), None)
    _linear(out, f"{ours}.out", o, None)


def t5_to_lmlab(state: dict, encoder_layers: int, decoder_layers: int, head_size: int,
                hidden_size: int) -> dict:
    """``T5ForConditionalGeneration`` (tied, ReLU) state dict -> lmlab names (decoder
    embedding: ``shared``), with the foldings of the module docstring."""
    tokens = _take(state, "shared.weight", "encoder.embed_tokens.weight", "lm_head.weight")
    out = {"embedding.tokens.weight": tokens, "lm_head.decoder.weight": tokens}
    for side, layers, attention_names in (("encoder", encoder_layers, ("SelfAttention",)),
                                          ("decoder", decoder_layers,
                                           ("SelfAttention", "EncDecAttention"))):
        out[f"{side}.relative_bias.table.weight"] = _take(
            state, f"{side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight")
        for i in range(layers):
            h, l = f"{side}.block.{i}.layer", f"{side}.layers.{i}"
            ours = (("attention", "attention_norm") if side == "encoder" else
                    (("self_attention", "self_attention_norm"),
                     ("cross_attention", "cross_attention_norm")))
            pairs = [ours] if side == "encoder" else list(ours)
            for index, ((module, norm), name) in enumerate(zip(pairs, attention_names)):
                _t5_attention(state, out, f"{h}.{index}.{name}", f"{l}.{module}",
                              fused_query=name == "SelfAttention", head_size=head_size)
                _norm(state, out, f"{h}.{index}.layer_norm", f"{l}.{norm}", with_bias=False)
            ffn = len(attention_names)
            _linear(out, f"{l}.ffn.up", _take(state, f"{h}.{ffn}.DenseReluDense.wi.weight"), None)
            _linear(out, f"{l}.ffn.down", _take(state, f"{h}.{ffn}.DenseReluDense.wo.weight"), None)
            _norm(state, out, f"{h}.{ffn}.layer_norm", f"{l}.ffn_norm", with_bias=False)
    out["encoder.final_norm.weight"] = _take(state, "encoder.final_layer_norm.weight")
    # Tied T5 rescales the decoder output by d_model^-0.5 before the projection.
    out["decoder.final_norm.weight"] = (_take(state, "decoder.final_layer_norm.weight")
                                        * hidden_size ** -0.5)
    return out


def seq2seq_model_config_from_hf(hf: dict) -> dict:
    """A raw lmlab ``model:`` section from an HF BART or T5 ``config.json``."""
    model_type = hf.get("model_type")
    if model_type == "bart":
        activation = {"gelu": "gelu", "gelu_new": "gelu_tanh", "relu": "relu"}[
            hf.get("activation_function", "gelu")]
        if hf.get("scale_embedding") or hf.get("normalize_before") or hf.get("add_final_layer_norm"):
            raise CheckpointError("BART variants with scale_embedding, normalize_before or "
                                  "add_final_layer_norm (mBART) are not supported")

        def stack(side: str) -> dict:
            return {"name": "transformer", "num_layers": hf[f"{side}_layers"],
                    "num_heads": hf[f"{side}_attention_heads"], "ffn_size": hf[f"{side}_ffn_dim"],
                    "norm": "post", "activation": activation, "dropout": hf.get("dropout", 0.1),
                    "attention_dropout": hf.get("attention_dropout", 0.0), "layer_norm_eps": 1e-5}

        decoder = {**stack("decoder"), "embedding": "shared_tokens"}
        return {"family": "bart",
                "embedding": {"vocab_size": hf["vocab_size"], "hidden_size": hf["d_model"],
                              "position": "learned", "max_positions": hf["max_position_embeddings"],
                              "layer_norm": True, "layer_norm_eps": 1e-5,
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
                    "relative_max_distance": hf.get("relative_attention_max_distance", 128)}

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
