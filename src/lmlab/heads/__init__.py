"""Head parts: ``(h, batch) -> logits``."""
from lmlab.heads.generation import GenerationHead
from lmlab.heads.lm_head import LMHead, LMHeadConfig
from lmlab.heads.multiple_choice import MultipleChoiceHead
from lmlab.heads.sequence_classification import SequenceClassificationHead, SequenceHeadConfig
from lmlab.heads.span_qa import SpanQAHead, best_spans
from lmlab.heads.token_classification import TokenClassificationHead, TokenHeadConfig

__all__ = ["GenerationHead", "LMHead", "LMHeadConfig", "MultipleChoiceHead", "SequenceClassificationHead",
           "SequenceHeadConfig", "SpanQAHead", "best_spans", "TokenClassificationHead",
           "TokenHeadConfig"]
