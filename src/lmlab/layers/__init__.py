"""Shared layers: attention, feed-forward."""
from lmlab.layers.attention import MultiHeadAttention, reference_attention
from lmlab.layers.feed_forward import FeedForward, activation_fn

__all__ = ["MultiHeadAttention", "reference_attention", "FeedForward", "activation_fn"]
