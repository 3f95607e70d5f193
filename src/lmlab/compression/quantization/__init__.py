"""Quantization: post-training dynamic int8 and k-means weight sharing."""
