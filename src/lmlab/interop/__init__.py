"""Interop with HF transformers (import/export of weights and configs)."""
