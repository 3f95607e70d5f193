"""Evaluation verbs over a run folder, for neural and n-gram runs alike."""

from __future__ import annotations

from pathlib import Path

from lmlab.data.lm_data import token_store, unit_marks
from lmlab.errors import ConfigError, LmlabError
from lmlab.evaluation.perplexity import evaluate_perplexity
from lmlab.generation import GenerationOptions, generate_texts
from lmlab.ngram.run_folder import evaluate_run_perplexity, generate_from_run as ngram_generate
from lmlab.registry import build_objectives
from lmlab.training.checkpoint import load_run
from lmlab.training.parts import run_languages


def _is_ngram_run(run: str) -> bool:
    return (Path(run) / "ngram.json").exists()  # the marker every `ngram build` writes


def perplexity_of_run(run: str, data: str | None, split: str, stride: int | None = None,
                      max_tokens: int = 0, memory_length: int | None = None) -> dict:
    """Perplexity of ``run`` on ``split`` of ``data`` (default: the data the run was built
    or trained on). ``memory_length``: a Transformer-XL run read with this memory instead
    of its training one (Dai et al. 2019 §3.2 evaluate with a longer one; 0 = none)."""
    if _is_ngram_run(run):
        if memory_length is not None:
            raise ConfigError(f"--memory-length: {run} is an n-gram model, not Transformer-XL")
        return evaluate_run_perplexity(run, data, split)

    config, tokenizer, model = load_run(run)
    if memory_length is not None:
        if not getattr(model.encoder, "xl", False) or memory_length < 0:
            raise ConfigError(f"--memory-length: needs a Transformer-XL run "
                              f"(model.encoder.position: xl) and M >= 0; got {memory_length} "
                              f"for {run}")
        model.encoder.memory_length = config.model.encoder.memory_length = memory_length
    if stride is not None and not 1 <= stride <= config.data.seq_len:
        raise ConfigError(f"--stride must be from 1 to {config.data.seq_len} (the run's "
                          f"seq_len); got {stride}")
    if data:
        config.data.dataset = data
    store = token_store(config.data, tokenizer, split)
    marks = unit_marks(config.data, config.objectives, tokenizer, split, store)
    result = evaluate_perplexity(model, config, tokenizer, store.ids, stride, max_tokens, marks,
                                 run_languages(config, split, store))
    extra = {"memory_length": memory_length} if memory_length is not None else {}
    return {"run": str(run), "data": config.data.dataset, "split": split, **extra, **result}


def ngram_sampling(options: GenerationOptions, what: str) -> dict:
    """The keywords of ``ngram.generate.sample`` for ``options`` (temperature 0 = greedy);
    what an n-gram model cannot do (beams, n-gram blocking, a minimum length) is refused
    naming ``what``."""
    if options.num_beams > 1 or options.no_repeat_ngram_size or options.min_new_tokens:
        raise ConfigError(f"{what} is an n-gram model: it samples (temperature, top-k, "
                          f"top-p) but has no beam search, n-gram blocking or min_new_tokens")
    return {"temperature": options.temperature if options.do_sample else 0.0,
            "top_k": options.top_k, "top_p": options.top_p, "seed": options.seed}


def generate_from_run(run: str, texts: list[str], options: GenerationOptions) -> list[str]:
    """Generated text for each input: a continuation (n-gram and causal LMs) or an
    encoder–decoder's output for it as source."""
    if _is_ngram_run(run):
        sampling = ngram_sampling(options, run)
        return [ngram_generate(run, text, options.max_new_tokens, **sampling) for text in texts]

    config, tokenizer, model = load_run(run)
    objective = build_objectives(config.objectives[:1], tokenizer)[0]
    if getattr(model.encoder, "lm_input_size", None) is not None:  # bilstm: [h→ ; h←]
        raise LmlabError(f"{run} is a bidirectional LM ({config.objectives[0].describe()}): "
                         f"its backward half reads the text's future, so it does not "
                         f"continue a prompt; score text with 'lmlab eval perplexity {run}'")
    if not model.is_seq2seq and not objective.causal:
        raise LmlabError(f"{run} is a masked LM ({config.objectives[0].describe()}); use "
                         f"'lmlab fill-mask {run} TEXT' instead of generate")
    return generate_texts(model, tokenizer, texts, options, objective.decoder_start_id)
