"""Huffman tree for hierarchical softmax (Morin & Bengio 2005; Mikolov et al. 2013a/b).

Each vocabulary word is a leaf; the V-1 inner nodes each own an output vector (``syn1``).
P(w | h) is the product, along the root-to-leaf path, of ``sigmoid(h·v_n)`` for a 0-branch
and ``1 - sigmoid(h·v_n)`` for a 1-branch (word2vec.c's ``g = (1 - code - f)``). Frequent
words get short codes, so the expected cost per token is the entropy of the unigram
distribution rather than log2 V. The construction is word2vec.c's / gensim's: repeatedly
merge the two least frequent nodes; inner node k (k-th merge) gets point index k, so the
root is V-2. Ties are broken exactly as gensim 4 breaks them: its heap items compare by
count alone, so among equal counts ``heapq``'s own layout decides; the same operations on
the same initial list here give the same tree, code for code.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np


@dataclass
class HuffmanTree:
    """Padded code/point arrays, ready for the training kernels."""

    codes: np.ndarray   # (V, L) uint8 — branch bits from the root, padded with 0
    points: np.ndarray  # (V, L) int32 — inner-node rows of syn1 along the path
    lengths: np.ndarray  # (V,) int32 — code length of each word

    def code(self, word: int) -> list[int]:
        return self.codes[word, : self.lengths[word]].tolist()

    def path(self, word: int) -> list[int]:
        return self.points[word, : self.lengths[word]].tolist()


class _Node:
    """A heap entry ordered by count only (gensim's ``Heapitem.__lt__``), so ties fall
    where heapq puts them rather than by node id."""

    __slots__ = ("count", "node")

    def __init__(self, count: int, node: int) -> None:
        self.count, self.node = count, node

    def __lt__(self, other: "_Node") -> bool:
        return self.count < other.count


def build_huffman(counts: np.ndarray) -> HuffmanTree:
    """Build the tree from word counts (V >= 1), ties broken as gensim 4 breaks them."""
    counts = np.asarray(counts, dtype=np.int64)
    vocab_size = len(counts)
    # leaves 0..V-1, inner nodes V..2V-2
    heap = [_Node(int(c), i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    left = np.zeros(max(vocab_size - 1, 0), dtype=np.int64)
    right = np.zeros(max(vocab_size - 1, 0), dtype=np.int64)
    for merge in range(vocab_size - 1):
        first, second = heapq.heappop(heap), heapq.heappop(heap)
        left[merge], right[merge] = first.node, second.node
        heapq.heappush(heap, _Node(first.count + second.count, vocab_size + merge))

    codes: list[list[int]] = [[] for _ in range(vocab_size)]
    points: list[list[int]] = [[] for _ in range(vocab_size)]
    if vocab_size > 1:
        stack = [(2 * vocab_size - 2, [], [])]  # (node, code so far, points so far)
        while stack:
            node, code, path = stack.pop()
            if node < vocab_size:
                codes[node], points[node] = code, path
                continue
            inner = node - vocab_size
            path = path + [inner]
            stack.append((int(left[inner]), code + [0], path))
            stack.append((int(right[inner]), code + [1], path))

    lengths = np.array([len(c) for c in codes], dtype=np.int32)
    width = max(int(lengths.max()) if vocab_size else 0, 1)
    code_array = np.zeros((vocab_size, width), dtype=np.uint8)
    point_array = np.zeros((vocab_size, width), dtype=np.int32)
    for word in range(vocab_size):
        code_array[word, : lengths[word]] = codes[word]
        point_array[word, : lengths[word]] = points[word]
    return HuffmanTree(code_array, point_array, lengths)


def hs_probabilities(hidden: np.ndarray, syn1: np.ndarray, tree: HuffmanTree) -> np.ndarray:
    """P(w | hidden) for every word w under hierarchical softmax; sums to 1.

    hidden: (D,), syn1: (V-1, D). Returns (V,) float64.
    """
    scores = syn1.astype(np.float64) @ hidden.astype(np.float64)  # (V-1,)
    sigmoid = 1.0 / (1.0 + np.exp(-scores))
    probabilities = np.ones(len(tree.lengths))
    for word in range(len(tree.lengths)):
        for bit, point in zip(tree.code(word), tree.path(word)):
            probabilities[word] *= sigmoid[point] if bit == 0 else 1.0 - sigmoid[point]
    return probabilities
