"""lmlab encoder–decoders as HF BART or T5: the inverse of :mod:`lmlab.interop.hf_seq2seq`.

Which class a model is follows from its structure (never its family name), and only a
structure the class computes exactly is written:

* ``BartForConditionalGeneration`` (Lewis et al. 2020): post-LN LayerNorm with eps 1e-5
  (HF's is fixed), learned positions with a LayerNorm on each side's embedding, one
  activation, no relative buckets. The decoder's embedding is BART's own
  (``shared_tokens``) or the encoder's module (``shared``, as MASS): its positions and norm
  are then written for both sides.
* ``T5ForConditionalGeneration`` (Raffel et al. 2020, the original ReLU T5): pre-LN
  RMSNorm with final norms, relative buckets, no absolute positions, and one head count,
  FFN size, eps and bucket setting for both stacks. T5 has no biases, so lmlab's must be
  zero: a trained lmlab transformer's are not, and its export is refused naming one.

Both need one token table tied to a bias-free output projection. Anything else is a
one-line :class:`NoCounterpartError` naming the setting.

The config makes HF ``generate`` start and stop as lmlab's :func:`lmlab.generation.
generate_ids` does for the run: ``decoder_start_token_id`` is the objective's start (BART
``<eos>``, T5 ``<pad>``, MASS ``[MASK]``), ``eos_token_id`` lmlab's stop (``[SEP]``, the
end of every seq2seq target), ``bos_token_id`` ``[CLS]``, and no forced tokens (BartConfig
forces ``</s>`` at the end by default; lmlab does not).
"""

from __future__ import annotations

import torch

from lmlab.errors import CheckpointError
from lmlab.interop.configs import ACTIVATION_TO_HF, NoCounterpartError
from lmlab.interop.hf_seq2seq import (BART_NORM_EPS, Layout, bart_layout, fold_weights,
                                      t5_layout)
from lmlab.interop.tables import to_hf

SEQ2SEQ_CLASSES = {"bart": "BartForConditionalGeneration", "t5": "T5ForConditionalGeneration"}


def _need(ok: bool, setting: str, why: str) -> None:
    if not ok:
        raise NoCounterpartError(f"{setting}: {why}")


def _check_common(model) -> None:
    embedding, encoder, decoder, head = (model.embedding, model.encoder, model.decoder,
                                         model.lm_head)
    _need(getattr(encoder, "name", None) == "transformer", "model.encoder.name",
          f"{getattr(encoder, 'name', None)}; HF BART and T5 have transformer encoders")
    _need(head.tie_weights and not head.bias and not head.transform, "model.lm_head",
          "BART and T5 tie a bias-free output projection to the token table (tie_weights: "
          "true, bias: false, transform: false)")
    _need(decoder.embedding != "separate", "model.decoder.embedding",
          "separate; BART and T5 share one token table between encoder and decoder")
    _need(not embedding.num_segments, "model.embedding.num_segments",
          f"{embedding.num_segments}; BART and T5 have no segment embeddings")
    _need(embedding.embedding_size in (0, embedding.hidden_size), "model.embedding.embedding_size",
          f"{embedding.embedding_size} (factorised); BART and T5 embed at the hidden size")
    _need(encoder.share_layers == "none", "model.encoder.share_layers",
          f"{encoder.share_layers}; BART and T5 share no layers")
    _need(encoder.mask == "bidirectional", "model.encoder.mask",
          f"{encoder.mask}; BART and T5 encoders are bidirectional")


