"""Request bodies of ``lmlab serve``'s JSON endpoints (issue 23): plain dataclasses, which
FastAPI validates and documents at ``/docs``; an unknown field is refused by name
(``extra: forbid``), each field's docstring is its description.

Every request names a ``model`` (see ``/models``) and gives ``text`` (one input; the
answer is one result) or ``texts`` (a batch; the answer is ``{"results": [...]}``).
Generation options keep HF ``GenerationConfig``'s names (:mod:`lmlab.generation.options`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmlab.generation import GenerationOptions

_STRICT = {"extra": "forbid", "use_attribute_docstrings": True}


@dataclass
class TextRequest:
    model: str
    """A model's name, as ``/models`` lists it."""
    text: str | None = None
    """One input text."""
    texts: list[str] | None = None
    """A batch of input texts (instead of ``text``)."""
    __pydantic_config__ = _STRICT


@dataclass
class ScoreRequest(TextRequest):
    """Perplexity and per-token log-probabilities (causal LMs, n-gram models)."""


@dataclass
class FillMaskRequest(TextRequest):
    """The most likely tokens for each [MASK] of the text (masked LMs)."""
    top_k: int = 5
    """Candidates per [MASK]."""


@dataclass
class GenerateRequest(TextRequest):
    """A continuation (causal LMs, n-gram models) or an output for the text as source
    (encoder–decoders, fine-tuned generators)."""
    max_new_tokens: int = 30
    """Tokens generated at most (the stop token included)."""
    num_beams: int = 1
    """Beam search with this many beams; 1 = greedy or sampling."""
    do_sample: bool = False
    """Sample instead of taking the most likely token."""
    temperature: float = 1.0
    """Sampling temperature (> 0)."""
    top_k: int = 0
    """Sample among the k most likely tokens only; 0 = all."""
    top_p: float = 1.0
    """Nucleus sampling mass in (0, 1]; 1 = off."""
    no_repeat_ngram_size: int = 0
    """No n-gram of this size occurs twice in an output; 0 = off."""
    seed: int = 0
    """Seed of the sampling generator: the same seed gives the same text."""

    def options(self) -> GenerationOptions:
        """The request as GenerationOptions; a bad value is a ConfigError naming it."""
        return GenerationOptions(
            max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
            do_sample=self.do_sample, temperature=self.temperature, top_k=self.top_k,
            top_p=self.top_p, no_repeat_ngram_size=self.no_repeat_ngram_size,
            seed=self.seed).validate()


@dataclass
class ClassifyRequest(TextRequest):
    """The label and every label's probability (fine-tuned classifiers); a regression
    run's value."""
    text_pair: str | None = None
    """The second text of a sentence-pair task (MRPC, RTE, ...), with ``text``."""


@dataclass
class TagRequest(TextRequest):
    """One tag per word (fine-tuned taggers); words are split at spaces."""


@dataclass
class EmbedRequest(TextRequest):
    """A word's vector (word2vec runs) or a text's mean-pooled vector (neural runs)."""
    neighbors: int = 0
    """Word vectors: also the nearest words by cosine, this many."""


@dataclass
class AnswerRequest:
    """The answer span of a question in a context (fine-tuned span-QA runs, SQuAD style):
    a long context is read in the fine-tuning's doc-stride windows."""
    model: str
    """A model's name, as ``/models`` lists it."""
    question: str
    """The question."""
    context: str
    """The passage the answer is taken from."""
    __pydantic_config__ = _STRICT


@dataclass
class ChooseRequest:
    """The probability of each choice (fine-tuned multiple-choice runs, RACE style)."""
    model: str
    """A model's name, as ``/models`` lists it."""
    question: str
    """The question (or the sentence the choices complete)."""
    choices: list[str]
    """The candidate answers (2 or more)."""
    context: str = ""
    """The passage the question is about; empty when there is none."""
    __pydantic_config__ = _STRICT
