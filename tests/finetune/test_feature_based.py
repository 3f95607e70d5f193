"""Feature-based transfer (issue 19): each source's feature shapes on tiny fixtures, OOV
counting, frozen means frozen, the suite's quick mode end to end, and bad input."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from lmlab.cli import main
from lmlab.config import load_config
from lmlab.data.tokenizers import TokenizerConfig, train_tokenizer
from lmlab.errors import ConfigError, DataError
from lmlab.finetune.feature_loop import FeatureTaskOptions, feature_based
from lmlab.finetune.feature_model import (FeatureTaskModel, FrozenFeatureInput, build_head,
                                          collate)
from lmlab.finetune.feature_sources import (FrozenLMFeatures, VectorTable, encoder_layers,
                                            extract_all, top_layer)
from lmlab.layers.scalar_mix import ScalarMix
from lmlab.presets import preset_path, suite_path
from lmlab.recipes.compare_features import load_feature_suite, run_feature_compare
from lmlab.recipes.feature_based import (build_source, char_ids_of,
                                         context_vectors_as_layers, parse_source, run_feature_based)
from lmlab.registry import build_model, build_objectives
from lmlab.wordvec.io import load_vectors, save_vectors

LINES = ["the cat sat on the mat", "a dog ran in the park", "the cat ran"] * 4
SENTENCES = [["the", "cat", "sat"], ["Dog", "zebra"]]


def _tokenizer():
    return train_tokenizer(LINES, TokenizerConfig(kind="word"), "word", None)


def _bilstm(preset: str, objectives: bool = False, extra=()):
    tokenizer = _tokenizer()
    config = load_config(preset_path(preset), ["model.embedding.hidden_size=8",
                                               "model.encoder.num_layers=2", *extra])
    built = build_objectives(config.objectives, tokenizer) if objectives else ()
    model = build_model(config.model, tokenizer.vocab_size, seed=0, objectives=built,
                        vocabulary=[tokenizer.id_to_token(i)
                                    for i in range(tokenizer.vocab_size)])
    return model, tokenizer


def test_vector_table_shapes_lowercase_fallback_and_oov_zero(tmp_path):
    path = tmp_path / "tiny.txt"
    save_vectors(path, ["the", "cat", "dog"], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "text")
    words, vectors = load_vectors(path)
    table = VectorTable(words, vectors)
    first, second = table.extract(SENTENCES)
    assert first.shape == (1, 3, 2) and second.shape == (1, 2, 2)
    assert first[0].tolist() == [[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]  # "sat": OOV -> zeros
    assert second[0].tolist() == [[5.0, 6.0], [0.0, 0.0]]  # "Dog" found lowercased
    assert table.oov.as_dict() == {"words": 5, "oov": 2, "oov_rate": 0.4,
                                   "oov_examples": ["sat", "zebra"]}


def test_elmo_layers_of_a_bilstm_run_and_oov_count():
    model, tokenizer = _bilstm("context2vec/tiny")
    source = FrozenLMFeatures(model, tokenizer, encoder_layers, "elmo")
    features = source.extract(SENTENCES)
    # L+1 = 3 layers (ELMo's 2L+1 representations, the directions side by side) of
    # [forward ; backward] = 2 x 8 features, one row per word
    assert source.num_layers == 3 and source.width == 16
    assert [f.shape for f in features] == [(3, 3, 16), (3, 2, 16)]
    assert source.oov.as_dict()["oov"] == 2  # "Dog" (cased) and "zebra" are unknown tokens
    # Layer 0 is [x ; x]: the token embedding twice, at each word's own token.
    x = model.embedding(torch.tensor([[tokenizer.token_to_id("cat")]]))[0, 0]
    assert torch.allclose(features[0][0, 1], torch.cat([x, x]), atol=1e-6)


def test_elmo_char_cnn_spells_out_of_vocabulary_words():
    model, tokenizer = _bilstm("context2vec/tiny", extra=[
        "model.embedding.char_cnn={max_word_length: 12, char_dim: 4, filters: [[1, 4], [2, 4]], "
        "highway_layers: 1}", "model.lm_head.tie_weights=false"])
    source = FrozenLMFeatures(model, tokenizer, encoder_layers, "elmo",
                              char_ids=char_ids_of(model))
    features = source.extract(SENTENCES)
    assert [f.shape for f in features] == [(3, 3, 16), (3, 2, 16)]
    assert source.oov.as_dict()["oov"] == 0  # spelled, never unknown
    source.extract([["abcdefghijklmnop"]])  # 16 bytes > W - 2 = 10: cut and counted
    assert source.oov.as_dict()["truncated"] == 1
    # zebra is not in the vocabulary, yet its vector is its spelling's, not [UNK]'s.
    unknown = model.embedding(torch.tensor([[tokenizer.unk_id]]))[0, 0]
    assert not torch.allclose(features[1][0, 1, :8], unknown)


def test_context2vec_and_transformer_sources(tiny_corpus):
    model, tokenizer = _bilstm("context2vec/tiny", objectives=True,
                               extra=["objectives.0.context_size=6"])
    source = FrozenLMFeatures(model, tokenizer, context_vectors_as_layers, "c2v")
    assert (source.num_layers, source.width) == (1, 6)
    assert [f.shape for f in source.extract(SENTENCES)] == [(1, 3, 6), (1, 2, 6)]

    config = load_config(preset_path("bert/tiny"), ["model.embedding.hidden_size=16",
                                                    "model.encoder.num_heads=2"])
    bert = build_model(config.model, tokenizer.vocab_size, seed=0)
    source = FrozenLMFeatures(bert, tokenizer, top_layer, "bert", add_specials=True)
    features = source.extract(SENTENCES)
    assert [f.shape for f in features] == [(1, 3, 16), (1, 2, 16)]
    # [CLS] the cat sat [SEP]: the word "the" reads position 1, not [CLS] at 0.
    ids = torch.tensor([[tokenizer.cls_id] + [tokenizer.token_to_id(w) for w in SENTENCES[0]]
                        + [tokenizer.sep_id]])
    hidden = bert(ids, torch.ones_like(ids)).hidden[0]
    assert torch.allclose(features[0][0], hidden[1:4], atol=1e-5)


def test_frozen_backbone_gets_no_gradient_only_mix_and_task_model_change():
    model, tokenizer = _bilstm("context2vec/tiny")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    source = FrozenLMFeatures(model, tokenizer, encoder_layers, "elmo")
    features = extract_all(source, SENTENCES)
    items = [{"length": 3, "features": features[0], "label": 1},
             {"length": 2, "features": features[1], "label": 0}]
    torch.manual_seed(0)
    mix = ScalarMix(source.num_layers)
    task = FeatureTaskModel(FrozenFeatureInput(source.width, mix), 4, 0.0,
                            build_head("classification", 8, 2, 0.0))
    start = {k: v.clone() for k, v in task.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], lr=0.1)
    batch = collate(items, "classification")
    task.head.loss(task(batch), batch).backward()
    optimizer.step()
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    changed = {k for k, v in task.state_dict().items() if not torch.equal(start[k], v)}
    assert {"inputs.mix.scalars", "inputs.mix.gamma", "lstm.weight_ih_l0",
            "head.classifier.weight"} <= changed
    assert torch.softmax(mix.scalars, 0).sum().item() == pytest.approx(1.0)


def test_random_baseline_trains_and_counts_dev_oov(tmp_path):
    options = FeatureTaskOptions(epochs=1, max_train_examples=40, dev_split="dev[:20]",
                                 seeds=[1, 2], progress=False, hidden_size=8, random_size=8)
    result = feature_based(None, "random", "glue/sst2", options, tmp_path / "run")
    assert result["metric"] == "accuracy" and [r["seed"] for r in result["runs"]] == [1, 2]
    assert result["dev_examples"] == 20 and result["train_examples"] == 40
    assert 0 < result["oov"]["oov"] < result["oov"]["words"]
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["scores"] == result["scores"]


@pytest.mark.parametrize("kind", ["random", "vectors"])
def test_evaluate_and_predict_read_the_best_task_model(tmp_path, capsys, kind):
    """The best seed's best-epoch model is kept: ``lmlab evaluate`` on the dev slice it was
    selected on gives its score exactly, and ``lmlab predict`` labels one sentence a line."""
    source = "random"
    if kind == "vectors":
        words = "the a film movie good bad it is not".split()
        vectors = torch.randn(len(words), 6, generator=torch.Generator().manual_seed(0))
        save_vectors(tmp_path / "v.txt", words, vectors.numpy(), "text")
        source = f"vectors:{tmp_path / 'v.txt'}"
    options = FeatureTaskOptions(epochs=2, max_train_examples=40, dev_split="dev[:30]",
                                 seeds=[1, 2], progress=False, hidden_size=8, random_size=8)
    result = run_feature_based(source, "glue/sst2", options, tmp_path / "run")
    best = next(r for r in result["runs"] if r["seed"] == result["best_seed"])["best"]
    assert main(["evaluate", str(tmp_path / "run"), "--split", "dev[:30]"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scored["accuracy"] == best["accuracy"] and scored["examples"] == 30
    (tmp_path / "in.txt").write_text("a good film\nit is not good at all\n")
    assert main(["predict", str(tmp_path / "run"), "--input", str(tmp_path / "in.txt"),
                 "--out", str(tmp_path / "out.txt")]) == 0
    labels = (tmp_path / "out.txt").read_text().splitlines()
    assert len(labels) == 2 and set(labels) <= {"0", "1"}


def test_a_run_without_its_task_model_is_refused_in_one_line(tmp_path, capsys):
    options = FeatureTaskOptions(epochs=1, max_train_examples=20, dev_split="dev[:10]",
                                 seeds=[1], progress=False, hidden_size=8, random_size=8)
    run_feature_based("random", "glue/sst2", options, tmp_path / "run")
    (tmp_path / "run" / "task_model.safetensors").unlink()
    assert main(["evaluate", str(tmp_path / "run")]) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "task_model.safetensors" in error


def test_bad_input_is_one_line(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown kind 'bogus'"):
        parse_source("bogus:x")
    with pytest.raises(DataError, match="no such vectors file"):
        build_source(f"vectors:{tmp_path / 'missing.bin'}")
    path = tmp_path / "v.txt"
    save_vectors(path, ["the"], [[1.0]], "text")
    assert main(["finetune", f"vectors:{path}", "--task", "glue/sst2", "--feature-based",
                 "--feature-layers", "mix", "--out", str(tmp_path / "o")]) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "mix needs a source with several layers" in error
    assert main(["finetune", "bogus:x", "--task", "glue/sst2", "--feature-based",
                 "--out", str(tmp_path / "o")]) == 1
    assert "unknown kind 'bogus'" in capsys.readouterr().err


def _tiny_suite(tmp_path, corpus):
    """The packaged suite's quick mode, its corpora swapped for the tiny PTB folder."""
    raw = yaml.safe_load(suite_path("suites/feature_based").read_text())
    quick = raw["quick"]
    for label, fields in quick["sources"].items():
        if "wordvec" in fields:
            fields["wordvec"].update(data=str(corpus / "train.txt"), max_seconds=2)
        if "pretrain" in fields:
            fields["pretrain"].update(max_steps=2, overrides=[
                f"data.dataset={corpus}", "data.batch_size=4", "data.seq_len=32",
                "train.eval_every=0"])
    quick["task_model"].update(max_train_examples=24, dev_split="dev[:16]", hidden_size=8)
    quick["finetune"].update(max_seq_len=32)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_quick_suite_end_to_end(tmp_path, tiny_corpus):
    suite = _tiny_suite(tmp_path, tiny_corpus)
    loaded = load_feature_suite(str(suite), quick=True)
    assert loaded.task_model.seeds == [1] and loaded.sources[3].wordvec.epochs == 1
    result = run_feature_compare(str(suite), str(tmp_path / "out"), quick=True,
                                 log=lambda message: None)
    table = json.loads((tmp_path / "out" / "table.json").read_text())
    labels = [entry.label for entry in loaded.sources]
    assert list(table["rows"])[:len(labels)] == labels
    assert list(table["rows"])[-1].endswith("fine-tuned end to end (reference)")
    for label, row in table["rows"].items():
        assert set(row) == {"ner/conll2003", "glue/sst2"}, label
    mix = table["rows"]["ELMo (scalar mix)"]["glue/sst2"]
    assert mix["feature_layers"] == "mix" and len(mix["mix_weights"][0]) == mix["layers"]
    assert table["rows"]["ELMo (top layer)"]["glue/sst2"]["mix_weights"] == [None]
    assert "Verdict:" in result["verdict"] and "one seed: no spread" in result["verdict"]
    markdown = (tmp_path / "out" / "table.md").read_text()
    assert "| Random embeddings (trained) |" in markdown
    # Two ELMo rows share one pre-training.
    assert len(list((tmp_path / "out" / "sources").glob("elmo_tiny-*"))) == 1


def test_compare_sends_the_feature_suite_to_its_runner_and_refuses_a_budget(tmp_path, capsys):
    assert main(["compare", "suites/feature_based", "--budget", "1e9",
                 "--out", str(tmp_path / "o")]) == 1
    assert "--budget and --set are for pre-training suites" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"sources\[3\]: a vectors source needs exactly one"):
        load_feature_suite("suites/feature_based",
                           suite_overrides=["sources.3.wordvec=null"])
