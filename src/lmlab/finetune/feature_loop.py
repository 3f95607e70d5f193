"""Feature-based transfer on one task: frozen features (or the random baseline) -> the
BiLSTM task model of :mod:`lmlab.finetune.feature_model`, one run per seed, mean ± std.

The source's features are extracted once (it is frozen) and shared by every seed; each
seed trains the task model (and the scalar-mix weights) with Adam for ``epochs`` epochs,
scores dev after every epoch and keeps its best dev score (model selection on dev, as
``lmlab finetune`` does). The folder gets ``feature_based.json`` (the options), one
``seeds/<seed>/result.json`` per finished seed (a re-run skips it) and ``results.json``
in the layout of ``lmlab finetune``'s (``scores: {metric: {mean, std}}``). The best seed's
task model at its best dev epoch is kept (``task_model.safetensors`` + ``feature_model.json``:
the source, labels and sizes), so ``lmlab evaluate`` and ``lmlab predict`` read the run,
computing the frozen features again from the source.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from lmlab.atomic import write_json
from lmlab.errors import CheckpointError, ConfigError
from lmlab.evaluation.metrics import compute, headline
from lmlab.finetune import task_data
from lmlab.finetune.loop import mean_std
from lmlab.finetune.feature_model import (FeatureTaskModel, FrozenFeatureInput,
                                          TrainableWordEmbedding, build_head, collate)
from lmlab.finetune.feature_sources import OOVCount, check_layers, extract_all
from lmlab.outputs import prepare_output_folder
from lmlab.tasks.catalogue import get_task

OPTIONS_FILE = "feature_based.json"
MODEL_FILE = "feature_model.json"  # what the task model is: source, labels, sizes, options
WEIGHTS = "task_model.safetensors"  # its best dev epoch (the best seed's, at the top)


@dataclass
class FeatureTaskOptions:
    """The task model and its training: the same for every source of one table."""
    hidden_size: int = 128
    """BiLSTM units per direction."""
    dropout: float = 0.5
    """On the features entering the BiLSTM and in the head."""
    lr: float = 1.0e-3
    """Adam's learning rate."""
    epochs: int = 5
    batch_size: int = 32
    eval_batch_size: int = 128
    grad_clip: float = 5.0
    seeds: list[int] = field(default_factory=lambda: [1])
    max_train_examples: int = 0
    """A fixed random subset of the training split (0 = all of it)."""
    subset_seed: int = 0
    train_split: str = "train"
    dev_split: str = "dev"
    """A split name or a contiguous part of one (``dev[:1000]``), as ``lmlab finetune``."""
    max_words: int = 128
    """Words kept per sentence; cut words are predicted O (tagging) and scored as misses."""
    random_size: int = 100
    """Width of the random baseline's embedding (word2vec's default vector size)."""
    min_count: int = 1
    """The random baseline's vocabulary: training words seen this often."""
    feature_layers: Literal["mix", "top"] = "top"
    """mix: ELMo's scalar mix of every layer (eq. 1); top: the last layer only."""
    mix_penalty: float = 0.0
    """λ of ELMo §3.3's λ‖w‖² on the scalar-mix weights, added to the task loss (the
    paper uses λ = 0.001 in some cases; ``dropout`` is its dropout on the ELMo vector)."""
    num_threads: int = 0
    progress: bool = True

    def validate(self, path: str) -> None:
        for key in ("hidden_size", "epochs", "batch_size", "eval_batch_size", "max_words",
                    "random_size", "min_count"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{path}.{key}: must be > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1)")
        if self.mix_penalty < 0:
            raise ConfigError(f"{path}.mix_penalty: must be >= 0, got {self.mix_penalty}")
        if not self.seeds:
            raise ConfigError(f"{path}.seeds: list at least one seed")


def build_task_model(saved: dict, options: FeatureTaskOptions,
                     mix_factory: Callable[[int], nn.Module] | None, seed: int = 0
                     ) -> FeatureTaskModel:
    """The task model of a run described by ``saved`` (``feature_model.json``: kind, labels,
    feature width and layers, the random baseline's vocabulary)."""
    if saved["vocabulary"] is not None:
        inputs = TrainableWordEmbedding(saved["vocabulary"], options.random_size, seed)
    else:
        mix = mix_factory(saved["num_layers"]) if options.feature_layers == "mix" else None
        inputs = FrozenFeatureInput(saved["width"], mix)
    head = build_head(saved["kind"], 2 * options.hidden_size, len(saved["labels"]),
                      options.dropout)
    return FeatureTaskModel(inputs, options.hidden_size, options.dropout, head)