def _check_bart(model) -> None:
    embedding, encoder, decoder = model.embedding, model.encoder, model.decoder
    _need(decoder.norm == "post", "model.decoder.norm",
          f"{decoder.norm} under a post-LN encoder; BART is post-LN throughout")
    for path, part in (("model.encoder", encoder), ("model.decoder", decoder)):
        _need(part.norm_type == "layer", f"{path}.norm_type",
              f"{part.norm_type}; BART uses LayerNorm")
        _need(not part.relative_buckets, f"{path}.relative_buckets",
              f"{part.relative_buckets}; BART has no relative positions")
    _need(embedding.position == "learned", "model.embedding.position",
          f"{embedding.position}; BART has learned positions")
    _need(embedding.layer_norm, "model.embedding.layer_norm",
          "false; BART normalises its embeddings (layernorm_embedding)")
    for path, eps in (("model.embedding", embedding.layer_norm_eps),
                      ("model.encoder", encoder.layer_norm_eps),
                      ("model.decoder", decoder.layer_norm_eps)):
        _need(eps == BART_NORM_EPS, f"{path}.layer_norm_eps",
              f"{eps:g}; HF BART's LayerNorms have eps {BART_NORM_EPS:g}, not configurable")
    _need(decoder.activation == encoder.activation, "model.decoder.activation",
          f"{decoder.activation} differs from the encoder's {encoder.activation}; BART has one "
          f"activation_function")


def _check_t5(model) -> None:
    embedding, encoder, decoder = model.embedding, model.encoder, model.decoder
    _need(decoder.norm == "pre", "model.decoder.norm",
          f"{decoder.norm} under a pre-LN encoder; T5 is pre-LN throughout")
    for path, part in (("model.encoder", encoder), ("model.decoder", decoder)):
        _need(part.norm_type == "rms", f"{path}.norm_type",
              f"{part.norm_type}; a pre-LN model exports as T5, which uses RMSNorm")
        _need(part.final_norm, f"{path}.final_norm", "false; T5 ends each stack with a norm")
        _need(part.activation == "relu", f"{path}.activation",
              f"{part.activation}; the original T5 feed-forward is ReLU")
    _need(embedding.position == "none", "model.embedding.position",
          f"{embedding.position}; T5 has relative positions only")
    _need(not embedding.layer_norm, "model.embedding.layer_norm",
          "true; T5 does not normalise its embeddings")
    _need(encoder.relative_buckets > 0, "model.encoder.relative_buckets",
          "0; T5 has relative position buckets")
    for name in ("relative_buckets", "relative_max_distance", "num_heads", "ffn_size",
                 "layer_norm_eps", "bias"):
        _need(getattr(decoder, name) == getattr(encoder, name), f"model.decoder.{name}",
              f"{getattr(decoder, name)} differs from the encoder's {getattr(encoder, name)}; "
              f"T5 has one {name} for both stacks")


def seq2seq_architecture(model) -> str:
    """``bart`` or ``t5`` for an lmlab encoder–decoder ``ModelConfig``, or
    NoCounterpartError naming the first setting neither has."""
    _check_common(model)
    if model.encoder.norm == "post":
        _check_bart(model)
        return "bart"
    _check_t5(model)
    return "t5"


def hf_seq2seq_config(model, tokenizer, decoder_start_id: int) -> dict:
    """Keyword arguments of ``BartConfig`` / ``T5Config`` for an lmlab ``ModelConfig``, with
    the generation tokens of the module docstring."""
    architecture = seq2seq_architecture(model)
    embedding, encoder, decoder = model.embedding, model.encoder, model.decoder
    config = {"vocab_size": embedding.vocab_size or tokenizer.vocab_size,
              "d_model": embedding.hidden_size, "is_encoder_decoder": True,
              "tie_word_embeddings": True, "pad_token_id": tokenizer.pad_id,
              "bos_token_id": tokenizer.cls_id, "eos_token_id": tokenizer.sep_id,
              "decoder_start_token_id": decoder_start_id, "forced_bos_token_id": None,
              "forced_eos_token_id": None}
    if architecture == "bart":
        return {**config, "max_position_embeddings": embedding.max_positions,
                "encoder_layers": encoder.num_layers, "decoder_layers": decoder.num_layers,
                "encoder_attention_heads": encoder.num_heads,
                "decoder_attention_heads": decoder.num_heads,
                "encoder_ffn_dim": encoder.ffn_size, "decoder_ffn_dim": decoder.ffn_size,
                "activation_function": ACTIVATION_TO_HF[encoder.activation],
                "dropout": encoder.dropout, "attention_dropout": encoder.attention_dropout,
                "activation_dropout": 0.0, "scale_embedding": False}
    return {**config, "d_kv": embedding.hidden_size // encoder.num_heads,
            "d_ff": encoder.ffn_size, "num_layers": encoder.num_layers,
            "num_decoder_layers": decoder.num_layers, "num_heads": encoder.num_heads,
            "relative_attention_num_buckets": encoder.relative_buckets,
            "relative_attention_max_distance": encoder.relative_max_distance,
            "dropout_rate": encoder.dropout, "layer_norm_epsilon": encoder.layer_norm_eps,
            "feed_forward_proj": "relu"}


