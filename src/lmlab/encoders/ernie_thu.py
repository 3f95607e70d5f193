"""ERNIE-THU's knowledgeable encoder (Zhang et al. 2019, "ERNIE: Enhanced Language
Representation with Informative Entities", §3.2-3.3), as ``model.encoder.knowledge:
{kind: ernie_thu, layer: N}`` on a transformer.

The first N layers are the T-Encoder (BERT's layers, tokens only). Each of the other
num_layers - N layers is a K-Encoder aggregator with two streams: the tokens
{w_1..w_n} and the entities aligned to them {e_1..e_m} (TransE vectors, fixed, at the
first token of each mention; :mod:`lmlab.knowledge.entity_linking`). Aggregator i:

    w̃ = MH-ATT(w^(i-1)),  ẽ = MH-ATT(e^(i-1))                              (eq. 3)
    h_j = σ(W̃_t w̃_j + W̃_e ẽ_k + b̃)   for a token j aligned to entity e_k  (eq. 4)
    h_j = σ(W̃_t w̃_j + b̃)            for a token with no entity           (eq. 5)
    w_j = W_t h_j + b_t,  e_k = W_e h_j + b_e                              (eq. 4)

σ is GELU. As in the authors' code (``BertLayerMix``/``BertOutput``), each attention
output and each fused output is added back to its stream and layer-normalised, so an
aggregator is a BERT layer whose feed-forward is the information fusion layer. The
entity stream lives on the token positions (B, T, E), zero where no entity is aligned;
its self-attention reads aligned positions only, and W̃_e's term is multiplied by the
alignment mask, so an unaligned token gets no entity contribution (eq. 5 exactly).
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.encoders.output import EncoderOutput
from lmlab.encoders.transformer import TransformerConfig, TransformerEncoder
from lmlab.knowledge.transe_cache import entity_embeddings
from lmlab.layers.attention import MultiHeadAttention


def entity_table(config) -> tuple[list[str], torch.Tensor]:
    """(entity names, (N + 1, E) vectors with row 0 = no entity) of a KnowledgeConfig."""
    embeddings = entity_embeddings(config.entities, config.wordnet)
    vectors = embeddings.entity_vectors.float()
    return embeddings.entities, torch.cat([vectors.new_zeros(1, vectors.shape[1]), vectors])


class Aggregator(nn.Module):
    """One K-Encoder layer (eqs. 3-5): (w (B, T, H), e (B, T, E)) -> (w', e')."""

    def __init__(self, hidden_size: int, entity_size: int, config: TransformerConfig,
                 entity_heads: int):
        super().__init__()
        eps, dropout = config.layer_norm_eps, config.dropout
        self.token_attention = MultiHeadAttention(hidden_size, config.num_heads,
                                                  config.attention_dropout)
        self.token_attention_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.entity_attention = MultiHeadAttention(entity_size, entity_heads,
                                                   config.attention_dropout)
        self.entity_attention_norm = nn.LayerNorm(entity_size, eps=eps)
        self.fuse_tokens = nn.Linear(hidden_size, config.ffn_size)  # W̃_t, b̃
        self.fuse_entities = nn.Linear(entity_size, config.ffn_size, bias=False)  # W̃_e
        self.token_out = nn.Linear(config.ffn_size, hidden_size)  # W_t, b_t
        self.entity_out = nn.Linear(config.ffn_size, entity_size)  # W_e, b_e
        self.token_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.entity_norm = nn.LayerNorm(entity_size, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor, entities: torch.Tensor,
                token_mask: torch.Tensor | None, aligned: torch.Tensor):
        """tokens (B, T, H), entities (B, T, E); token_mask (B, 1, 1, T) bool or None;
        aligned (B, T) bool: the token has an entity."""
        w = self.token_attention_norm(
            tokens + self.dropout(self.token_attention(tokens, token_mask, False)))
        # Entities attend to the aligned positions; a row with none attends to all (its
        # output is zeroed below), so no softmax row is empty.
        keys = aligned | ~aligned.any(dim=1, keepdim=True)  # (B, T)
        keep = aligned[..., None].to(entities.dtype)  # (B, T, 1)
        e = self.entity_attention_norm(
            entities + self.dropout(self.entity_attention(entities, keys[:, None, None, :],
                                                          False))) * keep
        h = F.gelu(self.fuse_tokens(w) + keep * self.fuse_entities(e))  # (B, T, F): eqs. 4/5
        tokens_out = self.token_norm(w + self.dropout(self.token_out(h)))
        entities_out = self.entity_norm(e + self.dropout(self.entity_out(h))) * keep
        return tokens_out, entities_out


class ErnieThuEncoder(nn.Module):
    """T-Encoder (N BERT layers) then K-Encoder (num_layers - N aggregators)."""

    causal = False
    recurrent = False

    def __init__(self, hidden_size: int, config: TransformerConfig):
        super().__init__()
        knowledge = config.knowledge
        self.knowledge_settings = knowledge
        self.entity_names, table = entity_table(knowledge)
        # Fixed TransE vectors (ERNIE keeps them frozen): rebuilt from the file, not saved.
        self.register_buffer("entity_vectors", table, persistent=False)  # (N + 1, E)
        self.text = TransformerEncoder(hidden_size, replace(config, num_layers=knowledge.layer,
                                                            knowledge=None))
        self.aggregators = nn.ModuleList(
            Aggregator(hidden_size, table.shape[1], config, knowledge.entity_heads)
            for _ in range(config.num_layers - knowledge.layer))

    @property
    def entity_size(self) -> int:
        return self.entity_vectors.shape[1]

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory=None, return_layers: bool = False,
                knowledge: dict | None = None) -> EncoderOutput:
        """``knowledge["token_entities"]`` (B, T): entity row + 1 aligned to each token
        (0 = none); the dEA objective may have corrupted it (§3.4)."""
        output = self.text(x, attention_mask, return_layers=return_layers)
        tokens, states = output.hidden, list(output.layer_states or ())
        if knowledge is not None and "token_entities" in knowledge:
            token_entities = knowledge["token_entities"].to(x.device)
        else:
            token_entities = torch.zeros(x.shape[:2], dtype=torch.long, device=x.device)
        aligned = token_entities > 0  # (B, T)
        entities = self.entity_vectors[token_entities].to(tokens.dtype)  # (B, T, E)
        mask = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
        for aggregator in self.aggregators:
            tokens, entities = aggregator(tokens, entities, mask, aligned)
            if return_layers:
                states.append(tokens)
        return EncoderOutput(tokens, None, tuple(states) if return_layers else None)
