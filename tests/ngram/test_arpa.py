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
