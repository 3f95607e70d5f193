"""The knowledge suite's word-level table (issue 21): what each pre-trained row's input
embeddings and heads know about words, beside its GLUE scores.

For every pre-trained unit of ``lmlab compare`` whose suite has a ``lexical`` section:

* the WordNet lexical probe (:func:`lmlab.evaluation.lexical_probe.probe_run`): hypernymy
  detection from the input embeddings, split by synset, mean ± std over ``probe_seeds``;
* SimLex-999 and WordSim-353: Spearman ρ of the cosine of input embeddings
  (:func:`lmlab.wordvec.evaluate.word_pairs`, case-insensitive), with the pairs found;
* supersense accuracy on held-out masked words: SenseBERT's own head
  (:func:`lmlab.evaluation.supersense_accuracy.supersense_accuracy_of_run`); other rows
  have no supersense head and show "—" (the context-free prior is given beside it);
* supersense accuracy of a linear probe on every row's frozen contextual states
  (:func:`lmlab.evaluation.supersense_probe.supersense_probe_of_run`: trained on the
  run's training lines with the allowed sets, scored on held-out lines, first probe seed).

Each unit's result is kept in ``<unit>/lexical.json`` and reused when the compare is run
again; ``lexical.md`` / ``lexical.json`` hold the table.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from lmlab.atomic import write_json
from lmlab.config import to_dict
from lmlab.errors import ConfigError
from lmlab.evaluation.lexical_probe import input_embeddings, probe_run
from lmlab.evaluation.supersense_accuracy import supersense_accuracy_of_run
from lmlab.evaluation.supersense_probe import supersense_probe_of_run
from lmlab.training.checkpoint import load_run
from lmlab.wordvec.evaluate import benchmark_path, word_pairs

LEXICAL_FILE = "lexical.json"
NAMES = {"simlex999": "SimLex-999", "wordsim353": "WS-353"}


def lexical_unit(label: str, run_dir: Path, checks, log) -> dict:
    """The word-level measures of the run in ``run_dir`` (cached in its folder)."""
    path = Path(run_dir) / LEXICAL_FILE
    wanted = json.loads(json.dumps(to_dict(checks)))
    if path.exists():
        done = json.loads(path.read_text())
        if done.get("checks") == wanted:
            return done
    log(f"lexical measures of {label}")
    config, tokenizer, model = load_run(str(run_dir))
    probes = [probe_run(str(run_dir), checks.wordnet or None, checks.test_fraction, seed)
              for seed in checks.probe_seeds]
    accuracies = [100 * p["test_accuracy"] for p in probes]
    words = [tokenizer.id_to_token(i) or "" for i in range(tokenizer.vocab_size)]
    vectors = input_embeddings(model).numpy()
    similarity = {name: word_pairs(words, vectors, benchmark_path(name))
                  for name in checks.similarity}
    supersense = None
    names = [objective.name for objective in config.objectives]
    if checks.supersense_max_tokens and "supersense" in names:
        supersense = supersense_accuracy_of_run(str(run_dir), "valid",
                                                checks.supersense_max_tokens)
    sense_probe = None
    if checks.supersense_probe_tokens:
        sense_probe = supersense_probe_of_run(str(run_dir), checks.probe_seeds[0],
                                              checks.supersense_probe_tokens,
                                              wordnet=checks.wordnet or None)
    result = {"label": label, "checks": wanted,
              "probe": {"mean": round(statistics.fmean(accuracies), 2),
                        "std": round(statistics.stdev(accuracies), 2) if len(accuracies) > 1
                        else 0.0,
                        "majority": round(100 * probes[0]["test_majority"], 2),
                        "test_pairs": probes[0]["test_pairs"],
                        "train_pairs": probes[0]["train_pairs"]},
              "similarity": similarity, "supersense": supersense,
              "supersense_probe": sense_probe}
    write_json(path, result)
    return result


def _similarity_cell(result: dict) -> str:
    if result.get("spearman") is None:
        return f"— ({result['pairs']} pairs)"
    return f"{result['spearman']:.3f} ({result['pairs']} pairs)"


def _accuracy_cell(result: dict | None) -> str:
    if not result:
        return "—"
    return f"{100 * result['accuracy']:.1f} ({100 * result['prior_accuracy']:.1f})"


def lexical_markdown(rows: dict[str, dict], checks) -> str:
    names = list(checks.similarity)
    header = ["model", f"lexical probe acc. (± std, {len(checks.probe_seeds)} splits)",
              *[f"{NAMES[n]} ρ" for n in names], "supersense acc. (prior)",
              "supersense probe acc. (prior)"]
    lines = ["## Word-level knowledge (input embeddings, heads)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, row in rows.items():
        probe = row["probe"]
        sense = row["supersense"]
        sense_cell = _accuracy_cell(sense)
        cells = [label, f"{probe['mean']:.2f} ± {probe['std']:.2f} (majority "
                        f"{probe['majority']:.1f})",
                 *[_similarity_cell(row["similarity"][n]) for n in names], sense_cell,
                 _accuracy_cell(row.get("supersense_probe"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_lexical_tables(out: Path, rows: dict[str, dict], checks) -> None:
    """``lexical.md`` / ``lexical.json``, and the table appended to ``compare.md``."""
    if checks is None:
        return
    if not rows:
        raise ConfigError("lexical: no pre-trained row to measure")
    table = lexical_markdown(rows, checks)
    (out / "lexical.md").write_text(table)
    write_json(out / "lexical.json", {"rows": rows})
    compare = out / "compare.md"
    text = compare.read_text() if compare.exists() else ""
    if table not in text:
        compare.write_text(text.rstrip("\n") + "\n\n" + table)
