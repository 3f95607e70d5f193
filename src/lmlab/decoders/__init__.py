"""Decoders: stacks that read an encoder's output (``memory``) while generating."""

from lmlab.decoders.transformer_decoder import (DecoderCache, TransformerDecoder,
                                                TransformerDecoderConfig,
                                                build_transformer_decoder)

__all__ = ["DecoderCache", "TransformerDecoder", "TransformerDecoderConfig",
           "build_transformer_decoder"]
