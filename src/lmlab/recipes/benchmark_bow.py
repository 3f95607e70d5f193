"""The floor every neural row must beat: bag-of-words logistic regression (scikit-learn).

Binary unigram + bigram features (characters and character bigrams for Chinese). For a
pair, the features of each sentence and of the n-grams the two share (the only way a
linear BoW model can see overlap) are concatenated. Logistic regression for
classification, ridge regression for STS-B; scikit-learn's defaults (C = 1, alpha = 1).
"""

from __future__ import annotations

import time

from lmlab.evaluation.metrics import compute


def _vectorizer(language: str):
    from sklearn.feature_extraction.text import CountVectorizer

    if language == "zh":
        return CountVectorizer(analyzer="char", ngram_range=(1, 2), min_df=1, binary=True)
    return CountVectorizer(ngram_range=(1, 2), lowercase=True, binary=True,
                           token_pattern=r"(?u)\b\w+\b|[^\w\s]")


def bow_scores(spec, train: list, dev: list) -> dict:
    """Dev scores of the bag-of-words model (classification and regression tasks only)."""
    from scipy.sparse import hstack
    from sklearn.linear_model import LogisticRegression, Ridge

    started = time.perf_counter()
    pair = train[0].text_b is not None
    first = _vectorizer(spec.language)
    x_train = [first.fit_transform([e.text_a for e in train])]
    x_dev = [first.transform([e.text_a for e in dev])]
    if pair:
        second = _vectorizer(spec.language)
        x_train.append(second.fit_transform([e.text_b for e in train]))
        x_dev.append(second.transform([e.text_b for e in dev]))
        # Shared n-grams: both sentences through the first vocabulary, multiplied.
        x_train.append(x_train[0].multiply(first.transform([e.text_b for e in train])))
        x_dev.append(x_dev[0].multiply(first.transform([e.text_b for e in dev])))
    x_train, x_dev = hstack(x_train).tocsr(), hstack(x_dev).tocsr()
    y_train = [e.label for e in train]
    if spec.kind == "regression":
        model = Ridge(alpha=1.0).fit(x_train, y_train)
        predictions = [float(v) for v in model.predict(x_dev)]
    else:
        model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
        predictions = list(model.predict(x_dev))
    scores = compute(spec.metric, predictions, [e.label for e in dev])
    return {"scores": {k: {"mean": round(v, 2), "std": 0.0} for k, v in scores.items()},
            "train_seconds_per_seed": {"mean": round(time.perf_counter() - started, 1), "std": 0.0},
            "train_examples": len(train), "dev_examples": len(dev)}
