"""Evaluation verbs over a run folder, for neural and n-gram runs alike."""

from __future__ import annotations

from pathlib import Path

from lmlab.data.lm_data import token_store, unit_marks
from lmlab.errors import ConfigError, LmlabError
from lmlab.evaluation.generation import generate
from lmlab.evaluation.perplexity import evaluate_perplexity
from lmlab.ngram.run_folder import evaluate_run_perplexity, generate_from_run as ngram_generate
from lmlab.registry import build_objectives
from lmlab.training.checkpoint import load_run


def _is_ngram_run(run: str) -> bool:
    return (Path(run) / "ngram.json").exists()  # the marker every `ngram build` writes


def perplexity_of_run(run: str, data: str | None, split: str, stride: int | None = None,
                      max_tokens: int = 0) -> dict:
    """Perplexity of ``run`` on ``split`` of ``data`` (default: the data the run was built
    or trained on)."""
    if _is_ngram_run(run):
        return evaluate_run_perplexity(run, data, split)

    config, tokenizer, model = load_run(run)
    if stride is not None and not 1 <= stride <= config.data.seq_len:
        raise ConfigError(f"--stride must be from 1 to {config.data.seq_len} (the run's "
                          f"seq_len); got {stride}")
    if data:
        config.data.dataset = data
    store = token_store(config.data, tokenizer, split)
    marks = unit_marks(config.data, config.objectives, tokenizer, split, store)
    result = evaluate_perplexity(model, config, tokenizer, store.ids, stride, max_tokens, marks)
    return {"run": str(run), "data": config.data.dataset, "split": split, **result}


def generate_from_run(run: str, prompt: str, max_new_tokens: int, temperature: float,
                      top_k: int, top_p: float, seed: int) -> str:
    if _is_ngram_run(run):
        return ngram_generate(run, prompt, max_new_tokens, temperature, top_k, top_p, seed)

    config, tokenizer, model = load_run(run)
    if model.is_seq2seq:
        raise LmlabError(f"{run} is an encoder–decoder ({config.objectives[0].describe()}); "
                         f"generation from encoder–decoders is not available yet (issue 18)")
    if not build_objectives(config.objectives[:1], tokenizer)[0].causal:
        raise LmlabError(f"{run} is a masked LM ({config.objectives[0].describe()}); use "
                         f"'lmlab fill-mask {run} TEXT' instead of generate")
    return generate(model, tokenizer, prompt, max_new_tokens, temperature, top_k, top_p, seed,
                    max_context=config.model.embedding.max_positions
                    if config.model.embedding.position == "learned" else 0)
