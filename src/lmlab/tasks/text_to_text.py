"""T5's text-to-text format (Raffel et al. 2020, §2.4 and Appendix D): a classification or
regression task becomes generation. The input names the task and its fields
(``"mrpc sentence1: ... sentence2: ..."``), the target is the label as words
(``"not equivalent"``: T5 writes ``not_equivalent``, one SentencePiece string; a space
keeps both words in a word-level vocabulary), and STS-B's score is rounded to the nearest 0.2 and written as a
number (``"3.8"``). A generated text that is no label word counts as wrong, as in T5's
evaluation; an STS-B output that is no number scores -1.
"""

from __future__ import annotations

import dataclasses
from functools import partial

from lmlab.errors import DataError
from lmlab.tasks.examples import Seq2SeqExample

# task -> (prefix, field names of text_a / text_b, label -> word)
FORMATS: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    "glue/cola": ("cola", ("sentence",), {"0": "unacceptable", "1": "acceptable"}),
    "glue/sst2": ("sst2", ("sentence",), {"0": "negative", "1": "positive"}),
    "glue/mrpc": ("mrpc", ("sentence1", "sentence2"),
                  {"0": "not equivalent", "1": "equivalent"}),
    "glue/qqp": ("qqp", ("question1", "question2"), {"0": "not duplicate", "1": "duplicate"}),
    "glue/stsb": ("stsb", ("sentence1", "sentence2"), {}),
    "glue/mnli": ("mnli", ("premise", "hypothesis"),
                  {l: l for l in ("entailment", "neutral", "contradiction")}),
    "glue/qnli": ("qnli", ("question", "sentence"),
                  {"entailment": "entailment", "not_entailment": "not entailment"}),
    "glue/rte": ("rte", ("sentence1", "sentence2"),
                 {"entailment": "entailment", "not_entailment": "not entailment"}),
    "glue/wnli": ("wnli", ("sentence1", "sentence2"),
                  {"0": "not entailment", "1": "entailment"}),
}
INVALID = "<invalid>"
"""The label of a generated text that is no label word (never equal to a gold label)."""


def _target(task: str, label) -> str | None:
    if label is None:
        return None
    if task == "glue/stsb":
        return f"{round(float(label) * 5) / 5:.1f}"  # nearest 0.2 (T5 Appendix D)
    return FORMATS[task][2][label]


def label_texts(task: str) -> list[str]:
    """Every target a task can have (STS-B: 0.0, 0.2, ..., 5.0)."""
    if task == "glue/stsb":
        return [f"{i / 5:.1f}" for i in range(26)]
    return list(FORMATS[task][2].values())


def as_text_examples(task: str, examples: list) -> list[Seq2SeqExample]:
    """Sentence (pair) examples of ``task`` in the text-to-text format."""
    prefix, fields, _ = FORMATS[task]
    converted = []
    for example in examples:
        text = f"{prefix} {fields[0]}: {example.text_a}"
        if example.text_b is not None:
            text += f" {fields[1]}: {example.text_b}"
        target = _target(task, example.label)
        converted.append(Seq2SeqExample(text, target, example.source, gold=example.label))
    return converted


def _as_text(task: str, reader, path) -> list[Seq2SeqExample]:
    return as_text_examples(task, reader(path))


def from_text(task: str, text: str):
    """The label a generated text stands for: a class name, a float (STS-B), or INVALID
    (-1.0 for STS-B)."""
    text = text.strip()
    if task == "glue/stsb":
        try:
            return float(text.replace(" ", ""))  # a subword decoder may write "3 . 8"
        except ValueError:
            return -1.0
    words = {word: label for label, word in FORMATS[task][2].items()}
    return words.get(" ".join(text.lower().split()), INVALID)


def text_to_text(spec):
    """``spec`` as a generation task: same files, splits and metric; inputs and labels
    as T5 writes them; predictions mapped back to labels before scoring."""
    if spec.name not in FORMATS:
        raise DataError(f"text_to_text: {spec.name} has no text-to-text format (tasks: "
                        f"{', '.join(FORMATS)})")
    test_reader = partial(_as_text, spec.name, spec.test_reader) if spec.test_reader else None
    return dataclasses.replace(spec, kind="generation", reader=partial(_as_text, spec.name,
                                                                       spec.reader),
                               test_reader=test_reader, labels=(),
                               from_text=partial(from_text, spec.name))
