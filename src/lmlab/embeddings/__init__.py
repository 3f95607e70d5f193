"""Embedding parts: ``(ids, segments=None, positions=None) -> x (B, T, D)``."""
from lmlab.embeddings.token_embedding import EmbeddingConfig, TokenEmbedding

__all__ = ["EmbeddingConfig", "TokenEmbedding"]
