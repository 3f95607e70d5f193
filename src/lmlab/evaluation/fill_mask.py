"""Mask filling: the top-k candidates for each ``[MASK]`` of a text (masked LMs)."""

from __future__ import annotations

import torch


@torch.no_grad()
def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """For each ``[MASK]`` in ``text``: the top-k (token, probability) pairs."""
    ids = [tokenizer.cls_id] + tokenizer.encode(text) + [tokenizer.sep_id]
    positions = [i for i, token_id in enumerate(ids) if token_id == tokenizer.mask_id]
    if not positions:
        return []
    model.eval()
    hidden = model(torch.tensor([ids])).hidden[0, positions]  # (M, D)
    probabilities = torch.softmax(model.lm_head(hidden), dim=-1)  # (M, V)
    probabilities[:, : tokenizer.num_special] = 0.0  # never propose special tokens
    probabilities = probabilities / probabilities.sum(-1, keepdim=True)
    results = []
    for row in probabilities:
        values, indices = torch.topk(row, top_k)
        results.append([(tokenizer.id_to_token(int(i)), float(v)) for v, i in zip(values, indices)])
    return results
