"""The corners' run folders in ``lmlab serve`` (issue 23): n-gram runs (``/score``,
``/generate``) and word-vector runs (``/embed``). ``ngram`` and ``wordvec`` sit beside the
tower (DESIGN §2) and only recipes import them, so their loaders are passed from here to
:func:`lmlab.serve.load_models`.
"""

from __future__ import annotations

import math
from pathlib import Path

from lmlab.ngram import is_ngram_run, load_run
from lmlab.ngram.generate import sample
from lmlab.ngram.score import score_batch
from lmlab.ngram.vocab import TEXT_UNK_WORD, UNK_TOKEN
from lmlab.recipes.evaluate import ngram_sampling
from lmlab.serve import RequestError, ServedModel
from lmlab.serve.neural import score_result
from lmlab.wordvec.evaluate import neighbors
from lmlab.wordvec.io import load_vectors
from lmlab.wordvec.runs import read_run_info

LN10 = math.log(10.0)


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
        options = request.options()  # the model is loaded once, not per call
        sampling = ngram_sampling(options, name)
        return [{"generated_text": sample(model, text, options.max_new_tokens, **sampling)}
                for text in texts]

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