def save_weights(state: dict, path: Path) -> None:
    """safetensors, written to a temporary name first (a killed run leaves no half file)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    save_file({k: v.contiguous() for k, v in state.items()}, str(partial))
    partial.replace(path)


def load_task_model(folder: Path, mix_factory) -> tuple[dict, FeatureTaskOptions, FeatureTaskModel]:
    """(saved description, options, task model with its best weights) of a feature-based run."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / MODEL_FILE).is_file() or not (folder / WEIGHTS).is_file():
        raise CheckpointError(f"{folder}: no {MODEL_FILE} and {WEIGHTS} (a feature-based run "
                              f"that has not finished, or one made before they were saved)")
    saved = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
    options = FeatureTaskOptions(**{k: v for k, v in saved["options"].items()
                                    if k in FeatureTaskOptions.__dataclass_fields__})
    model = build_task_model(saved, options, mix_factory)
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    return saved, options, model.eval()


def feature_items(spec, examples, labels: list[str], options: FeatureTaskOptions, model,
                  source) -> tuple[list, list[dict]]:
    """(word lists, items with features or word ids) of ``examples`` for a task model."""
    words = [_words(spec.kind, e, options.max_words) for e in examples]
    items = _items(spec, examples, words, labels)
    if source is None:
        for item, sentence in zip(items, words):
            item["word_ids"] = model.inputs.ids(sentence)
    else:
        for item, tensor in zip(items, extract_all(source, words)):
            item["features"] = tensor
    return words, items


@torch.no_grad()
def predict_items(model, spec, examples, items, labels, options) -> list:
    """Decoded predictions (a label, or one tag per word) of ``items``."""
    model.eval()
    raw: list = [None] * len(items)
    for indices in _batches(items, options.eval_batch_size, None):
        batch = collate([items[i] for i in indices], spec.kind)
        for index, prediction in zip(indices, model.head.predict(model(batch), batch)):
            raw[index] = prediction
    return task_data.decode(spec, examples, [], raw, labels, options)


def _words(kind: str, example, max_words: int) -> list[str]:
    words = example.tokens if kind == "tagging" else example.text_a.split()
    return list(words[:max_words]) or ["."]


def _items(spec, examples, sentences, labels: list[str]) -> list[dict]:
    label_ids = {label: i for i, label in enumerate(labels)}
    items = []
    for example, words in zip(examples, sentences):
        item = {"length": len(words)}
        if spec.kind == "tagging" and example.tags is not None:
            item["label"] = [label_ids[tag] for tag in example.tags[:len(words)]]
        elif spec.kind == "classification" and example.label is not None:
            item["label"] = label_ids[example.label]
        items.append(item)
    return items


