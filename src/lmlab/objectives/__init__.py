"""Objective parts: each owns its input corruption, its loss and its held-out measure
(the protocol is :class:`lmlab.objectives.base.Objective`)."""
from lmlab.objectives.base import LossOutput, Objective, ObjectiveConfig
from lmlab.objectives.clm import CausalLMConfig, CausalLMObjective
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective, mask_tokens

__all__ = ["LossOutput", "Objective", "ObjectiveConfig", "CausalLMConfig", "CausalLMObjective",
           "MaskedLMConfig", "MaskedLMObjective", "mask_tokens"]
