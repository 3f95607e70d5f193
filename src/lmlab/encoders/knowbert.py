"""KnowBERT's knowledge attention and recontextualization, KAR (Peters et al. 2019,
"Knowledge Enhanced Contextual Word Representations", §3), inserted after layer L of a
transformer: ``model.encoder.knowledge: {kind: knowbert, layer: L}``.

Given the layer's output H_i (B, T, H) and the batch's mentions with their candidate
entities and priors (:mod:`lmlab.knowledge.entity_linking`):

    H_i^proj = H_i W_1^proj + b_1^proj                                    (eq. 1)
    s_m = self-attentive span pooling of H_i^proj over mention m (Lee et al. 2017)
    S^e = TransformerBlock(S)          (mention spans attend to one another, §3.2)
    ψ_mk = MLP(p_mk, s^e_m · e_mk)     (the entity linker, eq. 2)
    ẽ_m = Σ_k softmax(ψ_m)_k e_mk      (the soft entity embedding, eq. 3)
    s'^e_m = s^e_m + ẽ_m                                                     (eq. 4)
    H_i'^proj = MLP(MultiHeadAttn(H_i^proj, S'^e, S'^e))  (word-to-entity attention, eq. 5)
    H_i' = H_i'^proj W_2^proj + b_2^proj + H_i                               (eq. 6)

e_mk are the fixed TransE vectors of the candidates (KnowBERT-WordNet also reads synset
embeddings from a graph model; §4.1), so the entity width E is the TransE dimension. The
paper initialises W_2 as the pseudo-inverse of W_1; here both start from the model's
normal init. The linker scores ψ (B, M, K) are written into the batch's ``knowledge``
dict as ``linker_scores``, where the ``entity_linking`` objective reads them (the
entity-linking loss, §3.4). Padded candidates get no weight, and the word-to-entity
attention of a row without mentions is zero (its softmax reads every padded key, then is
multiplied by 0), so such a row gets only the projection round trip of eqs. 1, 5 and 6.
The attention and MLP of eq. 5 each add back their input, and the attention output is
layer-normalised, as in the authors' BERT-style blocks.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from lmlab.encoders.ernie_thu import entity_table
from lmlab.encoders.output import EncoderOutput
from lmlab.encoders.transformer import TransformerConfig, TransformerEncoder, TransformerLayer
from lmlab.layers.attention import attend, merge_heads, split_heads

MASKED = -1e4  # a padded candidate's score: softmax weight ~0 without an all -inf row


class KnowledgeAttention(nn.Module):
    """KAR (eqs. 1-6): (H (B, T, H), links) -> (H' (B, T, H), ψ (B, M, K))."""

    def __init__(self, hidden_size: int, entity_size: int, config: TransformerConfig,
                 linker_hidden: int):
        super().__init__()
        self.project = nn.Linear(hidden_size, entity_size)  # W_1, b_1
        self.span_score = nn.Linear(entity_size, 1)  # self-attentive pooling's weights
        span_config = replace(config, num_heads=1, ffn_size=4 * entity_size, knowledge=None)
        self.span_block = TransformerLayer(entity_size, span_config)  # S^e
        self.linker = nn.Sequential(nn.Linear(2, linker_hidden), nn.ReLU(),
                                    nn.Linear(linker_hidden, 1))  # ψ = MLP(p, s·e)
        self.heads = 1
        self.query = nn.Linear(entity_size, entity_size)
        self.key_value = nn.Linear(entity_size, 2 * entity_size)
        self.attention_out = nn.Linear(entity_size, entity_size)
        self.mlp = nn.Sequential(nn.Linear(entity_size, 4 * entity_size), nn.GELU(),
                                 nn.Linear(4 * entity_size, entity_size))
        self.norm = nn.LayerNorm(entity_size, eps=config.layer_norm_eps)
        self.project_back = nn.Linear(entity_size, hidden_size)  # W_2, b_2
        self.dropout = nn.Dropout(config.dropout)

    def spans(self, projected: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        """Self-attentive span pooling: projected (B, T, E), spans (B, M, 2) first/last
        token -> (B, M, E)."""
        positions = torch.arange(projected.shape[1], device=projected.device)
        inside = ((positions[None, None, :] >= spans[..., :1])
                  & (positions[None, None, :] <= spans[..., 1:]))  # (B, M, T)
        scores = self.span_score(projected).squeeze(-1)[:, None, :]  # (B, 1, T)
        weights = torch.softmax(scores.masked_fill(~inside, MASKED), dim=-1)  # (B, M, T)
        return weights @ projected  # (B, M, E)

    def forward(self, hidden: torch.Tensor, links: dict, entity_vectors: torch.Tensor):
        mentions = links["mention_mask"].to(hidden.device)  # (B, M) bool
        candidates = links["candidates"].to(hidden.device)  # (B, M, K), row + 1, 0 = pad
        priors = links["priors"].to(hidden.device, hidden.dtype)  # (B, M, K)
        projected = self.project(hidden)  # (B, T, E): eq. 1
        spans = self.spans(projected, links["mention_spans"].to(hidden.device))  # (B, M, E)
        any_mention = mentions.any(dim=1, keepdim=True)  # (B, 1)
        keys = mentions | ~any_mention  # no empty softmax row; zeroed below
        spans = self.span_block(spans, keys[:, None, None, :], False)  # S^e (B, M, E)
        entities = entity_vectors[candidates].to(hidden.dtype)  # (B, M, K, E)
        dot = (spans[:, :, None, :] * entities).sum(-1)  # s^e_m · e_mk (B, M, K)
        scores = self.linker(torch.stack([priors, dot], dim=-1)).squeeze(-1)  # ψ: eq. 2
        valid = (candidates > 0) & mentions[..., None]  # (B, M, K)
        scores = scores.masked_fill(~valid, MASKED)
        weights = torch.softmax(scores, dim=-1) * valid  # eq. 3
        soft_entity = (weights[..., None] * entities).sum(2)  # ẽ_m (B, M, E)
        spans = (spans + soft_entity) * mentions[..., None]  # s'^e: eq. 4
        q = split_heads(self.query(projected), self.heads)  # (B, 1, T, E)
        k, v = (split_heads(t, self.heads) for t in self.key_value(spans).chunk(2, dim=-1))
        attended = merge_heads(attend(q, k, v, keys[:, None, None, :], False))  # (B, T, E)
        attended = self.attention_out(attended) * any_mention[..., None]
        recontextualised = self.norm(projected + self.dropout(attended))
        recontextualised = recontextualised + self.dropout(self.mlp(recontextualised))  # eq. 5
        return hidden + self.dropout(self.project_back(recontextualised)), scores  # eq. 6


class KnowBertEncoder(nn.Module):
    """Layers 1..L, KAR, layers L+1..num_layers."""

    causal = False
    recurrent = False

    def __init__(self, hidden_size: int, config: TransformerConfig):
        super().__init__()
        knowledge = config.knowledge
        self.knowledge_settings = knowledge
        self.entity_names, table = entity_table(knowledge)
        self.register_buffer("entity_vectors", table, persistent=False)  # (N + 1, E), fixed
        self.lower = TransformerEncoder(hidden_size, replace(config, num_layers=knowledge.layer,
                                                             knowledge=None))
        self.kar = KnowledgeAttention(hidden_size, table.shape[1], config, knowledge.linker_hidden)
        upper = config.num_layers - knowledge.layer
        self.upper = (TransformerEncoder(hidden_size, replace(config, num_layers=upper,
                                                              knowledge=None))
                      if upper else None)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory=None, return_layers: bool = False,
                knowledge: dict | None = None) -> EncoderOutput:
        """``knowledge``: the batch's links (mention_spans, mention_mask, candidates,
        priors); KAR writes ``linker_scores`` (B, M, K) into it."""
        output = self.lower(x, attention_mask, return_layers=return_layers)
        hidden, states = output.hidden, list(output.layer_states or ())
        if knowledge is not None and "candidates" in knowledge:
            hidden, scores = self.kar(hidden, knowledge, self.entity_vectors)
            knowledge["linker_scores"] = scores
        if self.upper is not None:
            output = self.upper(hidden, attention_mask, return_layers=return_layers)
            hidden = output.hidden
            states += list(output.layer_states or ())
        return EncoderOutput(hidden, None, tuple(states) if return_layers else None)