def _batches(items: list[dict], size: int, generator: random.Random | None) -> list[list[int]]:
    """Batches of similar length (little padding), in a seeded random order when training."""
    order = list(range(len(items)))
    if generator is not None:  # a seeded shuffle, then a stable sort by length bucket
        generator.shuffle(order)
    order.sort(key=lambda i: items[i]["length"] // (5 if generator is not None else 1))
    batches = [order[start:start + size] for start in range(0, len(order), size)]
    if generator is not None:
        generator.shuffle(batches)
    return batches


def _score(model, spec, examples, items, labels, options) -> dict:
    predictions = predict_items(model, spec, examples, items, labels, options)
    return compute(spec.metric, predictions, task_data.golds(spec, examples))


def _train_seed(spec, build_model: Callable[[int], nn.Module], train_items, dev, labels,
                options: FeatureTaskOptions, seed: int, log, weights_path: Path) -> dict:
    torch.manual_seed(seed)
    model = build_model(seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=options.lr)
    generator = random.Random(seed)
    mix = getattr(model.inputs, "mix", None)
    best, history, started = None, [], time.perf_counter()
    for epoch in range(1, options.epochs + 1):
        model.train()
        losses = []
        for indices in _batches(train_items, options.batch_size, generator):
            batch = collate([train_items[i] for i in indices], spec.kind)
            loss = model.head.loss(model(batch), batch)
            if mix is not None and options.mix_penalty:
                loss = loss + options.mix_penalty * mix.penalty()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(trainable, options.grad_clip)
            optimizer.step()
            losses.append(loss.item())
        scores = _score(model, spec, *dev, labels, options)
        history.append({"epoch": epoch, "loss": round(statistics.fmean(losses), 4), **scores,
                        "seconds": round(time.perf_counter() - started, 1)})
        log(f"seed {seed} epoch {epoch} loss {history[-1]['loss']} dev {scores}")
        if best is None or headline(scores) > headline(best):
            best = scores
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    save_weights(best_state, weights_path)  # the best dev epoch: what evaluate/predict load
    return {"seed": seed, "best": best, "history": history,
            "train_seconds": round(time.perf_counter() - started, 1),
            "mix_weights": _mix_weights(mix)}


def _mix_weights(mix) -> list[float] | None:
    """The learned softmax(s) of a scalar mix, to see which layers the task used."""
    if mix is None:
        return None
    scalars = [p for name, p in mix.named_parameters() if "gamma" not in name]
    flat = torch.cat([p.detach().flatten() for p in scalars])
    return [round(w, 4) for w in torch.softmax(flat, 0).tolist()]


def _start_folder(out: Path, options: FeatureTaskOptions, source: str, task: str) -> None:
    prepare_output_folder(out, "feature_based", overwrite=False, resume=True)
    wanted = {"source": source, "task": task, "options": json.loads(json.dumps(options.__dict__))}
    wanted["options"].pop("progress")
    saved = out / OPTIONS_FILE
    if saved.exists():
        if json.loads(saved.read_text()) != wanted:
            raise CheckpointError(f"{out} holds a feature-based run of other options or "
                                  f"another source; choose another --out")
        return
    write_json(saved, wanted)


def feature_based(source, source_label: str, task: str, options: FeatureTaskOptions,
                  out: str | Path, mix_factory: Callable[[int], nn.Module] | None = None,
                  command: str = "", source_info: dict | None = None) -> dict:
    """Train the task model on ``source``'s frozen features (None: the random baseline)
    for every seed; write ``results.json`` in ``out`` and return it. ``mix_factory(L)``
    builds the scalar mix over L layers for ``feature_layers: mix``."""
    if options.num_threads:
        torch.set_num_threads(options.num_threads)
    log = (lambda message: print(message, file=sys.stderr, flush=True)) if options.progress \
        else (lambda message: None)
    spec = get_task(task)
    if spec.kind not in ("tagging", "classification"):
        raise ConfigError(f"--task {task}: feature-based transfer reads tagging or "
                          f"classification tasks, not {spec.kind}")
    if source is None and options.feature_layers == "mix":
        raise ConfigError("feature_layers: mix needs a source with several layers; random "
                          "embeddings give 1 (use feature_layers: top)")
    if source is not None:
        check_layers(source, options.feature_layers, source_label)
    out = Path(out)
    _start_folder(out, options, source_label, task)
    train = task_data.subset(spec.read(options.train_split), options.max_train_examples,
                             options.subset_seed)
    dev_examples = spec.read(options.dev_split)
    labels = task_data.label_vocabulary(spec, train, {options.dev_split: dev_examples})
    train_words = [_words(spec.kind, e, options.max_words) for e in train]
    dev_words = [_words(spec.kind, e, options.max_words) for e in dev_examples]
    train_items = _items(spec, train, train_words, labels)
    dev_items = _items(spec, dev_examples, dev_words, labels)
    started = time.perf_counter()
    if source is None:
        counts = Counter(word for words in train_words for word in words)
        vocabulary = sorted(w for w, c in counts.items() if c >= options.min_count)
        oov = OOVCount()
        for words in dev_words:
            for word in words:
                oov.add(word, counts[word] >= options.min_count)
        probe = TrainableWordEmbedding(vocabulary, options.random_size)
        for item, words in zip(train_items + dev_items, train_words + dev_words):
            item["word_ids"] = probe.ids(words)
        width, num_layers = options.random_size, 1
    else:
        features = extract_all(source, train_words + dev_words)  # (L, n, F) each
        for item, tensor in zip(train_items + dev_items, features):
            item["features"] = tensor
        oov, width, num_layers = source.oov, source.width, source.num_layers
    extract_seconds = time.perf_counter() - started
    log(f"{source_label}: features of {len(train_items) + len(dev_items)} sentences in "
        f"{extract_seconds:.1f}s, {num_layers} layer(s) x {width}, OOV {oov.as_dict()}")

    saved = {"source": source_label, "task": spec.name, "kind": spec.kind, "labels": labels,
             "width": width, "num_layers": num_layers,
             "vocabulary": vocabulary if source is None else None}

    def build_model(seed: int) -> FeatureTaskModel:
        return build_task_model(saved, options, mix_factory, seed)

    runs = []
    for seed in options.seeds:
        done = out / "seeds" / str(seed) / "result.json"
        if done.exists():
            runs.append(json.loads(done.read_text()))
            continue
        run = _train_seed(spec, build_model, train_items, (dev_examples, dev_items), labels,
                          options, seed, log, done.parent / WEIGHTS)
        write_json(done, run)
        runs.append(run)
    best_run = max(runs, key=lambda r: headline(r["best"]))
    shutil.copyfile(out / "seeds" / str(best_run["seed"]) / WEIGHTS, out / WEIGHTS)
    write_json(out / MODEL_FILE, {**saved, "best_seed": best_run["seed"],
                                  "options": json.loads(json.dumps(options.__dict__))})
    summary = {"task": spec.name, "base": source_label, "feature_based": True,
               "source": source_info or {"label": source_label},
               "feature_layers": options.feature_layers, "layers": num_layers,
               "width": width, "dev_split": options.dev_split,
               "metric": next(iter(best_run["best"])), "train_examples": len(train),
               "dev_examples": len(dev_examples), "oov": oov.as_dict(),
               "scores": {name: mean_std([r["best"][name] for r in runs])
                          for name in best_run["best"]},
               "best_seed": best_run["seed"], "extract_seconds": round(extract_seconds, 1),
               "train_seconds_per_seed": mean_std([r["train_seconds"] for r in runs]),
               "options": json.loads(json.dumps(options.__dict__)), "command": command,
               "torch_threads": torch.get_num_threads(), "runs": runs}
    write_json(out / "results.json", summary)
    return summary
