"""Examples -> model inputs for classification, regression, tagging and multiple choice.

Sequences follow BERT's input format (Devlin et al. 2019, §3): ``[CLS] a [SEP]`` or
``[CLS] a [SEP] b [SEP]`` with segment 0 up to the first [SEP] and 1 after it; pairs are
truncated longest-first to ``max_len``. A feature is a plain dict of Python lists; the
collate functions pad each batch only to its own longest sequence (dynamic padding).
"""

from __future__ import annotations

import torch

from lmlab.manifest import warn
from lmlab.tasks.examples import ChoiceExample, TaggedExample, TextExample


def _truncate_pair(a: list[int], b: list[int], budget: int) -> tuple[list[int], list[int]]:
    a, b = list(a), list(b)
    while len(a) + len(b) > budget:
        (a if len(a) >= len(b) else b).pop()
    return a, b


def pack(tokenizer, a: list[int], b: list[int] | None, max_len: int) -> dict:
    """[CLS] a [SEP] (b [SEP]) with segments, truncated longest-first."""
    if b is None:
        a = a[:max_len - 2]
        return {"ids": [tokenizer.cls_id] + a + [tokenizer.sep_id], "segments": [0] * (len(a) + 2)}
    a, b = _truncate_pair(a, b, max_len - 3)
    return {"ids": [tokenizer.cls_id] + a + [tokenizer.sep_id] + b + [tokenizer.sep_id],
            "segments": [0] * (len(a) + 2) + [1] * (len(b) + 1)}


def encode_text(tokenizer, examples: list[TextExample], max_len: int, label_ids: dict | None,
                regression: bool) -> list[dict]:
    first = tokenizer.encode_batch([e.text_a for e in examples])
    second = tokenizer.encode_batch([e.text_b or "" for e in examples])
    budget = [max_len - (3 if e.text_b is not None else 2) for e in examples]
    cut = sum(len(a) + (len(b) if e.text_b is not None else 0) > room
              for e, a, b, room in zip(examples, first, second, budget))
    if cut:
        warn(f"{cut} of {len(examples)} inputs were longer than max_seq_len={max_len} tokens "
             f"and were cut (longest text first)")
    features = []
    for example, a, b in zip(examples, first, second):
        feature = pack(tokenizer, a, b if example.text_b is not None else None, max_len)
        if example.label is not None:
            feature["label"] = float(example.label) if regression else label_ids[example.label]
        features.append(feature)
    return features


def encode_tagged(tokenizer, examples: list[TaggedExample], max_len: int,
                  label_ids: dict | None) -> list[dict]:
    """First sub-token of each word carries its tag; words past ``max_len`` are dropped
    here and predicted as ``O`` (scored as misses, not skipped)."""
    encodings = tokenizer.backend.encode_batch([e.tokens for e in examples],
                                               is_pretokenized=True, add_special_tokens=False)
    features = []
    for example, encoding in zip(examples, encodings):
        ids, starts, seen = [tokenizer.cls_id], [], set()
        for token_id, word in zip(encoding.ids, encoding.word_ids):
            if len(ids) >= max_len - 1:
                break
            if word not in seen:
                seen.add(word)
                starts.append(len(ids))
            ids.append(token_id)
        # A word that tokenises to nothing (a control character) reads the [CLS] vector.
        starts = _fill_starts(starts, encoding.word_ids, len(example.tokens), max_len)
        ids.append(tokenizer.sep_id)
        feature = {"ids": ids, "segments": [0] * len(ids), "word_starts": starts}
        if example.tags is not None:
            feature["label"] = [label_ids[t] for t in example.tags[:len(starts)]]
        features.append(feature)
    return features


def _fill_starts(starts: list[int], word_ids: list, num_words: int, max_len: int) -> list[int]:
    present = sorted({w for w in word_ids if w is not None})
    if len(present) == num_words:
        return starts
    by_word, kept = {}, iter(starts)
    for word in present[:len(starts)]:
        by_word[word] = next(kept)
    last_kept = present[len(starts) - 1] if starts else -1
    return [by_word.get(w, 0) for w in range(min(num_words, last_kept + 1))]


def encode_choices(tokenizer, examples: list[ChoiceExample], max_len: int) -> list[dict]:
    """One [CLS] passage [SEP] question option [SEP] sequence per option; the passage is
    what gets truncated."""
    contexts = tokenizer.encode_batch([e.context for e in examples])
    features = []
    for example, context in zip(examples, contexts):
        options = tokenizer.encode_batch([f"{example.question} {o}" for o in example.options])
        sequences = []
        for option in options:
            option = option[:max_len // 2]
            sequences.append(pack(tokenizer, context[:max_len - 3 - len(option)], option, max_len))
        feature = {"choices": sequences, "ids": max(sequences, key=lambda s: len(s["ids"]))["ids"]}
        if example.label is not None:
            feature["label"] = example.label
        features.append(feature)
    return features


def _pad(rows: list[list[int]], value: int = 0) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows])  # (B, T)


def collate(features: list[dict], kind: str, pad_id: int) -> dict:
    """Pad one batch to its longest member (dynamic padding)."""
    if kind == "multiple_choice":
        width = max(len(f["choices"]) for f in features)
        empty = {"ids": [pad_id], "segments": [0]}
        flat = [c for f in features for c in f["choices"] + [empty] * (width - len(f["choices"]))]
        batch = collate(flat, "classification", pad_id)  # (B*K, T)
        batch["num_choices"] = width
        batch["choice_mask"] = torch.tensor([[1] * len(f["choices"]) + [0] * (width - len(f["choices"]))
                                             for f in features])
        if all("label" in f for f in features):
            batch["labels"] = torch.tensor([f["label"] for f in features])
        return batch
    batch = {"input_ids": _pad([f["ids"] for f in features], pad_id),
             "segments": _pad([f["segments"] for f in features]),
             "attention_mask": _pad([[1] * len(f["ids"]) for f in features])}
    if "language" in features[0]:  # multi-language fine-tuning: one language id a row
        batch["languages"] = torch.tensor([f["language"] for f in features])  # (B,)
    if "visible" in features[0]:  # K-BERT: soft positions and the (B, T, T) visible matrix
        batch["positions"] = _pad([f["positions"] for f in features])
        width = batch["input_ids"].shape[1]
        visible = torch.eye(width, dtype=torch.bool).repeat(len(features), 1, 1)  # (B, T, T)
        for row, feature in enumerate(features):  # padding sees only itself: no empty row
            size = len(feature["ids"])
            visible[row, :size, :size] = feature["visible"]
        batch["visible"] = visible
    if kind == "tagging":
        batch["word_starts"] = _pad([f["word_starts"] or [0] for f in features])
        batch["word_mask"] = _pad([[1] * max(1, len(f["word_starts"])) for f in features])
        if all("label" in f for f in features):
            batch["labels"] = _pad([f["label"] or [0] for f in features], -100)
    elif kind == "span_qa":
        if all("start" in f for f in features):
            batch["start_positions"] = torch.tensor([f["start"] for f in features])
            batch["end_positions"] = torch.tensor([f["end"] for f in features])
    elif all("label" in f for f in features):
        dtype = torch.float32 if isinstance(features[0]["label"], float) else torch.long
        batch["labels"] = torch.tensor([f["label"] for f in features], dtype=dtype)
    return batch
