"""Sorted, duplicate-free tables of id rows: the sort keys that counting and spilling share.

Rows of N word ids are packed into uint64 keys that compare like the rows (most significant
id first), so sorting a table is one ``argsort``/``lexsort`` over a few key columns.
"""

from __future__ import annotations

import numpy as np


def pack_keys(rows: np.ndarray, bits: int | None = None) -> list[np.ndarray]:
    """Pack (M, N) ids into as few uint64 columns as fit, most significant first.

    ``bits`` (default: the width of the largest id) per id, so a 5-gram over a 10k
    vocabulary (14 bits) takes two uint64 columns instead of five. Keys packed with the
    same ``bits`` compare like the rows, lexicographically.
    """
    if bits is None:
        bits = max(1, int(rows.max(initial=0)).bit_length())
    per_key = 64 // bits
    keys = []
    for start in range(0, rows.shape[1], per_key):
        key = np.zeros(rows.shape[0], dtype=np.uint64)
        for column in range(start, min(start + per_key, rows.shape[1])):
            key = (key << np.uint64(bits)) | rows[:, column].astype(np.uint64)
        keys.append(key)
    return keys


def unique_rows(rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort rows, merge duplicates and add their counts."""
    if rows.shape[0] == 0:
        return rows, counts
    keys = pack_keys(rows)
    order = np.argsort(keys[0]) if len(keys) == 1 else np.lexsort(keys[::-1])
    sorted_keys = [key[order] for key in keys]
    starts = np.ones(rows.shape[0], dtype=bool)  # (M,) True where a new row begins
    starts[1:] = False
    for key in sorted_keys:
        starts[1:] |= key[1:] != key[:-1]
    first = np.flatnonzero(starts)
    return rows[order[first]], np.add.reduceat(counts[order], first)
