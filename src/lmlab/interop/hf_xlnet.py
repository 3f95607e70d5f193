"""HF transformers interop for XLNet (Yang et al. 2019): ``XLNetLMHeadModel`` and
``XLNetForSequenceClassification`` weights and configs onto lmlab's transformer with
``position: xl, mask: permutation``, and back. Only tensors and JSON are read.

HF XLNet is lmlab's post-LN relative-position transformer with per-layer u, v
(``relative_biases: per_layer``), relative segment encoding (``relative_segments: true``),
bias-free attention projections (``attention_bias: false``), no embedding norm and a tied
output layer with a bias. Three differences of storage, each undone exactly:

* HF keeps q, k, v, o and r as (D, heads, head size) tensors applied by einsum; lmlab's
  are ``nn.Linear`` weights (out, in): q/k/v/r are transposed (and q, k, v stacked into
  the fused ``qkv``), o is already (out, in) once its last two axes are flattened;
* HF's sinusoid table is [sin | cos] halves, lmlab's interleaves sin and cos
  (:func:`lmlab.embeddings.token_embedding.sinusoidal_table`): r's input rows are
  permuted (:func:`_sinusoid_order`);
* the query stream's start ``mask_emb`` (1, 1, D) is the xlnet objective's w (D,).

``XLNetForSequenceClassification``'s ``sequence_summary`` (last token, projection, tanh)
is lmlab's ``pooling: last`` head: ``summary`` = its pooler, ``logits_proj`` its classifier.
"""

from __future__ import annotations

import torch

from lmlab.errors import CheckpointError
from lmlab.interop.configs import ACTIVATION_TO_HF, NoCounterpartError, _activation
from lmlab.interop.tables import Rule, to_hf

XLNET_CLASSES = {"pretrained": "XLNetLMHeadModel",
                 "classification": "XLNetForSequenceClassification",
                 "regression": "XLNetForSequenceClassification"}
SUMMARY = {"summary_type": "last", "summary_use_proj": True, "summary_activation": "tanh",
           "summary_proj_to_labels": False}


