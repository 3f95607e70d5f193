"""``lmlab compare SUITE``: pre-train every preset of a suite at equal training FLOPs,
fine-tune each on the suite's tasks with several seeds, write Tables 1–2.

Each pre-training and each fine-tuning is a *unit* with its own folder under ``--out``; a
unit whose result file exists is skipped, and a pre-training interrupted half-way resumes
from its checkpoint, so an interrupted compare continues where it stopped. Units run
model by model (the verdict pair first), and the tables are rewritten after every unit.

Equal compute: FLOPs per optimizer step are counted on one real batch
(:mod:`lmlab.training.step_cost`); each run trains ``budget_flops // flops_per_step`` steps.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

from lmlab.atomic import write_json
from lmlab.config import RunConfig, dump_config, load_config, to_dict
from lmlab.data.lm_data import prepare_tokenizer
from lmlab.errors import ConfigError, LmlabError
from lmlab.finetune.config import same_options
from lmlab.finetune.loop import finetune
from lmlab.outputs import prepare_output_folder
from lmlab.presets import preset_path
from lmlab.recipes.benchmark import bow_result, split_available
from lmlab.recipes.compare_lexical import lexical_unit, write_lexical_tables
from lmlab.recipes.compare_suite import (CompareSuite, SuiteEntry, load_suite, row_options,
                                         task_options)
from lmlab.registry import build_model, build_objectives
from lmlab.report.compare_tables import (table1_markdown, table2_json, table2_markdown,
                                         verdict_line)
from lmlab.tasks.catalogue import get_task
from lmlab.training.checkpoint import (CHECKPOINT, checkpoint_folder, load_checkpoint_config,
                                      save_checkpoint)
from lmlab.training.parts import tokenizer_vocabulary
from lmlab.training.step_cost import flops_per_step, training_parts
from lmlab.training.trainer import train

UNTRAINED = "Untrained encoder (random init)"
BOW = "BoW + logistic regression"
UNIT_FILE = "unit.json"


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")


def _fingerprint(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def run_configs(suite: CompareSuite, suite_path: str, extra: list[str]) -> dict[str, RunConfig]:
    """Every preset at the suite's shared size; a missing preset is named before any work."""
    configs = {}
    for index, entry in enumerate(suite.presets):
        try:
            path = preset_path(entry.preset)
        except ConfigError as error:
            raise ConfigError(f"{suite_path}: presets[{index}]: preset {entry.preset!r} "
                              f"({entry.label}) does not exist yet: {error}") from None
        configs[entry.label] = load_config(path, list(suite.overrides) + list(entry.overrides)
                                           + list(extra))
    return configs


def _structure(config: RunConfig) -> str:
    encoder, embedding = config.model.encoder, config.model.embedding
    if not hasattr(encoder, "num_heads"):  # a recurrent encoder (MultiFiT's QRNN, issue 24)
        return f"{encoder.name} L{encoder.num_layers}/H{embedding.hidden_size}"
    text = (f"L{encoder.num_layers}/H{embedding.hidden_size}/A{encoder.num_heads}/"
            f"FFN{encoder.ffn_size}, {encoder.norm}-LN")
    if embedding.embedding_size not in (0, embedding.hidden_size):
        text += f", E{embedding.embedding_size}"
    if getattr(encoder, "share_layers", "none") != "none":
        text += f", shared {encoder.share_layers}"
    return text


def _objectives(config: RunConfig) -> str:
    return " + ".join(objective.describe() for objective in config.objectives)


def _parameter_counts(model) -> tuple[int, int]:
    encoder = sum(p.numel() for part in (model.embedding, model.encoder) for p in part.parameters())
    return encoder, sum(p.numel() for p in model.parameters())


def _step_cost(config: RunConfig, folder: Path, fingerprint: str) -> dict:
    """FLOPs per step and parameter counts, measured once and kept in the unit folder."""
    cost = _read(folder / "flops.json")
    if cost is not None and cost.pop("fingerprint", None) != fingerprint:
        raise ConfigError(f"{folder} holds an unfinished pre-training of another config or "
                          f"budget; choose another --out")
    if cost is None:
        parts = training_parts(config)
        encoder, total = _parameter_counts(parts.model)
        batch = parts.batches.batch(0)["input_ids"]
        cost = {"flops_per_step": flops_per_step(parts, config),
                "tokens_per_step": batch.numel() * config.train.grad_accum,
                "params_encoder": encoder, "params_total": total}
        write_json(folder / "flops.json", {**cost, "fingerprint": fingerprint})
    return cost


