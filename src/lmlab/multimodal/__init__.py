"""Vision–language pre-training (review §5.3, Table 8; issue 22): real offline images
(easy-VQA, Noto Color Emoji pairs), visual embeddings, vector quantisation, single- and
two-stream encoders, and objectives that own their corruption."""

from lmlab.multimodal.easy_vqa_data import VQAExample, VQASplit, load_split
from lmlab.multimodal.emoji_pairs import EmojiPairs, build_pairs
from lmlab.multimodal.co_attention import CoAttentionLayer
from lmlab.multimodal.images import load_image
from lmlab.multimodal.models import (MultimodalConfig, MultimodalOutput, SingleStreamModel,
                                     TwoStreamModel, build_multimodal)
from lmlab.multimodal.objectives import (MULTIMODAL_OBJECTIVES, ImageMLMObjective,
                                         ImageTextMatchingObjective, MaskedRegionObjective,
                                         PretrainingModel)
from lmlab.multimodal.quantize import assign, kmeans
from lmlab.multimodal.visual import VisualConfig, VisualEmbedding, cell_features

__all__ = ["MULTIMODAL_OBJECTIVES", "CoAttentionLayer", "EmojiPairs", "ImageMLMObjective",
           "ImageTextMatchingObjective", "MaskedRegionObjective", "PretrainingModel", "MultimodalConfig", "MultimodalOutput",
           "SingleStreamModel", "TwoStreamModel", "VQAExample", "VQASplit", "VisualConfig",
           "VisualEmbedding", "assign", "build_multimodal", "build_pairs", "cell_features",
           "kmeans", "load_image", "load_split"]
