"""The numba kernel against its NumPy twin, and training behaviour on a toy corpus."""

import numpy as np
import pytest

from lmlab.wordvec.corpus import encode, split_jobs
from lmlab.wordvec.vocab import build_vocabulary, count_words
from lmlab.wordvec.word2vec import Word2VecConfig, train_word2vec

pytest.importorskip("numba")

SENTENCES = [s.split() for s in [
    "the cat sat on the mat", "the dog sat on the log", "a cat and a dog",
    "the mat and the log", "cats chase dogs on the mat", "the the the cat",
] * 4]


def _toy():
    vocab = build_vocabulary(count_words(SENTENCES), min_count=1)
    return vocab, encode(iter(SENTENCES), vocab.index)


@pytest.mark.parametrize("method,loss,cbow_mean,sample", [
    ("skipgram", "negative", True, 1e-3), ("skipgram", "hs", True, 0.0),
    ("cbow", "negative", True, 0.1), ("cbow", "hs", False, 1e-3), ("cbow", "negative", False, 0.0),
])
def test_numba_kernel_matches_reference(method, loss, cbow_mean, sample):
    vocab, corpus = _toy()
    results = []
    for backend in ("numpy", "numba"):
        config = Word2VecConfig(method=method, loss=loss, cbow_mean=cbow_mean, sample=sample,
                                vector_size=16, window=3, negative=3, min_count=1, epochs=2,
                                workers=1, seed=3, batch_words=20, backend=backend, alpha=0.1)
        model = train_word2vec(corpus, vocab, config)
        results.append((model.vectors, model.output, model.stats.kept_words))
    (v_ref, o_ref, k_ref), (v_fast, o_fast, k_fast) = results
    assert k_ref == k_fast  # identical subsampling decisions
    assert np.abs(o_ref).max() > 1e-3  # the output layer did learn
    np.testing.assert_allclose(v_fast, v_ref, atol=2e-5)
    np.testing.assert_allclose(o_fast, o_ref, atol=2e-5)


def test_single_worker_is_deterministic_and_seed_matters():
    vocab, corpus = _toy()
    config = dict(vector_size=8, min_count=1, epochs=1, workers=1, batch_words=20)
    a = train_word2vec(corpus, vocab, Word2VecConfig(seed=1, **config)).vectors
    b = train_word2vec(corpus, vocab, Word2VecConfig(seed=1, **config)).vectors
    c = train_word2vec(corpus, vocab, Word2VecConfig(seed=2, **config)).vectors
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_jobs_cover_all_sentences():
    _, corpus = _toy()
    jobs = split_jobs(corpus, batch_words=25)
    assert jobs[0, 0] == 0 and jobs[-1, 1] == corpus.num_sentences
    assert (jobs[1:, 0] == jobs[:-1, 1]).all()


def test_skipgram_learns_cooccurrence():
    # two disjoint "topics": words of one topic should end closer to each other
    rng = np.random.default_rng(0)
    topic_a, topic_b = "red green blue pink".split(), "one two three four".split()
    sentences = [list(rng.choice(t, 8)) for t in (topic_a, topic_b) for _ in range(150)]
    vocab = build_vocabulary(count_words(sentences), min_count=1)
    config = Word2VecConfig(vector_size=10, window=3, min_count=1, epochs=5, workers=2, sample=0)
    vectors = train_word2vec(encode(iter(sentences), vocab.index), vocab, config).vectors
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sim = unit @ unit.T
    i = {w: k for k, w in enumerate(vocab.words)}
    assert sim[i["red"], i["blue"]] > sim[i["red"], i["two"]] + 0.3


def test_sigmoid_lookup_uses_word2vec_cs_integer_scale():
    # word2vec.c / gensim index the table with (x + 6) * (1000 / 6 / 2) in C integer
    # arithmetic: 83, so x = 0 reads entry 498 (not 500) and x -> 6 at most entry 995
    from lmlab.wordvec.reference import SIGMOID_INDEX_SCALE, _sigmoid, sigmoid_table
    table = sigmoid_table()
    assert SIGMOID_INDEX_SCALE == 83
    assert _sigmoid(0.0) == table[498]
    assert _sigmoid(5.9999) == table[995]
    assert _sigmoid(-5.9999) == table[0]


@pytest.mark.parametrize("method,loss", [("skipgram", "hs"), ("skipgram", "negative"),
                                         ("cbow", "hs"), ("cbow", "negative")])
def test_kernel_matches_reference_beyond_the_hot_rows(method, loss):
    """300 Zipf-distributed words: most rows lie outside the job-local HOT_ROWS copies."""
    from lmlab.wordvec.kernels import HOT_ROWS
    rng = np.random.default_rng(0)
    words = np.minimum(rng.zipf(1.3, size=3000), 300)
    sentences = [[f"w{w}" for w in words[i:i + 15]] for i in range(0, len(words), 15)]
    vocab = build_vocabulary(count_words(sentences), min_count=1)
    assert len(vocab) > 2 * HOT_ROWS
    corpus = encode(iter(sentences), vocab.index)
    results = []
    for backend in ("numpy", "numba"):
        config = Word2VecConfig(method=method, loss=loss, vector_size=8, window=3, negative=3,
                                min_count=1, epochs=1, workers=1, seed=5, batch_words=500,
                                backend=backend, alpha=0.05)
        model = train_word2vec(corpus, vocab, config)
        results.append((model.vectors, model.output))
    (v_ref, o_ref), (v_fast, o_fast) = results
    # the rows outside the copies learned too: HS's lower tree nodes, NS's rarer words
    cold = o_ref[: len(vocab) - 1 - HOT_ROWS] if loss == "hs" else o_ref[HOT_ROWS:]
    assert np.abs(cold).max() > 1e-4
    np.testing.assert_allclose(v_fast, v_ref, atol=2e-5)
    np.testing.assert_allclose(o_fast, o_ref, atol=2e-5)


def test_merge_of_job_local_rows_adds_the_jobs_change_to_other_threads_writes():
    from lmlab.wordvec.kernels import _merge_rows
    shared = np.array([[0.0, 0.0], [1.0, 2.0], [5.0, 5.0]], np.float32)
    start = np.array([[1.0, 2.0], [5.0, 4.0]], np.float32)  # rows 1-2 when the job began
    local = np.array([[1.5, 2.25], [5.5, 4.0]], np.float32)  # after the job's own updates
    _merge_rows(shared, 1, local, start)
    # row 1 untouched by others: written back as is; row 2 [1] was moved by another thread
    # (4 -> 5): it keeps that move plus the job's +0 there; [0] gets the job's +0.5
    np.testing.assert_array_equal(shared, [[0.0, 0.0], [1.5, 2.25], [5.5, 5.0]])
