"""``model.encoder.knowledge``: the transformer option that fuses knowledge-base entities
into the token stream, ERNIE-THU's knowledgeable encoder (:mod:`lmlab.encoders.ernie_thu`)
or KnowBERT's KAR (:mod:`lmlab.encoders.knowbert`). Any bidirectional post-LN transformer
preset can switch it on::

    model:
      encoder: {name: transformer, num_layers: 2, ..., knowledge: {kind: ernie_thu, layer: 1}}

The entity links come with the batch (``knowledge``, :mod:`lmlab.knowledge.entity_linking`);
an objective (``dea``, ``entity_linking``) links the text. Without links (fine-tuning) the
encoder sees no entity: ERNIE-THU's aggregators then fuse nothing, and KnowBERT skips its
KAR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.errors import ConfigError


@dataclass
class KnowledgeConfig:
    kind: Literal["ernie_thu", "knowbert"] = "ernie_thu"
    """ERNIE-THU's K-Encoder (Zhang et al. 2019) or KnowBERT's KAR (Peters et al. 2019)."""
    entities: str = "auto"
    """The entity embeddings: a folder of ``lmlab knowledge transe`` or ``lmlab knowledge
    gloss`` (entities.txt names synsets); ``auto`` = ``transe`` (a small TransE on WordNet,
    trained on first use and cached); ``gloss`` (the synsets' gloss vectors that ``lmlab
    knowledge gloss`` keeps in the cache; KnowBERT §4.1)."""
    layer: int = 1
    """ERNIE-THU: the T-Encoder's layers N (the other num_layers - N layers are K-Encoder
    aggregators); KnowBERT: KAR goes after this layer (1..num_layers)."""
    entity_heads: int = 1
    """ERNIE-THU: heads of the entity stream's self-attention (divides the entity size)."""
    max_mentions: int = 64
    """KnowBERT: mentions whose candidates the KAR scores, per sequence (the first ones;
    PTB's 128-token blocks hold about 49). ERNIE-THU aligns every mention."""
    max_candidates: int = 4
    """Candidate synsets per mention, best prior first."""
    linker_hidden: int = 100
    """KnowBERT: width of the linker's MLP (eq. 2; the paper's 100)."""
    wordnet: str = ""
    """WordNet folder ("" = $LMLAB_WORDNET, else /usr/share/wordnet)."""

    def check(self, encoder, path: str) -> None:
        """Reject settings the chosen encoder cannot run (``encoder``: TransformerConfig)."""
        most = encoder.num_layers - 1 if self.kind == "ernie_thu" else encoder.num_layers
        if not 1 <= self.layer <= most:
            what = ("T-Encoder layers (at least one layer must stay a K-Encoder aggregator)"
                    if self.kind == "ernie_thu" else "KAR's place (after layer 1..num_layers)")
            raise ConfigError(f"{path}.layer: {what}: expected 1..{most}, got {self.layer}")
        for name in ("entity_heads", "max_mentions", "max_candidates", "linker_hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}: must be >= 1, got {getattr(self, name)}")
        if (encoder.mask != "bidirectional" or encoder.norm != "post"
                or encoder.position != "absolute" or encoder.share_layers != "none"
                or encoder.relative_buckets or encoder.heads_per_layer or encoder.ffn_per_layer):
            raise ConfigError(f"{path}: entity fusion is built on BERT's layer (mask: "
                              f"bidirectional, norm: post, absolute positions, no sharing or "
                              f"pruning)")
