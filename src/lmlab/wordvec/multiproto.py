"""Multi-prototype word vectors (Huang et al. 2012, "Improving Word Representations via
Global Context and Multiple Word Prototypes"; review §3.1.3 and eq. 26).

1. Train single-prototype vectors (here: word2vec skip-gram with negative sampling — Huang
   et al. used their global-context network; the clustering step does not depend on it).
2. For each of the ``multi_words`` most frequent words, represent every occurrence by its
   context: the weighted mean of the vectors of the ``window`` words on each side, with
   the idf-like weight ``log(N / count)`` (Huang et al. use tf-idf over documents; running
   text has no document boundaries, so corpus frequency stands in).
3. Cluster those contexts with spherical k-means into ``prototypes`` clusters; relabel each
   occurrence with its nearest centroid (``bank`` → ``bank#0`` … ``bank#K-1``).
4. Retrain word2vec on the relabelled corpus: one vector per sense.

Similarity of two words without context is AvgSim, with their contexts c, c' AvgSimC
(review eq. 26)::

    AvgSim(w, w')  = 1/(K·K') Σ_i Σ_j d(μ_i(w), μ_j(w'))
    AvgSimC(w, w') = 1/(K·K') Σ_i Σ_j p(c, w, i) · p(c', w', j) · d(μ_i(w), μ_j(w'))

with d the cosine and p(c, w, i) the probability that context c belongs to sense i, here a
softmax over ``beta · cos(c, centroid_i)``. A word with one sense has K = 1 and p = 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lmlab.errors import ConfigError, DataError
from lmlab.wordvec.corpus import EncodedCorpus
from lmlab.wordvec.evaluate import _lookup
from lmlab.wordvec.io import load_vectors, save_vectors
from lmlab.wordvec.runs import prepare, write_run
from lmlab.wordvec.vocab import Vocabulary
from lmlab.wordvec.word2vec import Word2VecConfig, train_word2vec


@dataclass
class MultiProtoConfig:
    vector_size: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    max_vocab: int | None = None
    sample: float = 1e-3
    epochs: int = 5
    prototypes: int = 3  # K senses per multi-sense word
    multi_words: int = 1000  # how many of the most frequent words get K senses
    max_contexts: int = 2000  # occurrences per word used to fit the clusters
    kmeans_iterations: int = 10
    beta: float = 10.0  # sharpness of p(c, w, i)
    workers: int = 2
    seed: int = 1
    backend: str = "numba"

    def validate(self) -> None:
        if self.prototypes < 1 or self.multi_words < 0 or self.max_contexts < 1:
            raise ConfigError("multiproto: prototypes >= 1, multi_words >= 0, max_contexts >= 1")


def spherical_kmeans(points: np.ndarray, k: int, iterations: int = 10,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """Unit centroids (k, D) maximising Σ cos(point, its centroid). points: (n, D)."""
    rng = rng or np.random.default_rng(0)
    unit = points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
    k = min(k, len(unit))
    centroids = unit[rng.choice(len(unit), size=k, replace=False)]  # (k, D)
    for _ in range(iterations):
        assignment = np.argmax(unit @ centroids.T, axis=1)  # (n,)
        for c in range(k):
            members = unit[assignment == c]
            if len(members):  # an empty cluster keeps its old centroid
                total = members.sum(axis=0)
                centroids[c] = total / max(np.linalg.norm(total), 1e-12)
    return centroids


def context_vectors(corpus: EncodedCorpus, positions: np.ndarray, vectors: np.ndarray,
                    weights: np.ndarray, window: int) -> np.ndarray:
    """Weighted mean of the vectors around each position (same sentence only). (n, D)."""
    sentence = np.searchsorted(corpus.offsets, positions, side="right") - 1
    start, end = corpus.offsets[sentence], corpus.offsets[sentence + 1]
    total = np.zeros((len(positions), vectors.shape[1]), dtype=np.float64)
    mass = np.zeros(len(positions))
    for shift in range(-window, window + 1):
        if shift == 0:
            continue
        source = positions + shift
        inside = (source >= start) & (source < end)
        ids = corpus.ids[source[inside]]
        total[inside] += weights[ids, None] * vectors[ids]
        mass[inside] += weights[ids]
    return (total / np.maximum(mass, 1e-12)[:, None]).astype(np.float32)


def sense_probabilities(context: np.ndarray, centroids: np.ndarray, beta: float) -> np.ndarray:
    """p(c, w, i): softmax over beta·cos(context, centroid_i). context (D,), centroids (K, D)."""
    unit = context / max(np.linalg.norm(context), 1e-12)
    scores = beta * (centroids @ unit)
    scores = np.exp(scores - scores.max())
    return scores / scores.sum()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T  # (K, K')


def avg_sim(senses_a: np.ndarray, senses_b: np.ndarray) -> float:
    """AvgSim: the mean cosine over all sense pairs. senses: (K, D), (K', D)."""
    return float(_cosines(senses_a, senses_b).mean())


def avg_sim_c(senses_a, senses_b, p_a: np.ndarray, p_b: np.ndarray) -> float:
    """AvgSimC (review eq. 26): 1/(K·K') Σ_ij p(c,w,i) p(c',w',j) cos(μ_i(w), μ_j(w'))."""
    return float(p_a @ _cosines(senses_a, senses_b) @ p_b / (len(p_a) * len(p_b)))


@dataclass
class SenseModel:
    """Per-sense vectors for every word (one row for single-sense words)."""

    words: list[str]
    senses: dict[str, np.ndarray]  # word -> (K_w, D) sense vectors
    centroids: dict[str, np.ndarray]  # multi-sense word -> (K, D) context centroids
    base_vectors: np.ndarray  # (V, D) single-prototype vectors, for context representations
    beta: float

    def similarity(self, a: str, b: str, context_a: np.ndarray | None = None,
                   context_b: np.ndarray | None = None) -> float:
        """AvgSim, or AvgSimC when both context vectors (D,) are given."""
        for word in (a, b):
            if word not in self.senses:
                raise DataError(f"{word!r} is not in the vocabulary")
        if context_a is None or context_b is None:
            return avg_sim(self.senses[a], self.senses[b])
        return avg_sim_c(self.senses[a], self.senses[b], self._p(a, context_a),
                         self._p(b, context_b))

    def _p(self, word: str, context: np.ndarray) -> np.ndarray:
        if word not in self.centroids:
            return np.ones(1)
        return sense_probabilities(context, self.centroids[word], self.beta)


def relabel(corpus: EncodedCorpus, vocab: Vocabulary, vectors: np.ndarray,
            config: MultiProtoConfig):
    """Cluster contexts of frequent words and relabel occurrences.

    Returns (new corpus, new vocabulary, centroids {word: (K, D)}, sense token of each
    (word, k)).
    """
    rng = np.random.default_rng(config.seed)
    weights = np.log(vocab.total / vocab.counts.astype(np.float64))  # idf-like, (V,)
    multi = range(min(config.multi_words, len(vocab))) if config.prototypes > 1 else range(0)
    new_ids = corpus.ids.astype(np.int64).copy()
    names, counts, centroids = list(vocab.words), list(vocab.counts), {}
    order = np.argsort(corpus.ids, kind="stable")  # positions grouped by word id
    starts = np.searchsorted(corpus.ids[order], np.arange(len(vocab) + 1))
    for word in multi:
        positions = order[starts[word]:starts[word + 1]]
        if len(positions) < config.prototypes:
            continue
        fit = positions if len(positions) <= config.max_contexts else \
            rng.choice(positions, config.max_contexts, replace=False)
        found = spherical_kmeans(context_vectors(corpus, fit, vectors, weights, config.window),
                                 config.prototypes, config.kmeans_iterations, rng)
        assignment = np.argmax(context_vectors(corpus, positions, vectors, weights,
                                               config.window) @ found.T, axis=1)
        name = vocab.words[word]
        centroids[name] = found
        for k in range(len(found)):
            token = len(names) if k else word  # sense 0 keeps the word's row
            if k:
                names.append(f"{name}#{k}")
                counts.append(0)
            new_ids[positions[assignment == k]] = token
            counts[token] = int((assignment == k).sum())
        names[word] = f"{name}#0"
    counts_array = np.array(counts, dtype=np.int64)
    keep = np.argsort(-counts_array, kind="stable")  # frequency order, as word2vec expects
    keep = keep[counts_array[keep] > 0]
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    new_vocab = Vocabulary([names[i] for i in keep], counts_array[keep])
    new_corpus = EncodedCorpus(remap[new_ids].astype(np.int32), corpus.offsets, corpus.raw_words)
    return new_corpus, new_vocab, centroids


def train_multiproto(corpus, vocab, config: MultiProtoConfig, progress=None) -> SenseModel:
    config.validate()
    w2v = Word2VecConfig(method="skipgram", loss="negative", vector_size=config.vector_size,
                         window=config.window, negative=config.negative, sample=config.sample,
                         epochs=config.epochs, workers=config.workers, seed=config.seed,
                         min_count=1, backend=config.backend)  # type: ignore[arg-type]
    base = train_word2vec(corpus, vocab, w2v, progress).vectors
    sense_corpus, sense_vocab, centroids = relabel(corpus, vocab, base, config)
    sense_vectors = train_word2vec(sense_corpus, sense_vocab, w2v, progress).vectors
    index = {token: i for i, token in enumerate(sense_vocab.words)}
    senses: dict[str, np.ndarray] = {}
    for word in vocab.words:
        if word in centroids:  # row i of senses matches centroid i; unused senses dropped
            present = [k for k in range(len(centroids[word])) if f"{word}#{k}" in index]
            centroids[word] = centroids[word][present]
            senses[word] = sense_vectors[[index[f"{word}#{k}"] for k in present]]
        else:
            senses[word] = sense_vectors[[index[word]]]
    return SenseModel(list(vocab.words), senses, centroids, base, config.beta)


def train_multiproto_run(data, out: str | Path, config: MultiProtoConfig, formats=(),
                         progress_factory=None) -> dict:
    """``lmlab embed train --method multiproto``: writes vectors.bin (mean of each word's
    senses, for tools that want one vector), senses.bin (every sense) and centroids."""
    from safetensors.numpy import save_file

    paths, vocab, corpus = prepare(data if isinstance(data, list) else [data],
                                   config.min_count, config.max_vocab)
    total = int(corpus.raw_words.sum()) * config.epochs * 2
    progress = progress_factory(total) if progress_factory else None
    model = train_multiproto(corpus, vocab, config, progress)
    mean = np.stack([model.senses[w].mean(axis=0) for w in vocab.words])
    info = {"method": "multiproto", "config": asdict(config), "corpus": [str(p) for p in paths],
            "corpus_words": int(corpus.raw_words.sum()), "vocab_size": len(vocab),
            "multi_sense_words": len(model.centroids)}
    sense_words = [f"{w}#{k}" if w in model.centroids else w
                   for w in vocab.words for k in range(len(model.senses[w]))]

    def write_senses(out: Path) -> None:
        save_vectors(out / "senses.bin", sense_words,
                     np.concatenate([model.senses[w] for w in vocab.words]))
        if model.centroids:
            names = sorted(model.centroids)
            save_file({"centroids": np.stack([model.centroids[w] for w in names]).astype(np.float32),
                       "base_vectors": model.base_vectors},
                      str(out / "senses.safetensors"), metadata={"words": "\n".join(names)})

    write_run(out, vocab, mean, info, formats, write_senses)
    return info


def load_senses(run: str | Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """Words (frequency order) and their sense vectors from a run folder's senses.bin."""
    words = load_vectors(run)[0]  # the folder: its manifest is checked first
    tokens, vectors = load_vectors(Path(run) / "senses.bin")
    senses = {}
    known = set(words)
    grouped: dict[str, list[np.ndarray]] = {}
    for token, row in zip(tokens, vectors):
        base, _, k = token.rpartition("#")
        word = base if base in known and k.isdigit() and token not in known else token
        grouped.setdefault(word, []).append(row)
    senses = {w: np.stack(rows) for w, rows in grouped.items()}
    return words, senses


def avg_sim_pairs(words: list[str], senses: dict[str, np.ndarray], path) -> dict:
    """Spearman of AvgSim against a word-pair file (OOV pairs skipped and counted)."""
    from scipy import stats

    lookup = _lookup(words, len(words), True)
    gold, model, oov = [], [], 0
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if line.startswith("#") or len(parts) != 3:
            continue
        a, b = parts[0].upper(), parts[1].upper()
        if a not in lookup or b not in lookup:
            oov += 1
            continue
        gold.append(float(parts[2]))
        model.append(avg_sim(senses[words[lookup[a]]], senses[words[lookup[b]]]))
    spearman = float(stats.spearmanr(gold, model)[0]) if len(gold) >= 3 else None
    return {"spearman": spearman, "pairs": len(gold), "oov": oov}
