"""The ``output`` option of the causal LM objective: how P(w | h) is trained.

``objectives: [{name: clm, output: {kind: nce, samples: 64}}]``

* ``full`` — exact softmax cross-entropy (the default; the fused path of the LM head).
* ``importance`` — importance sampling of the log-partition gradient with a unigram
  proposal (Bengio & Senécal 2003), as the sampled softmax over {target} ∪ samples (Jean et
  al. 2015); ``adaptive_importance`` adapts the proposal to the model during training
  (Bengio & Senécal 2008).
* ``nce`` — noise-contrastive estimation with ``samples`` noise words from the unigram
  distribution (Mnih & Teh 2012).
* ``hierarchical`` — a binary Huffman tree over the vocabulary built from train-set
  frequencies (Morin & Bengio 2005; frequency-based tree as Mikolov et al. 2013).
* ``class`` — P(w|h) = P(c(w)|h) P(w|c(w),h) with frequency-binned word classes
  (Mikolov et al. 2011, "Extensions of RNNLM").

The sampled kinds change only the training loss: the model's distribution stays the full
softmax, which evaluation uses. ``hierarchical`` and ``class`` change the distribution
itself: the LM head then returns their own exact, normalised log-probabilities, which
evaluation and generation read as they read logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.errors import ConfigError

SAMPLED = ("importance", "adaptive_importance", "nce")
FACTORISED = ("hierarchical", "class")


@dataclass
class OutputConfig:
    kind: Literal["full", "importance", "adaptive_importance", "nce", "hierarchical",
                  "class"] = "full"
    samples: int = 64
    """Sampled kinds: words drawn from the proposal per batch, shared by all its positions
    (k of NCE)."""
    unigram_power: float = 1.0
    """Proposal q(w) ∝ (count(w) + 1) ** power (1 = the unigram of the papers). 0.75
    samples rare words more often; on WikiText-2 at K = 4096 it took importance sampling
    from 1.126x to 1.075x the full softmax's perplexity (bench/softmax_approx.py)."""
    adapt_rate: float = 0.05
    """adaptive_importance: step of the proposal's move toward the model's estimated
    marginal per batch."""
    adapt_floor: float = 0.5
    """adaptive_importance: weight of the fixed unigram kept in the proposal (keeps q > 0
    for words the adaptation has not seen lately). On WikiText-2 at K = 4096, power 0.75:
    floor 0.1 gave 1.144x the full softmax's perplexity, 0.5 gave 1.086x."""
    num_classes: int = 0
    """class: number of word classes; 0 = round(sqrt(V)) (Mikolov et al. 2011)."""

    def validate(self, path: str) -> None:
        if self.samples < 1:
            raise ConfigError(f"{path}.samples: must be >= 1")
        if self.unigram_power < 0:
            raise ConfigError(f"{path}.unigram_power: must be >= 0")
        if not 0.0 < self.adapt_rate <= 1.0:
            raise ConfigError(f"{path}.adapt_rate: must be in (0, 1]")
        if not 0.0 < self.adapt_floor <= 1.0:
            raise ConfigError(f"{path}.adapt_floor: must be in (0, 1]")
        if self.num_classes < 0:
            raise ConfigError(f"{path}.num_classes: must be >= 0 (0 = sqrt of the vocabulary)")
