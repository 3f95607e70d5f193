"""HF ``config.json`` <-> lmlab ``model:`` section, per architecture, both directions.

:func:`hf_architecture` says which HF architecture an lmlab model *is* (decided by its
structure, with ``family`` breaking ties between structurally equal BERT, RoBERTa and
ELECTRA), or why it has none; :func:`hf_config` writes that architecture's config;
:func:`model_config_from_hf` reads one back. The parity tests run both directions.
"""

from __future__ import annotations

from lmlab.errors import CheckpointError, LmlabError

# lmlab activation <-> HF ``hidden_act`` / ``activation_function``
ACTIVATION_TO_HF = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu"}
ACTIVATION_FROM_HF = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
                      "relu": "relu"}
ARCHITECTURES = ("bert", "roberta", "albert", "electra", "gpt2")


class NoCounterpartError(LmlabError):
    """An lmlab model with no equivalent in the requested format."""


def _need(ok: bool, why: str) -> None:
    if not ok:
        raise NoCounterpartError(why)


def hf_architecture(model_config, objective_names=()) -> str:
    """One of :data:`ARCHITECTURES` for a transformer ``ModelConfig``, or NoCounterpartError."""
    encoder, embedding, head = model_config.encoder, model_config.embedding, model_config.lm_head
    name = getattr(encoder, "name", None)
    _need(name == "transformer", f"a {name} model ({model_config.family}) has no HF "
          f"transformers counterpart")
    _need(embedding.position == "learned", "HF's BERT/GPT-2 need learned positions, this "
          f"model has position: {embedding.position}")
    _need(not getattr(encoder, "heads_per_layer", None) and
          not getattr(encoder, "ffn_per_layer", None), "a structurally pruned model (per-layer "
          "heads or FFN widths) has no HF transformers counterpart; use --to onnx")
    factorised = embedding.embedding_size not in (0, embedding.hidden_size)
    if encoder.mask == "causal":
        _need(encoder.norm == "pre" and encoder.final_norm and not embedding.layer_norm
              and not embedding.num_segments and not factorised
              and encoder.share_layers == "none" and head.tie_weights and not head.transform
              and not head.bias, "only the GPT-2 layout of a causal transformer (pre-LN, "
              "final LayerNorm, tied bias-free LM head, no segments) has an HF counterpart")
        return "gpt2"
    _need(encoder.norm == "post" and embedding.layer_norm, "a bidirectional transformer "
          "needs BERT's layout (post-LN, LayerNorm on the embeddings) to have an HF counterpart")
    if "rtd" in objective_names or model_config.family == "electra":
        _need(not factorised, "ELECTRA with a factorised embedding is not exported")
        return "electra"
    if factorised or encoder.share_layers != "none" or model_config.family == "albert":
        _need(factorised, "HF ALBERT always has an E -> H projection; this model has "
              "embedding_size == hidden_size")
        _need(encoder.share_layers in ("all", "none"), f"HF ALBERT shares all layers or "
              f"none, not share_layers: {encoder.share_layers}")
        return "albert"
    return "roberta" if model_config.family == "roberta" else "bert"


def _common_bert(model_config, pad_id: int) -> dict:
    embedding, encoder = model_config.embedding, model_config.encoder
    return {"vocab_size": embedding.vocab_size, "hidden_size": embedding.hidden_size,
            "num_hidden_layers": encoder.num_layers, "num_attention_heads": encoder.num_heads,
            "intermediate_size": encoder.ffn_size,
            "hidden_act": ACTIVATION_TO_HF[encoder.activation],
            "hidden_dropout_prob": encoder.dropout,
            "attention_probs_dropout_prob": encoder.attention_dropout,
            "max_position_embeddings": embedding.max_positions,
            # lmlab without segments adds none; HF always adds row 0 (exported as zeros).
            "type_vocab_size": max(1, embedding.num_segments),
            "layer_norm_eps": encoder.layer_norm_eps, "pad_token_id": pad_id}


def hf_config(architecture: str, model_config, pad_id: int, bos_id: int, eos_id: int) -> dict:
    """Keyword arguments of ``transformers.<Arch>Config`` for an lmlab ``ModelConfig``."""
    embedding, encoder = model_config.embedding, model_config.encoder
    if architecture == "gpt2":
        return {"vocab_size": embedding.vocab_size, "n_positions": embedding.max_positions,
                "n_embd": embedding.hidden_size, "n_layer": encoder.num_layers,
                "n_head": encoder.num_heads, "n_inner": encoder.ffn_size,
                "activation_function": ACTIVATION_TO_HF[encoder.activation],
                "resid_pdrop": encoder.dropout, "embd_pdrop": embedding.dropout,
                "attn_pdrop": encoder.attention_dropout,
                "layer_norm_epsilon": encoder.layer_norm_eps, "bos_token_id": bos_id,
                "eos_token_id": eos_id, "pad_token_id": pad_id}
    config = _common_bert(model_config, pad_id)
    if architecture == "roberta":  # positions start after the padding index
        config.update(max_position_embeddings=embedding.max_positions + pad_id + 1,
                      bos_token_id=bos_id, eos_token_id=eos_id)
    elif architecture == "albert":
        config.update(embedding_size=embedding.embedding_size, inner_group_num=1,
                      num_hidden_groups=1 if encoder.share_layers == "all" else encoder.num_layers,
                      classifier_dropout_prob=encoder.dropout)
    elif architecture == "electra":
        config.update(embedding_size=embedding.embedding_size or embedding.hidden_size)
    return config


