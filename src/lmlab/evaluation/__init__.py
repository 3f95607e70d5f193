"""Evaluation: perplexity, fill-mask (generation lives in lmlab.generation)."""
