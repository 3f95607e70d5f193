"""Parallel sentence retrieval (XLM, Lample & Conneau 2019 §5; the XTREME/BUCC-style
measure of Hu et al. 2020): each sentence is the mean of its layer-L hidden states over
its ordinary tokens, and each source sentence retrieves the target sentence of highest
cosine similarity among all held-out targets (and the reverse). Accuracy@1 is the share
of sentences whose nearest neighbour is their own translation.

Nothing here loads a run: :func:`sentence_vectors` takes a built model (``model(ids,
attention_mask, return_layers=True, languages=...)``) and a tokenizer;
``lmlab eval retrieval RUN`` (:mod:`lmlab.recipes.retrieval`) loads one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sentence_batch(texts: list[str], tokenizer, max_len: int) -> tuple[torch.Tensor, ...]:
    """``[CLS] text [SEP]`` rows (each text cut to ``max_len - 2`` tokens), padded:
    (ids (B, T), attention mask (B, T), pooled-token mask (B, T): the text's own tokens)."""
    rows = [[tokenizer.cls_id, *ids[: max_len - 2], tokenizer.sep_id]
            for ids in tokenizer.encode_batch(texts)]
    length = max(len(row) for row in rows)
    ids = torch.full((len(rows), length), tokenizer.pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        attention[i, : len(row)] = 1
    pooled = attention.clone()
    pooled[:, 0] = 0  # [CLS]
    pooled[torch.arange(len(rows)), attention.sum(1) - 1] = 0  # the closing [SEP]
    return ids, attention, pooled


def mean_pool(states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B, T, D) states, (B, T) 0/1 keep mask -> (B, D) mean over the kept positions (a
    row with none kept pools to zeros)."""
    keep = keep.to(states.dtype)[..., None]  # (B, T, 1)
    return (states * keep).sum(1) / keep.sum(1).clamp(min=1.0)


@torch.no_grad()
def sentence_vectors(model, tokenizer, texts: list[str], layer: int = -1,
                     language: int | None = None, max_len: int = 128,
                     batch_size: int = 64) -> torch.Tensor:
    """(N, D) mean-pooled states of encoder layer ``layer`` (1..L, or -1 for the top as
    Python indexes) for ``texts``; ``language``: the XLM language id given to every token
    (None for models without language embeddings)."""
    was_training = model.training
    model.eval()
    vectors = []
    for first in range(0, len(texts), batch_size):
        ids, attention, pooled = sentence_batch(texts[first: first + batch_size], tokenizer,
                                                max_len)
        extra = {} if language is None else {"languages": torch.full_like(ids, language)}
        output = model(ids, attention, return_layers=True, **extra)
        states = output.layer_states[layer - 1 if layer > 0 else layer]  # (B, T, D)
        vectors.append(mean_pool(states.float(), pooled))
    model.train(was_training)
    return torch.cat(vectors)


def retrieval_accuracy(source: torch.Tensor, target: torch.Tensor) -> dict:
    """Accuracy@1 (percent) of cosine nearest-neighbour retrieval between row-aligned
    (N, D) ``source`` and ``target`` vectors: ``source_to_target`` (each source row finds
    its target among all N) and ``target_to_source``; ties go to the lower index."""
    if source.shape != target.shape or source.dim() != 2 or not len(source):
        raise ValueError(f"retrieval needs two (N, D) arrays of one shape, got "
                         f"{tuple(source.shape)} and {tuple(target.shape)}")
    similarity = F.normalize(source.float(), dim=1) @ F.normalize(target.float(), dim=1).T
    gold = torch.arange(len(source))
    forward = (similarity.argmax(1) == gold).float().mean().item() * 100
    backward = (similarity.argmax(0) == gold).float().mean().item() * 100
    return {"source_to_target": round(forward, 2), "target_to_source": round(backward, 2),
            "mean": round((forward + backward) / 2, 2), "pairs": len(source)}
