"""Cross-lingual bootstrapping (Eisenschlos et al. 2019, "MultiFiT: Efficient Multi-lingual
Language Model Fine-tuning", §3.3 and Figure 2): a zero-shot *teacher* — a cross-lingual
classifier fine-tuned on the source language only (LASER in the paper; here any lmlab
classification run, e.g. a multilingual model fine-tuned on English SST-2) — labels the
target-language training texts, and the monolingual target model is fine-tuned on those
predictions instead of gold labels: ŷ_i = argmax_c p_teacher(c | x_i), then the usual
fine-tuning loss on (x_i, ŷ_i).

``lmlab finetune RUN --task T --pseudo-labels-from TEACHER`` replaces the labels of T's
training split *and* of the dev split used for checkpoint selection by the teacher's, so
no gold target label is read while training or selecting; score the result on gold labels
afterwards (``lmlab evaluate OUT --split dev``). The teacher must have been fine-tuned on
a classification task with the same label set as T (SST-2's 0/1 and ChnSentiCorp's 0/1),
else a one-line error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from lmlab.errors import ConfigError
from lmlab.finetune import task_data
from lmlab.finetune.job import predict
from lmlab.finetune.model import task_language
from lmlab.finetune.run_folder import load_finetuned


def check_teacher(teacher: str, teacher_kind: str, teacher_task: str, teacher_labels: list,
                  spec) -> None:
    """Refuse a teacher whose predictions are not labels of ``spec``."""
    if spec.kind != "classification" or teacher_kind != "classification":
        raise ConfigError(f"--pseudo-labels-from {teacher}: bootstrapping needs two "
                          f"classification tasks; the teacher is {teacher_kind} "
                          f"({teacher_task}), {spec.name} is {spec.kind}")
    if set(teacher_labels) != set(spec.labels or ()):
        raise ConfigError(f"--pseudo-labels-from {teacher}: its labels {list(teacher_labels)} "
                          f"({teacher_task}) are not {spec.name}'s {list(spec.labels or ())}")


def pseudo_label(teacher: str, spec, splits: dict[str, list]) -> tuple[dict[str, list], dict]:
    """``splits`` (name -> examples of ``spec``) with every label replaced by the teacher's
    prediction, and a summary: per split the predicted label counts and, where gold labels
    exist, the teacher's accuracy on them (reported, never trained on)."""
    config, tokenizer, model = load_finetuned(teacher)
    check_teacher(teacher, config.kind, config.task, config.labels, spec)
    model.language = task_language(model.backbone, spec.language)  # read as the target's
    relabelled, summary = {}, {"teacher": str(teacher), "teacher_task": config.task}
    for name, examples in splits.items():
        features = task_data.encode(spec, tokenizer,
                                    [replace(e, label=None) for e in examples], config)
        raw = predict(model, spec.kind, features, config, tokenizer)
        labels = task_data.decode(spec, examples, features, raw, config.labels, config.options)
        relabelled[name] = [replace(e, label=label) for e, label in zip(examples, labels)]
        golds = [e.label for e in examples]
        agree = (round(100 * sum(g == p for g, p in zip(golds, labels)) / len(labels), 2)
                 if labels and None not in golds else None)
        summary[name] = {"examples": len(labels), "counts": dict(sorted(Counter(labels).items())),
                         "teacher_accuracy_on_gold": agree}
    return relabelled, summary
