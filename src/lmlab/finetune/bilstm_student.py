"""``lmlab compress --method tang`` (issue 20): Tang et al. 2019, a BiLSTM student
(:mod:`lmlab.compression.distillation.tang`) distilled from the fine-tuned teacher by the
squared logit distance, on the teacher's training examples plus their synthetic versions
(:mod:`lmlab.compression.distillation.augment`: masking, POS-guided replacement, n-gram
sampling), trained by the one training loop with dev selection like every distillation
method (:func:`lmlab.finetune.distill.train_stage`). The teacher labels every sentence
(original or synthetic) by its logits on the batch; gold labels are not read.

The output is a fine-tuned run whose ``config.yaml`` holds the BiLSTM model, so
``evaluate``/``predict`` rebuild it; it keeps the teacher's tokenizer.
"""

from __future__ import annotations

import dataclasses
import random
import time

from lmlab.compression.distillation.augment import (AugmentSettings, augment_texts,
                                                    tag_pools, treebank_lexicon)
from lmlab.compression.distillation.tang import (LogitMSEObjective, bilstm_student_config,
                                                 copy_word_embeddings)
from lmlab.compression.matrices import FLOAT_BITS
from lmlab.compression.method import Compressed, Method, Source
from lmlab.data.catalogue import data_dir as default_dir
from lmlab.errors import ConfigError
from lmlab.evaluation.metrics import headline
from lmlab.finetune import distill, task_data
from lmlab.finetune.job import score
from lmlab.finetune.model import build_finetune_model
from lmlab.registry import build_model
from lmlab.tasks.catalogue import get_task

AUGMENT = ("p_mask", "p_pos", "p_ngram", "max_ngram", "n_iter")


def check(settings: dict) -> None:
    distill.check(settings)
    augment_settings(settings).validate()
    if not isinstance(settings["cell_size"], int) or settings["cell_size"] < 0:
        raise ConfigError(f"--set cell_size={settings['cell_size']}: must be an integer >= 0 "
                          f"(0 = the teacher's width)")
    if not 0 <= settings["dropout"] < 1:
        raise ConfigError(f"--set dropout={settings['dropout']}: must be in [0, 1)")


def augment_settings(settings: dict) -> AugmentSettings:
    return AugmentSettings(**{name: settings[name] for name in AUGMENT})


def augmented(examples: list, settings: AugmentSettings, seed: int, data_dir=None) -> list:
    """``examples`` followed by the synthetic versions of each (in order), each keeping its
    source's label field (unread: the teacher labels them)."""
    if settings.n_iter == 0:
        return list(examples)
    lexicon = treebank_lexicon(data_dir or default_dir()) if settings.p_pos > 0 else {}
    texts = [tuple(t for t in (e.text_a, e.text_b) if t is not None) for e in examples]
    pools = tag_pools([w.split() for text in texts for w in text], lexicon)
    rng, synthetic = random.Random(seed), []
    for example, text in zip(examples, texts, strict=True):
        for sample in augment_texts(text, rng, settings, lexicon, pools):
            synthetic.append(dataclasses.replace(
                example, text_a=sample[0], text_b=sample[1] if len(sample) > 1 else None,
                source=f"augmented:{example.source}"))
    return list(examples) + synthetic


def train_rnn_student(source: Source, settings: dict, model_config, name: str,
                      student_summary: dict) -> Compressed:
    """A student of ``model_config`` (token embeddings + a recurrent encoder, mean-pooled
    head) distilled by logit MSE on the task's examples and their synthetic versions; the
    teacher's word vectors copied in. Tang's BiLSTM and the BCN student (``bnn``) share it."""
    started = time.perf_counter()
    teacher, config = source.model, source.config
    spec = get_task(config.task)
    if spec.kind not in distill.KINDS:
        raise ConfigError(f"{source.path}: distillation supports {' and '.join(distill.KINDS)} "
                          f"tasks; {config.task} is {spec.kind}")
    options = dataclasses.replace(distill.run_options(config, settings), pooling="mean")
    student_config = dataclasses.replace(config, model=model_config, options=options,
                                         base=f"distilled:{source.path}")
    train = task_data.subset(spec.read(config.options.train_split),
                             settings["max_train_examples"], config.options.subset_seed)
    examples = augmented(train, augment_settings(settings), settings["seed"])
    source.log(f"{name}: {len(train)} examples + {len(examples) - len(train)} synthetic")
    dev_examples = spec.read(config.options.dev_split)
    data = (spec, task_data.encode(spec, source.tokenizer, examples, student_config),
            (dev_examples, task_data.encode(spec, source.tokenizer, dev_examples, config)))
    teacher_dev, _ = score(teacher, spec, *data[2], config, source.tokenizer)
    backbone = build_model(model_config, source.tokenizer.vocab_size, seed=settings["seed"])
    student = build_finetune_model(backbone, spec.kind, len(config.labels), options,
                                   seed=settings["seed"])
    copy_word_embeddings(student, teacher)
    stage = distill.train_stage(name, student, student_config, source, data,
                                LogitMSEObjective(teacher), settings["epochs"], settings)
    params = sum(p.numel() for p in student.parameters())
    return Compressed(student.cpu(), student_config, params * FLOAT_BITS, summary={
        "teacher": {"dev": teacher_dev},
        "student": {"dev": stage["best"], **student_summary},
        "train_examples": len(train), "synthetic_examples": len(examples) - len(train),
        "score_vs_teacher": round(100 * headline(stage["best"]) / headline(teacher_dev), 2),
        "stages": [stage], "seconds": round(time.perf_counter() - started, 1)})


def tang(source: Source, settings: dict) -> Compressed:
    model_config = bilstm_student_config(source.config.model, settings["cell_size"],
                                         settings["dropout"])
    return train_rnn_student(source, settings, model_config, "tang", {
        "encoder": "bilstm", "layers": 1, "cell_size": model_config.embedding.hidden_size})


TANG = Method("tang", "BiLSTM student distilled by logit MSE with masking, POS-guided "
              "replacement and n-gram sampling augmentation (Tang et al. 2019)",
              {"epochs": 1.0, "lr": 1e-3, "batch_size": 50, "max_train_examples": 0, "seed": 0,
               "evals_per_epoch": 2, "p_mask": 0.1, "p_pos": 0.1, "p_ngram": 0.25,
               "max_ngram": 5, "n_iter": 20, "cell_size": 0, "dropout": 0.1}, tang, check)
