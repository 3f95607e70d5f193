"""``lmlab compare suites/crosslingual``: the review's §5.4 comparison made runnable (issue 24).

Every preset of the suite (mBERT, XLM with MLM, XLM with MLM + TLM, XLM-R, Unicoder) is
pre-trained at the same training FLOPs (``budget_flops``, counted on a real batch, every
objective's passes included: :func:`lmlab.recipes.compare.pretrain_unit`), then

* zero-shot transfer (:func:`lmlab.recipes.zero_shot.zero_shot`): fine-tuned on the
  ``source`` task (English SST-2), the checkpoint chosen on its dev split, scored unchanged
  on the ``target`` task (ChnSentiCorp dev); with ``supervised`` also the target-language
  ceiling (fine-tuned on the target's own train split). Mean ± std over the seeds;
* sentence retrieval (:mod:`lmlab.recipes.retrieval`): accuracy@1 in both directions on
  the 500 held-out news-commentary pairs, mean-pooled layer-``retrieval_layer`` states;
* with ``bootstrap.preset``, MultiFiT's cross-lingual bootstrapping row
  (:mod:`lmlab.recipes.bootstrap_row`): a monolingual target LM pre-trained at the same
  FLOPs, fine-tuned on the target texts labelled by the best zero-shot row's source-task
  run (or ``bootstrap.teacher``), with its own supervised ceiling.

Writes ``crosslingual.md`` (Markdown) and ``crosslingual.json``; the verdict line tests the
papers' claim that TLM helps retrieval and transfer over MLM alone (``verdict``: the two
labels). Re-running the same command continues: finished units are skipped.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from lmlab.atomic import write_json, write_text
from lmlab.config import load_config, load_raw
from lmlab.crosslingual.parallel import DEFAULT_PARALLEL, HELD_OUT_PAIRS
from lmlab.data.lm_data import split_lines
from lmlab.errors import ConfigError
from lmlab.finetune.config import FinetuneOptions
from lmlab.outputs import prepare_output_folder
from lmlab.presets import preset_path, suite_path
from lmlab.recipes.bootstrap_row import (BootstrapRow, best_teacher, bootstrap_transfer,
                                         bootstrap_verdict)
from lmlab.recipes.compare import pretrain_unit, run_configs
from lmlab.recipes.compare_suite import SuiteEntry, load_suite_file
from lmlab.recipes.crosslingual_transfers import (TransferPair, extra_transfers,
                                                  first_pair_translation, transfer_section)
from lmlab.recipes.retrieval import retrieval_of_run
from lmlab.recipes.zero_shot import zero_shot
from lmlab.training.checkpoint import CHECKPOINT

KIND = "crosslingual"


@dataclass
class CrosslingualSuite:
    kind: str = KIND
    name: str = "crosslingual"
    presets: list[SuiteEntry] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    """``KEY=VALUE`` overrides of every preset (one size, batch, sequence length)."""
    budget_flops: float = 1.0e14
    """Training FLOPs of every pre-training run (all its objectives' passes)."""
    warmup_ratio: float = 0.1
    checkpoint_every: int = 200
    source: str = "glue/sst2"
    target: str = "clue/chnsenticorp"
    target_split: str = "dev"
    supervised: bool = True
    """Add the target-supervised ceiling (fine-tuned on the target's train split)."""
    translate_train: bool = False
    """Add the translate-train row to the first pair (a word-by-word lexicon translation
    of the source's train / dev sets, not MT: :mod:`lmlab.recipes.translate_train`)."""
    multi_language: list[str] = field(default_factory=list)
    """Labels of the presets that also get Unicoder's multi-language fine-tuning row
    (Huang et al. 2019 §3.5: source and its lexicon translation together)."""
    transfers: list[TransferPair] = field(default_factory=list)
    """More transfer directions, one column each (:mod:`lmlab.recipes.crosslingual_transfers`)."""
    squad_file: str = ""
    """An English SQuAD v1.1 file, the target of ``target_split: squad_file`` pairs
    ("" = none: their cells say "no English QA file")."""
    finetune: FinetuneOptions = field(default_factory=FinetuneOptions)
    parallel: str = DEFAULT_PARALLEL
    held_out: int = HELD_OUT_PAIRS
    retrieval_layer: int = -1
    retrieval_max_len: int = 128
    verdict: list[str] = field(default_factory=list)
    """``[baseline, challenger]`` labels compared in one line (XLM MLM vs MLM + TLM)."""
    bootstrap: BootstrapRow = field(default_factory=BootstrapRow)
    """MultiFiT's bootstrapping row (Eisenschlos et al. 2019 §3.3); no ``preset``: none."""
    corpus_lines: int = 0
    """Pre-train on the first N train lines of each mixed corpus (N // 10 valid and test
    lines) instead of the whole corpora: ``--quick`` (vocabularies and token stores of
    the full corpora take minutes to build). 0: the whole corpora."""

    def validate(self, path: str) -> None:
        labels = [entry.label or entry.preset for entry in self.presets]
        if not labels:
            raise ConfigError(f"{path}.presets: list at least one preset")
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{path}.presets: labels must be unique, got {labels}")
        if self.budget_flops <= 0:
            raise ConfigError(f"{path}.budget_flops: must be > 0")
        if self.corpus_lines < 0:
            raise ConfigError(f"{path}.corpus_lines: must be >= 0")
        unknown = [label for label in self.multi_language if label not in labels]
        if unknown:
            raise ConfigError(f"{path}.multi_language: {unknown} are not presets "
                              f"({', '.join(labels)})")
        if self.verdict and (len(self.verdict) != 2
                             or any(label not in labels for label in self.verdict)):
            raise ConfigError(f"{path}.verdict: two labels from presets ({', '.join(labels)})")


def is_crosslingual_suite(name_or_path: str) -> bool:
    return load_raw(suite_path(name_or_path)).get("kind") == KIND


def _append_overrides(raw: dict, value) -> None:
    raw["overrides"] = list(raw.get("overrides") or []) + list(value)


def load_crosslingual_suite(name_or_path: str, quick: bool = False,
                            suite_overrides: list[str] = ()) -> CrosslingualSuite:
    """The suite; under ``quick`` its quick ``overrides`` are added after the main ones."""
    return load_suite_file(name_or_path, CrosslingualSuite, quick, suite_overrides,
                           special={"overrides": _append_overrides})


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")


def _cut(name: str, lines: int, folder: Path) -> str:
    target = folder / f"{_slug(name)}-{lines}"
    if not (target / "test.txt").exists():
        target.mkdir(parents=True, exist_ok=True)
        for split, count in (("train", lines), ("valid", max(1, lines // 10))):
            texts = [line.text for line in islice(split_lines(name, split), count)]
            write_text(target / f"{split}.txt", "".join(f"{t}\n" for t in texts))
        write_text(target / "test.txt", (target / "valid.txt").read_text("utf-8"))
    return str(target)


def cut_corpora(configs: dict, lines: int, folder: Path) -> None:
    """Point every corpus of ``configs`` (each mixed one, or the one ``data.dataset``) at a
    copy of its first ``lines`` train lines and ``lines // 10`` valid lines under
    ``folder`` (test.txt repeats the valid lines: test sets are held back from
    ``$LMLAB_DATA``, and the suite scores no test split)."""
    for config in configs.values():
        if config.data.dataset != "mix":
            config.data.dataset = _cut(config.data.dataset, lines, folder)
        for corpus in config.data.datasets if config.data.dataset == "mix" else []:
            corpus.name = _cut(corpus.name, lines, folder)


def _cached(path: Path, compute) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    result = compute()
    write_json(path, result)
    return result


def _score(value: dict | None) -> str:
    return "–" if value is None else f"{value['mean']:.1f} ± {value['std']:.1f}"


def markdown_table(suite: CrosslingualSuite, rows: list[dict]) -> str:
    """Method × (steps, source dev, zero-shot, supervised ceiling, retrieval acc@1)."""
    lines = [f"Pre-training: {suite.budget_flops:.3g} training FLOPs per model. Transfer "
             f"{suite.source} -> {suite.target}/{suite.target_split} (mean ± std over seeds "
             f"{suite.finetune.seeds}); retrieval: accuracy@1 on the {suite.held_out} held-out "
             f"pairs, layer {suite.retrieval_layer}, mean-pooled, cosine.", "",
             f"| method | objectives | steps | {suite.source} dev | zero-shot "
             f"{suite.target} | supervised {suite.target} | retrieval en→zh | retrieval zh→en |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        transfer, retrieval = row.get("transfer", {}), row.get("retrieval")
        lines.append(
            f"| {row['label']} | {row['objectives']} | {row['steps']} | "
            f"{_score(transfer.get('source_dev'))} | {_score(transfer.get('zero_shot'))} | "
            f"{_score(transfer.get('supervised'))} | "
            f"{'–' if retrieval is None else retrieval['source_to_target']} | "
            f"{'–' if retrieval is None else retrieval['target_to_source']} |")
    return "\n".join(lines) + "\n"


def verdict_line(suite: CrosslingualSuite, rows: list[dict]) -> str:
    """One line: the challenger's retrieval and zero-shot minus the baseline's."""
    found = {row["label"]: row for row in rows}
    if len(suite.verdict) != 2 or any(label not in found or "retrieval" not in found[label]
                                      for label in suite.verdict):
        return ""
    base, challenger = (found[label] for label in suite.verdict)
    retrieval = challenger["retrieval"]["mean"] - base["retrieval"]["mean"]
    zero = (challenger["transfer"]["zero_shot"]["mean"] - base["transfer"]["zero_shot"]["mean"])
    held = "holds" if retrieval > 0 and zero > 0 else "does not hold"
    return (f"Claim (Lample & Conneau 2019): TLM improves retrieval and zero-shot transfer over "
            f"MLM alone. {suite.verdict[1]} vs {suite.verdict[0]} at equal FLOPs: retrieval "
            f"acc@1 (mean of both directions) {retrieval:+.1f} points, zero-shot {zero:+.1f} "
            f"points: the claim {held} here.")


def run_crosslingual_compare(name_or_path: str, out: str, quick: bool = False,
                             suite_overrides: list[str] = (), overwrite: bool = False,
                             log=print) -> dict:
    """Run (or continue) the suite; returns the paths of its tables."""
    suite = load_crosslingual_suite(name_or_path, quick, suite_overrides)
    for entry in suite.presets:
        entry.label = entry.label or entry.preset
    configs = run_configs(suite, name_or_path, [])
    booted = suite.bootstrap
    if booted.preset:  # its own architecture: the suite's transformer overrides do not apply
        configs[booted.label] = load_config(preset_path(booted.preset), list(booted.overrides))
    out_dir = prepare_output_folder(out, "compare", overwrite, resume=True)
    if suite.corpus_lines:
        cut_corpora(configs, suite.corpus_lines, out_dir / "corpora")
    # The bootstrapping teacher is a source-task run of this suite: keep those checkpoints.
    keep = f"{suite.source.replace('/', '_')}/seed-" if booted.preset and not booted.teacher \
        else None
    rows, started = [], time.perf_counter()
    for index, entry in enumerate(suite.presets, 1):
        slug = _slug(entry.label)
        log(f"[{index}/{len(suite.presets)}] {entry.label} "
            f"({time.perf_counter() - started:.0f}s so far)")
        folder = out_dir / "pretrain" / slug
        unit = pretrain_unit(entry, configs[entry.label], suite, folder, log)
        row = {"label": entry.label, "slug": slug, "preset": entry.preset,
               "objectives": unit["objectives"],
               "steps": unit["steps"], "flops_per_step": unit["flops_per_step"],
               "params_encoder": unit["params_encoder"], "valid_loss": unit["valid_loss"]}
        transfer_dir = out_dir / "transfer" / slug

        def transfer():
            log(f"zero-shot {entry.label}: {suite.source} -> {suite.target}")
            result = zero_shot(str(folder), suite.source, suite.target, suite.finetune,
                               transfer_dir, suite.target_split, suite.supervised,
                               overwrite=True, command="lmlab compare suites/crosslingual",
                               **first_pair_translation(
                                   suite.source, suite.translate_train,
                                   entry.label in suite.multi_language,
                                   out_dir / "translations"))
            for checkpoint in transfer_dir.rglob(CHECKPOINT):  # the scores are kept
                if keep is None or keep not in checkpoint.as_posix():
                    shutil.rmtree(checkpoint, ignore_errors=True)
            return result

        row["transfer"] = _cached(out_dir / "results" / f"{slug}.transfer.json", transfer)
        row["retrieval"] = _cached(
            out_dir / "results" / f"{slug}.retrieval.json",
            lambda: retrieval_of_run(str(folder), suite.parallel, suite.held_out,
                                     suite.retrieval_layer, suite.retrieval_max_len))
        row["transfers"] = {f"{suite.source} -> {suite.target}": row["transfer"],
                            **extra_transfers(suite.transfers, str(folder), suite.finetune,
                                              out_dir, slug, suite.squad_file,
                                              entry.label in suite.multi_language, log)}
        rows.append(row)
        _write(out_dir, suite, rows, quick)
    if booted.preset:
        rows.append(_bootstrap_row(suite, configs[booted.label], rows, out_dir, log))
        _write(out_dir, suite, rows, quick)
    log(f"tables: {out_dir / 'crosslingual.md'} ({time.perf_counter() - started:.0f}s)")
    return {"out": str(out_dir), "table": str(out_dir / "crosslingual.md"),
            "json": str(out_dir / "crosslingual.json"), "verdict": verdict_line(suite, rows),
            "bootstrap_verdict": _bootstrap_verdict(suite, rows)}


def _bootstrap_row(suite: CrosslingualSuite, config, rows: list[dict], out_dir: Path,
                   log) -> dict:
    """Pre-train the monolingual LM at the suite's FLOPs, then bootstrap it from the teacher."""
    booted, slug = suite.bootstrap, _slug(suite.bootstrap.label)
    folder = out_dir / "pretrain" / slug
    entry = SuiteEntry(preset=booted.preset, label=booted.label, overrides=booted.overrides)
    unit = pretrain_unit(entry, config, suite, folder, log)
    teacher, teacher_label = ((booted.teacher, booted.teacher) if booted.teacher
                              else best_teacher(rows, out_dir, suite.source)[:2])
    log(f"bootstrap {booted.label}: pseudo-labels from {teacher_label}")
    transfer = _cached(out_dir / "results" / f"{slug}.transfer.json",
                       lambda: bootstrap_transfer(str(folder), teacher, booted, suite,
                                                  out_dir / "transfer" / slug))
    for checkpoint in (out_dir / "transfer" / slug).rglob(CHECKPOINT):
        shutil.rmtree(checkpoint, ignore_errors=True)
    return {"label": booted.label, "slug": slug, "preset": booted.preset,
            "objectives": f"{unit['objectives']} (QRNN); pseudo-labels from {teacher_label}",
            "steps": unit["steps"], "flops_per_step": unit["flops_per_step"],
            "params_encoder": unit["params_encoder"], "valid_loss": unit["valid_loss"],
            "teacher": teacher, "teacher_label": teacher_label, "transfer": transfer,
            "retrieval": None}


def _bootstrap_verdict(suite: CrosslingualSuite, rows: list[dict]) -> str:
    found = [row for row in rows if row["label"] == suite.bootstrap.label]
    return bootstrap_verdict(suite.bootstrap.label, found[0] if found else None)


def _write(out_dir: Path, suite: CrosslingualSuite, rows: list[dict], quick: bool) -> None:
    verdict = verdict_line(suite, rows)
    booted = _bootstrap_verdict(suite, rows)
    text = f"# lmlab compare: {suite.name}{' (--quick)' if quick else ''}\n\n"
    text += markdown_table(suite, rows) + (f"\n{verdict}\n" if verdict else "")
    text += "\n" + transfer_section(f"{suite.source} -> {suite.target}", suite.transfers,
                                    rows, out_dir / "translations")
    text += f"\n{booted}\n" if booted else ""
    (out_dir / "crosslingual.md").write_text(text, encoding="utf-8")
    write_json(out_dir / "crosslingual.json",
               {"suite": suite.name, "quick": quick, "budget_flops": suite.budget_flops,
                "source": suite.source, "target": f"{suite.target}/{suite.target_split}",
                "seeds": list(suite.finetune.seeds), "retrieval_layer": suite.retrieval_layer,
                "rows": rows, "verdict": verdict, "bootstrap_verdict": booted})
