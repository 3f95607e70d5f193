"""Hierarchical softmax over a frequency-based binary (Huffman) tree (Morin & Bengio 2005;
the Huffman tree of Mikolov et al. 2013).

Each word is a leaf; each of the V-1 inner nodes n has a vector u_n and bias b_n, and
P(right | n, h) = σ(h·u_n + b_n). A word's probability is the product of the decisions on
its path from the root:

    P(w | h) = prod_{(n, d) on path(w)} σ(d · (h·u_n + b_n)),   d = +1 right, -1 left

which sums to 1 over the leaves by construction. Training touches only the ~log2 V nodes
of the target's path; :meth:`HierarchicalSoftmaxHead.forward` computes all V exact
log-probabilities (for evaluation and generation) top-down, one tree level at a time.

The V-1 inner-node vectors and biases are rows 0..V-2 of the LM head's decoder (a V x D
matrix: the same parameter count as the full softmax, one row unused), so the head cannot
be tied to the input embedding. The tree is stored as buffers (``parent``, ``right`` for
the 2V-1 nodes: leaves 0..V-1, inner nodes V..2V-2, root 2V-2) and rebuilt from train
counts by :meth:`set_counts`; paths are derived from them after every change or load.
"""

from __future__ import annotations

import heapq

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100


def huffman_tree(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(parent, right) arrays of the 2V-1 nodes; ties broken by node id (deterministic)."""
    vocab = len(counts)
    parent = np.full(2 * vocab - 1, -1, dtype=np.int64)
    right = np.zeros(2 * vocab - 1, dtype=np.int64)
    heap = [(float(c), i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    for new in range(vocab, 2 * vocab - 1):
        count_left, left = heapq.heappop(heap)
        count_right, right_child = heapq.heappop(heap)
        parent[left], parent[right_child] = new, new
        right[right_child] = 1
        heapq.heappush(heap, (count_left + count_right, new))
    return parent, right


class HierarchicalSoftmaxHead(nn.Module):
    def __init__(self, base: nn.Module, vocab_size: int):
        super().__init__()
        if vocab_size < 2:
            raise ValueError("hierarchical softmax needs a vocabulary of at least 2 words")
        if base.decoder.weight.shape[0] != vocab_size:
            raise ValueError("the LM head's decoder must have one row per word")
        self.base = base
        self.vocab_size = vocab_size
        parent, right = huffman_tree(np.ones(vocab_size))
        self.register_buffer("parent", torch.from_numpy(parent))
        self.register_buffer("right", torch.from_numpy(right))
        self._derive()
        self.register_load_state_dict_post_hook(lambda module, keys: module._derive())

    def set_counts(self, counts: torch.Tensor) -> None:
        parent, right = huffman_tree(counts.double().numpy())
        self.parent.copy_(torch.from_numpy(parent))
        self.right.copy_(torch.from_numpy(right))
        self._derive()

    def _derive(self) -> None:
        """Paths (leaf -> root) per word and the nodes of each depth, from the buffers."""
        vocab, parent, right = self.vocab_size, self.parent, self.right
        current, nodes, signs, masks = torch.arange(vocab), [], [], []
        while True:
            above = torch.where(current >= 0, parent[current.clamp_min(0)], -1)  # (V,)
            has = above >= 0
            if not has.any():
                break
            nodes.append(torch.where(has, above - vocab, 0))  # inner-node row index
            signs.append(torch.where(has, 2.0 * right[current.clamp_min(0)] - 1.0, 0.0))
            masks.append(has)
            current = above
        self.path_nodes = torch.stack(nodes, 1)  # (V, L)
        self.path_signs = torch.stack(signs, 1)  # (V, L), 0 past the root
        depth = np.zeros(2 * vocab - 1, dtype=np.int64)
        parent_np = parent.numpy()
        for node in range(2 * vocab - 3, -1, -1):  # parents have larger ids than children
            depth[node] = depth[parent_np[node]] + 1
        self.levels = []
        for level in range(1, int(depth.max()) + 1):
            children = torch.from_numpy(np.flatnonzero(depth == level))
            self.levels.append((children, parent[children] - vocab,
                                2.0 * right[children] - 1.0))

    def features(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.base.features(hidden)

    def _node_params(self):
        weight, bias = self.base.decoder.weight, self.base.decoder.bias
        return weight, bias

    def forward(self, hidden: torch.Tensor, chunk_rows: int = 1024) -> torch.Tensor:
        """Exact log P(w|h) for every word: (..., D) -> (..., V), rows summing to 1 in prob."""
        features = self.features(hidden)
        flat = features.reshape(-1, features.shape[-1])  # (N, D)
        weight, bias = self._node_params()
        inner = self.vocab_size - 1
        pieces = []
        for start in range(0, flat.shape[0], chunk_rows):
            scores = flat[start: start + chunk_rows] @ weight[:inner].t()  # (n, V-1)
            if bias is not None:
                scores = scores + bias[:inner]
            log_prob = scores.new_zeros(scores.shape[0], 2 * self.vocab_size - 1)  # (n, 2V-1)
            for children, parents, sign in self.levels:  # root (depth 0) has log-prob 0
                log_prob[:, children] = (log_prob[:, parents + self.vocab_size]
                                         + F.logsigmoid(sign * scores[:, parents]))
            pieces.append(log_prob[:, : self.vocab_size])
        return torch.cat(pieces).reshape(*features.shape[:-1], self.vocab_size)

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean -log P(y|h) touching only the target paths. hidden (N, D), targets (N,)."""
        keep = targets != IGNORE_INDEX
        features, targets = self.features(hidden[keep]), targets[keep]
        weight, bias = self._node_params()
        nodes, signs = self.path_nodes[targets], self.path_signs[targets]  # (N, L)
        # F.embedding's backward accumulates rows faster than indexing's index_put, and the
        # multiply-sum beats a batched (1, D) x (D, L) product on CPU (~2.5x per step).
        scores = (F.embedding(nodes, weight) * features[:, None, :]).sum(-1)  # (N, L)
        if bias is not None:
            scores = scores + bias[nodes]
        # Padding past the root has sign 0: logsigmoid(0) is masked out by (signs != 0).
        log_prob = (F.logsigmoid(signs * scores) * (signs != 0)).sum(1)  # (N,)
        return -log_prob.sum() / max(1, int(keep.sum()))
