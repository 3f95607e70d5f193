"""Dev/test predictions of a generation fine-tuning: a search (greedy or beam) from each
feature's prompt, length-sorted into batches, the outputs returned as text in the
features' order."""

from __future__ import annotations

from lmlab.errors import CheckpointError
from lmlab.finetune.batching import evaluation_batches
from lmlab.generation.api import SpecialIds, generate_outputs
from lmlab.generation.options import GenerationOptions


def special_ids(tokenizer, mode: str, decoder_start_id: int | None) -> SpecialIds:
    """The stop token each mode's targets end with (seq2seq_features) and how it starts."""
    if mode == "encoder_decoder":
        return SpecialIds((tokenizer.sep_id,), tokenizer.pad_id, decoder_start_id)
    if mode == "prefix_lm":
        return SpecialIds((tokenizer.eos_id,), tokenizer.pad_id)
    if mode == "unilm":
        return SpecialIds((tokenizer.sep_id,), tokenizer.pad_id,
                          mask_predict_id=tokenizer.mask_id)
    raise CheckpointError(f"generation_mode: expected encoder_decoder, prefix_lm or unilm, "
                          f"got {mode!r}")


def generation_options(options) -> GenerationOptions:
    """Decoding settings of a fine-tuning's ``FinetuneOptions``."""
    return GenerationOptions(max_new_tokens=options.max_target_len, num_beams=options.num_beams,
                             length_penalty=options.length_penalty,
                             no_repeat_ngram_size=options.no_repeat_ngram_size).validate()


def generate_features(backbone, features: list[dict], config, tokenizer) -> list[str]:
    """The generated text of every feature (``config``: a FinetuneRunConfig)."""
    special = special_ids(tokenizer, config.generation_mode, config.decoder_start_id)
    options = generation_options(config.options)
    outputs: list = [None] * len(features)
    prompts = [feature["prompt"] for feature in features]
    for indices in evaluation_batches([len(p) for p in prompts], config.options.eval_batch_size):
        texts = generate_outputs(backbone, tokenizer, [prompts[i] for i in indices], options,
                                 special)
        for index, text in zip(indices, texts):
            outputs[index] = text
    return outputs
