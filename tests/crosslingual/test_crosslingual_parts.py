"""Issue 24, first step: parallel pairs, language sampling, language embeddings, TLM."""

import pytest
import torch

from lmlab.crosslingual.parallel import (held_out_pairs, read_aligned_files, read_tab_pairs,
                                         split_pairs, training_pairs)
from lmlab.crosslingual.sampling import language_probabilities, resample_lines, resampled_counts
from lmlab.data.batching import IGNORE
from lmlab.data.tokenizers import TokenizerConfig, train_tokenizer
from lmlab.embeddings.token_embedding import EmbeddingConfig, TokenEmbedding
from lmlab.errors import ConfigError, DataError
from lmlab.objectives.tlm import TranslationLMConfig, TranslationLMObjective, pair_batch

NEWS = "uer_py/corpora/news-commentary-v13-en-zh_sampled.txt"


# ---- parallel pairs -------------------------------------------------------------------

def test_news_commentary_has_1000_pairs_and_keeps_500_out(shared_data, monkeypatch):
    monkeypatch.setenv("LMLAB_DATA", str(shared_data))
    pairs = read_tab_pairs(shared_data / NEWS)
    assert len(pairs) == 1000
    assert pairs[0].source == "1929 or 1989?" and pairs[0].target == "1929年还是1989年?"
    train, held_out = training_pairs(NEWS), held_out_pairs(NEWS)
    assert len(train) == len(held_out) == 500
    assert not {p.line_number for p in train} & {p.line_number for p in held_out}
    assert held_out == held_out_pairs(NEWS)  # fixed


