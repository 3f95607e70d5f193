"""Objective parts: ``(model, batch) -> LossOutput``; each owns its input corruption."""
from lmlab.objectives.base import LossOutput
from lmlab.objectives.clm import CausalLMConfig, CausalLMObjective
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective, mask_tokens

__all__ = ["LossOutput", "CausalLMConfig", "CausalLMObjective", "MaskedLMConfig",
           "MaskedLMObjective", "mask_tokens"]
