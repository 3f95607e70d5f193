"""Encoder parts: ``(x, attention_mask, memory=None) -> EncoderOutput``."""
from lmlab.encoders.lstm import LSTMConfig, LSTMEncoder
from lmlab.encoders.output import EncoderOutput
from lmlab.encoders.transformer import TransformerConfig, TransformerEncoder

__all__ = ["EncoderOutput", "LSTMConfig", "LSTMEncoder", "TransformerConfig", "TransformerEncoder"]