def test_split_is_seeded_and_in_file_order(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("".join(f"s{i}\tt{i}\n" for i in range(10)), encoding="utf-8")
    train, test = split_pairs(read_tab_pairs(path), held_out=4)
    assert len(train) == 6 and len(test) == 4
    assert [p.line_number for p in train] == sorted(p.line_number for p in train)
    assert split_pairs(read_tab_pairs(path), held_out=4) == (train, test)


def test_aligned_files_pair_line_by_line(tmp_path):
    (tmp_path / "a.en").write_text("hello\nworld\n", encoding="utf-8")
    (tmp_path / "a.zh").write_text("你好\n世界\n", encoding="utf-8")
    pairs = read_aligned_files(tmp_path / "a.en", tmp_path / "a.zh")
    assert [(p.source, p.target, p.line_number) for p in pairs] == [
        ("hello", "你好", 1), ("world", "世界", 2)]


def test_line_missing_its_tab_names_file_and_line(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("a\tb\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"p\.txt:2: expected 'source<TAB>target'"):
        read_tab_pairs(path)


def test_unequal_line_counts_are_one_line_error(tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n", encoding="utf-8")
    (tmp_path / "a.zh").write_text("一\n二\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.zh: 2 lines, but .*a\.en has 3"):
        read_aligned_files(tmp_path / "a.en", tmp_path / "a.zh")


def test_empty_parallel_file_is_an_error(tmp_path):
    (tmp_path / "e.txt").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"e\.txt: empty parallel file"):
        read_tab_pairs(tmp_path / "e.txt")


# ---- language sampling ----------------------------------------------------------------

def test_language_probabilities_exact():
    # p = (0.9, 0.1); alpha 0.5: sqrt(.9) = .948683, sqrt(.1) = .316228 -> (0.75, 0.25).
    assert language_probabilities([90, 10], 0.5).tolist() == pytest.approx([0.75, 0.25], abs=1e-12)
    # alpha 1: proportional; alpha 0.3 (XLM-R): .9^.3 = .9688862, .1^.3 = .5011872.
    assert language_probabilities([90, 10], 1.0).tolist() == pytest.approx([0.9, 0.1])
    assert language_probabilities([900, 100], 0.3).tolist() == pytest.approx(
        [0.9688862 / 1.4700734, 0.5011872 / 1.4700734], abs=1e-7)
    assert resampled_counts([90, 10], 0.5) == [75, 25]


def test_resampled_corpus_has_the_sampled_counts():
    mixed = resample_lines([[f"en{i}" for i in range(90)], [f"zh{i}" for i in range(10)]],
                           0.5, seed=0)
    assert sum(line.startswith("en") for line in mixed) == 75
    assert sum(line.startswith("zh") for line in mixed) == 25  # every zh line 2-3 times
    assert mixed == resample_lines([[f"en{i}" for i in range(90)],
                                    [f"zh{i}" for i in range(10)]], 0.5, seed=0)


def test_bad_sampling_input():
    with pytest.raises(DataError, match="alpha"):
        language_probabilities([1, 2], 0.0)
    with pytest.raises(DataError, match="positive size"):
        language_probabilities([0, 2], 0.5)


# ---- language embeddings --------------------------------------------------------------

def test_language_embedding_is_added_like_segments():
    torch.manual_seed(0)
    embedding = TokenEmbedding(EmbeddingConfig(vocab_size=5, hidden_size=4, max_positions=8,
                                               num_languages=2, dropout=0.0)).eval()
    ids, languages = torch.tensor([[1, 2, 3]]), torch.tensor([[0, 0, 1]])
    expected = (embedding.tokens(ids) + embedding.positions(torch.arange(3))
                + embedding.languages.weight[[0, 0, 1]])
    assert torch.equal(embedding(ids, languages=languages), expected)
    assert torch.equal(embedding(ids), embedding.tokens(ids) + embedding.positions(torch.arange(3)))


def test_language_id_not_in_config_is_one_line_error():
    embedding = TokenEmbedding(EmbeddingConfig(vocab_size=5, hidden_size=4, num_languages=2))
    with pytest.raises(ValueError, match=r"language id 2 is not in the config: .*num_languages=2"):
        embedding(torch.tensor([[1, 2]]), languages=torch.tensor([[0, 2]]))


# ---- TLM ------------------------------------------------------------------------------

def _word_tokenizer():
    # specials [PAD]=0 <unk>=1 <eos>=2 [CLS]=3 [SEP]=4 [MASK]=5; then a b c x y = 6..10
    return train_tokenizer(["a b c", "x y"], TokenizerConfig(kind="word"), "word", "<unk>", "t")


def test_tlm_batch_of_two_pairs_exact():
    tokenizer = _word_tokenizer()
    pairs = [(tokenizer.encode("a b"), tokenizer.encode("x y")),
             (tokenizer.encode("c"), tokenizer.encode("y"))]
    batch = pair_batch(pairs, tokenizer, (0, 1), max_len=16)
    assert batch["tlm_input_ids"].tolist() == [[3, 6, 7, 4, 9, 10, 4], [3, 8, 4, 10, 4, 0, 0]]
    assert batch["tlm_positions"].tolist() == [[0, 1, 2, 3, 0, 1, 2], [0, 1, 2, 0, 1, 0, 0]]
    assert batch["tlm_languages"].tolist() == [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0]]
    assert batch["tlm_attention_mask"].tolist() == [[1] * 7, [1, 1, 1, 1, 1, 0, 0]]
    assert batch["tlm_maskable"].int().tolist() == [[0, 1, 1, 0, 1, 1, 0], [0, 1, 0, 1, 0, 0, 0]]


def test_tlm_masks_both_sides_and_is_stateless(tmp_path):
    tokenizer = _word_tokenizer()
    path = tmp_path / "p.txt"
    path.write_text("a b\tx y\nc\ty\nb c\tx\n", encoding="utf-8")
    config = TranslationLMConfig(parallel=str(path), held_out=1, mask_rate=0.99)
    objective = TranslationLMObjective(config, tokenizer, seed=3)
    run_batch = {"input_ids": torch.zeros(2, 16, dtype=torch.long), "step": 5}
    first = objective.corrupt(dict(run_batch))
    labels, ids = first["tlm_labels"], first["tlm_input_ids"]
    original = pair_batch([objective.pairs("train")[0]], tokenizer, (0, 1), 16)
    # round(0.99 * n) = n: every ordinary token of both sentences is predicted.
    chosen = labels != IGNORE
    assert torch.equal(chosen, first["tlm_maskable"])
    assert (chosen & (first["tlm_languages"] == 0)).any(dim=1).all()
    assert (chosen & (first["tlm_languages"] == 1)).any(dim=1).all()
    assert original["tlm_input_ids"].shape[1] <= ids.shape[1]
    again = objective.corrupt(dict(run_batch))  # the same step: the same pairs and masks
    assert torch.equal(again["tlm_input_ids"], ids) and torch.equal(again["tlm_labels"], labels)
    assert len(objective.pairs("train")) == 2 and len(objective.pairs("held_out")) == 1


def test_tlm_language_not_in_config(tmp_path):
    from lmlab.config import load_config
    from lmlab.presets import preset_path

    with pytest.raises(ConfigError, match=r"target_language: language id 2 is not in the config"):
        load_config(preset_path("xlm/tiny"), ["objectives.1.target_language=2"])


def test_tlm_held_out_batches_read_only_the_held_out_pairs(tmp_path):
    from lmlab.objectives.base import EvaluationSettings

    tokenizer = _word_tokenizer()
    path = tmp_path / "p.txt"
    path.write_text("a b\tx y\nc\ty\nb c\tx\n", encoding="utf-8")
    objective = TranslationLMObjective(TranslationLMConfig(parallel=str(path), held_out=1),
                                       tokenizer)
    (kept_out,) = split_pairs(read_tab_pairs(path), held_out=1)[1]
    batches = list(objective.evaluation_batches(None, None, EvaluationSettings(seq_len=16)))
    assert len(batches) == 1
    expected = pair_batch([(tokenizer.encode(kept_out.source), tokenizer.encode(kept_out.target))],
                          tokenizer, (0, 1), 16)
    assert torch.equal(batches[0]["tlm_positions"], expected["tlm_positions"])
    labels = batches[0]["tlm_labels"]
    restored = torch.where(labels != IGNORE, labels, batches[0]["tlm_input_ids"])
    assert torch.equal(restored, expected["tlm_input_ids"])  # masks hide only its own tokens
    again = list(objective.evaluation_batches(None, None, EvaluationSettings(seq_len=16)))
    assert torch.equal(again[0]["tlm_input_ids"], batches[0]["tlm_input_ids"])  # static masks


def test_mixed_corpus_language_not_in_config():
    from lmlab.config import load_config
    from lmlab.presets import preset_path

    with pytest.raises(ConfigError, match=r"data\.datasets\.1\.language: language id 5 is not in"):
        load_config(preset_path("xlm/tiny"), ["data.datasets.1.language=5"])