# Train settings a pre-training unit sets itself from the budget (not the suite's choice).
_SET_BY_UNIT = ("max_steps", "max_epochs", "max_time_s", "warmup_steps", "eval_every",
                "checkpoint_every")


def _settings(config: RunConfig) -> dict:
    """The config's choices: without what a unit sets itself, or the vocabulary size the
    tokenizer fills in."""
    raw = to_dict(config)
    raw["train"] = {k: v for k, v in raw["train"].items() if k not in _SET_BY_UNIT}
    raw["model"]["embedding"].pop("vocab_size", None)
    return raw


def _same_pretraining(folder: Path, config: RunConfig, done: dict, suite: CompareSuite) -> bool:
    """Whether a finished unit trained ``config`` at the suite's budget, read from its
    checkpoint with today's schema: a config key added since (at its default) is no
    difference, where the unit's fingerprint (a hash of the config as then dumped) is."""
    try:
        saved = load_checkpoint_config(checkpoint_folder(folder, verify=False))
    except LmlabError:
        return False
    return (done.get("budget_flops") == suite.budget_flops
            and saved.train.warmup_steps == (0 if saved.train.schedule == "one_cycle" else
                                             int(suite.warmup_ratio * saved.train.max_steps))
            and _settings(saved) == _settings(config))


