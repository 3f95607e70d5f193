"""``lmlab compare`` on a compression suite (Tables 6-7) with a tiny teacher run."""

import json

import pytest
import yaml

from lmlab.cli import main
from lmlab.errors import ConfigError
from lmlab.recipes.compress_suite import load_compression_suite


def _suite(tmp_path, teacher, methods) -> str:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tiny", "kind": "compression", "tasks": ["glue/wnli"],
        "teacher": {"path": str(teacher)}, "methods": methods,
        "method_settings": {"epochs": 0.5, "batch_size": 16, "student_layers": 1},
        "speed": {"sentences": 8, "batch_size": 4, "repeats": 1}}))
    return str(path)


def test_tables_6_and_7_from_a_teacher_run(finetuned_run, tmp_path, capsys):
    suite = _suite(tmp_path, finetuned_run, [
        {"label": "k-means 2-bit", "method": "kmeans", "settings": {"bits": 2},
         "compresses": "codebooks"},
        {"label": "KD 1-layer", "method": "kd", "compresses": "layers 2 -> 1"}])
    out = tmp_path / "out"
    assert main(["compare", suite, "--out", str(out)]) == 0
    tables = json.loads((out / "tables.json").read_text())
    rows = {row["method"]: row for row in tables["rows"]}
    assert list(rows) == ["teacher (fp32)", "k-means 2-bit", "KD 1-layer"]
    teacher, kd = rows["teacher (fp32)"], rows["KD 1-layer"]
    assert teacher["percent_of_teacher"] == 100.0 and teacher["speedup_b32"] == 1.0
    assert kd["student"].startswith("1L,") and kd["params"] < teacher["params"]
    assert kd["compresses"] == "layers 2 -> 1"
    summary = json.loads((out / "runs" / "glue_wnli" / "kd_1_layer" / "compression.json")
                         .read_text())
    assert summary["settings"]["student_layers"] == 1 and summary["settings"]["epochs"] == 0.5
    capsys.readouterr()
    assert main(["evaluate", kd["run"], "--split", "dev"]) == 0  # the table's score is evaluate's
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(kd["score"], abs=0.01)
    for row in rows.values():
        assert row["latency_ms_b1"] > 0 and row["throughput_b32"] > 0 and row["sentences"] == 8
    table7 = (out / "table7.md").read_text().splitlines()
    assert len(table7) >= 5 and table7[2].startswith("| teacher (fp32) | glue/wnli |")
    assert "| KD 1-layer |" in (out / "table6.md").read_text()
    # finished units are kept: a second run reuses the compressed runs
    stamp = (out / "runs" / "glue_wnli" / "kd_1_layer" / "compression.json").stat().st_mtime
    assert main(["compare", suite, "--out", str(out)]) == 0
    assert (out / "runs" / "glue_wnli" / "kd_1_layer" / "compression.json").stat().st_mtime == stamp


def test_a_bad_method_row_fails_before_any_work(finetuned_run, tmp_path):
    suite = _suite(tmp_path, finetuned_run, [{"label": "x", "method": "kd",
                                              "settings": {"alpha": 3}}])
    with pytest.raises(ConfigError, match="--set alpha=3: must be in"):
        load_compression_suite(suite)
    suite = _suite(tmp_path, finetuned_run, [{"label": "x", "method": "distil"}])
    with pytest.raises(ConfigError, match="--method: bad value 'distil'"):
        load_compression_suite(suite)


def test_the_packaged_suite_loads_full_and_quick():
    full = load_compression_suite("suites/compression")
    quick = load_compression_suite("suites/compression", quick=True)
    assert full.tasks == ["glue/sst2"] and quick.tasks == ["glue/wnli"]
    assert quick.method_settings["max_train_examples"] == 64
    assert quick.method_settings["general_examples"] == 64
    assert {entry.method for entry in full.methods} >= {"l0_heads", "rpp", "albert_share", "bnn"}
    assert {"general_epochs", "pretrain_epochs"} <= {name for entry in full.methods
                                                    for name in entry.settings}
    assert {entry.method for entry in full.methods} >= {"kd", "pkd", "tinybert", "kmeans"}
    assert any(entry.method == "tinybert" and entry.settings.get("general_epochs")
               for entry in full.methods)  # TinyBERT general + task
