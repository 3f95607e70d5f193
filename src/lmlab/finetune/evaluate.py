"""Evaluate a fine-tuned run on a task split, and predict labels for new inputs."""

from __future__ import annotations

from pathlib import Path

from lmlab.data.corpus import iter_lines
from lmlab.errors import DataError
from lmlab.finetune import task_data
from lmlab.finetune.job import predict, score
from lmlab.finetune.model import task_language
from lmlab.finetune.run_folder import load_finetuned
from lmlab.outputs import prepare_output_file
from lmlab.tasks.catalogue import get_task
from lmlab.tasks.examples import Seq2SeqExample, TaggedExample, TextExample
from lmlab.tasks.text_to_text import as_text_examples, text_to_text


def _task(name: str, config):
    """The task as the run was fine-tuned on it (text-to-text, or as catalogued)."""
    spec = get_task(name)
    return text_to_text(spec) if config.options.text_to_text else spec


def scorable_examples(run_dir, spec, split: str, kind: str, trained_on: str,
                      labels: list[str]) -> list:
    """The examples of ``split`` a run of ``kind`` trained on ``trained_on`` with ``labels``
    can be scored on: the same kind of task, no unseen label, gold labels present."""
    if spec.kind != kind:
        raise DataError(f"{run_dir} was fine-tuned for a {kind} task ({trained_on}); "
                        f"{spec.name} is a {spec.kind} task")
    examples = spec.read(split)
    known = set(labels)
    for example in examples:
        for label in task_data._example_labels(spec.kind, example):
            if label not in known:
                raise DataError(f"{example.source}: field 'label': {label!r} was not among the "
                                f"labels the run was trained on ({', '.join(labels)})")
    if all(g in (None, []) for g in task_data.golds(spec, examples)):
        raise DataError(f"{spec.name}/{split} has no gold labels (GLUE test files do not); "
                        f"use 'lmlab predict' for it")
    return examples


def evaluate_run(run_dir: str, task: str | None, split: str) -> dict:
    config, tokenizer, model = load_finetuned(run_dir)
    spec = _task(task or config.task, config)
    model.language = task_language(model.backbone, spec.language)  # the scored task's
    examples = scorable_examples(run_dir, spec, split, config.kind, config.task, config.labels)
    features = task_data.encode(spec, tokenizer, examples, config)
    scores, _ = score(model, spec, examples, features, config, tokenizer)
    return {"run": str(run_dir), "task": spec.name, "split": split,
            "examples": len(examples), **scores}


def read_inputs(path: Path, kind: str) -> list:
    """One example a line: ``text`` or ``text_a<TAB>text_b``; tagging: space-separated
    tokens; generation: one source text."""
    examples = []
    for corpus_line in iter_lines(path):  # UTF-8 only: other bytes name their line and column
        number, line = corpus_line.line_number, corpus_line.text.rstrip("\r")
        if number == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark is not part of the text
        if kind == "tagging":
            examples.append(TaggedExample(line.split(), None, f"{path}:{number}"))
            continue
        if kind == "generation":
            if not line.strip():
                raise DataError(f"{path}:{number}: empty line; give one source text a line")
            examples.append(Seq2SeqExample(line, None, f"{path}:{number}"))
            continue
        fields = line.split("\t")
        if len(fields) > 2:
            raise DataError(f"{path}:{number}: expected one text or two tab-separated texts, "
                            f"found {len(fields)} fields")
        examples.append(TextExample(fields[0], fields[1] if len(fields) > 1 else None, None,
                                    f"{path}:{number}"))
    return examples


def predict_file(run_dir: str, input_path: str, out_path: str, overwrite: bool = False) -> int:
    """Write one predicted label a line of ``input_path`` to ``out_path``; returns the count.
    The output is checked first: an existing file is kept unless ``overwrite``, the input
    always."""
    out = prepare_output_file(out_path, overwrite, inputs=[input_path])
    config, tokenizer, model = load_finetuned(run_dir)
    spec = _task(config.task, config)
    model.language = task_language(model.backbone, spec.language)
    if spec.kind not in ("classification", "regression", "tagging", "generation"):
        raise DataError(f"lmlab predict reads one example a line; {spec.name} ({spec.kind}) "
                        f"needs its task files: use 'lmlab evaluate'")
    if config.options.text_to_text:  # lines as the original task's, then its T5 format
        examples = as_text_examples(config.task, read_inputs(Path(input_path), "classification"))
    else:
        examples = read_inputs(Path(input_path), spec.kind)
    features = task_data.encode(spec, tokenizer, examples, config)
    raw = predict(model, spec.kind, features, config, tokenizer)
    predictions = task_data.decode(spec, examples, features, raw, config.labels, config.options)
    return write_predictions(out, predictions)


def write_predictions(out: Path, predictions: list) -> int:
    """One prediction a line: a label, a score, or space-separated tags."""
    lines = [" ".join(p) if isinstance(p, list) else (f"{p:.4f}" if isinstance(p, float) else str(p))
             for p in predictions]
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)
