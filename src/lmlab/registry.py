"""Registries: plain dicts from the strings used in YAML to (config class, builder).

Read here and nowhere else (DESIGN §6.2, UER-py's ``str2encoder``). Adding a part means
adding one line to one of these dicts.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.composition import LanguageModel
from lmlab.decoders.transformer_decoder import TransformerDecoderConfig, build_transformer_decoder
from lmlab.embeddings.char_cnn import CharCNNEmbedding
from lmlab.embeddings.token_embedding import TokenEmbedding
from lmlab.encoders.attention_rnn import AttentionRNNConfig, build_attention_rnn
from lmlab.encoders.bcn import BCNConfig, build_bcn
from lmlab.encoders.bilstm import BiLSTMConfig, build_bilstm
from lmlab.encoders.elman import ElmanConfig, build_elman
from lmlab.encoders.ernie_thu import ErnieThuEncoder
from lmlab.encoders.knowbert import KnowBertEncoder
from lmlab.encoders.lstm import LSTMConfig, build_lstm
from lmlab.encoders.qrnn import QRNNConfig, build_qrnn
from lmlab.encoders.transformer import TransformerConfig, build_transformer
from lmlab.encoders.window_mlp import WindowMLPConfig, build_window_mlp
from lmlab.errors import ConfigError
from lmlab.heads.lm_head import LMHead
from lmlab.objectives.bilm import BiLMConfig, BiLMObjective
from lmlab.objectives.clm import CausalLMConfig, CausalLMObjective
from lmlab.objectives.context2vec import Context2VecConfig, Context2VecObjective
from lmlab.objectives.cross_mlm import CrossMLMConfig, CrossMLMObjective
from lmlab.objectives.bart import BartConfig, BartObjective
from lmlab.objectives.capitalization import CapitalizationConfig, CapitalizationObjective
from lmlab.objectives.electra import ElectraConfig, ElectraObjective
from lmlab.objectives.entity_denoising import EntityDenoisingConfig, EntityDenoisingObjective
from lmlab.objectives.knowbert_linking import EntityLinkingConfig, EntityLinkingObjective
from lmlab.objectives.lexical_relation import LexicalRelationConfig, LexicalRelationObjective
from lmlab.objectives.mass import MassConfig, MassObjective
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective
from lmlab.objectives.paraphrase import ParaphraseConfig, ParaphraseObjective
from lmlab.objectives.tlm import TranslationLMConfig, TranslationLMObjective
from lmlab.objectives.sentence_pair import SentencePairConfig, SentencePairObjective
from lmlab.objectives.sentence_reorder import SentenceReorderConfig, SentenceReorderObjective
from lmlab.objectives.sequence_autoencoder import (SequenceAutoencoderConfig,
                                                   SequenceAutoencoderObjective)
from lmlab.objectives.span_boundary import SpanBoundaryConfig, SpanBoundaryObjective
from lmlab.objectives.supersense import SupersenseConfig, SupersenseObjective
from lmlab.objectives.t5 import SpanCorruptionConfig, SpanCorruptionObjective
from lmlab.objectives.token_document import TokenDocumentConfig, TokenDocumentObjective
from lmlab.objectives.unilm import UniLMConfig, UniLMObjective
from lmlab.objectives.word_recovery import WordRecoveryConfig, WordRecoveryObjective
from lmlab.objectives.word_structural import WordStructuralConfig, WordStructuralObjective
from lmlab.objectives.xlnet import XLNetConfig, XLNetObjective
from lmlab.objectives.softmax.output import build_output_head

ENCODERS = {
    "transformer": (TransformerConfig, build_transformer),
    "lstm": (LSTMConfig, build_lstm),
    "bilstm": (BiLSTMConfig, build_bilstm),
    "bcn": (BCNConfig, build_bcn),
    "window_mlp": (WindowMLPConfig, build_window_mlp),
    "elman": (ElmanConfig, build_elman),
    "attention_rnn": (AttentionRNNConfig, build_attention_rnn),
    "qrnn": (QRNNConfig, build_qrnn),  # MultiFiT (issue 24)
}

KNOWLEDGE_ENCODERS = {
    "ernie_thu": ErnieThuEncoder,  # model.encoder.knowledge.kind (issue 21)
    "knowbert": KnowBertEncoder,
}

DECODERS = {
    "transformer": (TransformerDecoderConfig, build_transformer_decoder),
}

OBJECTIVES = {
    "clm": (CausalLMConfig, CausalLMObjective),
    "mlm": (MaskedLMConfig, MaskedLMObjective),
    "tlm": (TranslationLMConfig, TranslationLMObjective),
    # Unicoder (Huang et al. 2019, §3): word recovery, paraphrase classification, cross-lingual MLM
    "xwr": (WordRecoveryConfig, WordRecoveryObjective),
    "xpc": (ParaphraseConfig, ParaphraseObjective),
    "xmlm": (CrossMLMConfig, CrossMLMObjective),
    "nsp": (SentencePairConfig, SentencePairObjective),
    "sop": (SentencePairConfig, SentencePairObjective),
    "sso": (SentencePairConfig, SentencePairObjective),
    "rtd": (ElectraConfig, ElectraObjective),
    "unilm": (UniLMConfig, UniLMObjective),
    "sbo": (SpanBoundaryConfig, SpanBoundaryObjective),
    "wso": (WordStructuralConfig, WordStructuralObjective),
    "mass": (MassConfig, MassObjective),
    "bart": (BartConfig, BartObjective),
    "t5": (SpanCorruptionConfig, SpanCorruptionObjective),
    "xlnet": (XLNetConfig, XLNetObjective),
    "context2vec": (Context2VecConfig, Context2VecObjective),
    "bilm": (BiLMConfig, BiLMObjective),
    "autoencoder": (SequenceAutoencoderConfig, SequenceAutoencoderObjective),
    "lrc": (LexicalRelationConfig, LexicalRelationObjective),
    "supersense": (SupersenseConfig, SupersenseObjective),
    "dea": (EntityDenoisingConfig, EntityDenoisingObjective),
    "entity_linking": (EntityLinkingConfig, EntityLinkingObjective),
    # ERNIE 2.0 (Sun et al. 2020, §4.2): the raw-text tasks beside knowledge masking
    "cap": (CapitalizationConfig, CapitalizationObjective),
    "tdr": (TokenDocumentConfig, TokenDocumentObjective),
    "reorder": (SentenceReorderConfig, SentenceReorderObjective),
    "sd": (SentencePairConfig, SentencePairObjective),
}


def _initialise(model: nn.Module, method: str, scale: float) -> None:
    """normal(0, scale) for weights with zero biases and unit LayerNorms (BERT/GPT-2), or
    uniform(-scale, scale) for every parameter (Zaremba et al. 2014)."""
    for module in model.modules():
        if method == "uniform":
            for parameter in module.parameters(recurse=False):
                nn.init.uniform_(parameter, -scale, scale)
        elif isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, scale)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            for parameter in module.parameters(recurse=False):
                nn.init.uniform_(parameter, -scale, scale)


def build_model(model_config, vocab_size: int | None = None, seed: int | None = None,
                objectives=(), vocabulary: list[str] | None = None) -> LanguageModel:
    """The one builder: embedding + encoder + LM head from a :class:`ModelConfig`, plus the
    heads the run's built ``objectives`` add (:meth:`Objective.heads`). A clm ``output``
    that asks for a factorised softmax (hierarchical / class) is part of the model too.
    ``vocabulary``: the tokenizer's tokens in id order, given when a model is first built
    for training; a char-CNN embedding spells them into its word table (a loaded model
    gets the table from its checkpoint)."""
    embedding_config = model_config.embedding
    if vocab_size is not None:
        embedding_config.vocab_size = vocab_size
    if embedding_config.vocab_size <= 0:
        raise ValueError("model.embedding.vocab_size is unknown: train a tokenizer first")
    if seed is not None:
        torch.manual_seed(seed)
    char_cnn = embedding_config.char_cnn is not None
    embedding = CharCNNEmbedding(embedding_config) if char_cnn else TokenEmbedding(embedding_config)
    _, build_encoder = ENCODERS[model_config.encoder.name]
    knowledge = getattr(model_config.encoder, "knowledge", None)
    if knowledge is not None:  # entity fusion on a transformer (ERNIE-THU, KnowBERT)
        build_encoder = KNOWLEDGE_ENCODERS[knowledge.kind]
    encoder = build_encoder(embedding_config.hidden_size, model_config.encoder)
    # An encoder may emit features of another width (window_mlp's direct connections); a
    # biLM predicts from each direction's half through one softmax (``lm_input_size``).
    head_size = getattr(encoder, "lm_input_size",
                        getattr(encoder, "output_size", embedding_config.hidden_size))
    if head_size != embedding_config.hidden_size and model_config.lm_head.tie_weights:
        raise ConfigError(f"model.lm_head.tie_weights: the {model_config.encoder.name} encoder "
                          f"emits {head_size} features, not the embedding's "
                          f"{embedding_config.hidden_size}; set tie_weights: false")
    decoder, decoder_embedding = _build_decoder(model_config, embedding)
    # An encoder–decoder predicts with its decoder: tie the output to the decoder's tokens.
    output_tokens = (decoder_embedding if decoder_embedding is not None else embedding).tokens
    lm_head = LMHead(head_size, embedding_config.vocab_size, model_config.lm_head, output_tokens,
                     output_size=embedding_config.embedding_size or head_size)
    lm_head = build_output_head(lm_head, head_size, embedding_config.vocab_size,
                                [objective.config for objective in objectives])
    heads = {name: module for objective in objectives
             for name, module in objective.heads(model_config, embedding).items()}
    model = LanguageModel(embedding, encoder, lm_head, heads, decoder, decoder_embedding)
    _initialise(model, model_config.init, model_config.init_scale)
    if char_cnn:
        embedding.highway.initialise_gates()  # the negative gate bias _initialise reset
        if vocabulary is not None:
            embedding.spell_vocabulary(vocabulary)
    return model


def _build_decoder(model_config, embedding: TokenEmbedding):
    """(decoder, its own input embedding or None when it reuses the encoder's)."""
    if model_config.decoder is None:
        return None, None
    config = model_config.decoder
    _, build = DECODERS[config.name]
    decoder = build(model_config.embedding.hidden_size, config)
    if config.embedding == "shared":
        return decoder, None
    decoder_embedding = TokenEmbedding(model_config.embedding)
    if config.embedding == "shared_tokens":
        decoder_embedding.tokens = embedding.tokens  # one token table, own positions/norm
    return decoder, decoder_embedding


def build_objectives(objective_configs, tokenizer, seed: int = 0) -> list:
    """The run's objectives (:class:`lmlab.objectives.base.Objective`), in config order;
    ``seed`` seeds every random choice they make (with the step and example)."""
    return [OBJECTIVES[config.name][1](config, tokenizer, seed) for config in objective_configs]
