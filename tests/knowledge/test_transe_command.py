"""``lmlab knowledge transe`` end to end on a small triples file, and its one-line errors."""

from __future__ import annotations

import json

from lmlab.cli import main
from lmlab.knowledge.embedding_files import load_embeddings


def write_chain(path, size=30):
    lines = [f"e{i}\thypernym\te{i + 1}\n" for i in range(size)]
    lines += [f"e{i}\tantonym\te{i + 2}\n" for i in range(size - 1)]
    path.write_text("".join(lines))
    return path


def test_a_run_writes_embeddings_vocabulary_and_link_prediction(tmp_path, capsys):
    triples = write_chain(tmp_path / "kb.tsv")
    out = tmp_path / "run"
    assert main(["knowledge", "transe", "--triples", str(triples), "--out", str(out),
                 "--dim", "8", "--epochs", "3", "--batch-size", "16", "--threads", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    result = json.loads((out / "transe.json").read_text())
    assert result["triples"] == 59 and result["held_out_triples"] == 3  # round(0.05 * 59)
    assert result["relations"] == ["antonym", "hypernym"]  # vocabulary order: RELATION_NAMES
    assert result["link_prediction"]["ranked_triples"] == 3 == printed["ranked_triples"]
    assert 0 < printed["mrr"] <= 1 and len(result["epoch_loss"]) == 3
    embeddings = load_embeddings(out)
    assert len(embeddings.entities) == 31 and embeddings.entity_vectors.shape == (31, 8)
    assert (out / "held_out.tsv").read_text().count("\n") == 3
    assert (out / "manifest.json").is_file()
    # the same command again is refused: nothing is overwritten
    assert main(["knowledge", "transe", "--triples", str(triples), "--out", str(out)]) == 1
    assert "already holds TransE embeddings" in capsys.readouterr().err


def test_an_unknown_relation_is_one_line_and_creates_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["knowledge", "transe", "--relations", "hypernym,is_a", "--out", str(out)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert error.startswith("lmlab: error: --relations: unknown relation 'is_a'; expected one of")
    assert not out.exists()


def test_a_missing_wordnet_folder_is_named(tmp_path, capsys):
    assert main(["knowledge", "transe", "--wordnet", str(tmp_path / "wn"),
                 "--out", str(tmp_path / "run")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "wn/data.noun: no such WordNet file" in error
