"""HF transformers interop: map GPT-2 and BERT weights and configs onto lmlab's parts.

Only tensors and JSON are read (safetensors / state dicts), never pickled code. The
mapping is the whole contract; the parity tests check that the composed lmlab model
gives the same outputs as ``GPT2LMHeadModel`` / ``BertForMaskedLM`` / ``BertModel``.
"""

from __future__ import annotations

import torch

from lmlab.errors import CheckpointError


def _take(state: dict, key: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f"HF checkpoint lacks {key!r}; is it the expected architecture?")
    return state[key]


def _bert_style_embeddings(state: dict, e: str) -> dict:
    """Word + position + token-type embeddings and their LayerNorm (BERT, ALBERT)."""
    return {"embedding.tokens.weight": _take(state, e + "word_embeddings.weight"),
            "embedding.positions.weight": _take(state, e + "position_embeddings.weight"),
            "embedding.segments.weight": _take(state, e + "token_type_embeddings.weight"),
            "embedding.norm.weight": _take(state, e + "LayerNorm.weight"),
            "embedding.norm.bias": _take(state, e + "LayerNorm.bias")}


def gpt2_to_lmlab(state: dict, num_layers: int) -> dict:
    """GPT-2 state dict (``transformer.*``) -> lmlab names. GPT-2's Conv1D stores (in, out)."""
    p = "transformer."
    out = {"embedding.tokens.weight": _take(state, p + "wte.weight"),
           "embedding.positions.weight": _take(state, p + "wpe.weight"),
           "encoder.final_norm.weight": _take(state, p + "ln_f.weight"),
           "encoder.final_norm.bias": _take(state, p + "ln_f.bias")}
    for i in range(num_layers):
        h, l = f"{p}h.{i}.", f"encoder.layers.{i}."
        pairs = {"ln_1": "attention_norm", "ln_2": "ffn_norm"}
        for theirs, ours in pairs.items():
            out[l + ours + ".weight"] = _take(state, h + theirs + ".weight")
            out[l + ours + ".bias"] = _take(state, h + theirs + ".bias")
        linear = {"attn.c_attn": "attention.qkv", "attn.c_proj": "attention.out",
                  "mlp.c_fc": "ffn.up", "mlp.c_proj": "ffn.down"}
        for theirs, ours in linear.items():
            out[l + ours + ".weight"] = _take(state, h + theirs + ".weight").t().contiguous()
            out[l + ours + ".bias"] = _take(state, h + theirs + ".bias")
    out["lm_head.decoder.weight"] = out["embedding.tokens.weight"]
    return out


def bert_to_lmlab(state: dict, num_layers: int, with_mlm_head: bool = True) -> dict:
    """BERT state dict (``bert.*`` + ``cls.*``, or a bare ``BertModel``) -> lmlab names."""
    prefix = "bert." if any(k.startswith("bert.") for k in state) else ""
    out = _bert_style_embeddings(state, prefix + "embeddings.")
    for i in range(num_layers):
        h, l = f"{prefix}encoder.layer.{i}.", f"encoder.layers.{i}."
        for kind in ("weight", "bias"):
            q, k, v = (_take(state, f"{h}attention.self.{n}.{kind}") for n in ("query", "key", "value"))
            out[f"{l}attention.qkv.{kind}"] = torch.cat([q, k, v], dim=0)
            out[f"{l}attention.out.{kind}"] = _take(state, f"{h}attention.output.dense.{kind}")
            out[f"{l}attention_norm.{kind}"] = _take(state, f"{h}attention.output.LayerNorm.{kind}")
            out[f"{l}ffn.up.{kind}"] = _take(state, f"{h}intermediate.dense.{kind}")
            out[f"{l}ffn.down.{kind}"] = _take(state, f"{h}output.dense.{kind}")
            out[f"{l}ffn_norm.{kind}"] = _take(state, f"{h}output.LayerNorm.{kind}")
    out["lm_head.decoder.weight"] = out["embedding.tokens.weight"]
    if with_mlm_head:
        c = "cls.predictions."
        for kind in ("weight", "bias"):
            out[f"lm_head.transform.{kind}"] = _take(state, f"{c}transform.dense.{kind}")
            out[f"lm_head.norm.{kind}"] = _take(state, f"{c}transform.LayerNorm.{kind}")
        out["lm_head.decoder.bias"] = _take(state, c + "bias")
    return out


