"""``lmlab compare --quick``: tables with the right rows and columns, finite numbers,
equal-FLOPs step counts, resumable units, clear errors for missing presets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from lmlab.errors import ConfigError
from lmlab.presets import suite_path
from lmlab.recipes.compare import BOW, UNTRAINED, run_compare
from lmlab.recipes.compare_suite import load_suite, row_options, task_options
from lmlab.report.compare_tables import verdict_line

def _suite(tmp_path: Path, presets: list[str]) -> Path:
    raw = yaml.safe_load(suite_path("suites/objectives").read_text())
    raw["presets"] = [p for p in raw["presets"] if p["preset"] in presets] or \
        [{"preset": p, "label": p} for p in presets]
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, tiny_corpus):
    folder = tmp_path_factory.mktemp("compare")
    suite = _suite(folder, ["bert/tiny", "electra/tiny"])
    out = folder / "out"
    run_compare(str(suite), str(out), quick=True, overrides=[f"data.dataset={tiny_corpus}"],
                log=lambda message: None)
    return suite, out, tiny_corpus


def test_table1_rows_and_equal_flops_steps(quick_run):
    _, out, _ = quick_run
    table1 = json.loads((out / "table1.json").read_text())
    rows = {row["label"]: row for row in table1["rows"]}
    assert list(rows) == ["BERT", "ELECTRA"]
    budget = table1["budget_flops"]
    for row in rows.values():
        assert row["steps"] == max(1, int(budget // row["flops_per_step"]))
        assert math.isfinite(row["final_loss"]) and math.isfinite(row["valid_loss"])
    # ELECTRA pays for its generator and its discriminator sees every position: a costlier
    # step than BERT's MLM (masked positions only) + NSP, hence fewer steps for one budget.
    assert rows["ELECTRA"]["flops_per_step"] > rows["BERT"]["flops_per_step"]
    assert rows["ELECTRA"]["steps"] < rows["BERT"]["steps"]
    markdown = (out / "table1.md").read_text()
    assert "| Model | Preset | Structure | Objectives |" in markdown
    assert "FlopCounterMode" in markdown


def test_table2_rows_columns_and_finite_scores(quick_run):
    _, out, _ = quick_run
    table2 = json.loads((out / "table2.json").read_text())
    assert list(table2["rows"]) == ["BERT", "ELECTRA", UNTRAINED, BOW]
    assert table2["tasks"] == ["glue/sst2", "glue/mrpc"]
    for label, row in table2["rows"].items():
        assert set(row["tasks"]) == {"glue/sst2", "glue/mrpc"}, label
        for result in row["tasks"].values():
            for value in result["scores"].values():
                assert math.isfinite(value["mean"]) and math.isfinite(value["std"])
        if label != BOW:
            assert row["average"]["seeds"] == 1
    markdown = (out / "table2.md").read_text()
    assert "| Model | SST-2 (Acc) | MRPC (F1/Acc) | Avg |" in markdown
    lines = [line for line in markdown.splitlines() if line.startswith("| ")][1:]
    assert [line.split(" | ")[0][2:] for line in lines] == ["BERT", "ELECTRA", UNTRAINED, BOW]
    assert "Verdict (ELECTRA vs BERT" in markdown


def test_rerun_skips_finished_units(quick_run):
    suite, out, corpus = quick_run
    messages: list[str] = []
    run_compare(str(suite), str(out), quick=True, overrides=[f"data.dataset={corpus}"],
                log=messages.append)
    assert sum("skipped" in m for m in messages) == 2
    assert not any(m.startswith("fine-tune") for m in messages)
    # A finished unit is never reused for another budget or fine-tuning protocol.
    with pytest.raises(ConfigError, match="another config or budget"):
        run_compare(str(suite), str(out), budget=1e9, quick=True,
                    overrides=[f"data.dataset={corpus}"], log=lambda m: None)
    with pytest.raises(ConfigError, match="other options"):
        run_compare(str(suite), str(out), quick=True, overrides=[f"data.dataset={corpus}"],
                    log=lambda m: None, suite_overrides=["finetune.lr=0.001"])
    # A config key added to lmlab since (here: a fingerprint of another dump) is no
    # difference: the unit's own checkpoint config, read with today's schema, decides.
    for unit in (out / "pretrain").glob("*/unit.json"):
        unit.write_text(unit.read_text().replace('"fingerprint": "', '"fingerprint": "0'))
    messages.clear()
    run_compare(str(suite), str(out), quick=True, overrides=[f"data.dataset={corpus}"],
                log=messages.append)
    assert sum("skipped" in m for m in messages) == 2
    with pytest.raises(ConfigError, match="another config or budget"):  # a real change
        run_compare(str(suite), str(out), quick=True, log=lambda m: None,
                    overrides=[f"data.dataset={corpus}", "train.lr=0.123"])


def test_missing_preset_is_named(tmp_path):
    suite = _suite(tmp_path, ["nosuch/tiny"])
    with pytest.raises(ConfigError, match="nosuch/tiny"):
        run_compare(str(suite), str(tmp_path / "out"), quick=True, log=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_suite_files_load():
    suite = load_suite("suites/objectives")
    assert [e.preset for e in suite.presets] == [
        "bert/tiny", "roberta/tiny", "bert_wwm/tiny", "spanbert/tiny", "structbert/tiny",
        "albert/tiny", "electra/tiny", "unilm/tiny", "xlnet/tiny"]
    assert suite.verdict == ["BERT", "ELECTRA"] and len(suite.finetune.seeds) >= 2
    quick = load_suite("suites/objectives", quick=True)
    assert quick.budget_flops < suite.budget_flops and quick.finetune.seeds == [0]
    assert quick.overrides[:len(suite.overrides)] == suite.overrides
    assert quick.finetune.lr == suite.finetune.lr  # quick replaces only the keys it names
    changed = load_suite("suites/objectives", quick=True,
                         suite_overrides=["finetune.seeds=[1, 2]", "tasks=[glue/rte]"])
    assert changed.finetune.seeds == [1, 2] and changed.tasks == ["glue/rte"]
    with pytest.raises(ConfigError, match="finetune.sedes"):
        load_suite("suites/objectives", suite_overrides=["finetune.sedes=[1]"])
    zh = load_suite("suites/objectives_zh")
    assert zh.tasks == ["clue/chnsenticorp", "clue/lcqmc", "clue/xnli"]
    lcqmc = task_options(zh, "clue/lcqmc")  # dev-only task: halves of dev
    assert (lcqmc.train_split, lcqmc.dev_split) == ("dev[:50%]", "dev[50%:]")
    senti = task_options(zh, "clue/chnsenticorp")
    assert (senti.train_split, senti.dev_split) == ("train", "dev")
    assert lcqmc.seeds == senti.seeds == zh.finetune.seeds


def test_every_task_of_the_suites_runs_on_the_shared_data(shared_data):
    """The issue's seven GLUE tasks (QNLI from halves of its dev file) and the three
    Chinese ones are all found, so a full run leaves no task out."""
    from lmlab.recipes.benchmark import split_available

    for name, expected in [("suites/objectives", 7), ("objectives_zh", 3)]:
        suite = load_suite(name)
        found = []
        for task in suite.tasks:
            present, lacking = split_available([task], task_options(suite, task))
            assert not lacking, f"{name}: {lacking}"
            found += present
        assert len(found) == len(suite.tasks) == expected
    qnli = task_options(load_suite("suites/objectives"), "glue/qnli")
    assert (qnli.train_split, qnli.dev_split) == ("dev[:50%]", "dev[50%:]")


def test_task_splits_must_name_listed_tasks_and_valid_slices():
    with pytest.raises(ConfigError, match=r"task_splits\[0\]\.task: unknown task 'glue/lcqmc'; "
                                          r"did you mean clue/lcqmc"):
        load_suite("suites/objectives_zh",
                   suite_overrides=['task_splits=[{task: glue/lcqmc, train: "dev[:50%]"}]'])
    # An entry for a known task the run leaves out is unused, not an error: narrowing
    # ``tasks`` (as --quick does) keeps the suite's split table.
    narrowed = load_suite("suites/objectives", suite_overrides=["tasks=[glue/rte]"])
    assert task_options(narrowed, "glue/rte").train_split == "train"
    with pytest.raises(ConfigError, match=r"task_splits\[0\]\.dev: .*dev\[:50%\]"):
        load_suite("suites/objectives_zh",
                   suite_overrides=['task_splits=[{task: clue/lcqmc, dev: "dev[:half]"}]'])


def test_verdict_line_judges_the_gap_against_the_spread():
    def row(scores_by_seed):
        return {"glue/sst2": {"runs": [{"seed": s, "best": {"accuracy": v}}
                                       for s, v in scores_by_seed.items()]}}
    rows = {"BERT": row({1: 70.0, 2: 72.0}), "ELECTRA": row({1: 80.0, 2: 82.0}),
            "floor": row({1: 50.0, 2: 50.0})}
    line = verdict_line(rows, ["glue/sst2"], ["BERT", "ELECTRA"], "paper: 79.9 vs 75.1", "floor")
    assert line.startswith("Verdict (ELECTRA vs BERT at equal training FLOPs; paper: 79.9 vs 75.1)")
    assert "81.0 ± 1.4 vs 71.0 ± 1.4 over 2 seed(s), gap +10.0" in line
    assert "ELECTRA is ahead by more than the seeds' spread" in line
    assert "untrained" not in line
    rows["ELECTRA"] = row({1: 71.0, 2: 73.0})
    assert "within the seeds' spread" in verdict_line(rows, ["glue/sst2"], ["BERT", "ELECTRA"])
    rows["floor"] = row({1: 71.0, 2: 72.0})
    assert "neither is clearly above the untrained encoder (71.5 ± 0.7)" in verdict_line(
        rows, ["glue/sst2"], ["BERT", "ELECTRA"], floor="floor")


def test_table2_names_the_splits_of_dev_only_tasks():
    from lmlab.report.compare_tables import table2_markdown
    table = table2_markdown({"BERT": {}}, ["clue/lcqmc"], {}, "",
                            {"clue/lcqmc": ("dev[:50%]", "dev[50%:]")})
    assert "clue/lcqmc: fine-tuned on `dev[:50%]`, scored on `dev[50%:]`." in table
    assert "fine-tuned on" not in table2_markdown({"BERT": {}}, ["clue/lcqmc"], {}, "")


def test_seq2seq_suite_compares_objectives_on_one_architecture(tmp_path, tiny_corpus):
    """suites/seq2seq (issue 18): each row's own overrides swap the objective on bart/tiny;
    every row pre-trains at the budget and is fine-tuned to generate headlines (ROUGE)."""
    suite = load_suite("suites/seq2seq", quick=True)
    labels = [entry.label for entry in suite.presets]
    assert labels[:2] == suite.verdict == ["BART token masking", "BART text infilling"]
    assert len(labels) == 10 and suite.tasks == ["gen/ag_news_headlines"]
    raw = yaml.safe_load(suite_path("suites/seq2seq").read_text())
    raw["presets"] = [p for p in raw["presets"]
                      if p["label"] in ("BART text infilling", "MASS", "UniLM")]
    raw["verdict"] = []
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "out"
    run_compare(str(path), str(out), quick=True, overrides=[f"data.dataset={tiny_corpus}"],
                log=lambda message: None)
    rows = {row["label"]: row for row in json.loads((out / "table1.json").read_text())["rows"]}
    assert rows["MASS"]["objectives"].startswith("mass") and rows["MASS"]["preset"] == "bart/tiny"
    assert rows["BART text infilling"]["objectives"] == "bart (text infilling)"
    table2 = json.loads((out / "table2.json").read_text())
    assert list(table2["rows"]) == ["BART text infilling", "MASS", "UniLM", UNTRAINED]
    for row in table2["rows"].values():
        scores = row["tasks"]["gen/ag_news_headlines"]["scores"]
        assert list(scores) == ["rougeL", "rouge1", "rouge2"]
        assert all(0 <= value["mean"] <= 100 for value in scores.values())
    assert "AG-Headline (R-L/R-1/R-2)" in (out / "table2.md").read_text()
    assert "Valid ppl" in (out / "table1.md").read_text()


def test_a_row_may_pool_its_own_way():
    """XLNet's row fine-tunes with pooling: last, every other row with the suite's."""
    suite = load_suite("suites/objectives")
    entries = {entry.label: entry for entry in suite.presets}
    options = task_options(suite, "glue/sst2")
    assert options.pooling == "cls"
    assert row_options(options, entries["XLNet"]).pooling == "last"
    assert row_options(options, entries["BERT"]) is options
    assert row_options(options, None) is options  # the untrained floor
    with pytest.raises(ConfigError, match=r"presets\[0\]\.pooling"):
        load_suite("suites/objectives", suite_overrides=["presets=[{preset: xlnet/tiny, pooling: first}]"])
