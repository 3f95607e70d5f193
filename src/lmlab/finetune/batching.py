"""Length-sorted batching: batches of similar lengths waste little on padding.

Training: shuffle with a seeded generator, sort within pools of ``pool`` batches by length,
cut into batches and shuffle the batch order (the "bucketing" of fairseq / AllenNLP).
Evaluation: sort everything by length once; callers restore the original order.
"""

from __future__ import annotations

import random


def training_batches(lengths: list[int], batch_size: int, seed: int, pool: int = 50) -> list[list[int]]:
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for begin in range(0, len(order), batch_size * pool):
        chunk = sorted(order[begin:begin + batch_size * pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def evaluation_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
