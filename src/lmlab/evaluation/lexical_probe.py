"""The lexical probe (issue 21): hypernymy detection from a model's input embeddings.

A logistic regression reads a word pair (a, b) as [e_a, e_b, e_a ⊙ e_b, e_a − e_b]
(standardised on the training pairs) and says whether b is a direct hypernym of a. The
pairs come from WordNet with a split by synset that keeps every test word out of the
training pairs (:mod:`lmlab.knowledge.lexical_probe`), so a high test accuracy needs
the embeddings to carry the relation, not a memorised list of hypernyms.

e_w is the input vector of w's token: the token table's row, plus, for a model with
``model.embedding.token_features`` (SenseBERT), the token's feature vectors
((W + W_S M) x, the input before positions are added).
"""

from __future__ import annotations

import numpy as np
import torch

from lmlab.errors import DataError
from lmlab.knowledge.lexical_pairs import cached_wordnet
from lmlab.knowledge.lexical_probe import ProbeSplit, hypernym_pairs_by_synset, probe_split
from lmlab.training.checkpoint import load_run


def input_embeddings(model) -> torch.Tensor:
    """(V, E) input vector of every token id."""
    embedding = model.embedding
    vectors = embedding.tokens.weight.detach().float()
    if getattr(embedding, "features", None) is not None:
        vectors = vectors + embedding.feature_table.float() @ embedding.features.weight.detach()
    return vectors


def pair_features(vectors: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """vectors (V, E); first, second (N,) ids -> (N, 4E): [a, b, a ⊙ b, a − b]."""
    a, b = vectors[first], vectors[second]
    return np.concatenate([a, b, a * b, a - b], axis=1)


def fit_probe(split: ProbeSplit, vectors: np.ndarray, token_ids: dict[str, int],
              seed: int = 0) -> dict:
    """Train the logistic regression on ``split.train``, score both sides."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def arrays(rows):
        first = np.array([token_ids[a] for a, _, _ in rows])
        second = np.array([token_ids[b] for _, b, _ in rows])
        return pair_features(vectors, first, second), np.array([y for _, _, y in rows])

    train_x, train_y = arrays(split.train)
    test_x, test_y = arrays(split.test)
    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=2000, random_state=seed)
    probe.fit(scaler.transform(train_x), train_y)
    return {"train_accuracy": float(probe.score(scaler.transform(train_x), train_y)),
            "test_accuracy": float(probe.score(scaler.transform(test_x), test_y)),
            "test_majority": float(max(test_y.mean(), 1 - test_y.mean())),
            "train_pairs": len(split.train), "test_pairs": len(split.test),
            "train_positives": int(train_y.sum()), "test_positives": int(test_y.sum())}


def vocabulary_ids(tokenizer) -> dict[str, int]:
    """Lower-cased token -> its first ordinary id (special tokens left out)."""
    ids: dict[str, int] = {}
    for index in range(tokenizer.num_special, tokenizer.vocab_size):
        ids.setdefault(tokenizer.id_to_token(index).lower(), index)
    return ids


def probe_run(run: str, wordnet: str | None = None, test_fraction: float = 0.05,
              seed: int = 0) -> dict:
    """The probe on the run folder ``run``; WordNet from ``wordnet`` (or the default
    place); a missing WordNet file is a one-line DataError naming it."""
    wordnet_base = cached_wordnet(str(wordnet or ""))
    _, tokenizer, model = load_run(run)
    token_ids = vocabulary_ids(tokenizer)
    by_synset = hypernym_pairs_by_synset(wordnet_base, list(token_ids))
    split = probe_split(by_synset, test_fraction, seed)
    if not any(y for *_, y in split.train) or not any(y for *_, y in split.test):
        raise DataError(f"{run}: its vocabulary holds {len(by_synset)} WordNet synsets with a "
                        f"hypernym pair, too few for a train and a test side; the probe "
                        f"needs a word-level or larger vocabulary")
    vectors = input_embeddings(model).numpy()
    return {"run": str(run), "test_fraction": test_fraction, "seed": seed,
            **fit_probe(split, vectors, token_ids, seed)}

