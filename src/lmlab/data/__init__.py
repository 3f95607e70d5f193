"""Data path: corpus readers, the dataset catalogue, tokenizers, the token store."""
