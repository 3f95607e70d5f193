"""Vision–language pre-training (review §5.3, Table 8; issue 22): real offline images
(easy-VQA, Noto Color Emoji pairs), visual embeddings, vector quantisation, single- and
two-stream encoders, and objectives that own their corruption."""

from lmlab.multimodal.easy_vqa_data import VQAExample, VQASplit, load_split
from lmlab.multimodal.emoji_pairs import EmojiPairs, build_pairs
from lmlab.multimodal.images import load_image

__all__ = ["EmojiPairs", "VQAExample", "VQASplit", "build_pairs", "load_image", "load_split"]
