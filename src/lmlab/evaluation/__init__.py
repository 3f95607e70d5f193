"""Evaluation: perplexity, generation, fill-mask."""
