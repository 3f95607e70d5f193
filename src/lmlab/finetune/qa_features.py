"""Extractive QA features: question + context windows with a doc stride, and decoding.

BERT's SQuAD set-up (Devlin et al. 2019, §4.2; ``run_squad.py``): ``[CLS] question [SEP]
context window [SEP]``; a context longer than the window is cut into overlapping windows
``doc_stride`` tokens apart. A training window that does not contain the answer points
both positions at [CLS]. At prediction time every window proposes its n-best valid spans
(:func:`lmlab.heads.span_qa.best_spans`) and the best-scoring one across windows is mapped
back to characters of the original context through the tokenizer's offsets.
"""

from __future__ import annotations

import math

from lmlab.heads.span_qa import best_spans
from lmlab.tasks.examples import QAExample


MAX_QUESTION_TOKENS = 64
"""Question tokens a window keeps (``run_squad.py``'s ``max_query_length``)."""


def encode_qa(tokenizer, examples: list[QAExample], max_len: int, doc_stride: int,
              max_question_len: int = MAX_QUESTION_TOKENS) -> list[dict]:
    questions = tokenizer.backend.encode_batch([e.question for e in examples],
                                               add_special_tokens=False)
    contexts = tokenizer.backend.encode_batch([e.context for e in examples],
                                              add_special_tokens=False)
    features = []
    for index, (example, question, context) in enumerate(zip(examples, questions, contexts)):
        q = question.ids[:max_question_len]
        window = max_len - len(q) - 3
        offsets = context.offsets  # (char start, char end) per context token
        answer = example.answers[0] if example.answers else None
        start = 0
        while True:
            span = range(start, min(start + window, len(context.ids)))
            ids = [tokenizer.cls_id] + q + [tokenizer.sep_id] + [context.ids[i] for i in span] \
                + [tokenizer.sep_id]
            shift = len(q) + 2  # token position of the window's first context token
            feature = {"ids": ids, "segments": [0] * shift + [1] * (len(span) + 1),
                       "example": index, "context_start": shift,
                       "offsets": [offsets[i] for i in span]}
            if answer is not None and answer[1] >= 0:
                first, last = _answer_tokens(offsets, answer, span)
                feature["start"], feature["end"] = ((first + shift, last + shift)
                                                    if first is not None else (0, 0))
            features.append(feature)
            if span.stop >= len(context.ids):
                break
            start += doc_stride
    return features


def _answer_tokens(offsets, answer: tuple[str, int], span: range):
    """Window-relative first/last token of the answer, or (None, None) if outside."""
    char_start, char_end = answer[1], answer[1] + len(answer[0])
    first = last = None
    for position, token in enumerate(span):
        begin, end = offsets[token]
        if first is None and end > char_start:
            first = position
        if begin < char_end:
            last = position
    if first is None or last is None or last < first:
        return None, None
    if offsets[span[first]][0] > char_start or offsets[span[last]][1] < char_end:
        return None, None  # the answer starts/ends outside this window
    return first, last


def decode_qa(examples: list[QAExample], features: list[dict], logits: list, n_best: int,
              max_answer_length: int) -> list[str]:
    """Best answer text per example. ``logits[i]`` is feature i's (T, 2) start/end scores."""
    return [answer["text"] for answer in
            best_answers(examples, features, logits, n_best, max_answer_length)]


def best_answers(examples: list[QAExample], features: list[dict], logits: list, n_best: int,
                 max_answer_length: int) -> list[dict]:
    """Per example, its best span over every window: ``text``, ``start`` / ``end``
    (characters of the context, end exclusive), ``score`` (start + end logit) and
    ``probability``, the softmax of the score over the example's n-best distinct answers
    (``run_squad.py``'s ``nbest`` probabilities). No valid span: text "", score and
    probability 0, start = end = 0."""
    candidates: dict[int, list[tuple[float, int, int]]] = {}
    for feature, scores in zip(features, logits):
        shift, offsets = feature["context_start"], feature["offsets"]
        length = shift + len(offsets)
        start_logits = [s[0] for s in scores[:length]]
        end_logits = [s[1] for s in scores[:length]]
        context_mask = [shift <= i < length for i in range(length)]
        for score, i, j in best_spans(start_logits, end_logits, context_mask, n_best,
                                      max_answer_length):
            candidates.setdefault(feature["example"], []).append(
                (score, offsets[i - shift][0], offsets[j - shift][1]))
    answers = []
    for index, example in enumerate(examples):
        ranked, seen = [], set()
        for score, start, end in sorted(candidates.get(index, []), key=lambda c: -c[0]):
            text = example.context[start:end]
            if text not in seen:  # windows overlap: one answer, its best score
                seen.add(text)
                ranked.append((score, start, end, text))
            if len(ranked) == n_best:
                break
        if not ranked:
            answers.append({"text": "", "start": 0, "end": 0, "score": 0.0, "probability": 0.0})
            continue
        top = ranked[0][0]
        weights = [math.exp(score - top) for score, *_ in ranked]
        score, start, end, text = ranked[0]
        answers.append({"text": text, "start": start, "end": end, "score": score,
                        "probability": weights[0] / sum(weights)})
    return answers
