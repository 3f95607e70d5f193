"""``lmlab demo`` end to end on PTB with a tiny budget: every row present, in order, with
finite perplexities (the numbers themselves are the README's, from the full budget)."""

from __future__ import annotations

import json
import math

from lmlab.recipes.demo import NEURAL_ROWS, NGRAM_ROWS, run_demo


def test_demo_writes_every_row(shared_data, tmp_path, capsys):
    rows = run_demo(str(tmp_path / "demo"), budget_seconds=6.0, data="ptb")
    labels = [row["model"] for row in rows]
    assert labels == [label for label, _ in NGRAM_ROWS] + [label for label, _, _ in NEURAL_ROWS]
    assert abs(sum(share for _, _, share in NEURAL_ROWS) - 1.0) < 1e-9
    for row in rows:
        for split in ("valid", "test"):
            assert math.isfinite(row[f"{split}_perplexity"]) and row[f"{split}_perplexity"] > 1
    kn5 = rows[1]
    assert kn5["test_perplexity"] == 141.19  # the n-gram rows do not depend on the budget
    neural = rows[len(NGRAM_ROWS):]
    assert all(row["steps"] >= 1 and row["train_seconds"] < 10 for row in neural)
    assert [row["perplexity_kind"] for row in neural][-1] == "masked-token"  # BERT
    saved = json.loads((tmp_path / "demo" / "results.json").read_text())
    assert saved == rows
    assert "| KN5 (modified Kneser-Ney) |" in (tmp_path / "demo" / "results.md").read_text()
    assert "| model | parameters |" in capsys.readouterr().out