def layout_to_hf(layout: Layout, state: dict) -> dict:
    """An lmlab state dict -> HF names, the folds undone; every lmlab tensor must have its
    place, and every bias the HF model lacks must be zero."""
    covered = {key for rule in layout.rules for key in rule.ours} | set(layout.zero_biases)
    needed = [rule.ours[0] for rule in layout.rules] + layout.zero_biases
    extra, missing = sorted(set(state) - covered), [key for key in needed if key not in state]
    if extra or missing:
        raise CheckpointError(f"the model does not fit the HF layout: no place for "
                              f"{extra[:3]}, missing {missing[:3]}")
    for key in layout.zero_biases:
        if state[key].any():
            raise NoCounterpartError(
                f"{key}: the HF model has no biases and this one is not zero (max |b| "
                f"{state[key].abs().max().item():.1e}); lmlab's transformer trains its biases, "
                f"so only a model whose biases are zero (as one imported from HF) exports exactly")
    state = dict(state)
    fold_weights(state, layout.folds, inverse=True)
    return to_hf(layout.rules, state)


def lmlab_to_bart(state: dict, encoder_layers: int, decoder_layers: int,
                  decoder_embedding: str = "decoder_embedding") -> dict:
    """lmlab state dict -> ``BartForConditionalGeneration`` names: the inverse of
    :func:`~lmlab.interop.hf_seq2seq.bart_to_lmlab` (the two unread position rows and
    ``final_logits_bias`` zero, as lmlab's tied head has no bias)."""
    out = layout_to_hf(bart_layout(encoder_layers, decoder_layers, decoder_embedding), state)
    out["final_logits_bias"] = torch.zeros(1, out["model.shared.weight"].shape[0])  # (1, V)
    return out


def lmlab_to_t5(state: dict, encoder_layers: int, decoder_layers: int, head_size: int,
                hidden_size: int, biases: bool = False) -> dict:
    """lmlab state dict -> ``T5ForConditionalGeneration`` names: the inverse of
    :func:`~lmlab.interop.hf_seq2seq.t5_to_lmlab` (query and final-norm folds undone,
    exactly for powers of 4; NoCounterpartError names a bias that is not zero)."""
    return layout_to_hf(t5_layout(encoder_layers, decoder_layers, head_size, hidden_size,
                                  biases), state)


def lmlab_to_hf_seq2seq(state: dict, model) -> tuple[str, dict]:
    """(architecture, HF state dict) of an lmlab encoder–decoder with config ``model``."""
    architecture = seq2seq_architecture(model)
    encoder, decoder = model.encoder.num_layers, model.decoder.num_layers
    if architecture == "bart":
        own = "embedding" if model.decoder.embedding == "shared" else "decoder_embedding"
        return architecture, lmlab_to_bart(state, encoder, decoder, own)
    # shared_tokens: the decoder's table is the encoder's Parameter (T5 has no other part).
    state = {key: value for key, value in state.items()
             if key != "decoder_embedding.tokens.weight"}
    hidden = model.embedding.hidden_size
    return architecture, lmlab_to_t5(state, encoder, decoder, hidden // model.encoder.num_heads,
                                     hidden, model.encoder.bias or model.decoder.bias)
