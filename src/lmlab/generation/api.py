"""``generate_ids`` (token ids in, token ids out; any model that can generate) and
``generate_texts`` (an lmlab tokenizer's text in and out), the functions behind
``lmlab generate``, ``lmlab serve`` and the seq2seq fine-tuning's evaluation.

Lengths: a model with learned or sinusoidal positions has ``max_positions`` of them.
A causal LM's prompt keeps its last ``max_positions - max_new_tokens`` tokens, an
encoder–decoder's source its first ``max_positions``; both are counted in a warning, never
silently cut. ``max_new_tokens`` beyond what the positions allow is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmlab.errors import ConfigError
from lmlab.generation.mask_predict import MaskPredictStepper
from lmlab.generation.options import GenerationOptions
from lmlab.generation.search import beam_search, greedy_or_sample
from lmlab.generation.steppers import (CausalTransformerStepper, EncoderDecoderStepper,
                                       RecurrentStepper)
from lmlab.manifest import warn


@dataclass(frozen=True)
class SpecialIds:
    stop_ids: tuple[int, ...]
    """A sequence ends after one of these (EOS)."""
    pad_id: int
    decoder_start_id: int | None = None
    """The decoder's first input (encoder–decoders only: BART </s>, T5 <pad>)."""
    mask_predict_id: int | None = None
    """A bidirectional model fine-tuned as UniLM generates by predicting this token
    ([MASK]) appended after the sequence (:mod:`lmlab.generation.mask_predict`)."""


def position_limit(embedding) -> int | None:
    """How many positions an embedding can number; None when unbounded (relative)."""
    config = getattr(embedding, "config", None)
    if config is None or getattr(config, "position", "none") == "none":
        return None
    return config.max_positions


def _fit(prompts: list[list[int]], limit: int | None, keep_last: bool, what: str) -> list[list[int]]:
    if limit is None:
        return prompts
    long = sum(len(prompt) > limit for prompt in prompts)
    if long:
        warn(f"{long} of {len(prompts)} {what}s were longer than the model's {limit} positions "
             f"and were cut to their {'last' if keep_last else 'first'} {limit} tokens")
    return [prompt[-limit:] if keep_last else prompt[:limit] for prompt in prompts]


def _check(prompts: list[list[int]], options: GenerationOptions, special: SpecialIds) -> None:
    options.validate()
    if options.do_sample and options.num_beams > 1:
        raise ConfigError("num_beams: beam search does not sample; use num_beams=1 with "
                          "do_sample=true, or do_sample=false with beams")
    if not special.stop_ids:
        raise ConfigError("stop_ids: give at least one stop token (the model's EOS)")
    for index, prompt in enumerate(prompts):
        if not prompt:
            raise ConfigError(f"input {index}: empty; give at least one token of text")


@torch.inference_mode()
def generate_ids(model, prompts: list[list[int]], options: GenerationOptions,
                 special: SpecialIds, use_cache: bool = True) -> list[list[int]]:
    """The new token ids for each prompt (an encoder–decoder's source), stop token included
    when reached. ``use_cache=False`` recomputes every prefix (the reference path)."""
    _check(prompts, options, special)
    search = beam_search if options.num_beams > 1 else greedy_or_sample
    model.eval()
    if model.is_seq2seq:
        if special.decoder_start_id is None:
            raise ConfigError("decoder_start_id: an encoder–decoder needs the decoder's start token")
        decoder_limit = position_limit(model.decoder_embedding or model.embedding)
        if decoder_limit is not None and options.max_new_tokens >= decoder_limit:
            raise ConfigError(f"max_new_tokens: at most {decoder_limit - 1} for this model "
                              f"(its decoder has {decoder_limit} positions), got "
                              f"{options.max_new_tokens}")
        prompts = _fit(prompts, position_limit(model.embedding), keep_last=False, what="source")
        stepper = EncoderDecoderStepper(model, special.decoder_start_id, special.pad_id, use_cache)
        return search(stepper, prompts, [[special.decoder_start_id]] * len(prompts), options,
                      special.stop_ids)
    limit = position_limit(model.embedding)
    if limit is not None:
        if options.max_new_tokens >= limit:
            raise ConfigError(f"max_new_tokens: at most {limit - 1} for this model (it has "
                              f"{limit} positions), got {options.max_new_tokens}")
        prompts = _fit(prompts, limit - options.max_new_tokens, keep_last=True, what="prompt")
    if model.recurrent:  # one prompt at a time: states of different lengths do not batch
        return [search(RecurrentStepper(model), [prompt], [prompt], options, special.stop_ids)[0]
                for prompt in prompts]
    stepper = (CausalTransformerStepper(model, special.pad_id, use_cache)
               if special.mask_predict_id is None else
               MaskPredictStepper(model, special.pad_id, special.mask_predict_id, use_cache))
    return search(stepper, prompts, prompts, options, special.stop_ids)


