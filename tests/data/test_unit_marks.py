"""Text-derived masking units built once per token store: ERNIE spans and jieba words."""

import sys

import numpy as np
import pytest
import torch

from lmlab.config import DataConfig, TokenizerConfig
from lmlab.data.batching import BlockBatches
from lmlab.data.lm_data import prepare_tokenizer, token_store, unit_marks
from lmlab.data.pairs import PairBatches
from lmlab.data.span_dictionary import read_span_file
from lmlab.data.unit_marks import resolve_span_file
from lmlab.errors import DataError
from lmlab.objectives.masking_units import word_groups
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective, position_word_starts
from lmlab.presets import packaged_path

SPANS = "# a comment\nnew york stock exchange\tORG\nnew york\tLOC\n\nwall street\njohn smith\tPER\n"


@pytest.fixture(scope="module")
def ernie(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ernie")
    sentences = ["the new york stock exchange rose in new york today",
                 "john smith works on wall street near new jersey",
                 "a new book about york and the street of john"]
    (folder / "train.txt").write_text("\n".join(sentences * 40) + "\n")
    (folder / "spans.txt").write_text(SPANS)
    config = MaskedLMConfig(unit="spans", span_file=str(folder / "spans.txt"))
    data = DataConfig(dataset=str(folder), tokenizer=TokenizerConfig(kind="word"))
    tokenizer = prepare_tokenizer(data)
    store = token_store(data, tokenizer, "train")
    return folder, config, data, tokenizer, store, unit_marks(data, [config], tokenizer, "train", store)


def _words(tokenizer, ids):
    return [tokenizer.id_to_token(int(i)) for i in ids]


def test_span_file_matches_longest_phrase_first(ernie):
    _, _, _, tokenizer, store, marks = ernie
    first_line = slice(0, int(store.line_ends[0]))  # "the new york stock exchange … <eos>"
    assert _words(tokenizer, store.ids[first_line])[:6] == ["the", "new", "york", "stock",
                                                            "exchange", "rose"]
    assert marks[first_line].tolist() == [0, 1, 2, 2, 2, 0, 0, 1, 2, 0, 0]
    second = slice(int(store.line_ends[0]), int(store.line_ends[1]))
    # john smith, wall street; "new jersey" is no span; <eos> is in none.
    assert marks[second].tolist() == [1, 2, 0, 0, 1, 2, 0, 0, 0, 0]
    third = slice(int(store.line_ends[1]), int(store.line_ends[2]))
    assert not marks[third].any()  # the same words, but no phrase in order


def test_marks_are_stored_beside_the_store_and_reused(ernie, monkeypatch):
    folder, config, data, tokenizer, store, marks = ernie
    built = [p for p in store.folder.iterdir() if p.name.startswith("units-spans-")]
    assert len(built) == 1 and (built[0] / "marks.bin").stat().st_size == len(store)
    import lmlab.data.span_dictionary as spans_module
    monkeypatch.setattr(spans_module, "match_line", lambda *a: pytest.fail("matched again"))
    again = unit_marks(data, [config], tokenizer, "train", store)
    assert np.array_equal(again, marks)


@pytest.mark.parametrize("batching", ["blocks", "pairs"])
def test_ernie_never_half_masks_a_span_and_keeps_the_budget(ernie, batching):
    _, config, _, tokenizer, store, marks = ernie
    if batching == "blocks":
        batches = BlockBatches(store.ids, 8, 16, 0, False, tokenizer.cls_id, tokenizer.sep_id, marks)
    else:
        batches = PairBatches(store, 8, 24, 0, "nsp", tokenizer.cls_id, tokenizer.sep_id,
                              tokenizer.pad_id, marks)
    objective = MaskedLMObjective(config, tokenizer)
    spans_seen = 0
    for step in range(20):
        batch = batches.batch(step)
        ids, batch_marks = batch["input_ids"], batch["unit_marks"]
        corrupted, labels = objective.choose(batch)
        maskable = ids >= tokenizer.num_special
        starts = position_word_starts(batch_marks, ids, None)
        for row in range(ids.shape[0]):
            candidates = maskable[row].nonzero().squeeze(1)
            chosen = set((labels[row] != -100).nonzero().squeeze(1).tolist())
            assert 1 <= len(chosen) <= round(0.15 * candidates.numel()) or len(chosen) == 1
            for unit in word_groups(candidates, starts[row, candidates]):
                unit = set(unit.tolist())
                assert unit <= chosen or not (unit & chosen), (step, row, unit, chosen)
                spans_seen += len(unit) > 1 and unit <= chosen
            # Marks align with the ids: a complete marked run is a phrase of the file.
            text = _words(tokenizer, ids[row])
            for unit in word_groups(candidates, starts[row, candidates]):
                if len(unit) > 1 and int(unit[0]) > 0 and batch_marks[row, unit[0]] == 1:
                    following = int(unit[-1]) + 1
                    if following < ids.shape[1] and batch_marks[row, following] != 2:
                        assert " ".join(text[int(unit[0]): following]) in SPANS
    assert spans_seen > 0


def test_span_file_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(DataError, match="no such span file"):
        read_span_file(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("new york\tLOC\n# fine\nwall street\tLOC\textra\n")
    with pytest.raises(DataError, match=rf"{bad}:3: expected 'phrase' or 'phrase<TAB>type'"):
        read_span_file(bad)
    bad.write_text("new york\tLOC\n\tLOC\n")
    with pytest.raises(DataError, match=rf"{bad}:2:"):
        read_span_file(bad)
    bad.write_bytes(b"new york\n\xff\xfe\n")
    with pytest.raises(DataError, match=rf"{bad}:2: not UTF-8"):
        read_span_file(bad)


def test_span_file_lookup_current_folder_then_data_then_package(tmp_path, monkeypatch):
    name = "ernie/conll2003_spans.txt"  # the ernie/tiny preset's, shipped in the package
    data, work = tmp_path / "data", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("LMLAB_DATA", str(data))
    monkeypatch.chdir(work)
    assert resolve_span_file(name) == packaged_path(name) and packaged_path(name).is_file()
    (data / "ernie").mkdir(parents=True)
    (data / name).write_text(SPANS)
    assert resolve_span_file(name) == data / name
    (work / "ernie").mkdir()
    (work / name).write_text(SPANS)
    assert resolve_span_file(name).resolve() == work / name


def test_missing_span_file_is_reported_before_training(tmp_path, tiny_corpus):
    from lmlab.config import load_config
    from lmlab.presets import preset_path
    from lmlab.training.trainer import train

    config = load_config(preset_path("ernie/tiny"), [
        f"data.dataset={tiny_corpus}", "objectives.0.span_file=nowhere/spans.txt",
        "train.max_steps=1", "train.progress=false"])
    with pytest.raises(DataError, match="nowhere/spans.txt: no such span file"):
        train(config, tmp_path / "run", log=lambda *_: None)


# --- Chinese whole-word masking (jieba, once per store) --------------------------------

@pytest.fixture(scope="module")
def chinese(tmp_path_factory, shared_data):
    folder = tmp_path_factory.mktemp("zh")
    lines = (shared_data / "uer_py/corpora/CLUECorpusSmall_sampled.txt").read_text(
        encoding="utf-8").splitlines()[:12]
    (folder / "train.txt").write_text("\n".join(line[:300] for line in lines) + "\n",
                                      encoding="utf-8")
    config = MaskedLMConfig(unit="whole_word", word_boundaries="jieba")
    data = DataConfig(dataset=str(folder), tokenizer=TokenizerConfig(kind="char"))
    tokenizer = prepare_tokenizer(data)
    store = token_store(data, tokenizer, "train")
    return config, data, tokenizer, store, unit_marks(data, [config], tokenizer, "train", store)


def test_jieba_marks_follow_jieba_words(chinese):
    import jieba

    _, _, tokenizer, store, marks = chinese
    end = int(store.line_ends[0])
    text = "".join(_words(tokenizer, store.ids[: end - 1]))  # chars of line 1, without <eos>
    words = jieba.lcut(text)
    expected = [mark for word in words for mark in [1] + [2] * (len(word) - 1)] + [0]
    assert marks[:end].tolist() == expected
    assert sum(len(w) > 1 for w in words) > 10  # real multi-character words


def test_chinese_wwm_never_half_masks_a_word_and_never_runs_jieba_per_batch(chinese, monkeypatch):
    config, data, tokenizer, store, marks = chinese
    # From here on jieba cannot even be imported: the per-batch path must not need it.
    monkeypatch.setitem(sys.modules, "jieba", None)
    marks = unit_marks(data, [config], tokenizer, "train", store)  # loaded, not recomputed
    batches = BlockBatches(store.ids, 4, 64, 0, False, tokenizer.cls_id, tokenizer.sep_id, marks)
    objective = MaskedLMObjective(config, tokenizer)
    multi = 0
    for step in range(10):
        batch = batches.batch(step)
        _, labels = objective.choose(batch)
        ids = batch["input_ids"]
        starts = position_word_starts(batch["unit_marks"], ids, objective.starts_word)
        for row in range(ids.shape[0]):
            candidates = (ids[row] >= tokenizer.num_special).nonzero().squeeze(1)
            chosen = set((labels[row] != -100).nonzero().squeeze(1).tolist())
            assert len(chosen) <= round(0.15 * candidates.numel())
            for word in word_groups(candidates, starts[row, candidates]):
                word = set(word.tolist())
                assert word <= chosen or not (word & chosen)
                multi += len(word) > 1 and word <= chosen
    assert multi > 0
