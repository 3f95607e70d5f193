"""Sentence pairs for nsp / sop / sso (lmlab.data.pairs)."""

import collections

import pytest
import torch

from lmlab.config import DataConfig
from lmlab.data.lm_data import prepare_tokenizer, token_store
from lmlab.data.pairs import PairBatches


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """12 documents of 6 sentences; every word names its document and sentence: dXsY."""
    folder = tmp_path_factory.mktemp("docs")
    text = "\n\n".join("\n".join(f"d{d}s{s} d{d}s{s} d{d}s{s}" for s in range(6))
                       for d in range(12))
    (folder / "train.txt").write_text(text + "\n")
    config = DataConfig(dataset=str(folder))
    tokenizer = prepare_tokenizer(config)
    return token_store(config, tokenizer, "train"), tokenizer


def _words(tokenizer, ids):
    return [tokenizer.id_to_token(i) for i in ids if i >= tokenizer.num_special]


def _doc_and_sentences(tokenizer, ids):
    words = _words(tokenizer, ids)
    docs = {w.split("s")[0] for w in words}
    sentences = [int(w.split("s")[1]) for w in words]
    return docs, sentences


@pytest.mark.parametrize("task", ["nsp", "sop", "sso"])
def test_pairs_have_the_label_they_claim(documents, task):
    store, tokenizer = documents
    pairs = PairBatches(store, 4, 24, seed=0, task=task, cls_id=tokenizer.cls_id,
                        sep_id=tokenizer.sep_id, pad_id=tokenizer.pad_id)
    labels = collections.Counter()
    for index in range(600):
        a, b, label = pairs.example(0, index)
        labels[label] += 1
        (doc_a,), sentences_a = _doc_and_sentences(tokenizer, a)
        (doc_b,), sentences_b = _doc_and_sentences(tokenizer, b)
        in_order = doc_a == doc_b and sentences_b[0] == sentences_a[-1] + 1
        swapped = doc_a == doc_b and sentences_a[0] == sentences_b[-1] + 1
        if task == "nsp":
            assert (label == 0) == in_order and (label == 1) == (doc_a != doc_b)
        if task == "sop":
            assert doc_a == doc_b and (label == 0) == in_order and (label == 1) == swapped
        if task == "sso":
            expected = 0 if in_order else 1 if swapped else 2
            assert label == expected and ((label == 2) == (doc_a != doc_b))
    classes = {"nsp": 2, "sop": 2, "sso": 3}[task]
    for count in labels.values():  # balanced: each class 1/classes of 600, within 4 sigma
        assert abs(count - 600 / classes) < 4 * (600 * (1 / classes) * (1 - 1 / classes)) ** 0.5


def test_batch_layout_segments_and_padding(documents):
    store, tokenizer = documents
    pairs = PairBatches(store, 3, 24, seed=1, task="nsp", cls_id=tokenizer.cls_id,
                        sep_id=tokenizer.sep_id, pad_id=tokenizer.pad_id)
    batch = pairs.batch(5)
    epoch, index = divmod(5, pairs.steps_per_epoch)
    assert batch["input_ids"].shape == (3, 24)
    for row in range(3):
        a, b, label = pairs.example(epoch, index * 3 + row)
        length = len(a) + len(b) + 3
        expected = [tokenizer.cls_id, *a, tokenizer.sep_id, *b, tokenizer.sep_id]
        assert batch["input_ids"][row, :length].tolist() == expected
        assert (batch["input_ids"][row, length:] == tokenizer.pad_id).all()
        assert batch["segments"][row].tolist() == [0] * (len(a) + 2) + [1] * (len(b) + 1) + [0] * (24 - length)
        assert batch["attention_mask"][row].sum() == length
        assert batch["pair_labels"][row] == label
    assert torch.equal(pairs.batch(5)["input_ids"], batch["input_ids"])  # deterministic
