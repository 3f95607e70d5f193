"""PTB against KenLM: lmplz's published perplexities, and kenlm scoring lmlab's ARPA.

Reference numbers: ``lmplz -o N`` on PTB train with <unk> rewritten as UNKW, scored by
KenLM's query (</s> counted, <s> not): 5-gram test 141.186, valid 148.007; 3-gram test
148.281. lmlab must match to 0.1%.
"""

from __future__ import annotations

import numpy as np
import pytest

from lmlab.ngram.arpa import write_arpa
from lmlab.ngram.build import build_model
from lmlab.ngram.score import perplexity, score_batch
from lmlab.ngram.source import iter_token_sentences, resolve_data

kenlm = pytest.importorskip("kenlm")


@pytest.fixture(scope="module")
def ptb_kn5(shared_data):
    return build_model(iter_token_sentences(resolve_data("ptb", "train")), 5)


def ptb(split):
    return list(iter_token_sentences(resolve_data("ptb", split)))


def test_kn5_matches_lmplz(ptb_kn5):
    assert perplexity(ptb_kn5, ptb("test"))["perplexity"] == pytest.approx(141.186, rel=1e-3)
    assert perplexity(ptb_kn5, ptb("valid"))["perplexity"] == pytest.approx(148.007, rel=1e-3)


def test_kn3_matches_lmplz(shared_data):
    model = build_model(iter_token_sentences(resolve_data("ptb", "train")), 3)
    assert perplexity(model, ptb("test"))["perplexity"] == pytest.approx(148.281, rel=1e-3)


def test_kenlm_scores_lmlab_arpa(ptb_kn5, tmp_path):
    path = write_arpa(ptb_kn5, tmp_path / "kn5.arpa")
    reference = kenlm.Model(str(path))
    sentences = ptb("valid")
    ours = np.array([s.total for s in score_batch(ptb_kn5, sentences)])
    theirs = np.array([reference.score(" ".join(s), bos=True, eos=True) for s in sentences])
    assert np.abs(ours - theirs).max() < 1e-4
    # OOV words: kenlm scores them as <unk> with the context's backoffs, as lmlab does.
    odd = ["the", "zzqx", "market", "qqzz"]
    ours_odd = score_batch(ptb_kn5, [odd])[0].log10_probs
    theirs_odd = [score for score, _, _ in reference.full_scores(" ".join(odd))]
    assert np.allclose(ours_odd, theirs_odd, atol=1e-4)
