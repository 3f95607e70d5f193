"""ARPA round trip, SRILM-style gaps, and clear errors for malformed files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmlab.errors import DataError
from lmlab.ngram.arpa import read_arpa, write_arpa
from lmlab.ngram.build import build_model
from lmlab.ngram.score import score_batch
from tests.ngram.conftest import random_corpus

GOOD = """\\data\\
ngram 1=5
ngram 2=2

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.5
-0.5\t</s>
-0.3\ta\t-0.2
-0.7\tb\t-0.1

\\2-grams:
-0.2\t<s> a
-0.4\ta b

\\end\\
"""


def write(tmp_path, text, name="m.arpa"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_keeps_values(tmp_path):
    corpus = random_corpus(1)
    model = build_model(iter(corpus), 3, discount_fallback=True)
    loaded = read_arpa(write_arpa(model, tmp_path / "m.arpa"))
    assert loaded.sizes() == model.sizes()
    a = [s.total for s in score_batch(model, corpus)]
    b = [s.total for s in score_batch(loaded, corpus)]
    assert np.allclose(a, b, atol=1e-5)


def test_hand_written_arpa_scores(tmp_path):
    model = read_arpa(write(tmp_path, GOOD))
    result = score_batch(model, [["a", "b", "zzz"]])[0]
    # a|<s>: bigram -0.2; b|a: bigram -0.4; zzz|b: backoff(b) + p(<unk>); </s>|zzz: p(</s>)
    assert result.log10_probs.tolist() == pytest.approx([-0.2, -0.4, -0.1 - 1.0, -0.5])
    assert result.oov.tolist() == [False, False, True, False]


def test_missing_suffix_becomes_blank(tmp_path):
    # "x a b" present but "a b" absent (SRILM pruning can do this): "a b" is a blank.
    text = GOOD.replace("ngram 2=2", "ngram 2=2\nngram 3=1").replace(
        "-0.4\ta b", "-0.4\ta b\t-0.05").replace("\\end\\", "\\3-grams:\n-0.01\t<s> a b\n\n\\end\\")
    text = text.replace("-0.4\ta b\t-0.05", "-0.4\t<s> b\t-0.05")
    model = read_arpa(write(tmp_path, text))
    result = score_batch(model, [["a", "b"]])[0]
    assert result.log10_probs[1] == pytest.approx(-0.01)
    # "b" after "<s> b": no "b b" n-gram: backoff(<s> b) + backoff(b) + p(b)
    assert score_batch(model, [["b", "b"]])[0].log10_probs[1] == pytest.approx(-0.05 - 0.1 - 0.7)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("\\data\\\n", ""), "missing \\\\data\\\\|expected \\\\data\\\\"),
    (lambda t: t.replace("ngram 2=2", "ngram 2=3"), "header says ngram 2=3"),
    (lambda t: t.replace("ngram 2=2", "ngram 2=1"), "expected \\\\end\\\\ after 1 2-grams"),
    (lambda t: t.replace("\\2-grams:", "\\3-grams:"), "expected \\\\2-grams:"),
    (lambda t: t.replace("-0.4\ta b", "oops\ta b"), "log10 probability"),
    (lambda t: t.replace("-0.4\ta b", "-0.4\ta"), "needs 3 fields"),
    (lambda t: t.replace("-0.4\ta b", "-0.4\ta q"), "not in \\\\1-grams:"),
    (lambda t: t.replace("\\end\\\n", ""), "ends early"),
    (lambda t: t.replace("ngram 1=5\n", ""), "ngram 1=<count>"),
])
def test_malformed_arpa_errors(tmp_path, edit, message):
    with pytest.raises(DataError, match=message) as error:
        read_arpa(write(tmp_path, edit(GOOD)))
    assert "m.arpa" in str(error.value)


def test_error_names_line_number(tmp_path):
    with pytest.raises(DataError, match=r"m\.arpa:14:"):
        read_arpa(write(tmp_path, GOOD.replace("-0.4\ta b", "-0.4\ta")))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such ARPA file"):
        read_arpa(tmp_path / "none.arpa")


def test_fast_writer_bytes_equal_reference_writer(tmp_path):
    from lmlab.ngram.arpa import write_arpa_reference
    model = build_model(iter(random_corpus(3, sentences=200, vocab=12)), 4, discount_fallback=True)
    model.log_backoff[1][:6] = [0.0, -0.0, -3.2e-05, 1e-7, -99.5, 12.25]  # zeros, exponent form
    fast = write_arpa(model, tmp_path / "fast.arpa").read_bytes()
    reference = write_arpa_reference(model, tmp_path / "reference.arpa").read_bytes()
    assert fast == reference
    loaded = read_arpa(tmp_path / "fast.arpa")
    for k in range(1, model.order + 1):
        assert np.array_equal(loaded.ngram_words(k), model.ngram_words(k))
        assert np.allclose(loaded.log_prob[k - 1], model.log_prob[k - 1], rtol=1e-6, atol=0)


def test_fast_writer_keeps_blanks_out_and_utf8_words(tmp_path):
    from lmlab.ngram.arpa import write_arpa_reference
    corpus = [["héllo", "wörld", "日本"], ["wörld", "héllo"], ["日本", "héllo", "wörld"]] * 3
    model = build_model(iter(corpus), 3, discount_fallback=True)
    model.log_prob[1][0] = np.nan  # a blank: not written, its 3-grams still are
    assert write_arpa(model, tmp_path / "a.arpa").read_bytes() == \
        write_arpa_reference(model, tmp_path / "b.arpa").read_bytes()


def test_vectorized_float_format_is_printf_g7():
    from lmlab.ngram.arpa_text import format_numbers
    rng = np.random.default_rng(0)
    values = np.concatenate([
        -rng.random(3000) * 8, rng.normal(size=1000), -10 ** rng.uniform(-8, 3, 2000),
        np.round(-rng.random(500) * 8, 2),
        [0.0, -0.0, -100.0, 1.0, -1.0, 0.5, -0.00012345675, 9.9999996, -9.9999996, 0.099999996,
         1e-5, -3.2e-05, 12345678.0, 9999999.5, 999999.95, np.inf, -np.inf, np.nan, 1234567.0,
         -0.0001, 0.00009999999, 10.0, 100.0, -1e6, 0.001, 0.125, 2.5e-5, 1e22]])
    values = np.concatenate([values, values.astype(np.float32).astype(np.float64)])
    assert format_numbers(values) == ["%.7g" % v for v in values.tolist()]


@pytest.mark.parametrize("seed,order", [(4, 2), (5, 3), (6, 5)])
def test_fast_scorer_equals_reference_scorer(seed, order):
    from lmlab.ngram.model import pad_sentences
    corpus = random_corpus(seed, sentences=80, vocab=9)
    model = build_model(iter(corpus[:60]), order, discount_fallback=True)
    test = corpus[60:] + [[], ["unseen", "w1"], ["w2"] * 12]
    ids, distance, oov = pad_sentences(model.vocab, test)
    get = model.vocab.word_to_id.get
    expected = [i for words in test for i in [1] + [get(w, 0) for w in words] + [2]]
    assert ids.tolist() == expected
    assert distance.tolist() == [d for words in test for d in range(len(words) + 2)]
    fast, fast_order = model.score_ids(ids, distance)
    slow, slow_order = model.score_ids_reference(ids, distance)
    assert np.array_equal(fast_order, slow_order)
    assert np.allclose(fast, slow, atol=1e-12, rtol=0)


def test_fast_scorer_with_blanks_equals_reference(tmp_path):
    text = GOOD.replace("ngram 2=2", "ngram 2=2\nngram 3=1").replace(
        "\\end\\", "\\3-grams:\n-0.05\tx a b\n\n\\end\\").replace("-0.3\ta\t-0.2", "-0.3\ta\t-0.2\n-0.9\tx\t-0.3").replace("ngram 1=5", "ngram 1=6")
    model = read_arpa(write(tmp_path, text))
    from lmlab.ngram.model import pad_sentences
    ids, distance, _ = pad_sentences(model.vocab, [["x", "a", "b"], ["a", "b", "x", "a", "b"], ["b"]])
    fast, fast_order = model.score_ids(ids, distance)
    slow, slow_order = model.score_ids_reference(ids, distance)
    assert np.array_equal(fast_order, slow_order) and np.allclose(fast, slow, atol=1e-12)


def test_a_positive_log10_probability_is_refused(tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-99\t<s>\n0.5\t</s>\n-0.2\ta\n\n"
                    "\\end\\\n")
    with pytest.raises(DataError, match=r"bad.arpa:6: log10 probability 0.5 is above 0 "
                                        r"\(a probability above 1\)"):
        read_arpa(path)
