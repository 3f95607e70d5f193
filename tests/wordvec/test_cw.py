"""C&W ranking model: windows, the hinge loss of review eq. 25, and that training lowers it."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lmlab.wordvec.corpus import encode  # noqa: E402
from lmlab.errors import ConfigError  # noqa: E402
from lmlab.wordvec.cw import (CwConfig, build_scorer, corruption_sampler, ranking_loss,  # noqa: E402
                              train_cw, window_ids)
from lmlab.wordvec.vocab import build_vocabulary, count_words  # noqa: E402


def test_windows_are_padded_at_sentence_edges():
    ids = np.array([10, 11, 12, 20, 21])
    offsets = np.array([0, 3, 5])
    assert window_ids(ids, offsets, 1, pad_id=99).tolist() == [
        [99, 10, 11], [10, 11, 12], [11, 12, 99], [99, 20, 21], [20, 21, 99]]


def test_ranking_loss_is_the_hinge_of_eq25():
    torch.manual_seed(0)
    embedding, scorer, _ = build_scorer(6, CwConfig(vector_size=3, window=1, hidden_size=4))
    windows = torch.tensor([[0, 1, 2], [3, 4, 5]])
    corrupt = torch.tensor([[5, 0], [1, 2]])
    loss = ranking_loss(embedding, scorer, windows, corrupt, centre=1)

    def f(window):
        return float(scorer(embedding(torch.tensor([window]))))
    expected = np.mean([max(0.0, 1 - f([0, 1, 2]) + f([0, 5, 2])), max(0.0, 1 - f([0, 1, 2]) + f([0, 0, 2])),
                        max(0.0, 1 - f([3, 4, 5]) + f([3, 1, 5])), max(0.0, 1 - f([3, 4, 5]) + f([3, 2, 5]))])
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_training_lowers_the_loss():
    rng = np.random.default_rng(0)
    sentences = [["the", str(rng.choice(["cat", "dog"])), "sat"] for _ in range(300)]
    vocab = build_vocabulary(count_words(sentences), min_count=1)
    corpus = encode(iter(sentences), vocab.index)
    config = CwConfig(vector_size=8, window=1, hidden_size=8, epochs=1, batch_size=16,
                      learning_rate=0.1, min_count=1)
    _, first = train_cw(corpus, vocab, CwConfig(**{**config.__dict__, "epochs": 1}))
    vectors, later = train_cw(corpus, vocab, CwConfig(**{**config.__dict__, "epochs": 8}))
    assert vectors.shape == (len(vocab), 8)
    assert later["final_loss"] < first["final_loss"]



def test_time_budget_stops_training():
    sentences = [["the", "cat", "sat"]] * 200
    vocab = build_vocabulary(count_words(sentences), min_count=1)
    corpus = encode(iter(sentences), vocab.index)
    config = CwConfig(vector_size=4, window=1, hidden_size=4, batch_size=10, min_count=1)
    _, full = train_cw(corpus, vocab, CwConfig(**{**config.__dict__, "epochs": 2}))
    assert full["windows_trained"] == 1200 and full["epochs_completed"] == 2.0
    assert not full["stopped_by_time_budget"]
    _, cut = train_cw(corpus, vocab, CwConfig(**{**config.__dict__, "epochs": 2, "max_seconds": 0.0}))
    assert cut["stopped_by_time_budget"] and cut["windows_trained"] == 0
    assert cut["final_loss"] is None  # no batch, no loss (and no NumPy warning)


def test_corrupt_words_follow_the_chosen_distribution():
    counts = np.array([1000, 100, 10, 1])
    generator = torch.Generator().manual_seed(0)
    draws = corruption_sampler(counts, "unigram")(50_000, 4, generator)  # (50000, 4)
    assert draws.shape == (50_000, 4)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    observed = np.bincount(draws.flatten().numpy(), minlength=4) / draws.numel()
    assert np.allclose(observed, expected, atol=0.004)
    uniform = corruption_sampler(counts, "uniform")(50_000, 4, generator)
    assert np.allclose(np.bincount(uniform.flatten().numpy(), minlength=4) / uniform.numel(),
                       0.25, atol=0.004)


def test_default_rates_and_bad_options():
    assert CwConfig().rate == 0.1 and CwConfig(optimizer="sgd").rate == 1.0
    assert CwConfig(learning_rate=0.02).rate == 0.02
    with pytest.raises(ConfigError, match="corruption must be 'uniform' or 'unigram', got 'zipf'"):
        CwConfig(corruption="zipf").validate()
    with pytest.raises(ConfigError, match="optimizer must be 'sgd' or 'adagrad'"):
        CwConfig(optimizer="adam").validate()
