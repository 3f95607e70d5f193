"""Chinese word boundaries for whole-word masking (Cui et al. 2019, BERT-wwm Chinese).

Chinese BERT tokenises into characters; whole-word masking needs the words, which Cui
et al. take from a word segmenter (LTP). lmlab uses jieba (pinned in pyproject) and, like
HF's ``run_chinese_ref.py`` reference files, segments the corpus *once*, when the token
store is built (:mod:`lmlab.data.unit_marks`): jieba never runs per batch.

Rule: every token gets the index of the jieba word holding its first character (HF
``tokenizers`` offsets map tokens back to the line); a token starts a unit (mark 1) when
that word differs from the previous token's, else it continues it (mark 2).
"""

from __future__ import annotations

import logging

import numpy as np


def _segmenter():
    import jieba  # heavy (dictionary load): only here, at store build time

    jieba.setLogLevel(logging.WARNING)
    return jieba


def jieba_marks(texts: list[str], tokenizer) -> list[np.ndarray]:
    """Per line, (tokens,) uint8 marks: 1 = the token starts a jieba word, 2 = continues."""
    jieba = _segmenter()
    encodings = tokenizer.backend.encode_batch(texts, add_special_tokens=False)
    out = []
    for text, encoding in zip(texts, encodings):
        word_of_char = np.zeros(len(text) + 1, dtype=np.int64)  # (chars + 1,)
        for index, (_, start, end) in enumerate(jieba.tokenize(text)):
            word_of_char[start:end] = index
        words = word_of_char[[min(start, len(text)) for start, _ in encoding.offsets]]  # (tokens,)
        marks = np.ones(len(words), dtype=np.uint8)
        marks[1:][words[1:] == words[:-1]] = 2
        out.append(marks)
    return out
