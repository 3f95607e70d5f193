"""``lmlab demo`` end to end with a tiny budget on tiny-shakespeare (a one-file corpus whose
valid/test are line ranges, which the n-gram rows read through ``split_file``): every row
present, in order, with finite perplexities. The README's numbers come from the full
budget on PTB."""

from __future__ import annotations

import json
import math

from lmlab.data.lm_data import split_file, split_lines
from lmlab.recipes.demo import NEURAL_ROWS, NGRAM_ROWS, run_demo


def test_line_range_split_is_written_to_one_file(shared_data):
    path = split_file("tiny-shakespeare", "valid")
    expected = [line.text for line in split_lines("tiny-shakespeare", "valid")]
    assert path.read_text(encoding="utf-8").splitlines() == expected
    assert 1500 < len(expected) < 2500  # 5% of 40,000 lines
    assert split_file("tiny-shakespeare", "valid") == path  # cached
    assert split_file("ptb", "valid").name == "ptb.valid.txt"  # real split files as they are


def test_demo_writes_every_row(shared_data, tmp_path, capsys):
    rows = run_demo(str(tmp_path / "demo"), budget_seconds=6.0, data="tiny-shakespeare")
    labels = [row["model"] for row in rows]
    assert labels == [label for label, _ in NGRAM_ROWS] + [label for label, _, _ in NEURAL_ROWS]
    assert abs(sum(share for _, _, share in NEURAL_ROWS) - 1.0) < 1e-9
    for row in rows:
        for split in ("valid", "test"):
            assert math.isfinite(row[f"{split}_perplexity"]) and row[f"{split}_perplexity"] > 1
    neural = rows[len(NGRAM_ROWS):]
    assert all(row["steps"] >= 1 and row["train_seconds"] < 30 for row in neural)
    assert [row["perplexity_kind"] for row in neural] == ["token"] * 5 + ["masked-token"]
    saved = json.loads((tmp_path / "demo" / "results.json").read_text())
    assert saved == rows
    assert "| KN5 (modified Kneser-Ney) |" in (tmp_path / "demo" / "results.md").read_text()
    report = (tmp_path / "demo" / "report.html").read_text()
    assert "Perplexity vs parameters: results.json" in report and "Loss curves: " in report
    assert "| model | parameters |" in capsys.readouterr().out
