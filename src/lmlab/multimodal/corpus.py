"""The pre-training and fine-tuning data of the multimodal runs (issue 22), built from the
two offline sources: image rows, texts and their encodings, one held-out side each.

Pre-training (:func:`pretraining_corpus`): the emoji pairs' *train* split (each picture with
its English name and, as a second example, its Chinese name) and the easy-VQA *train* split
(each picture with each of its questions as text; no answers). The emoji test split and the
easy-VQA dev split are the held-out measure; the easy-VQA test split is never read here.
easy-VQA's 64x64 pictures are resized (bilinear) to the run's ``image_size``.

Text: a word vocabulary (lower-cased words; each CJK ideograph its own word, as BERT's
BasicTokenizer splits Chinese) counted on the pre-training texts only, ordered by
(-count, word), so the same texts always give the same ids (HF's WordPiece trainer breaks
ties in hash order, which would part a resumed run from its uninterrupted twin); every
text is ``[CLS] words [SEP]`` cut to ``max_text_length`` and padded.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from lmlab.data.catalogue import cache_dir
from lmlab.data.tokenizers import CJK_CHARACTER, TokenizerConfig, train_tokenizer
from lmlab.errors import ConfigError
from lmlab.multimodal.easy_vqa_data import load_split
from lmlab.multimodal.emoji_pairs import build_pairs
from lmlab.multimodal.frames import check_frames, clip_mosaics
from lmlab.multimodal.images import resize_rgb

SOURCES = ("emoji", "easy_vqa")


@dataclass
class MultimodalDataConfig:
    sources: list[str] = field(default_factory=lambda: list(SOURCES))
    image_size: int = 32
    emoji_seed: int = 0
    emoji_test_fraction: float = 0.2
    vqa_seed: int = 22
    """Seed of easy-VQA's dev split (by image)."""
    vqa_images: int = 0
    """Use the first n images of each easy-VQA split (0: all); quick runs and tests."""
    emoji_limit: int = 0
    """Use the first n emoji by code point (0: all)."""
    vocab_size: int = 0
    """Most frequent words kept (0: every word of the pre-training texts)."""
    max_text_length: int = 24
    video_frames: int = 0
    """VideoBERT's frame-sequence "video" proxy (:mod:`lmlab.multimodal.frames`): every
    picture becomes a mosaic of this many panning frames (a square number; 0: off)."""

    def validate(self, path: str = "data") -> None:
        if self.video_frames:
            check_frames(self.video_frames, self.image_size, f"{path}.video_frames")
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown or not self.sources:
            raise ConfigError(f"{path}.sources: a non-empty list of {', '.join(SOURCES)}, got "
                              f"{self.sources}")
        if self.max_text_length < 3:
            raise ConfigError(f"{path}.max_text_length: must be >= 3 ([CLS] word [SEP])")


@dataclass
class Corpus:
    """n examples over M pictures: ``ids`` (n, L) int64, ``image_rows`` (n,) into
    ``images`` (M, S, S, 3) uint8, ``caption_ids`` (n,) equal for equal texts."""

    images: np.ndarray
    texts: list[str]
    image_rows: np.ndarray
    ids: np.ndarray | None = None
    caption_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)


def _pictures(images: np.ndarray, config: MultimodalDataConfig) -> np.ndarray:
    """Resized to ``image_size``; with ``video_frames``, each the mosaic of its clip."""
    size = config.image_size
    if images.shape[1] != size:
        images = np.stack([resize_rgb(picture, size) for picture in images])
    return clip_mosaics(images, config.video_frames) if config.video_frames else images


def emoji_corpus(config: MultimodalDataConfig, split: str) -> Corpus:
    pairs = build_pairs(cache_dir() / "multimodal", size=config.image_size,
                        seed=config.emoji_seed, test_fraction=config.emoji_test_fraction,
                        limit=config.emoji_limit)
    images, captions = pairs.split(split)
    images = _pictures(images, config)
    texts, rows = [], []
    for row, caption in enumerate(captions):
        for text in (caption["en"], caption["zh"]):
            texts.append(text)
            rows.append(row)
    return Corpus(images, texts, np.array(rows, dtype=np.int64))


def vqa_corpus(config: MultimodalDataConfig, split: str) -> tuple[Corpus, np.ndarray, list]:
    """(corpus of questions, answer labels (n,), the 13 answers) of ``train`` or ``dev``."""
    images, texts, rows, labels, answers = _vqa_arrays(split, config.vqa_seed, config.vqa_images,
                                                       config.image_size, config.video_frames)
    return Corpus(images, list(texts), rows), labels, list(answers)


@functools.lru_cache(maxsize=4)
def _vqa_arrays(split: str, seed: int, limit: int, size: int, frames: int) -> tuple:
    """The decoded (and resized) split, kept in memory: a suite reads it for every run.
    Callers never write to the arrays."""
    data = load_split(split, seed=seed, limit_images=limit)
    config = MultimodalDataConfig(image_size=size, video_frames=frames)
    return (_pictures(data.images, config), tuple(e.question for e in data.examples),
            np.array([e.image for e in data.examples], dtype=np.int64), data.labels(),
            tuple(data.answers))


def concatenate(parts: list[Corpus]) -> Corpus:
    offsets = np.cumsum([0] + [len(p.images) for p in parts[:-1]])
    return Corpus(np.concatenate([p.images for p in parts]),
                  [t for p in parts for t in p.texts],
                  np.concatenate([p.image_rows + o for p, o in zip(parts, offsets)]))


def pretraining_corpus(config: MultimodalDataConfig, split: str) -> Corpus:
    """``train``: emoji train + easy-VQA train; ``held_out``: emoji test + easy-VQA dev."""
    emoji_split, vqa_split = ("train", "train") if split == "train" else ("test", "dev")
    parts = []
    if "emoji" in config.sources:
        parts.append(emoji_corpus(config, emoji_split))
    if "easy_vqa" in config.sources:
        parts.append(vqa_corpus(config, vqa_split)[0])
    return concatenate(parts)


def spaced(text: str) -> str:
    """``red 红包`` -> ``red  红  包 ``: every CJK ideograph a word of its own."""
    return re.sub(CJK_CHARACTER, r" \g<0> ", text)


def train_text_tokenizer(corpus: Corpus, config: MultimodalDataConfig):
    tokenizer_config = TokenizerConfig(kind="word", vocab_size=config.vocab_size,
                                       lowercase=True)
    return train_tokenizer([spaced(t) for t in corpus.texts], tokenizer_config, "word", None,
                           source="the multimodal pre-training texts")


def encode(corpus: Corpus, tokenizer, max_length: int) -> Corpus:
    """Fill ``ids`` ([CLS] words [SEP], cut and padded to ``max_length``) and
    ``caption_ids`` (one id per distinct text)."""
    ids = np.full((len(corpus), max_length), tokenizer.pad_id, dtype=np.int64)
    for row, pieces in enumerate(tokenizer.encode_batch([spaced(t) for t in corpus.texts])):
        tokens = [tokenizer.cls_id, *pieces[:max_length - 2], tokenizer.sep_id]
        ids[row, :len(tokens)] = tokens
    distinct = {text: i for i, text in enumerate(sorted(set(corpus.texts)))}
    corpus.ids = ids
    corpus.caption_ids = np.array([distinct[t] for t in corpus.texts], dtype=np.int64)
    return corpus
