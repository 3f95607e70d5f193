"""Transformer encoder (Vaswani et al. 2017) in the two layouts the review's models use.

* ``norm: post`` — BERT (Devlin et al. 2019): x = LN(x + Attn(x)); x = LN(x + FFN(x)).
* ``norm: pre``  — GPT-2 (Radford et al. 2019): x = x + Attn(LN(x)); x = x + FFN(LN(x)),
  with a final LayerNorm after the last layer.

``mask: causal`` lets position t see positions <= t only (GPT); ``bidirectional`` sees all
(BERT). Padding is masked through ``attention_mask`` (B, T), 1 = real token.

``share_layers`` (ALBERT, Lan et al. 2020 §3.1 "cross-layer parameter sharing"): ``all``
uses one layer's parameters at every depth; ``attention`` / ``ffn`` share only that
sub-block (each layer keeps its own other sub-block and LayerNorms); ``none`` is BERT.

T5 options (Raffel et al. 2020 §2.1): ``norm_type: rms`` (scale-only RMSNorm) and
``relative_buckets: 32`` (a learned per-head bias of bucketed relative offsets added to the
attention logits, one table for the stack; use with ``model.embedding.position: none``).

Transformer-XL (Dai et al. 2019): ``position: xl`` swaps each layer's attention for
:class:`~lmlab.layers.relative_attention.RelativeMultiHeadAttention` (§3.3, sinusoidal
relative positions, global biases u and v); ``memory_length: M > 0`` makes the stack
recurrent (§3.2): each layer also attends to the last M inputs it saw in earlier segments,
kept without gradient and carried from segment to segment like an LSTM state.

XLNet (Yang et al. 2019 §2.3): ``mask: permutation`` is a bidirectional relative-position
stack whose (B, T, T) masks come from the objective (the factorisation order);
:meth:`TransformerEncoder.two_stream` runs the content stream h (eq. 5, bottom) and the
query stream g (eq. 5, top) through the same layers' weights. Without masks (fine-tuning)
every token sees every token.

Pruned models (issue 20): ``heads_per_layer`` gives each layer its own head count (heads
removed by Michel et al. 2019, each kept head still D / ``num_heads`` wide) and
``ffn_per_layer`` its own feed-forward width (neurons removed, McCarley 2019), so a pruned
model rebuilds from its config.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from lmlab.embeddings.token_embedding import sinusoidal_table
from lmlab.encoders.knowledge_config import KnowledgeConfig
from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError
from lmlab.layers.attention import MultiHeadAttention
from lmlab.layers.decoder_attention import KeyValueCache, LayerCache
from lmlab.layers.feed_forward import Activation, FeedForward
from lmlab.layers.norms import NormKind, build_norm
from lmlab.layers.relative_attention import RelativeMultiHeadAttention, tie_global_biases
from lmlab.layers.relative_position import RelativePositionBias


@dataclass
class TransformerConfig:
    name: Literal["transformer"] = "transformer"
    num_layers: int = 2
    num_heads: int = 2
    ffn_size: int = 512
    norm: Literal["pre", "post"] = "pre"
    mask: Literal["causal", "bidirectional", "permutation"] = "causal"
    """``permutation``: XLNet's; needs ``position: xl``, the objective gives the masks."""
    activation: Activation = "gelu"
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    final_norm: bool = True
    """LayerNorm after the last layer (GPT-2); ignored for post-LN."""
    share_layers: Literal["none", "all", "attention", "ffn"] = "none"
    norm_type: NormKind = "layer"
    """LayerNorm (BERT, GPT-2, BART) or RMSNorm (T5)."""
    relative_buckets: int = 0
    """T5 relative position buckets (32 in T5); 0 = none."""
    relative_max_distance: int = 128
    """Offsets beyond this share the last relative bucket (T5: 128)."""
    bias: bool = True
    """Biases in the attention and feed-forward projections (T5 has none)."""
    position: Literal["absolute", "xl"] = "absolute"
    """``absolute``: positions come from the embedding (or T5 buckets); ``xl``: Transformer-XL
    relative attention (Dai et al. 2019 §3.3; causal, with ``model.embedding.position: none``)."""
    memory_length: int = 0
    """Transformer-XL memory M (§3.2): per layer, the last M hidden states of earlier
    segments, detached; 0 = none. Needs ``position: xl``; M > 0 carries state across
    stream batches (``data.batching: stream``)."""
    relative_biases: Literal["shared", "per_layer"] = "shared"
    """``position: xl``: one u and v for the stack (Transformer-XL §3.3) or one per layer
    (XLNet's released models; HF ``untie_r: true``)."""
    attention_bias: bool = True
    """Biases in the attention projections (XLNet has none, its feed-forward has them);
    ``bias: false`` removes every projection bias (T5)."""
    relative_segments: bool = False
    """XLNet's relative segment encoding (Yang et al. 2019 §2.5): per layer and head, a
    "same segment" and a "different segment" vector s and a bias b add (q_i + b)·s_ij to
    the attention logit of query i and key j; no absolute segment embedding is needed."""
    heads_per_layer: list[int] | None = None
    """Heads kept in each layer after head pruning (0..num_heads each, one per layer); each
    head stays hidden_size / num_heads wide. None: num_heads everywhere."""
    ffn_per_layer: list[int] | None = None
    """Feed-forward width of each layer after neuron pruning (0..ffn_size each, one per
    layer). None: ffn_size everywhere."""
    knowledge: KnowledgeConfig | None = None
    """Entity fusion (issue 21): ERNIE-THU's K-Encoder or KnowBERT's KAR
    (:mod:`lmlab.encoders.knowledge_config`); None: a plain transformer."""

    def validate(self, path: str) -> None:
        for name in ("num_layers", "num_heads", "ffn_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{path}.{name}: must be > 0, got {getattr(self, name)}")
        if self.knowledge is not None:
            self.knowledge.check(self, f"{path}.knowledge")
        if self.relative_buckets < 0 or self.relative_buckets == 1:
            raise ConfigError(f"{path}.relative_buckets: 0 (none) or >= 2, got {self.relative_buckets}")
        if self.relative_max_distance < 2:
            raise ConfigError(f"{path}.relative_max_distance: must be >= 2")
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{path}.{name}: must be in [0, 1)")
        if self.memory_length < 0:
            raise ConfigError(f"{path}.memory_length: must be >= 0, got {self.memory_length}")
        if self.memory_length and self.position != "xl":
            raise ConfigError(f"{path}.memory_length: a memory needs relative positions; set "
                              f"{path}.position: xl (absolute positions repeat across segments)")
        if self.position == "xl" and self.mask == "bidirectional":
            raise ConfigError(f"{path}.position: xl is causal (Transformer-XL) or permutation "
                              f"(XLNet); set {path}.mask: causal or permutation, got {self.mask}")
        if self.relative_segments and self.position != "xl":
            raise ConfigError(f"{path}.relative_segments: XLNet's relative segment encoding "
                              f"is part of relative attention; set {path}.position: xl")
        if self.mask == "permutation" and self.position != "xl":
            raise ConfigError(f"{path}.mask: permutation (XLNet) needs relative positions; set "
                              f"{path}.position: xl")
        if self.position == "xl" and self.relative_buckets:
            raise ConfigError(f"{path}.relative_buckets: T5 buckets and position: xl are two "
                              f"relative schemes; set one")
        for name, most in (("heads_per_layer", self.num_heads), ("ffn_per_layer", self.ffn_size)):
            sizes = getattr(self, name)
            if sizes is None:
                continue
            if len(sizes) != self.num_layers or not all(0 <= n <= most for n in sizes):
                raise ConfigError(f"{path}.{name}: expected {self.num_layers} counts (one per "
                                  f"layer), each 0..{most}, got {sizes}")
            if self.share_layers != "none":
                raise ConfigError(f"{path}.{name}: pruned layers differ, so they cannot be "
                                  f"shared; needs {path}.share_layers: none, got {self.share_layers}")
        if self.heads_per_layer is not None and (self.position == "xl" or self.relative_buckets):
            raise ConfigError(f"{path}.heads_per_layer: pruned heads need absolute positions "
                              f"(no position: xl, no relative_buckets)")

    def check_compatible(self, embedding, path: str) -> None:
        if embedding.hidden_size % self.num_heads:
            raise ConfigError(f"{path}.num_heads: {self.num_heads} heads do not divide "
                              f"model.embedding.hidden_size={embedding.hidden_size}")
        if self.position == "xl" and embedding.position != "none":
            raise ConfigError(f"model.embedding.position: {path}.position: xl takes no absolute "
                              f"positions; set none, got {embedding.position}")