def _sinusoid_order(width: int) -> torch.Tensor:
    """lmlab's sinusoid column of each HF column: HF k < D/2 is sin of frequency k (lmlab
    2k), HF k >= D/2 its cos (lmlab 2(k - D/2) + 1)."""
    half = torch.arange(width // 2)
    return torch.cat([2 * half, 2 * half + 1])  # (D,)


def layer_entries(i: int, width: int, heads: int, ours: str = "") -> list[Rule]:
    """One layer's HF ``transformer.layer.i`` tensors against lmlab's ``encoder.layers.i``."""
    h, l = f"transformer.layer.{i}.", f"{ours}encoder.layers.{i}."
    size = width // heads

    def flat(t):  # (D, H, d) -> (D, H*d)
        return t.reshape(width, heads * size)

    def unflat(t):  # (D, H*d) -> (D, H, d)
        return t.reshape(width, heads, size)

    order = _sinusoid_order(width)
    inverse = torch.argsort(order)

    def r_to_ours(t):  # HF R_hf @ r == R_ours @ W^T: W^T's row order[k] is r's row k
        return flat(t)[inverse].t().contiguous()

    def r_to_theirs(t):
        return unflat(t.t()[order].contiguous())

    entries = [
        # q, k, v stacked: (3D, H, d) -> (3D, D); each part back: (D_out, D_in) -> (D_in, H, d)
        Rule((f"{l}attention.qkv.weight",), tuple(f"{h}rel_attn.{n}" for n in "qkv"),
             to_ours=lambda t: t.reshape(3, width, heads * size).transpose(1, 2)
                                .reshape(3 * width, width),
             to_theirs=lambda t: unflat(t.t())),
        Rule((f"{l}attention.out.weight",), (f"{h}rel_attn.o",), to_ours=flat, to_theirs=unflat),
        Rule((f"{l}attention.position.weight",), (f"{h}rel_attn.r",), to_ours=r_to_ours,
             to_theirs=r_to_theirs),
        Rule((f"{l}attention.content_bias",), (f"{h}rel_attn.r_w_bias",)),
        Rule((f"{l}attention.position_bias",), (f"{h}rel_attn.r_r_bias",)),
        Rule((f"{l}attention.segment_bias",), (f"{h}rel_attn.r_s_bias",)),
        Rule((f"{l}attention.segment_vectors",), (f"{h}rel_attn.seg_embed",)),
    ]
    for ours_name, theirs_name in (("attention_norm", "rel_attn.layer_norm"),
                                   ("ffn_norm", "ff.layer_norm"), ("ffn.up", "ff.layer_1"),
                                   ("ffn.down", "ff.layer_2")):
        entries += [Rule((f"{l}{ours_name}.{kind}",), (f"{h}{theirs_name}.{kind}",))
                    for kind in ("weight", "bias")]
    return entries


def xlnet_entries(num_layers: int, width: int, heads: int, kind: str) -> list[Rule]:
    """Every tensor of an HF XLNet of ``kind`` (pretrained / classification / regression)."""
    ours = "" if kind == "pretrained" else "backbone."
    tokens = (f"{ours}embedding.tokens.weight",)
    entries = []
    if kind == "pretrained":
        tokens += ("lm_head.decoder.weight",)
        entries += [Rule(("heads.xlnet.weight",), ("transformer.mask_emb",),
                         to_ours=lambda t: t.reshape(-1), to_theirs=lambda t: t.reshape(1, 1, -1)),
                    Rule(("lm_head.decoder.bias",), ("lm_loss.bias",))]
    else:
        entries += [Rule((f"head.{o}.{k}",), (f"{t}.{k}",))
                    for o, t in (("pooler", "sequence_summary.summary"),
                                 ("classifier", "logits_proj")) for k in ("weight", "bias")]
    entries.append(Rule(tokens, ("transformer.word_embedding.weight",)))
    for i in range(num_layers):
        entries += layer_entries(i, width, heads, ours)
    return entries


def lmlab_to_xlnet(state: dict, model, kind: str) -> dict:
    """An lmlab XLNet state dict (``model``: its ModelConfig) -> HF names. A fine-tuned
    model has no query stream: HF's ``mask_emb``, which its classifier never reads, is
    written as zeros."""
    out = to_hf(xlnet_entries(model.encoder.num_layers, model.embedding.hidden_size,
                                      model.encoder.num_heads, kind), state)
    if kind != "pretrained":
        out["transformer.mask_emb"] = torch.zeros(1, 1, model.embedding.hidden_size)
    return out


# --- configs ------------------------------------------------------------------------------

def is_xlnet(model) -> bool:
    """An lmlab ``ModelConfig`` whose encoder is XLNet's (relative, permutation mask)."""
    encoder = model.encoder
    return getattr(encoder, "mask", None) == "permutation"


def _need(ok: bool, setting: str, why: str) -> None:
    if not ok:
        raise NoCounterpartError(f"{setting}: {why}")


def hf_xlnet_config(model, tokenizer) -> dict:
    """``XLNetConfig`` keyword arguments for an lmlab XLNet ``ModelConfig``, or
    NoCounterpartError naming the first setting HF XLNet does not compute."""
    embedding, encoder, head = model.embedding, model.encoder, model.lm_head
    _need(encoder.norm == "post", "model.encoder.norm", f"{encoder.norm}; XLNet is post-LN")
    _need(not encoder.attention_bias or not encoder.bias, "model.encoder.attention_bias",
          "true; XLNet's q, k, v, o projections have no bias")
    _need(encoder.bias, "model.encoder.bias", "false; XLNet's feed-forward has biases")
    _need(encoder.relative_segments, "model.encoder.relative_segments",
          "false; HF XLNet always has relative segment encoding")
    _need(encoder.share_layers == "none", "model.encoder.share_layers",
          f"{encoder.share_layers}; XLNet shares no layers")
    _need(encoder.norm_type == "layer", "model.encoder.norm_type",
          f"{encoder.norm_type}; XLNet uses LayerNorm")
    _need(encoder.activation in ACTIVATION_TO_HF, "model.encoder.activation",
          f"{encoder.activation}; XLNet's ff_activation has no such choice")
    _need(not embedding.layer_norm and not embedding.num_segments
          and embedding.embedding_size in (0, embedding.hidden_size), "model.embedding",
          "XLNet embeds tokens only (no norm, no segment table, no factorisation)")
    _need(head.tie_weights and head.bias and not head.transform, "model.lm_head",
          "XLNet ties its output to the token table with a bias (tie_weights: true, "
          "bias: true, transform: false)")
    return {"vocab_size": embedding.vocab_size or tokenizer.vocab_size,
            "d_model": embedding.hidden_size, "n_layer": encoder.num_layers,
            "n_head": encoder.num_heads, "d_head": embedding.hidden_size // encoder.num_heads,
            "d_inner": encoder.ffn_size, "ff_activation": ACTIVATION_TO_HF[encoder.activation],
            "dropout": encoder.dropout, "layer_norm_eps": encoder.layer_norm_eps,
            "mem_len": encoder.memory_length or None, "attn_type": "bi", "bi_data": False,
            "clamp_len": -1, "same_length": False, "pad_token_id": tokenizer.pad_id,
            "bos_token_id": tokenizer.cls_id, "eos_token_id": tokenizer.sep_id, **SUMMARY}


def xlnet_model_config_from_hf(hf: dict) -> dict:
    """A raw lmlab ``model:`` section from an HF XLNet ``config.json``."""
    if hf["d_head"] * hf["n_head"] != hf["d_model"]:
        raise CheckpointError("XLNet with d_head * n_head != d_model is not supported")
    if hf.get("attn_type", "bi") != "bi" or hf.get("bi_data") or hf.get("same_length"):
        raise CheckpointError("XLNet with attn_type uni, bi_data or same_length is not "
                              "supported (lmlab's is bidirectional, one direction of data)")
    if (hf.get("clamp_len") or -1) > 0:
        raise CheckpointError("XLNet with clamp_len > 0 is not supported")
    return {"family": "xlnet",
            "embedding": {"vocab_size": hf["vocab_size"], "hidden_size": hf["d_model"],
                          "position": "none", "dropout": hf.get("dropout", 0.1)},
            "encoder": {"name": "transformer", "position": "xl", "mask": "permutation",
                        "num_layers": hf["n_layer"], "num_heads": hf["n_head"],
                        "ffn_size": hf["d_inner"], "norm": "post",
                        "activation": _activation(hf, "ff_activation", "gelu"),
                        "dropout": hf.get("dropout", 0.1),
                        "attention_dropout": hf.get("dropout", 0.1),
                        "layer_norm_eps": hf.get("layer_norm_eps", 1e-12),
                        "relative_biases": "per_layer", "attention_bias": False,
                        "relative_segments": True, "memory_length": hf.get("mem_len") or 0},
            "lm_head": {"tie_weights": True, "bias": True}}
