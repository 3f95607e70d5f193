"""Extractive-QA scores: SQuAD v1.1's official EM/F1 and the CMRC 2018 character variant.

English (Rajpurkar et al. 2016, ``evaluate-v1.1.py``): lowercase, strip punctuation and the
articles a/an/the, collapse whitespace; EM is string equality, F1 the bag-of-tokens overlap;
each question takes its best score over the gold answers.
Chinese (Cui et al. 2019, CMRC 2018 ``cmrc2018_evaluate.py``): lowercase, strip Chinese and
English punctuation, segment into single CJK characters and whole English/number words;
F1 from the longest common subsequence of the two segmentations.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CJK_PUNCT = set("－：_*^/\\~`+=，。：？！“”；’《》……·、「」（）－～『』—【】‘")


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def segment_chinese(text: str) -> list[str]:
    """CMRC 2018's mixed segmentation: CJK characters and punctuation one by one, runs of
    other characters (English words, numbers) kept whole; whitespace dropped."""
    pieces, word = [], ""
    for char in text.lower().strip():
        if re.match(r"[\u4e00-\u9fa5]", char) or char in _CJK_PUNCT:
            if word:
                pieces.append(word)
                word = ""
            pieces.append(char)
        elif char.isspace():
            if word:
                pieces.append(word)
                word = ""
        else:
            word += char
    return pieces + ([word] if word else [])


def _strip_punctuation(text: str) -> str:
    drop = _CJK_PUNCT | set(string.punctuation)
    return "".join(ch for ch in text.lower().strip() if ch not in drop and not ch.isspace())


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def char_f1(prediction: str, gold: str) -> float:
    predicted = [p for p in segment_chinese(prediction) if p not in _CJK_PUNCT | set(string.punctuation)]
    expected = [g for g in segment_chinese(gold) if g not in _CJK_PUNCT | set(string.punctuation)]
    common = _lcs_length(predicted, expected)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def char_exact_match(prediction: str, gold: str) -> float:
    return float(_strip_punctuation(prediction) == _strip_punctuation(gold))


def squad_scores(predictions: Sequence[str], golds: Sequence[Sequence[str]],
                 chinese: bool = False) -> dict[str, float]:
    """Mean EM and F1 (percent); each question scores its best gold answer."""
    em_fn, f1_fn = (char_exact_match, char_f1) if chinese else (exact_match, token_f1)
    em = f1 = 0.0
    for prediction, answers in zip(predictions, golds):
        if not answers:
            continue
        em += max(em_fn(prediction, a) for a in answers)
        f1 += max(f1_fn(prediction, a) for a in answers)
    count = max(1, sum(1 for a in golds if a))
    return {"f1": 100.0 * f1 / count, "exact_match": 100.0 * em / count}
