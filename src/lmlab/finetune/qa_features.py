"""Extractive QA features: question + context windows with a doc stride, and decoding.

BERT's SQuAD set-up (Devlin et al. 2019, §4.2; ``run_squad.py``): ``[CLS] question [SEP]
context window [SEP]``; a context longer than the window is cut into overlapping windows
``doc_stride`` tokens apart. A training window that does not contain the answer points
both positions at [CLS]. At prediction time every window proposes its n-best valid spans
(:func:`lmlab.heads.span_qa.best_spans`) and the best-scoring one across windows is mapped
back to characters of the original context through the tokenizer's offsets.
"""

from __future__ import annotations

from lmlab.heads.span_qa import best_spans
from lmlab.tasks.examples import QAExample


def encode_qa(tokenizer, examples: list[QAExample], max_len: int, doc_stride: int,
              max_question_len: int = 64) -> list[dict]:
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
    best: dict[int, tuple[float, str]] = {}
    for feature, scores in zip(features, logits):
        shift, offsets = feature["context_start"], feature["offsets"]
        length = shift + len(offsets)
        start_logits = [s[0] for s in scores[:length]]
        end_logits = [s[1] for s in scores[:length]]
        context_mask = [shift <= i < length for i in range(length)]
        spans = best_spans(start_logits, end_logits, context_mask, n_best, max_answer_length)
        if not spans:
            continue
        score, i, j = spans[0]
        context = examples[feature["example"]].context
        text = context[offsets[i - shift][0]:offsets[j - shift][1]]
        if feature["example"] not in best or score > best[feature["example"]][0]:
            best[feature["example"]] = (score, text)
    return [best.get(index, (0.0, ""))[1] for index in range(len(examples))]
