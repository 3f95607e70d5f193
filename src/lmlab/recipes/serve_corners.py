"""The corners' run folders in ``lmlab serve`` (issue 23): n-gram runs (``/score``,
``/generate``) and word-vector runs (``/embed``). ``ngram`` and ``wordvec`` sit beside the
tower (DESIGN §2) and only recipes import them, so their loaders are passed from here to
:func:`lmlab.serve.load_models`.
"""

from __future__ import annotations

import math
from pathlib import Path

from lmlab.errors import ConfigError
from lmlab.ngram import is_ngram_run, load_run
from lmlab.ngram.generate import sample
from lmlab.ngram.score import score_batch
from lmlab.ngram.vocab import TEXT_UNK_WORD, UNK_TOKEN
from lmlab.serve import RequestError, ServedModel
from lmlab.serve.neural import score_result
from lmlab.wordvec.evaluate import neighbors
from lmlab.wordvec.io import load_vectors
from lmlab.wordvec.runs import read_run_info

LN10 = math.log(10.0)


def _sampling(options) -> tuple[float, int, float]:
    """(temperature, top_k, top_p) of ``ngram.generate.sample`` for the request, with the
    refusal of ``recipes.evaluate.generate_from_run``; greedy is sampling from the top 1.
    (The model is loaded once here: generate_from_run reloads and re-hashes it per call.)"""
    if options.num_beams > 1 or options.no_repeat_ngram_size or options.min_new_tokens:
        raise ConfigError("num_beams, no_repeat_ngram_size: an n-gram model samples "
                          "(temperature, top_k, top_p) but has no beam search or n-gram blocking")
    if not options.do_sample:
        return 1.0, 1, 1.0
    return options.temperature, options.top_k, options.top_p


def ngram_model(name: str, path: Path) -> ServedModel | None:
    """An ``lmlab ngram build`` folder; KenLM's conventions: ``<s>`` is context, every word
    and ``</s>`` is scored (:mod:`lmlab.ngram.score`), log10 turned into ln."""
    if not is_ngram_run(path):
        return None
    model = load_run(path)

    def score(texts: list[str], request) -> list[dict]:
        sentences = [[TEXT_UNK_WORD if t == UNK_TOKEN else t for t in text.split()]
                     for text in texts]
        return [score_result(result.words, (result.log10_probs * LN10).tolist(),
                             oov=result.oov.tolist()) for result in score_batch(model, sentences)]

    def generate(texts: list[str], request) -> list[dict]:
        options = request.options()
        temperature, top_k, top_p = _sampling(options)
        return [{"generated_text": sample(model, text, options.max_new_tokens,
                                          temperature=temperature, top_k=top_k, top_p=top_p,
                                          seed=options.seed)} for text in texts]

    return ServedModel(name, "ngram", {"score": score, "generate": generate},
                       {"order": model.order, "smoothing": model.info.get("smoothing")})


def word_vectors_model(name: str, path: Path) -> ServedModel | None:
    """An ``lmlab embed train`` folder (``run.json`` beside ``vectors.bin``): a word's
    vector, and its nearest words by cosine (``wordvec.evaluate.neighbors``)."""
    if not (path / "run.json").is_file() or (path / "checkpoint").exists():
        return None
    words, vectors = load_vectors(path)  # checks the folder's manifest first
    method = read_run_info(path).get("method")
    index = {word: row for row, word in enumerate(words)}
    lowered = {word.lower(): row for row, word in reversed(list(enumerate(words)))}

    def embed(texts: list[str], request) -> list[dict]:
        results = []
        for number, text in enumerate(texts):
            where = "text" if len(texts) == 1 else f"texts[{number}]"
            word = text.strip()
            if len(word.split()) != 1:
                raise RequestError(422, f"{where}: one word per text for word vectors; got "
                                        f"{len(word.split())} words")
            row = index.get(word, lowered.get(word.lower()))
            if row is None:
                raise RequestError(422, f"{where}: {word!r} is not in the vocabulary "
                                        f"({len(words)} words)")
            result = {"word": words[row], "vector": vectors[row].tolist(),
                      "dimensions": int(vectors.shape[1])}
            if request.neighbors:
                top = min(request.neighbors, len(words) - 1)  # never the word itself
                result["neighbors"] = [{"word": w, "cosine": cosine} for w, cosine in
                                       neighbors(words, vectors, words[row], top)]
            results.append(result)
        return results

    return ServedModel(name, "word-vectors", {"embed": embed},
                       {"method": method, "vocab_size": len(words)})


CORNER_LOADERS = (ngram_model, word_vectors_model)
