"""Word-vector benchmarks, computed the way gensim's ``KeyedVectors`` computes them.

* **word similarity** (WordSim-353, Finkelstein et al. 2002; SimLex-999, Hill et al. 2015):
  Spearman's rho (scipy) between human scores and cosine similarities. Pairs with a word
  outside the first ``restrict_vocab`` words are skipped and counted (``oov``, and
  ``oov_ratio`` in percent, as gensim's ``evaluate_word_pairs`` reports it).
* **analogy** (Mikolov et al. 2013a, the Google set): for ``a : b :: c : ?`` the answer is
  the word maximising ``cos(x, b) + cos(x, c) - cos(x, a)`` (3CosAdd) among the first
  ``restrict_vocab`` (default 30000) words, the three question words excluded; questions
  with a word outside that vocabulary are skipped and counted (gensim's
  ``evaluate_word_analogies`` with ``restrict_vocab=30000``).
* **neighbours**: the top-n words by cosine.

Matching is case-insensitive by default: words are upper-cased and, where several casings
exist, the most frequent (earliest row) wins — gensim's ``case_insensitive=True``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmlab.data.catalogue import data_dir
from lmlab.errors import DataError

DATA_FILES = {
    "wordsim353": "gensim_test_data/wordsim353.tsv",
    "simlex999": "gensim_test_data/simlex999.txt",
    "analogy": "gensim_test_data/questions-words.txt",
}


def benchmark_path(name: str) -> Path:
    """The file of a benchmark under the data directory (``$LMLAB_DATA``)."""
    path = data_dir() / DATA_FILES[name]
    if not path.exists():
        raise DataError(f"{name}: expected {path} (set LMLAB_DATA to the folder holding "
                        f"{DATA_FILES[name]})")
    return path


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero). (V, D) float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _lookup(words: list[str], restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    kept = words[:restrict_vocab]
    if case_insensitive:  # reversed: the earliest (most frequent) casing is written last
        return {w.upper(): i for i, w in reversed(list(enumerate(kept)))}
    return {w: i for i, w in enumerate(kept)}


def word_pairs(words: list[str], vectors: np.ndarray, path: str | Path,
               restrict_vocab: int = 300000, case_insensitive: bool = True) -> dict:
    """Spearman/Pearson of cosine similarity against a ``w1<TAB>w2<TAB>score`` file."""
    from scipy import stats
    lookup = _lookup(words, restrict_vocab, case_insensitive)
    unit = unit_rows(vectors)
    gold, model, oov = [], [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            a, b, score = parts
            if case_insensitive:
                a, b = a.upper(), b.upper()
            if a not in lookup or b not in lookup:
                oov += 1
                continue
            gold.append(float(score))
            model.append(float(unit[lookup[a]] @ unit[lookup[b]]))
    if len(gold) < 3:  # no correlation to speak of; gensim raises, we report None
        return {"spearman": None, "pearson": None, "pairs": len(gold), "oov": oov,
                "oov_ratio": 100.0 * oov / max(len(gold) + oov, 1)}
    return {"spearman": float(stats.spearmanr(gold, model)[0]),
            "pearson": float(stats.pearsonr(gold, model)[0]),
            "pairs": len(gold), "oov": oov, "oov_ratio": 100.0 * oov / (len(gold) + oov)}


def read_analogies(path: str | Path) -> list[tuple[str, list[list[str]]]]:
    """Sections of the Google analogy file: [(name, [[a, b, c, expected], ...]), ...]."""
    sections: list[tuple[str, list[list[str]]]] = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.startswith(": "):
                sections.append((line[2:].strip(), []))
                continue
            parts = line.split()
            if len(parts) != 4:
                continue
            if not sections:
                raise DataError(f"{path}:{line_number}: a question before any ': section' line")
            sections[-1][1].append(parts)
    return sections


def analogies(words: list[str], vectors: np.ndarray, path: str | Path,
              restrict_vocab: int = 30000, case_insensitive: bool = True,
              chunk: int = 512) -> dict:
    """3CosAdd accuracy per section and in total (gensim's definition)."""
    lookup = _lookup(words, restrict_vocab, case_insensitive)
    unit = unit_rows(vectors[:restrict_vocab])  # (R, D)
    upper = [w.upper() if case_insensitive else w for w in words[:restrict_vocab]]
    sections, total_correct, total_seen, oov, questions = [], 0, 0, 0, 0
    for name, quads in read_analogies(path):
        keys, ids = [], []
        for quad in quads:
            questions += 1
            quad = [w.upper() for w in quad] if case_insensitive else quad
            if any(w not in lookup for w in quad):
                oov += 1
                continue
            keys.append(quad)
            ids.append([lookup[w] for w in quad])
        correct = 0
        id_array = np.array(ids, dtype=np.int64).reshape(-1, 4)
        for start in range(0, len(id_array), chunk):
            block = id_array[start:start + chunk]  # (n, 4): a, b, c, expected
            query = unit[block[:, 1]] + unit[block[:, 2]] - unit[block[:, 0]]  # (n, D)
            scores = query @ unit.T  # (n, R)
            rows = np.arange(len(block))[:, None]
            scores[rows, block[:, :3]] = -np.inf  # gensim's most_similar drops the inputs
            top = np.argsort(-scores, axis=1, kind="stable")[:, :5]  # (n, 5)
            for q, candidates in enumerate(top):
                quad = keys[start + q]
                ignore = set(quad[:3])
                predicted = None
                for candidate in candidates:  # first top-5 word not a casing of a, b, c
                    predicted = upper[candidate]
                    if predicted not in ignore:
                        break
                correct += predicted == quad[3]
        sections.append({"section": name, "correct": correct, "total": len(ids),
                         "accuracy": correct / len(ids) if ids else 0.0})
        total_correct += correct
        total_seen += len(ids)
    return {"accuracy": total_correct / total_seen if total_seen else 0.0,
            "correct": total_correct, "total": total_seen, "oov": oov,
            "oov_ratio": 100.0 * oov / max(questions, 1), "sections": sections}


def neighbors(words: list[str], vectors: np.ndarray, query: str, topn: int = 10) -> list[tuple[str, float]]:
    """The ``topn`` nearest words to ``query`` by cosine (the query itself excluded)."""
    index = {w: i for i, w in enumerate(words)}
    if query not in index:
        lowered = {w.lower(): i for i, w in reversed(list(enumerate(words)))}
        if query.lower() not in lowered:
            raise DataError(f"{query!r} is not in the vocabulary ({len(words)} words)")
        row = lowered[query.lower()]
    else:
        row = index[query]
    unit = unit_rows(vectors)
    scores = unit @ unit[row]  # (V,)
    scores[row] = -np.inf
    top = np.argsort(-scores, kind="stable")[:topn]
    return [(words[i], float(scores[i])) for i in top]


def evaluate_all(words: list[str], vectors: np.ndarray) -> dict:
    """WordSim-353, SimLex-999 and Google analogy results in one dict."""
    return {"wordsim353": word_pairs(words, vectors, benchmark_path("wordsim353")),
            "simlex999": word_pairs(words, vectors, benchmark_path("simlex999")),
            "analogy": analogies(words, vectors, benchmark_path("analogy"))}
