"""Task examples <-> features <-> metric inputs, per task kind, plus the input checks:
labels in dev that train never shows, and a vocabulary that does not fit the language."""

from __future__ import annotations

import random
import sys

from lmlab.errors import ConfigError, DataError
from lmlab.finetune.features import encode_choices, encode_tagged, encode_text
from lmlab.finetune.qa_features import decode_qa, encode_qa
from lmlab.finetune.seq2seq_features import encode_seq2seq
from lmlab.knowledge.kbert_features import kbert_features
from lmlab.tasks.text_to_text import label_texts


def subset(examples: list, size: int, seed: int) -> list:
    """A fixed random subset (in file order) so every run sees the same examples."""
    if not size or size >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), size))
    return [examples[i] for i in keep]


def _example_labels(kind: str, example) -> list:
    if kind == "classification":
        return [] if example.label is None else [example.label]
    if kind == "tagging":
        return example.tags or []
    return []


def label_vocabulary(spec, train: list, checked: dict[str, list]) -> list[str]:
    """The label list (ids = positions). Train labels must belong to the task's public
    label set; every label of the other splits must occur in train."""
    if spec.kind not in ("classification", "tagging"):
        return []
    seen: dict[str, str] = {}
    for example in train:
        for label in _example_labels(spec.kind, example):
            if spec.labels and label not in spec.labels:
                raise DataError(f"{example.source}: field 'label': {label!r} is not a label of "
                                f"{spec.name} (labels: {', '.join(spec.labels)})")
            seen.setdefault(label, example.source)
    for split, examples in checked.items():
        for example in examples:
            for label in _example_labels(spec.kind, example):
                if label not in seen:
                    raise DataError(f"{example.source}: field 'label': {label!r} in the {split} "
                                    f"split never occurs in the training split (train labels: "
                                    f"{', '.join(sorted(seen))})")
    if spec.kind == "classification" and spec.labels:
        return list(spec.labels)
    return sorted(seen, key=lambda tag: (tag != "O", tag.partition("-")[2], tag))


def texts_of(kind: str, examples: list) -> list[str]:
    if kind in ("classification", "regression"):
        return [e.text_a + (" " + e.text_b if e.text_b else "") for e in examples]
    if kind == "tagging":
        return [" ".join(e.tokens) for e in examples]
    if kind == "span_qa":
        return [e.question + " " + e.context for e in examples]
    if kind == "generation":
        return [e.text + " " + (e.target or "") for e in examples]
    return [e.context + " " + " ".join(e.options) for e in examples]


def unk_rate(tokenizer, kind: str, examples: list, sample: int = 500) -> float:
    texts = texts_of(kind, examples[:sample])
    ids = [i for row in tokenizer.encode_batch(texts) for i in row]
    return sum(i == tokenizer.unk_id for i in ids) / max(1, len(ids))


def check_vocabulary(tokenizer, spec, examples: list, max_unk_rate: float, where: str) -> float:
    """Refuse (or warn about) a vocabulary that maps much of the task text to [UNK]."""
    rate = unk_rate(tokenizer, spec.kind, examples)
    if rate > 0.05:
        message = (f"{where}: the checkpoint's vocabulary turns {100 * rate:.1f}% of "
                   f"{spec.name}'s tokens into {tokenizer.unk_token} (task language: "
                   f"{spec.language}); use a checkpoint with a {spec.language} vocabulary")
        if rate > max_unk_rate:
            raise DataError(message + f" (or raise --max-unk-rate above {rate:.2f})")
        print(f"lmlab: warning: {message}", file=sys.stderr)
    return rate


def encode(spec, tokenizer, examples: list, config) -> list[dict]:
    """Model inputs of ``examples``; ``config``: the run's FinetuneRunConfig (labels,
    options, and for generation its mode and decoder start)."""
    options = config.options
    label_ids = {label: i for i, label in enumerate(config.labels)}
    if spec.kind in ("classification", "regression"):
        features = encode_text(tokenizer, examples, options.max_seq_len, label_ids,
                               spec.kind == "regression")
        if options.kbert_relations:  # K-BERT: WordNet branches, soft positions, visibility
            features = kbert_features(features, tokenizer, options.kbert_relations,
                                      options.kbert_max_branches, options.max_seq_len)
        return features
    if options.kbert_relations:
        raise ConfigError(f"finetune.kbert_relations: K-BERT reads classification and "
                          f"regression tasks; {spec.name} is {spec.kind}")
    if spec.kind == "tagging":
        return encode_tagged(tokenizer, examples, options.max_seq_len, label_ids)
    if spec.kind == "span_qa":
        return encode_qa(tokenizer, examples, options.max_seq_len, options.doc_stride)
    if spec.kind == "generation":
        return encode_seq2seq(tokenizer, examples, config.generation_mode, options.max_seq_len,
                              options.max_target_len, config.decoder_start_id)
    return encode_choices(tokenizer, examples, options.max_seq_len)


def golds(spec, examples: list) -> list:
    if spec.kind == "tagging":
        return [e.tags for e in examples]
    if spec.kind == "span_qa":
        return [[text for text, _ in e.answers] for e in examples]
    if spec.kind == "generation":
        return [e.gold if spec.from_text else e.target for e in examples]
    return [e.label for e in examples]


def decode(spec, examples: list, features: list[dict], raw: list, labels: list[str], options) -> list:
    """Per-feature head outputs -> one prediction per example in the metric's terms
    (generation: already text)."""
    if spec.kind == "classification":
        return [labels[i] for i in raw]
    if spec.kind == "tagging":  # words cut by max_seq_len are predicted O
        return [[labels[i] for i in row] + ["O"] * (len(e.tokens) - len(row))
                for e, row in zip(examples, raw)]
    if spec.kind == "span_qa":
        return decode_qa(examples, features, raw, options.n_best, options.max_answer_length)
    if spec.from_text is not None:  # text-to-text: the label each generated text names
        return [spec.from_text(text) for text in raw]
    return list(raw)


def check_label_texts(tokenizer, task: str, where: str) -> None:
    """Text-to-text: the tokenizer must be able to write every label text of ``task``."""
    for text in label_texts(task):
        written = tokenizer.decode(tokenizer.encode(text))
        if " ".join(written.lower().replace(" . ", ".").split()) != text:
            raise DataError(f"{where}: the tokenizer cannot write the label {text!r} of "
                            f"{task} (it becomes {written!r}); text-to-text needs a "
                            f"vocabulary that holds it, e.g. data.tokenizer.kind: wordpiece")
