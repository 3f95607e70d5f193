"""Distillation methods of ``lmlab compress`` (issue 20): a student built from the
fine-tuned teacher is trained on the teacher's task data by the one training loop
(:func:`lmlab.training.loop.train_job`) with a :class:`~lmlab.compression.distillation.
objective.DistillationObjective` in place of the head's loss; model selection on the dev
score as in fine-tuning. The stages of a method train one after the other, each in its
own folder under ``<out>/stages/`` with atomic checkpoints.

Methods (settings in :data:`COMMON` and each method's own):
- ``kd``: Hinton et al. 2015 / Tang et al. 2019 (``soft: mse``) on a layer-subset student;
  ``teachers: [runs]`` averages further teachers' soft targets (MT-DNN-KD, Liu et al. 2019);
  ``pretrain_epochs`` (PD, Turc et al. 2019) and ``general_epochs`` (DistilBERT's
  task-agnostic distillation) add stages on unlabeled text first
  (:mod:`lmlab.finetune.general_distill`);
- ``pkd``: BERT-PKD (Sun et al. 2019), ``layer_map: uniform`` is PKD-Skip, ``last`` PKD-Last;
  the student starts from the teacher's first M layers, as in the paper;
- ``tinybert``: TinyBERT's two-stage learning (Jiao et al. 2020 §3.3): ``general_epochs``
  of general distillation on unlabeled text (the same task-agnostic stage as ``kd``'s, with
  TinyBERT's loss set: embedding, attention, hidden over n = g(m)), then the task-specific
  distillation: an intermediate-layer stage (the same losses on the task data) then a
  prediction-layer stage;
- ``layerdrop``: LayerDrop (Fan et al. 2020) fine-tuning, then every other layer kept;
- ``theseus``: BERT-of-Theseus (Xu et al. 2020): module replacement with a replacing rate
  and its curriculum, then successor fine-tuning.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import shutil
import time

from lmlab.compression.distillation.objective import DistillationObjective, DistillationSettings
from lmlab.compression.distillation.student import (encoder_layers, student_from_teacher,
                                                    teacher_layers)
from lmlab.compression.distillation.theseus import TheseusObjective, module_groups
from lmlab.compression.matrices import FLOAT_BITS
from lmlab.compression.method import Compressed, Method, Source
from lmlab.errors import ConfigError
from lmlab.evaluation.metrics import headline
from lmlab.finetune import general_distill, task_data
from lmlab.finetune.job import BEST, FinetuneJob, score
from lmlab.finetune.run_folder import load_finetuned
from lmlab.finetune.loop import train_config
from lmlab.tasks.catalogue import get_task
from lmlab.training import checkpoint as ckpt
from lmlab.training import loop

COMMON = {"student_layers": 3, "init": "every_other", "layer_map": "uniform", "epochs": 3.0,
          "lr": 5e-5, "batch_size": 32, "max_train_examples": 0, "seed": 0,
          "evals_per_epoch": 2}
"""Settings every distillation method has (``max_train_examples: 0`` = all)."""
KINDS = ("classification", "regression")


def check(settings: dict) -> None:
    for name in ("epochs", "lr"):
        if not isinstance(settings[name], (int, float)) or settings[name] <= 0:
            raise ConfigError(f"--set {name}={settings[name]}: must be a number > 0")
    for name in ("batch_size", "evals_per_epoch"):
        if not isinstance(settings[name], int) or settings[name] <= 0:
            raise ConfigError(f"--set {name}={settings[name]}: must be an integer > 0")
    if settings.get("temperature", 1) <= 0:
        raise ConfigError(f"--set temperature={settings['temperature']}: must be > 0")
    if not 0 <= settings.get("alpha", 0) <= 1:
        raise ConfigError(f"--set alpha={settings['alpha']}: must be in [0, 1]")
    if not 0 <= settings.get("rate", 0) < 1:
        raise ConfigError(f"--set rate={settings['rate']}: a LayerDrop rate in [0, 1)")
    if not 0 < settings.get("replacing_rate", 1) <= 1:
        raise ConfigError(f"--set replacing_rate={settings['replacing_rate']}: must be in (0, 1]")
    if settings.get("rate_increase", 0) < 0:
        raise ConfigError(f"--set rate_increase={settings['rate_increase']}: must be >= 0")
    if settings.get("cosine", 0) < 0:
        raise ConfigError(f"--set cosine={settings['cosine']}: must be >= 0")
    for name in ("pretrain_epochs", "general_epochs"):
        value = settings.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"--set {name}={value!r}: must be a number >= 0")
    if settings.get("general_text", "task") not in general_distill.TEXTS:
        raise ConfigError(f"--set general_text={settings['general_text']!r}: expected one of "
                          f"{', '.join(general_distill.TEXTS)}")
    if settings.get("general_teacher", "finetuned") not in general_distill.TEACHERS:
        raise ConfigError(f"--set general_teacher={settings['general_teacher']!r}: expected "
                          f"one of {', '.join(general_distill.TEACHERS)}")
    if settings.get("soft", "kl") not in ("kl", "mse"):
        raise ConfigError(f"--set soft={settings['soft']}: expected kl (Hinton) or mse (Tang)")


def task_features(source: Source, config, max_examples: int):
    """(spec, train features, (dev examples, dev features)) of the teacher's task."""
    spec = get_task(config.task)
    if spec.kind not in KINDS:
        raise ConfigError(f"{source.path}: distillation supports {' and '.join(KINDS)} tasks; "
                          f"{config.task} is {spec.kind}")
    options = config.options
    train = task_data.subset(spec.read(options.train_split), max_examples, options.subset_seed)
    dev_examples = spec.read(options.dev_split)
    return (spec, task_data.encode(spec, source.tokenizer, train, config),
            (dev_examples, task_data.encode(spec, source.tokenizer, dev_examples, config)))


