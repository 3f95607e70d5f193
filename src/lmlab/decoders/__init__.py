"""Decoders: stacks that read an encoder's output (``memory``) while generating."""

from lmlab.decoders.transformer_decoder import (KeyValueCache, TransformerDecoder,
                                                TransformerDecoderConfig,
                                                build_transformer_decoder)

__all__ = ["KeyValueCache", "TransformerDecoder", "TransformerDecoderConfig",
           "build_transformer_decoder"]