class TransformerLayer(nn.Module):
    def __init__(self, hidden_size: int, config: TransformerConfig, index: int = 0):
        """``index``: the layer's depth, for its pruned head count and FFN width."""
        super().__init__()
        self.pre_norm = config.norm == "pre"
        bias = config.bias and config.attention_bias
        heads = config.heads_per_layer[index] if config.heads_per_layer else config.num_heads
        ffn_size = config.ffn_per_layer[index] if config.ffn_per_layer else config.ffn_size
        self.attention = (RelativeMultiHeadAttention(hidden_size, config.num_heads,
                                                     config.attention_dropout, bias,
                                                     config.relative_segments)
                          if config.position == "xl" else
                          MultiHeadAttention(hidden_size, heads, config.attention_dropout, bias,
                                             hidden_size // config.num_heads))
        self.attention_norm = build_norm(config.norm_type, hidden_size, config.layer_norm_eps)
        self.ffn = FeedForward(hidden_size, ffn_size, config.activation, config.dropout,
                               config.bias)
        self.ffn_norm = build_norm(config.norm_type, hidden_size, config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, causal: bool,
                cache: LayerCache | None = None, memory: torch.Tensor | None = None,
                sinusoids: torch.Tensor | None = None, negative: int = 0,
                different: torch.Tensor | None = None) -> torch.Tensor:
        """``memory`` (B, M, D): this layer's earlier inputs; ``sinusoids``: the XL table R
        for distances -``negative``..; ``different`` (B, T, K) bool: query and key in
        different segments (all three for ``position: xl`` only)."""
        attended = self._attend(self.attention_norm(x) if self.pre_norm else x, mask, causal,
                                cache, memory, sinusoids, negative, different)
        return self._finish(x, attended)

    def _finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """The attention sub-block's residual and the feed-forward sub-block, pre- or
        post-LN: x (B, T, D) the layer's input, ``attended`` its attention output."""
        if self.pre_norm:
            x = x + self.dropout(attended)
            return x + self.ffn(self.ffn_norm(x))
        x = self.attention_norm(x + self.dropout(attended))
        return self.ffn_norm(x + self.ffn(x))

    def two_stream(self, h: torch.Tensor, g: torch.Tensor, mask: torch.Tensor,
                   query_mask: torch.Tensor, sinusoids: torch.Tensor, negative: int,
                   memory: torch.Tensor | None = None,
                   different: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """XLNet eq. 5 for one layer: h <- Attn(Q=h, KV=[mem ∘ h], content mask), g <-
        Attn(Q=g, KV=[mem ∘ h], query mask), then each its own residual, norms and FFN, one
        set of weights. h, g: (B, T, D); memory (B, M, D) or None; masks (B, 1, T, M+T)."""
        keys = self.attention_norm(h) if self.pre_norm else h
        queries = self.attention_norm(g) if self.pre_norm else g
        if memory is not None and self.pre_norm:
            memory = self.attention_norm(memory)
        h_attention = self.attention(keys, mask, False, None, memory, sinusoids, negative,
                                     different=different)
        g_attention = self.attention(keys, query_mask, False, None, memory, sinusoids, negative,
                                     query=queries, different=different)
        return self._finish(h, h_attention), self._finish(g, g_attention)

    def _attend(self, x, mask, causal, cache, memory, sinusoids, negative,
                different) -> torch.Tensor:
        if sinusoids is None:
            return self.attention(x, mask, causal, cache)
        if memory is not None and self.pre_norm:  # the keys see [LN(memory) ∘ LN(x)]
            memory = self.attention_norm(memory)
        return self.attention(x, mask, causal, cache, memory, sinusoids, negative,
                              different=different)


class TransformerEncoder(nn.Module):
    def __init__(self, hidden_size: int, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.causal = config.mask == "causal"
        self.layers = nn.ModuleList(TransformerLayer(hidden_size, config, index)
                                    for index in range(config.num_layers))
        _share_parameters(self.layers, config.share_layers)
        self.xl = config.position == "xl"
        if self.xl and config.relative_biases == "shared":
            tie_global_biases([layer.attention for layer in self.layers])
        self.relative_segments = config.relative_segments
        """Whether the encoder reads segment ids (``forward(..., segments=)``)."""
        self.memory_length = config.memory_length
        """XL memory M; may be changed after loading (evaluate with a longer memory)."""
        self.final_norm = (build_norm(config.norm_type, hidden_size, config.layer_norm_eps)
                           if config.norm == "pre" and config.final_norm else None)
        self.relative_bias = (RelativePositionBias(config.relative_buckets,
                                                   config.relative_max_distance,
                                                   config.num_heads, bidirectional=not self.causal)
                              if config.relative_buckets else None)
        self.checkpoint_activations = False
        """Recompute each layer's activations in backward instead of keeping them
        (``train.activation_checkpointing``; Chen et al. 2016): memory per layer for one
        more forward pass. Dropout replays the same masks (the RNG state is restored)."""
        self.layer_drop = 0.0
        """LayerDrop (Fan et al. 2020 §3): in training, each layer is skipped (the identity)
        with this probability, drawn per forward pass from the global RNG; 0 = off. Set
        by the ``layerdrop`` compression method, not saved in the config."""

    @property
    def recurrent(self) -> bool:
        """Transformer-XL with a memory carries state across segments."""
        return self.memory_length > 0

    @property
    def memory_batch_dims(self) -> tuple[int, ...]:
        return (0,) * len(self.layers)  # one (B, M, D) per layer

    def new_cache(self) -> KeyValueCache:
        """Key/value caches for incremental decoding (a causal encoder: GPT)."""
        return KeyValueCache(len(self.layers))

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory=None, return_layers: bool = False,
                cache: KeyValueCache | None = None,
                segments: torch.Tensor | None = None) -> EncoderOutput:
        """x: (B, T, D), the positions after the ``cache.length`` cached ones (if any);
        attention_mask over the keys, cached ones included: (B, t+T) or (B, T, t+T);
        ``segments`` (B, T): segment ids, read by ``relative_segments`` only."""
        # (B, T) keep-mask -> (B, 1, 1, T), broadcast over heads and queries; a (B, T, T)
        # mask (query × key, e.g. UniLM's) -> (B, 1, T, T), broadcast over heads.
        if attention_mask is None:
            mask = None
        elif attention_mask.dim() == 2:
            mask = attention_mask.bool()[:, None, None, :]
        else:
            mask = attention_mask.bool()[:, None, :, :]
        past = cache.length if cache is not None else 0
        memories = memory if self.xl and memory is not None else (None,) * len(self.layers)
        sinusoids, negative, different = None, 0, None
        if self.xl:  # R for distances -N..K-1 over [memory ∘ cached ∘ x], shared by the layers
            remembered = memories[0].shape[1] if memories[0] is not None else 0
            keys = remembered + past + x.shape[1]
            negative = 0 if self.causal else x.shape[1] - 1  # XLNet sees later positions too
            sinusoids = relative_sinusoids(negative, keys, x.shape[-1]).to(x.device)
            if mask is not None and remembered:  # the memory keys are always visible
                mask = torch.cat([mask.new_ones(*mask.shape[:-1], remembered), mask], dim=-1)
            different = self._different_segments(segments, remembered)
        if self.relative_bias is not None:  # bool keep-mask -> additive float mask
            length = x.shape[1]
            bias = self.relative_bias(length, past + length, past)  # (1, H, T, t+T)
            mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
        states = []
        recompute = self.checkpoint_activations and self.training and torch.is_grad_enabled()
        new_memory = []
        dropped = ((torch.rand(len(self.layers)) < self.layer_drop).tolist()
                   if self.training and self.layer_drop else [False] * len(self.layers))
        for index, layer in enumerate(self.layers):
            layer_cache = cache.layers[index] if cache is not None else None
            if self.memory_length:
                new_memory.append(self._keep_memory(x, memories[index]))
            if not dropped[index]:  # LayerDrop: a dropped layer is the identity this batch
                x = (checkpoint(layer, x, mask, self.causal, None, memories[index], sinusoids,
                                negative, different, use_reentrant=False) if recompute
                     else layer(x, mask, self.causal, layer_cache, memories[index], sinusoids,
                                negative, different))
            if return_layers:
                states.append(x)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return EncoderOutput(x, tuple(new_memory) if self.memory_length else None,
                             tuple(states) if return_layers else None)

    def _different_segments(self, segments: torch.Tensor | None,
                            remembered: int) -> torch.Tensor | None:
        """(B, T, M+T) bool: query i and key j in different segments (§2.5); the memory's
        keys count as segment 0 (HF XLNet's ``mem_pad``). None without segment ids."""
        if not self.relative_segments or segments is None:
            return None
        keys = torch.cat([segments.new_zeros(segments.shape[0], remembered), segments], dim=1)
        return segments[:, :, None] != keys[:, None, :]  # (B, T, M+T)

    def _keep_memory(self, x: torch.Tensor, memory: torch.Tensor | None) -> torch.Tensor:
        """§3.2: SG([m ∘ h]) keeps the last M inputs of a layer for the next segment."""
        kept = x if memory is None else torch.cat([memory, x], dim=1)
        return kept[:, max(kept.shape[1] - self.memory_length, 0):].detach()

    def two_stream(self, x: torch.Tensor, query: torch.Tensor, content_mask: torch.Tensor,
                   query_mask: torch.Tensor, memory=None, segments: torch.Tensor | None = None):
        """XLNet's two-stream self-attention (Yang et al. 2019 §2.3, eqs. 4-5), for
        ``mask: permutation``. x: (B, T, D) the embedded tokens (h^(0)); query: (B, T, D)
        g^(0) (the learned w at every position); content_mask, query_mask: (B, T, T) bool,
        [i, j] = position i may read position j's content (z_<=t for h, z_<t for g).
        ``memory``: per layer (B, M, D), the content stream of the previous segment (§2.5
        "Incorporating ideas from Transformer-XL"), always visible. ``segments`` (B, T):
        for ``relative_segments``. Returns (h, g, new memory or None); h and g (B, T, D)
        after the final norm (pre-LN)."""
        length = x.shape[1]
        memories = memory if memory is not None else (None,) * len(self.layers)
        remembered = memories[0].shape[1] if memories[0] is not None else 0
        negative = length - 1  # distances -(T-1)..M+T-1
        sinusoids = relative_sinusoids(negative, remembered + length, x.shape[-1]).to(x.device)
        mask, query_mask = content_mask.bool()[:, None], query_mask.bool()[:, None]  # (B, 1, T, T)
        if remembered:  # (B, 1, T, M+T): everyone reads the memory
            mask, query_mask = (torch.cat([m.new_ones(*m.shape[:-1], remembered), m], dim=-1)
                                for m in (mask, query_mask))
        different = self._different_segments(segments, remembered)
        recompute = self.checkpoint_activations and self.training and torch.is_grad_enabled()
        h, g, new_memory = x, query, []
        for layer, remembered_states in zip(self.layers, memories):
            if self.memory_length:
                new_memory.append(self._keep_memory(h, remembered_states))
            h, g = (checkpoint(layer.two_stream, h, g, mask, query_mask, sinusoids, negative,
                               remembered_states, different, use_reentrant=False) if recompute
                    else layer.two_stream(h, g, mask, query_mask, sinusoids, negative,
                                          remembered_states, different))
        if self.final_norm is not None:
            h, g = self.final_norm(h), self.final_norm(g)
        return h, g, (tuple(new_memory) if self.memory_length else None)


def relative_sinusoids(negative: int, keys: int, width: int) -> torch.Tensor:
    """(N + K, D): the sinusoid table R of the distances -N..K-1 (row c = distance c - N;
    XLNet's bidirectional ``pos_seq``); N = 0 is Transformer-XL's causal table."""
    table = sinusoidal_table(negative + keys, width)  # rows for 0..N+K-1
    if not negative:
        return table
    flip = sinusoidal_table(negative + 1, width)[1:].flip(0)  # distances N..1
    flip[:, 0::2] = -flip[:, 0::2]  # sin(-p) = -sin(p), cos(-p) = cos(p)
    return torch.cat([flip, table[:keys]])


def _share_parameters(layers: nn.ModuleList, mode: str) -> None:
    """Make every layer reuse the first layer's modules (ALBERT's sharing modes)."""
    first = layers[0]
    for layer in layers[1:]:
        if mode == "all":
            for name, module in first.named_children():
                setattr(layer, name, module)
        if mode == "attention":
            layer.attention = first.attention
        if mode == "ffn":
            layer.ffn = first.ffn


def build_transformer(hidden_size: int, config: TransformerConfig) -> TransformerEncoder:
    return TransformerEncoder(hidden_size, config)
