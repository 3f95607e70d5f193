"""Generation for every model that can generate: greedy, sampling, beam search."""

from lmlab.generation.api import SpecialIds, generate_ids, generate_texts, lmlab_special_ids
from lmlab.generation.options import GenerationOptions

__all__ = ["GenerationOptions", "SpecialIds", "generate_ids", "generate_texts",
           "lmlab_special_ids"]
