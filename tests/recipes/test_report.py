"""``lmlab report``: every plot's data equals its source, bad input is one line, and the
page renders in a real headless Chromium without console errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lmlab.cli import main

RESULTS = Path(__file__).parents[2] / "bench" / "results"
TRAIN_ROWS = [{"step": 10, "loss": 5.5, "lr": 1e-3}, {"step": 20, "loss": 5.0, "lr": 1e-3},
              {"step": 20, "eval_loss": 5.2, "eval_perplexity": 181.3},
              {"step": 30, "loss": 4.75, "lr": 1e-3},
              {"step": 30, "eval_loss": 4.9, "eval_perplexity": 134.3, "final": True}]


COMPRESSION = {"kind": "compression", "suite": "compression", "rows": [
    {"method": "teacher (fp32)", "task": "glue/sst2", "score": 89.79, "percent_of_teacher": 100.0,
     "size_mb": 90.9, "latency_ms_b1": 12.5, "throughput_b32": 160.0, "speedup_b32": 1.0},
    {"method": "KD 3-layer", "task": "glue/sst2", "score": 87.5, "percent_of_teacher": 97.4,
     "size_mb": 69.6, "latency_ms_b1": 6.5, "throughput_b32": 310.0, "speedup_b32": 1.94}]}


@pytest.fixture
def results(tmp_path) -> Path:
    folder = tmp_path / "results"
    run = folder / "runs" / "gpt-tiny"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in TRAIN_ROWS) + '{"step": 40, "lo')  # torn
    (run / "checkpoint" / "tokenizer").mkdir(parents=True)
    (run / "checkpoint" / "tokenizer" / "tokenizer.json").write_text("[{\"valid_perplexity\": 1}]")
    shutil.copytree(RESULTS / "compare_objectives_tiny_2e13", folder / "compare")
    shutil.copy(RESULTS / "demo.json", folder / "demo.json")
    shutil.copy(RESULTS / "word2vec.json", folder / "word2vec.json")
    (folder / "other.json").write_text("{not json")  # not a source: skipped
    (folder / "compression").mkdir()
    (folder / "compression" / "tables.json").write_text(json.dumps(COMPRESSION))
    return folder


def _plot_data(page: str) -> dict[str, dict]:
    blocks = re.findall(r"<script type='application/json' class='plot-data'>(.*?)</script>",
                        page, flags=re.S)
    return {data["title"]: data for data in map(json.loads, blocks)}


def _build(results: Path, out: Path) -> str:
    assert main(["report", str(results), "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_every_plot_draws_exactly_its_source(results, tmp_path):
    page = _build(results, tmp_path / "report.html")
    plots = _plot_data(page)
    curves = plots["Loss curves: runs/gpt-tiny"]
    assert curves["train"] == [[10, 5.5], [20, 5.0], [30, 4.75]]
    assert curves["held_out"] == [[20, 5.2], [30, 4.9]]

    table2 = json.loads((results / "compare" / "table2.json").read_text())
    bars = plots["Table 2 average (mean ± std over seeds): compare"]
    expected = {label: row["average"] for label, row in table2["rows"].items() if row["average"]}
    assert bars["labels"] == list(expected)
    assert bars["mean"] == [average["mean"] for average in expected.values()]
    assert bars["std"] == [average["std"] for average in expected.values()]

    demo = json.loads((results / "demo.json").read_text())
    perplexity = plots["Perplexity vs parameters: demo.json"]
    assert perplexity["valid_perplexity"] == [row["valid_perplexity"] for row in demo]
    assert perplexity["parameters"] == [row["parameters"] for row in demo]

    summary = json.loads((results / "word2vec.json").read_text())["summary"]
    drawn = {(label, score): value for label, score, value in
             plots["Word-embedding benchmarks: word2vec.json"]["bars"]}
    assert drawn[("skipgram-hs lmlab", "wordsim353")] == summary["skipgram-hs"]["lmlab"]["wordsim353"]
    scored = [(setup, who) for setup, by_who in summary.items() for who, result in by_who.items()
              if isinstance(result, dict) and "wordsim353" in result]
    assert {label for label, _ in drawn} == {f"{setup} {who}" for setup, who in scored}
    tradeoff = plots["Compression trade-off: compression/tables.json"]
    rows = COMPRESSION["rows"]
    assert tradeoff["labels"] == [row["method"] for row in rows]
    for key in ("percent_of_teacher", "speedup_b32", "size_mb"):
        assert tradeoff[key] == [row[key] for row in rows]
    assert "<td>KD 3-layer</td><td>glue/sst2</td><td>87.50</td><td>97.4</td>" in page
    # Nothing is fetched: the page has no external references.
    assert not re.search(r"(src|href)=['\"]https?:", page)


def test_bad_input_is_one_line(results, tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "a.html")]) != 0
    assert "no such file or folder to report on" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "a.html")]) != 0
    assert "nothing to report" in capsys.readouterr().err
    (tmp_path / "taken.html").write_text("mine")
    assert main(["report", str(results), "--out", str(tmp_path / "taken.html")]) != 0
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "taken.html").read_text() == "mine"
    broken = results / "compare" / "table2.json"
    broken.write_text("{")
    assert main(["report", str(results), "--out", str(tmp_path / "b.html")]) != 0
    assert "table2.json:1: not valid JSON" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (.ci/run installs Debian's "
                                             "chromium package where it runs as root)")
def test_the_page_renders_in_headless_chromium_without_console_errors(results, tmp_path):
    out = tmp_path / "report.html"
    _build(results, out)
    screenshot = tmp_path / "report.png"
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--enable-logging=stderr", "--v=0", "--window-size=1100,1400",
                           f"--screenshot={screenshot}", out.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert screenshot.exists() and screenshot.stat().st_size > 20_000, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
