"""``lmlab demo``: train Bengio's NNLM, Mikolov's RNNLM, LSTM-small, GPT-tiny and BERT-tiny
on PTB within a time budget,
add the n-gram baselines, and print/write the comparison table (results.json + .md).

Budgets are wall-clock seconds of training per model (an equal-time comparison); each
model is then evaluated on the full valid and test splits. Perplexities of causal models
(and n-grams) are comparable with each other; the BERT row is masked-token perplexity and
is not (it is labelled so).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lmlab.atomic import write_text
from lmlab.config import load_config
from lmlab.data.lm_data import token_store
from lmlab.evaluation.perplexity import evaluate_perplexity
from lmlab.ngram.run_folder import build_run, evaluate_run_perplexity
from lmlab.presets import preset_path
from lmlab.report.html import build_report
from lmlab.training.checkpoint import load_run
from lmlab.training.trainer import train

NEURAL_ROWS = (  # (label, preset, share of the budget)
    ("NNLM (Bengio 2003), class softmax", "nnlm/ptb", 1 / 6),
    ("RNNLM (Mikolov 2010), class softmax", "rnnlm/ptb", 1 / 6),
    ("LSTM small (Zaremba 2014)", "lstm/small", 1 / 6),
    ("Attention RNN (review eqs. 20-24)", "attention_rnn/ptb", 1 / 6),
    ("GPT tiny (L2/H128)", "gpt/tiny", 1 / 6),
    ("BERT tiny (L2/H128)", "bert/tiny", 1 / 6),
)
NGRAM_ROWS = (("KN3 (modified Kneser-Ney)", 3), ("KN5 (modified Kneser-Ney)", 5))


def _neural_row(label: str, preset: str, seconds: float, data: str, out: Path) -> dict:
    run_dir = out / preset.replace("/", "-")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    config = load_config(preset_path(preset), [
        f"data.dataset={data}", f"train.max_time_s={seconds}", "train.max_steps=1000000",
        "train.max_epochs=0", "train.eval_every=0", "train.checkpoint_every=0",
        "train.log_every=20"])
    print(f"\n== {label}: training for {seconds:.0f} s ==", flush=True)
    result = train(config, run_dir)
    config, tokenizer, model = load_run(run_dir)
    row = {"model": label, "preset": preset, "parameters": model.num_parameters(),
           "train_seconds": round(result.train_seconds, 1), "steps": result.steps,
           "tokens_per_second": round(result.tokens_per_second)}
    for split in ("valid", "test"):
        store = token_store(config.data, tokenizer, split)
        scored = evaluate_perplexity(model, config, tokenizer, store.ids)
        row[f"{split}_perplexity"] = round(scored["perplexity"], 2)
        row["perplexity_kind"] = "masked-token" if scored["kind"] == "masked" else "token"
    return row


def _ngram_rows(data: str, out: Path) -> list[dict]:
    rows = []
    for label, order in NGRAM_ROWS:
        run_dir = out / f"kn{order}"
        print(f"\n== {label}: counting ==", flush=True)
        info = build_run(data, order, run_dir)
        row = {"model": label, "preset": f"ngram -o {order}",
               "parameters": int(sum(info["ngram_counts"])),  # stored n-grams
               "train_seconds": round(info["build_seconds"], 1), "steps": None,
               "tokens_per_second": None, "perplexity_kind": "token"}
        for split in ("valid", "test"):
            row[f"{split}_perplexity"] = round(
                evaluate_run_perplexity(run_dir, data, split)["perplexity"], 2)
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    header = ("| model | parameters | train s | tokens/s | valid ppl | test ppl | ppl kind |\n"
              "|---|---:|---:|---:|---:|---:|---|\n")
    lines = []
    for row in rows:
        def cell(key):
            value = row.get(key)
            return "" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))
        lines.append(f"| {row['model']} | {cell('parameters')} | {cell('train_seconds')} | "
                     f"{cell('tokens_per_second')} | {cell('valid_perplexity')} | "
                     f"{cell('test_perplexity')} | {row['perplexity_kind']} |")
    return header + "\n".join(lines) + "\n"


def run_demo(out: str = "runs/demo", budget_seconds: float = 1000.0, data: str = "ptb") -> list[dict]:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = _ngram_rows(data, out_dir)
    for label, preset, share in NEURAL_ROWS:
        rows.append(_neural_row(label, preset, budget_seconds * share, data, out_dir))
    table = format_table(rows)
    (out_dir / "results.json").write_text(json.dumps(rows, indent=1))
    (out_dir / "results.md").write_text(
        f"# lmlab demo on {data} (training budget {budget_seconds:.0f} s)\n\n{table}")
    write_text(out_dir / "report.html", build_report(out_dir))  # curves and the table as plots
    print("\n" + table)
    print(f"written: {out_dir / 'results.json'}, {out_dir / 'results.md'}, "
          f"{out_dir / 'report.html'}")
    return rows
