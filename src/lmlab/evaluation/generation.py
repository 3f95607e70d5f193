"""Text generation and mask filling.

Sampling follows the usual definitions: temperature scaling, top-k truncation (Fan et al.
2018) and nucleus / top-p truncation (Holtzman et al. 2020): keep the smallest set of
tokens whose probability mass reaches p. ``temperature=0`` is greedy decoding.
"""

from __future__ import annotations

import torch


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """logits: (V,). Tokens outside the top-k / nucleus get -inf."""
    if top_k and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        probabilities = torch.softmax(sorted_logits, dim=-1)
        # Drop a token when the mass before it already reaches p (the first always stays).
        drop = probabilities.cumsum(-1) - probabilities >= top_p
        logits = logits.masked_fill(drop.scatter(0, order, drop), float("-inf"))
    return logits


@torch.no_grad()
def generate(model, tokenizer, prompt: str, max_new_tokens: int = 30, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, seed: int = 0, max_context: int = 0) -> str:
    """Continue ``prompt``; returns the prompt plus the generated text."""
    generator = torch.Generator().manual_seed(seed)
    ids = tokenizer.encode(prompt) or [tokenizer.eos_id]
    model.eval()
    context = torch.tensor([ids])  # (1, T)
    memory, new_ids = None, []
    step_input = context
    for _ in range(max_new_tokens):
        if model.recurrent:
            output = model(step_input, memory=memory)
            memory = output.memory
            last_hidden = output.hidden[0, -1]
        else:
            window = context[:, -max_context:] if max_context else context
            last_hidden = model(window).hidden[0, -1]
        logits = model.lm_head(last_hidden)  # (V,)
        logits[tokenizer.pad_id] = float("-inf")
        if temperature <= 0:
            next_id = int(logits.argmax())
        else:
            probabilities = torch.softmax(filter_logits(logits / temperature, top_k, top_p), -1)
            next_id = int(torch.multinomial(probabilities, 1, generator=generator))
        new_ids.append(next_id)
        step_input = torch.tensor([[next_id]])
        context = torch.cat([context, step_input], dim=1)
    text = tokenizer.decode(ids + new_ids)
    return text.replace(f" {tokenizer.id_to_token(tokenizer.eos_id)} ", "\n")


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
