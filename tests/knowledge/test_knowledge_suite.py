"""``lmlab compare suites/knowledge --quick`` (issue 21): Table 1-2 rows and the word-level
table (lexical probe, SimLex-999 / WS-353 from input embeddings, supersense accuracy)."""

from __future__ import annotations

import json
import math

import pytest

from lmlab.errors import ConfigError
from lmlab.recipes.compare import run_compare
from lmlab.recipes.compare_suite import load_suite

QUICK_ROWS = ["BERT", "LIBERT", "SenseBERT", "ERNIE 2.0"]


def test_suite_file_lists_every_knowledge_model_at_one_size():
    suite = load_suite("suites/knowledge")
    assert [e.label for e in suite.presets] == QUICK_ROWS + ["ERNIE-THU", "KnowBERT"]
    assert "data.tokenizer.lowercase=false" in suite.overrides
    assert suite.lexical.similarity == ["simlex999", "wordsim353"]
    assert suite.lexical.probe_seeds == [0, 1, 2]
    quick = load_suite("suites/knowledge", quick=True)
    assert [e.label for e in quick.presets] == QUICK_ROWS
    assert quick.lexical.probe_seeds == [0] and quick.lexical.test_fraction == 0.05
    assert suite.lexical.supersense_probe_tokens == 20000
    assert quick.lexical.supersense_probe_tokens == 2000
    with pytest.raises(ConfigError, match="lexical.supersense_probe_tokens: must be >= 0"):
        load_suite("suites/knowledge", suite_overrides=["lexical.supersense_probe_tokens=-1"])
    with pytest.raises(ConfigError, match="lexical.probe_seeds: list at least one seed"):
        load_suite("suites/knowledge", suite_overrides=["lexical.probe_seeds=[]"])


@pytest.mark.usefixtures("wordnet")
def test_quick_knowledge_suite_writes_the_three_tables(tmp_path, tiny_corpus):
    out = tmp_path / "knowledge"
    run_compare("suites/knowledge", str(out), quick=True,
                overrides=[f"data.dataset={tiny_corpus}"], log=lambda message: None)
    table1 = (out / "table1.md").read_text()
    assert all(f"| {label} |" in table1 for label in QUICK_ROWS)
    assert "reorder (m=3) + mlm (spans, static) + sd + tdr + cap" in table1
    rows = json.loads((out / "lexical.json").read_text())["rows"]
    assert list(rows) == QUICK_ROWS
    for label, row in rows.items():
        assert 0 <= row["probe"]["mean"] <= 100 and row["probe"]["test_pairs"] > 0
        assert set(row["similarity"]) == {"simlex999", "wordsim353"}
        assert row["similarity"]["simlex999"]["pairs"] > 0
        assert (row["supersense"] is not None) == (label == "SenseBERT")
        assert row["supersense_probe"]["method"] == "probe"  # every row, head or not
        assert 0 <= row["supersense_probe"]["accuracy"] <= 1
    assert 0 <= rows["SenseBERT"]["supersense"]["accuracy"] <= 1
    lexical = (out / "lexical.md").read_text().splitlines()
    assert lexical[2] == ("| model | lexical probe acc. (± std, 1 splits) | SimLex-999 ρ | "
                          "WS-353 ρ | supersense acc. (prior) | supersense probe acc. (prior) |")
    assert lexical[4].startswith("| BERT | ") and " | — | " in lexical[4]
    assert not lexical[4].endswith(" | — |")  # BERT has no head, but a probe
    assert "## Word-level knowledge" in (out / "compare.md").read_text()
    scores = json.loads((out / "table2.json").read_text())
    assert all(math.isfinite(v) for v in _numbers(scores))


def _numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value
