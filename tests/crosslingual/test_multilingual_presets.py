"""mbert/tiny and xlmr/tiny: what each preset fixes, the language sampling of its mix and the
shared vocabulary (training, checkpoints and exact resume: tests/smoke/test_presets.py and
tests/training/test_resume.py pick them up)."""

import pytest

from lmlab.config import load_config
from lmlab.crosslingual.sampling import language_probabilities
from lmlab.data.tokenizers import TokenizerConfig, train_tokenizer
from lmlab.presets import preset_path

# Non-blank train lines of the presets' corpora (docs/crosslingual.md, mix.json):
# WikiText-2 train and the CLUECorpusSmall sample.
SIZES = [23767, 2250]


def test_mbert_preset_is_shared_wordpiece_mlm_without_language_signal():
    config = load_config(preset_path("mbert/tiny"))
    assert [o.name for o in config.objectives] == ["mlm"]
    assert config.objectives[0].masking == "static"
    assert config.model.embedding.num_languages == 0
    tokenizer = config.data.tokenizer
    assert (tokenizer.kind, tokenizer.vocab_size, tokenizer.split_cjk) == ("wordpiece", 16000, True)
    assert config.data.dataset == "mix" and config.data.language_alpha == 0.7
    # mBERT's smoothing S = 0.7 over these sizes.
    assert language_probabilities(SIZES, 0.7).tolist() == pytest.approx(
        [0.8389123, 0.1610877], abs=1e-7)


def test_xlmr_preset_is_unigram_mlm_with_alpha_0_3():
    config = load_config(preset_path("xlmr/tiny"))
    assert [o.name for o in config.objectives] == ["mlm"]
    assert config.objectives[0].masking == "dynamic"
    embedding = config.model.embedding
    assert (embedding.num_languages, embedding.num_segments) == (0, 0)
    tokenizer = config.data.tokenizer
    assert (tokenizer.kind, tokenizer.vocab_size, tokenizer.split_cjk) == ("unigram", 16000, False)
    assert config.data.language_alpha == 0.3
    # XLM-R §3.1: alpha = 0.3 lifts Chinese from 8.6 % of the lines to 33 % of the samples.
    assert language_probabilities(SIZES, 0.3).tolist() == pytest.approx(
        [0.6697845, 0.3302155], abs=1e-7)


def test_unigram_vocabulary_round_trips_mixed_text():
    lines = ["the market rose sharply today", "今天股市大涨，投资者很高兴。",
             "the cat sat on the mat", "猫坐在垫子上。"] * 5
    tokenizer = train_tokenizer(lines, TokenizerConfig(kind="unigram", vocab_size=60),
                                "unigram", "<unk>", "t")
    text = "the cat rose 今天猫很高兴。"
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    pieces = [tokenizer.id_to_token(i) for i in ids]
    # SentencePiece-style: spaces are the ▁ of the next piece, nothing is added or lost.
    assert pieces[0].startswith("▁") and "".join(pieces).replace("▁", " ").strip() == text


def test_wordpiece_vocabulary_splits_cjk_and_restores_latin():
    lines = ["the market rose sharply today", "今天股市大涨，投资者很高兴。"] * 5
    tokenizer = train_tokenizer(lines, TokenizerConfig(kind="wordpiece", vocab_size=80,
                                                       split_cjk=True),
                                "wordpiece", "[UNK]", "t")
    ids = tokenizer.encode("the market 今天大涨")
    assert [tokenizer.id_to_token(i) for i in ids][-4:] == ["今", "天", "大", "涨"]
    # BERT's decoder joins pieces with spaces: CJK characters come back space-separated.
    assert tokenizer.decode(ids) == "the market 今 天 大 涨"