def lmlab_special_ids(tokenizer, decoder_start_id: int | None = None) -> SpecialIds:
    """An lmlab run's tokens: sequences stop at ``<eos>`` (causal LMs, which see ``<eos>``
    between lines) or ``[SEP]`` (encoder–decoders, whose targets end with it)."""
    stop = tokenizer.sep_id if decoder_start_id is not None else tokenizer.eos_id
    return SpecialIds((stop,), tokenizer.pad_id, decoder_start_id)


def generate_texts(model, tokenizer, texts: list[str], options: GenerationOptions,
                   decoder_start_id: int | None = None) -> list[str]:
    """Generated text for each input: a causal LM's continuation of it (the prompt and the
    new text, lines ending at ``<eos>``), an encoder–decoder's output for it as source
    (``[CLS] text [SEP]``, as its pre-training and fine-tuning saw it)."""
    special = lmlab_special_ids(tokenizer, decoder_start_id)
    # Never proposed: tokens the run never saw as a target (a BART target does start with
    # [CLS], so an encoder–decoder may produce it; it is dropped from the text).
    never = ({tokenizer.pad_id, tokenizer.unk_id, tokenizer.mask_id}
             | ({tokenizer.eos_id} if model.is_seq2seq else {tokenizer.cls_id, tokenizer.sep_id}))
    options = GenerationOptions(**{**options.__dict__,
                                   "suppress_ids": tuple(sorted(never | set(options.suppress_ids)))})
    if model.is_seq2seq:
        for index, text in enumerate(texts):
            if not text.strip():
                raise ConfigError(f"input {index}: empty source text")
        prompts = [[tokenizer.cls_id] + tokenizer.encode(text) + [tokenizer.sep_id]
                   for text in texts]
        outputs = generate_ids(model, prompts, options, special)
        dropped = set(special.stop_ids) | {tokenizer.cls_id}
        return [tokenizer.decode([t for t in output if t not in dropped]) for output in outputs]
    prompts = [tokenizer.encode(text) or [tokenizer.eos_id] for text in texts]
    outputs = generate_ids(model, prompts, options, special)
    eos = tokenizer.id_to_token(tokenizer.eos_id)
    return [tokenizer.decode(prompt + output).replace(f" {eos} ", "\n").replace(f" {eos}", "\n")
            for prompt, output in zip(prompts, outputs)]


def finetuned_suppressed_ids(tokenizer, special: SpecialIds) -> list[int]:
    """The ids a fine-tuned generator never proposes: the special tokens but its stop token
    (an HF export writes them as ``suppress_tokens``)."""
    specials = {tokenizer.pad_id, tokenizer.unk_id, tokenizer.mask_id, tokenizer.cls_id,
                tokenizer.eos_id, tokenizer.sep_id}
    return sorted(specials - set(special.stop_ids))


def generate_outputs(model, tokenizer, prompts: list[list[int]], options: GenerationOptions,
                     special: SpecialIds) -> list[str]:
    """The text of what a fine-tuned generator writes after each prompt (ids as its
    fine-tuning laid them out): only target tokens are proposed (no padding, [UNK],
    [MASK], [CLS] or the separator that is not its stop token), the stop token dropped."""
    never = set(finetuned_suppressed_ids(tokenizer, special))
    options = GenerationOptions(**{**options.__dict__,
                                   "suppress_ids": tuple(sorted(never | set(options.suppress_ids)))})
    outputs = generate_ids(model, prompts, options, special)
    return [tokenizer.decode([t for t in output if t not in special.stop_ids])
            for output in outputs]