def electra_generator_config(discriminator: dict, model_config, generator_size: float) -> dict:
    """``ElectraConfig`` of lmlab's generator: the discriminator's depth and embeddings, a
    ``generator_size`` fraction of its width, heads and FFN (objectives/electra.py)."""
    encoder, hidden = model_config.encoder, model_config.embedding.hidden_size
    return {**discriminator, "embedding_size": discriminator["embedding_size"],
            "hidden_size": round(hidden * generator_size),
            "num_attention_heads": max(1, round(encoder.num_heads * generator_size)),
            "intermediate_size": max(1, round(encoder.ffn_size * generator_size))}


# --- reading ------------------------------------------------------------------------------

def _activation(hf: dict, key: str, default: str) -> str:
    value = hf.get(key, default)
    if value not in ACTIVATION_FROM_HF:
        raise CheckpointError(f"config.json: {key} {value!r} has no lmlab counterpart "
                              f"({', '.join(ACTIVATION_FROM_HF)})")
    return ACTIVATION_FROM_HF[value]


def _gpt2(hf: dict) -> dict:
    return {"family": "gpt",
            "embedding": {"vocab_size": hf["vocab_size"], "hidden_size": hf["n_embd"],
                          "position": "learned", "max_positions": hf["n_positions"],
                          "dropout": hf.get("embd_pdrop", 0.1)},
            "encoder": {"name": "transformer", "num_layers": hf["n_layer"],
                        "num_heads": hf["n_head"],
                        "ffn_size": hf.get("n_inner") or 4 * hf["n_embd"], "norm": "pre",
                        "mask": "causal",
                        "activation": _activation(hf, "activation_function", "gelu_new"),
                        "dropout": hf.get("resid_pdrop", 0.1),
                        "attention_dropout": hf.get("attn_pdrop", 0.1),
                        "layer_norm_eps": hf.get("layer_norm_epsilon", 1e-5)},
            "lm_head": {"tie_weights": True, "bias": False}}


def _bert_like(hf: dict, family: str) -> dict:
    activation = _activation(hf, "hidden_act", "gelu")
    eps = hf.get("layer_norm_eps", 1e-12)
    positions = hf["max_position_embeddings"]
    if family == "roberta":
        positions -= hf.get("pad_token_id", 1) + 1
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError("config.json: position_embedding_type must be 'absolute'")
    embedding = {"vocab_size": hf["vocab_size"], "hidden_size": hf["hidden_size"],
                 "position": "learned", "max_positions": positions,
                 "num_segments": hf.get("type_vocab_size", 2), "layer_norm": True,
                 "layer_norm_eps": eps, "dropout": hf.get("hidden_dropout_prob", 0.1)}
    encoder = {"name": "transformer", "num_layers": hf["num_hidden_layers"],
               "num_heads": hf["num_attention_heads"], "ffn_size": hf["intermediate_size"],
               "norm": "post", "mask": "bidirectional", "activation": activation,
               "dropout": hf.get("hidden_dropout_prob", 0.1),
               "attention_dropout": hf.get("attention_probs_dropout_prob", 0.1),
               "layer_norm_eps": eps}
    head = {"tie_weights": True, "transform": True, "activation": activation, "bias": True,
            "layer_norm_eps": eps}
    if family == "roberta":
        head["activation"] = "gelu"  # RobertaLMHead's act is fixed
    if family in ("albert", "electra") and hf.get("embedding_size", hf["hidden_size"]) != hf["hidden_size"]:
        embedding["embedding_size"] = hf["embedding_size"]
    if family == "albert":
        groups, layers = hf.get("num_hidden_groups", 1), hf["num_hidden_layers"]
        if hf.get("inner_group_num", 1) != 1 or groups not in (1, layers):
            raise CheckpointError("config.json: only ALBERT with inner_group_num 1 and one "
                                  "layer group (or one per layer) has an lmlab counterpart")
        encoder["share_layers"] = "all" if groups == 1 else "none"
        if "embedding_size" not in embedding:
            raise CheckpointError("config.json: ALBERT with embedding_size == hidden_size "
                                  "has no lmlab counterpart")
    return {"family": family, "embedding": embedding, "encoder": encoder, "lm_head": head}


def model_config_from_hf(hf: dict) -> dict:
    """A raw lmlab ``model:`` section from an HF ``config.json``."""
    model_type = hf.get("model_type")
    if model_type == "gpt2":
        return _gpt2(hf)
    if model_type in ("bert", "roberta", "albert", "electra"):
        return _bert_like(hf, model_type)
    raise CheckpointError(f"HF model_type {model_type!r} is not supported "
                          f"({', '.join(ARCHITECTURES)})")
