"""``lmlab compare suites/crosslingual --quick`` (issue 24): mBERT, XLM (MLM), XLM (MLM+TLM),
XLM-R and Unicoder pre-trained at equal FLOPs (tiny), zero-shot SST-2 -> ChnSentiCorp with
the supervised ceiling, retrieval acc@1; the Markdown + JSON table and the verdict line;
the suite file's errors. Runs in well under a minute once the vocabularies are cached."""

import json

import pytest

from lmlab.cli import main
from lmlab.errors import ConfigError
from lmlab.recipes.crosslingual_suite import (load_crosslingual_suite, markdown_table,
                                              verdict_line)

LABELS = ["mBERT", "XLM (MLM)", "XLM (MLM+TLM)", "XLM-R", "Unicoder"]


def test_quick_suite_runs_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "crosslingual"
    assert main(["compare", "suites/crosslingual", "--quick", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    table = json.loads((out / "crosslingual.json").read_text())
    assert [row["label"] for row in table["rows"]] == LABELS
    assert table["quick"] is True and table["budget_flops"] == 1.0e8
    for row in table["rows"]:
        assert row["steps"] >= 1
        assert set(row["transfer"]) >= {"source_dev", "zero_shot", "supervised"}
        assert row["retrieval"]["pairs"] == 500
        assert 0 <= row["retrieval"]["source_to_target"] <= 100
    # equal FLOPs: TLM's second pass and Unicoder's four extra passes cost steps
    flops = {row["label"]: row["flops_per_step"] for row in table["rows"]}
    assert flops["XLM (MLM+TLM)"] > flops["XLM (MLM)"] and flops["Unicoder"] > flops["XLM (MLM+TLM)"]
    markdown = (out / "crosslingual.md").read_text()
    assert "| Unicoder | mlm (dynamic) + tlm + xwr + xpc + xmlm |" in markdown
    assert "XLM (MLM+TLM) vs XLM (MLM) at equal FLOPs" in result["verdict"]


def _row(label, retrieval, zero_shot):
    score = {"mean": zero_shot, "std": 0.0}
    return {"label": label, "objectives": "mlm", "steps": 10,
            "transfer": {"source_dev": score, "zero_shot": score, "supervised": score},
            "retrieval": {"source_to_target": retrieval, "target_to_source": retrieval,
                          "mean": retrieval}}


def test_verdict_and_table_exact():
    suite = load_crosslingual_suite("crosslingual", quick=True)
    rows = [_row("XLM (MLM)", 2.0, 50.0), _row("XLM (MLM+TLM)", 7.5, 49.0)]
    assert verdict_line(suite, rows).endswith(
        "retrieval acc@1 (mean of both directions) +5.5 points, zero-shot -1.0 points: "
        "the claim does not hold here.")
    assert "| XLM (MLM+TLM) | mlm | 10 | 49.0 ± 0.0 | 49.0 ± 0.0 | 49.0 ± 0.0 | 7.5 | 7.5 |" \
        in markdown_table(suite, rows)


def test_suite_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: crosslingual\npresets: [{preset: xlm/tiny, label: A}]\n"
                   "verdict: [A, B]\n")
    with pytest.raises(ConfigError, match=r"verdict: two labels from presets \(A\)"):
        load_crosslingual_suite(str(bad))
    bad.write_text("kind: crosslingual\npresets: []\n")
    with pytest.raises(ConfigError, match="presets: list at least one preset"):
        load_crosslingual_suite(str(bad))