def pretrain_unit(entry: SuiteEntry, config: RunConfig, suite: CompareSuite, folder: Path,
                  log) -> dict:
    fingerprint = _fingerprint(dump_config(config), suite.budget_flops, suite.warmup_ratio)
    done = _read(folder / UNIT_FILE)
    if done is not None:
        if done.get("fingerprint") != fingerprint and \
                not _same_pretraining(folder, config, done, suite):
            raise ConfigError(f"{folder} holds a pre-training of another config or budget "
                              f"({done['budget_flops']:.3g} FLOPs); choose another --out")
        log(f"pre-train {entry.label}: done earlier ({done['steps']} steps), skipped")
        return done
    cost = _step_cost(config, folder, fingerprint)
    steps = max(1, int(suite.budget_flops // cost["flops_per_step"]))
    train_cfg = config.train
    train_cfg.max_steps, train_cfg.max_epochs, train_cfg.max_time_s = steps, 0.0, 0.0
    one_cycle = train_cfg.schedule == "one_cycle"  # its own rise (MultiFiT, issue 24)
    train_cfg.warmup_steps = 0 if one_cycle else int(suite.warmup_ratio * steps)
    train_cfg.eval_every, train_cfg.checkpoint_every = 0, suite.checkpoint_every
    resume = (folder / CHECKPOINT).exists()
    log(f"pre-train {entry.label}: {cost['flops_per_step'] / 1e9:.2f} GFLOPs/step -> {steps} "
        f"steps{' (resuming)' if resume else ''}")
    result = train(None if resume else config, folder, resume=resume)
    unit = {"label": entry.label, "preset": entry.preset, "structure": _structure(config),
            "objectives": _objectives(config), **cost, "budget_flops": suite.budget_flops,
            "steps": result.steps, "tokens": result.steps * cost["tokens_per_step"],
            "final_loss": result.final_loss,
            "valid_loss": result.valid and result.valid.get("loss"),
            "train_seconds": result.train_seconds, "run_dir": str(folder),
            "fingerprint": fingerprint}
    write_json(folder / UNIT_FILE, unit)
    return unit


def untrained_unit(config: RunConfig, folder: Path, log) -> dict:
    """The first preset's architecture with random weights, saved as a run to fine-tune."""
    done = _read(folder / UNIT_FILE)
    if done is None:
        log(f"{UNTRAINED}: saving a random-init {config.model.family} encoder")
        tokenizer = prepare_tokenizer(config.data)
        objectives = build_objectives(config.objectives, tokenizer, config.train.seed)
        model = build_model(config.model, tokenizer.vocab_size, seed=config.train.seed,
                            objectives=objectives, vocabulary=tokenizer_vocabulary(tokenizer))
        save_checkpoint(folder, model, config, tokenizer, {"step": 0})
        done = {"label": UNTRAINED, "run_dir": str(folder)}
        write_json(folder / UNIT_FILE, done)
    return done


def finetune_unit(label: str, base: Path, task: str, options, folder: Path, log) -> dict:
    """Fine-tune ``base`` on ``task`` (every seed); only results.json is kept."""
    done = _read(folder / "results.json")
    kind = "generation" if options.text_to_text else get_task(task).kind
    resolved = options.for_kind(kind)  # results.json holds resolved options
    # Logging and threads do not change the scores.
    if done is not None and not same_options(done["options"], resolved,
                                             ignore=("progress", "num_threads")):
        raise ConfigError(f"{folder} was fine-tuned with other options ({done['options']}); "
                          f"choose another --out")
    if done is None:
        log(f"fine-tune {label} on {task} (seeds {options.seeds})")
        done = finetune(str(base), task, options, folder, command="lmlab compare", resume=True)
        shutil.rmtree(folder / CHECKPOINT, ignore_errors=True)  # scores are what we compare
    return done


def bow_unit(task: str, options, folder: Path) -> dict:
    done = _read(folder / f"{_slug(task)}.json")
    if done is None:
        done = bow_result(task, options)
        write_json(folder / f"{_slug(task)}.json", done)
    return done


def _row_order(suite: CompareSuite) -> list[SuiteEntry]:
    first = [next(e for e in suite.presets if e.label == label) for label in suite.verdict]
    return first + [e for e in suite.presets if e not in first]


def write_tables(out: Path, suite: CompareSuite, units: list[dict], rows: dict, tasks: list[str],
                 missing: dict) -> None:
    table1 = table1_markdown(units, suite.budget_flops)
    verdict = verdict_line(rows, tasks, suite.verdict, suite.verdict_reference,
                           UNTRAINED if suite.untrained else None) if suite.verdict else ""
    splits = {entry.task: (entry.train, entry.dev) for entry in suite.task_splits}
    table2 = table2_markdown(rows, tasks, missing, verdict, splits)
    (out / "table1.md").write_text(table1)
    (out / "table2.md").write_text(table2)
    write_json(out / "table1.json", {"budget_flops": suite.budget_flops, "rows": units})
    write_json(out / "table2.json", table2_json(rows, tasks, missing, verdict))
    (out / "compare.md").write_text(f"# lmlab compare: {suite.name}\n\n{table1}\n{table2}")


def run_compare(suite_path: str, out: str, budget: float | None = None, quick: bool = False,
                overrides: list[str] = (), log=print, suite_overrides: list[str] = (),
                overwrite: bool = False) -> dict:
    """Run (or continue) the whole comparison; returns the paths of the tables.
    ``overrides`` change every preset; ``suite_overrides`` change the suite file's keys."""

    suite = load_suite(suite_path, quick, suite_overrides)
    if budget is not None:
        suite.budget_flops = budget
    configs = run_configs(suite, suite_path, list(overrides))
    options = {task: task_options(suite, task) for task in suite.tasks}
    tasks, missing = [], {}
    for task in suite.tasks:
        found, lacking = split_available([task], options[task])
        tasks += found
        missing.update(lacking)
    for task, reason in missing.items():
        log(f"{task}: not run ({reason})")
    out_dir = prepare_output_folder(out, "compare", overwrite, resume=True)
    order = _row_order(suite)
    units, rows = [], {entry.label: {} for entry in order}
    bases = [(entry.label, entry, configs[entry.label]) for entry in order]
    if suite.untrained:
        rows[UNTRAINED] = {}
        bases.append((UNTRAINED, None, configs[suite.presets[0].label]))
    if suite.bow:
        rows[BOW] = {t: bow_unit(t, options[t], out_dir / "finetune" / "bow") for t in tasks}
    started = time.perf_counter()
    lexical: dict[str, dict] = {}  # the knowledge suite's word-level measures (issue 21)
    for index, (label, entry, config) in enumerate(bases, 1):
        folder = out_dir / "pretrain" / _slug(label)
        log(f"[{index}/{len(bases)}] {label} ({time.perf_counter() - started:.0f}s so far)")
        if entry is None:
            untrained_unit(config, folder, log)
        else:
            units.append(pretrain_unit(entry, config, suite, folder, log))
            write_tables(out_dir, suite, units, rows, tasks, missing)
            if suite.lexical is not None:
                lexical[label] = lexical_unit(label, folder, suite.lexical, log)
        for task in tasks:
            rows[label][task] = finetune_unit(label, folder, task,
                                              row_options(options[task], entry),
                                              out_dir / "finetune" / _slug(label) / _slug(task), log)
            write_tables(out_dir, suite, units, rows, tasks, missing)
    write_tables(out_dir, suite, units, rows, tasks, missing)
    write_lexical_tables(out_dir, lexical, suite.lexical)
    log(f"tables: {out_dir / 'compare.md'} ({time.perf_counter() - started:.0f}s)")
    return {"out": str(out_dir), "table1": str(out_dir / "table1.md"),
            "table2": str(out_dir / "table2.md"), "tasks": tasks, "missing": list(missing)}
