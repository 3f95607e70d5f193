"""The example types task readers produce, one per task kind.

Every example remembers where it came from (``source``: ``file:line``) so later problems
(an unseen label, an answer outside its context) can name the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TextExample:
    """Single sentence (``text_b`` None) or sentence pair; label a class name, a float
    (regression) or None (unlabelled test split)."""
    text_a: str
    text_b: str | None
    label: str | float | None
    source: str = ""


@dataclass
class TaggedExample:
    """One sentence of tokens (words, or characters for Chinese) with one tag each."""
    tokens: list[str]
    tags: list[str] | None
    source: str = ""


@dataclass
class QAExample:
    """Extractive QA (SQuAD v1.1 layout): answers are (text, character start) pairs."""
    qid: str
    question: str
    context: str
    answers: list[tuple[str, int]] = field(default_factory=list)
    source: str = ""


@dataclass
class ChoiceExample:
    """Multiple choice (RACE, C3): one passage, one question, K options, gold index."""
    context: str
    question: str
    options: list[str]
    label: int | None
    source: str = ""


@dataclass
class Seq2SeqExample:
    """Generation (headlines, translation): an input text and its reference output (None
    for inputs to be predicted)."""
    text: str
    target: str | None
    source: str = ""
    gold: str | float | None = None
    """A text-to-text example's original label (the metric compares labels)."""