def train_stage(name: str, student, config, source: Source, data, objective, epochs: float,
                 settings: dict) -> dict:
    """One stage: ``student`` trained by ``objective``, the best dev weights loaded back."""
    spec, train_features, dev = data
    folder = source.out / "stages" / name
    job = FinetuneJob(student, config, source.tokenizer, spec, train_features, dev,
                      settings["seed"], folder, source.log, objective=objective)
    total = max(1, math.ceil(job.per_epoch * epochs))
    every = max(1, job.per_epoch // settings["evals_per_epoch"])
    plan = loop.LoopPlan(train_config(config.options, total, every, settings["seed"]), total,
                         f"distil {name}")
    state = (ckpt.load_trainer_state(ckpt.checkpoint_folder(folder))
             if (folder / ckpt.CHECKPOINT).exists() else None)
    result = loop.train_job(job, plan, folder, job.per_epoch, state, source.log)
    ckpt.load_weights(student, ckpt.checkpoint_folder(folder / BEST))
    for finished in (ckpt.CHECKPOINT, BEST):  # the weights live on in the student
        shutil.rmtree(folder / finished, ignore_errors=True)
    return {"stage": name, "best": job.best, "history": job.history,
            "train_seconds": round(result.train_seconds, 1)}


def run_options(config, settings: dict):
    """The teacher's fine-tuning options with the method's lr, batch and subset."""
    return dataclasses.replace(config.options.for_kind(config.kind), lr=settings["lr"],
                               batch_size=settings["batch_size"], seeds=[settings["seed"]],
                               max_train_examples=settings["max_train_examples"])


def _start(source: Source, settings: dict, init: str):
    """(teacher layers N, chosen layers, student, its config, task data, teacher dev
    scores): a student of the teacher's layers ``init`` and the teacher scored on dev."""
    teacher, config = source.model, source.config
    layers = len(encoder_layers(teacher, str(source.path)))
    chosen = teacher_layers(init, layers, settings["student_layers"], "init")
    student, student_config = student_from_teacher(teacher, dataclasses.replace(
        config, options=run_options(config, settings)), chosen)
    student_config = dataclasses.replace(student_config, base=f"distilled:{source.path}")
    data = task_features(source, student_config, settings["max_train_examples"])
    teacher_dev, _ = score(teacher, data[0], *data[2], config, source.tokenizer)
    return layers, chosen, student, student_config, data, teacher_dev


def _result(student, config, teacher_dev, layers: int, stages: list, started: float,
            student_summary: dict) -> Compressed:
    params = sum(p.numel() for p in student.parameters())
    return Compressed(student.cpu(), config, params * FLOAT_BITS, summary={
        "teacher": {"dev": teacher_dev, "layers": layers},
        "student": {"dev": stages[-1]["best"], **student_summary},
        "score_vs_teacher": round(100 * headline(stages[-1]["best"]) / headline(teacher_dev), 2),
        "stages": stages, "seconds": round(time.perf_counter() - started, 1)})


def more_teachers(source: Source, paths: list) -> list:
    """The extra teachers of MT-DNN-KD: fine-tuned runs of the same task and labels (a run
    of another task or label set is a one-line error naming it)."""
    if not isinstance(paths, list):
        raise ConfigError(f"--set teachers={paths!r}: expected a list of fine-tuned run folders")
    models = []
    for path in paths:
        config, _, model = load_finetuned(path)
        if (config.task, config.labels) != (source.config.task, source.config.labels):
            raise ConfigError(f"--set teachers: {path} is fine-tuned on {config.task} "
                              f"{config.labels}; the teacher {source.path} on "
                              f"{source.config.task} {source.config.labels}")
        models.append(model)
    return models


def distil(source: Source, settings: dict, method: str) -> Compressed:
    started = time.perf_counter()
    more = more_teachers(source, settings.get("teachers", []))  # checked before the work
    general_teacher = source.model  # the task-agnostic stage's (TinyBERT §3.3: the base)
    if settings.get("general_epochs") and settings.get("general_teacher") == "base":
        general_teacher = general_distill.base_teacher(source.model, source.config.base,
                                                       str(source.path))
    init = "first" if method == "pkd" and settings["init"] == "every_other" else settings["init"]
    layers, chosen, student, config, data, teacher_dev = _start(source, settings, init)
    layer_map = teacher_layers(settings["layer_map"], layers, settings["student_layers"],
                               "layer_map")
    base = DistillationSettings(method, settings.get("temperature", 1.0),
                                settings.get("alpha", 0.5), settings.get("beta", 0.0),
                                settings.get("soft", "kl"), cosine=settings.get("cosine", 0.0))
    teacher, stages = source.model, []
    if settings.get("pretrain_epochs") or settings.get("general_epochs"):
        unlabeled = (data[0], general_distill.unlabeled_features(
            data[0], source.tokenizer, config, settings["general_text"],
            settings["general_examples"], settings["seed"]), data[2])
        last = {**settings, "evals_per_epoch": 1}  # no dev selection on a task-agnostic stage
        if settings.get("pretrain_epochs"):  # PD (Turc et al. 2019), Algorithm 1 step 1
            mlm = general_distill.MaskedLMStage(source.tokenizer, settings["seed"])
            mlm.attach_head(student, config.model)
            try:
                stages.append(train_stage("pretrain_mlm", student, config, source, unlabeled,
                                          mlm, settings["pretrain_epochs"], last))
            finally:
                mlm.detach_head(student)
        if settings["general_epochs"]:  # task-agnostic: DistilBERT's or TinyBERT's losses
            stages.append(train_stage("general", student, config, source, unlabeled,
                                      DistillationObjective(general_teacher, dataclasses.replace(
                                          base, stage="general"), layer_map),
                                      settings["general_epochs"], last))
    if method == "tinybert":
        stages.append(train_stage("intermediate", student, config, source, data,
                                  DistillationObjective(teacher, dataclasses.replace(
                                      base, stage="intermediate"), layer_map),
                                  settings["intermediate_epochs"], settings))
    stages.append(train_stage(method if method != "tinybert" else "prediction", student,
                              config, source, data,
                              DistillationObjective(teacher, base, layer_map,
                                                    more_teachers=more),
                              settings["epochs"], settings))
    return _result(student, config, teacher_dev, layers, stages, started, {
        "layers": settings["student_layers"], "init_from_teacher_layers": chosen,
        "layer_map": layer_map})


def theseus(source: Source, settings: dict) -> Compressed:
    """BERT-of-Theseus: the replacing stage (:class:`TheseusObjective`), then successor
    fine-tuning of the student alone (Xu et al. 2020 §3.1-3.2)."""
    started = time.perf_counter()
    groups = module_groups(len(encoder_layers(source.model, str(source.path))),
                           settings["student_layers"])
    init = "first" if settings["init"] == "every_other" else settings["init"]
    layers, chosen, student, config, data, teacher_dev = _start(source, settings, init)
    objective = TheseusObjective(source.model, groups, settings["replacing_rate"],
                                 settings["rate_increase"], settings["seed"])
    stages = [train_stage("replacing", student, config, source, data, objective,
                          settings["epochs"], settings),
              train_stage("successor", student, config, source, data, None,
                          settings["successor_epochs"], settings)]
    return _result(student, config, teacher_dev, layers, stages, started, {
        "layers": settings["student_layers"], "init_from_teacher_layers": chosen,
        "modules": groups, "final_replacing_rate": objective.replacing_rate()})


def layerdrop(source: Source, settings: dict) -> Compressed:
    """LayerDrop (Fan et al. 2020): the teacher fine-tuned further with each layer dropped
    with probability ``rate`` (§3: structured dropout), then pruned at inference to the
    layers ``init`` (§4: "every other" by default) with no more training."""
    started = time.perf_counter()
    teacher, config = source.model, source.config
    layers = len(encoder_layers(teacher, str(source.path)))
    chosen = teacher_layers(settings["init"], layers, settings["student_layers"], "init")
    config = dataclasses.replace(config, options=run_options(config, settings),
                                 base=f"layerdrop:{source.path}")
    data = task_features(source, config, settings["max_train_examples"])
    teacher_dev, _ = score(teacher, data[0], *data[2], source.config, source.tokenizer)
    model = copy.deepcopy(teacher)
    model.backbone.encoder.layer_drop = settings["rate"]
    stage = train_stage("layerdrop", model, config, source, data, None, settings["epochs"],
                        settings)
    model.backbone.encoder.layer_drop = 0.0
    student, student_config = student_from_teacher(model.cpu(), config, chosen)
    pruned_dev, _ = score(student, data[0], *data[2], student_config, source.tokenizer)
    return _result(student, student_config, teacher_dev, layers,
                   [stage, {"stage": "prune", "best": pruned_dev, "history": []}], started,
                   {"layers": settings["student_layers"], "kept_teacher_layers": chosen,
                    "full_depth_dev": stage["best"]})


def _method(name: str, help: str, own: dict) -> Method:
    return Method(name, help, {**COMMON, **own},
                  lambda source, settings: distil(source, settings, name), check)


KD = _method("kd", "knowledge distillation into a layer subset of the teacher (Hinton et al. "
             "2015; soft=mse: Tang et al. 2019; cosine>0: DistilBERT's L_cos; "
             "general_epochs>0: DistilBERT's task-agnostic stage first; pretrain_epochs>0: "
             "PD, MLM pre-training of the student first, Turc et al. 2019)",
             {"temperature": 2.0, "alpha": 0.5, "soft": "kl", "cosine": 0.0, "teachers": [],
              "pretrain_epochs": 0.0, "general_epochs": 0.0, "general_text": "wikitext-2",
              "general_examples": 20000, "general_teacher": "finetuned"})
PKD = _method("pkd", "BERT-PKD patient distillation of [CLS] states (Sun et al. 2019; "
              "layer_map uniform = PKD-Skip, last = PKD-Last)",
              {"temperature": 5.0, "alpha": 0.7, "beta": 100.0})
TINYBERT = _method("tinybert", "TinyBERT: general distillation on unlabeled text "
                   "(general_epochs>0), then task distillation: embedding, attention, hidden, "
                   "then prediction layer (Jiao et al. 2020)",
                   {"temperature": 1.0, "intermediate_epochs": 2.0, "general_epochs": 0.0,
                    "general_text": "wikitext-2", "general_examples": 20000,
                    "general_teacher": "finetuned"})
THESEUS = Method("theseus", "BERT-of-Theseus progressive module replacement, then successor "
                 "fine-tuning (Xu et al. 2020)",
                 {**COMMON, "replacing_rate": 0.5, "rate_increase": 0.0,
                  "successor_epochs": 1.0}, theseus, check)
LAYERDROP = Method("layerdrop", "LayerDrop: fine-tune with layers dropped at random, then keep "
                   "every other layer (Fan et al. 2020)",
                   {**COMMON, "rate": 0.5, "epochs": 1.0, "lr": 2e-5}, layerdrop, check)
METHODS = (KD, PKD, TINYBERT, THESEUS, LAYERDROP)
