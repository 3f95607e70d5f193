"""Head parts: ``(h, batch) -> logits``."""
from lmlab.heads.lm_head import LMHead, LMHeadConfig

__all__ = ["LMHead", "LMHeadConfig"]