def model_config_from_hf(hf: dict) -> dict:
    """A raw lmlab ``model:`` section from an HF ``config.json`` (BERT or GPT-2)."""
    model_type = hf.get("model_type")
    if model_type == "gpt2":
        activation = {"gelu_new": "gelu_tanh", "gelu": "gelu", "relu": "relu"}[hf.get("activation_function", "gelu_new")]
        return {"family": "gpt",
                "embedding": {"vocab_size": hf["vocab_size"], "hidden_size": hf["n_embd"],
                              "position": "learned", "max_positions": hf["n_positions"],
                              "dropout": hf.get("embd_pdrop", 0.1)},
                "encoder": {"name": "transformer", "num_layers": hf["n_layer"],
                            "num_heads": hf["n_head"],
                            "ffn_size": hf.get("n_inner") or 4 * hf["n_embd"], "norm": "pre",
                            "mask": "causal", "activation": activation,
                            "dropout": hf.get("resid_pdrop", 0.1),
                            "attention_dropout": hf.get("attn_pdrop", 0.1),
                            "layer_norm_eps": hf.get("layer_norm_epsilon", 1e-5)},
                "lm_head": {"tie_weights": True, "bias": False}}
    if model_type == "bert":
        activation = {"gelu": "gelu", "gelu_new": "gelu_tanh", "relu": "relu"}[hf.get("hidden_act", "gelu")]
        eps = hf.get("layer_norm_eps", 1e-12)
        return {"family": "bert",
                "embedding": {"vocab_size": hf["vocab_size"], "hidden_size": hf["hidden_size"],
                              "position": "learned",
                              "max_positions": hf["max_position_embeddings"],
                              "num_segments": hf.get("type_vocab_size", 2), "layer_norm": True,
                              "layer_norm_eps": eps, "dropout": hf.get("hidden_dropout_prob", 0.1)},
                "encoder": {"name": "transformer", "num_layers": hf["num_hidden_layers"],
                            "num_heads": hf["num_attention_heads"],
                            "ffn_size": hf["intermediate_size"], "norm": "post",
                            "mask": "bidirectional", "activation": activation,
                            "dropout": hf.get("hidden_dropout_prob", 0.1),
                            "attention_dropout": hf.get("attention_probs_dropout_prob", 0.1),
                            "layer_norm_eps": eps},
                "lm_head": {"tie_weights": True, "transform": True, "activation": activation,
                            "bias": True, "layer_norm_eps": eps}}
    raise CheckpointError(f"HF model_type {model_type!r} is not supported (bert, gpt2)")


def albert_to_lmlab(state: dict, num_layers: int) -> dict:
    """``AlbertForMaskedLM`` state dict -> lmlab names (one layer group, shared by all depths)."""
    prefix = "albert." if any(k.startswith("albert.") for k in state) else ""
    out = _bert_style_embeddings(state, prefix + "embeddings.")
    mapping = prefix + "encoder.embedding_hidden_mapping_in."
    h = prefix + "encoder.albert_layer_groups.0.albert_layers.0."
    for kind in ("weight", "bias"):
        out[f"embedding.projection.{kind}"] = _take(state, mapping + kind)
        q, k, v = (_take(state, f"{h}attention.{n}.{kind}") for n in ("query", "key", "value"))
        shared = {"attention.qkv": torch.cat([q, k, v], dim=0),
                  "attention.out": _take(state, f"{h}attention.dense.{kind}"),
                  "attention_norm": _take(state, f"{h}attention.LayerNorm.{kind}"),
                  "ffn.up": _take(state, f"{h}ffn.{kind}"),
                  "ffn.down": _take(state, f"{h}ffn_output.{kind}"),
                  "ffn_norm": _take(state, f"{h}full_layer_layer_norm.{kind}")}
        for name, tensor in shared.items():
            # With sharing, every depth's key names the same tensor; load_state_dict accepts it.
            for i in range(num_layers):
                out[f"encoder.layers.{i}.{name}.{kind}"] = tensor
        out[f"lm_head.transform.{kind}"] = _take(state, f"predictions.dense.{kind}")
        out[f"lm_head.norm.{kind}"] = _take(state, f"predictions.LayerNorm.{kind}")
    out["lm_head.decoder.weight"] = out["embedding.tokens.weight"]
    out["lm_head.decoder.bias"] = _take(state, "predictions.bias")
    return out
