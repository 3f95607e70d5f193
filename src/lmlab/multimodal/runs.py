"""Multimodal runs end to end (issue 22): pre-train a single- or two-stream model on the
emoji pairs + easy-VQA pictures with their questions, then fine-tune it (or a fresh one, or
a question-only one) on easy-VQA and score the dev split. Both go through the one training
loop (:func:`lmlab.training.loop.train_job`): checkpoints, exact resume, JSONL logs.

A run folder holds ``checkpoint/`` (``model.safetensors``, ``config.yaml`` — a
:class:`MultimodalRunConfig` —, ``tokenizer/``, ``trainer_state.pt``) and ``metrics.jsonl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from lmlab.config import load_raw
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import CheckpointError, ConfigError
from lmlab.multimodal.corpus import (Corpus, emoji_corpus, encode, pretraining_corpus,
                                     train_text_tokenizer, vqa_corpus)
from lmlab.multimodal.job import PretrainJob, VQAJob, VQAModel
from lmlab.multimodal.models import MultimodalConfig, build_multimodal
from lmlab.multimodal.objectives import MULTIMODAL_OBJECTIVES, PretrainingModel
from lmlab.multimodal.presets import MultimodalRunConfig, config_from_raw
from lmlab.multimodal.retrieval import matching_scores, recall_at
from lmlab.multimodal.quantize import kmeans
from lmlab.multimodal.visual import cell_features
from lmlab.training import checkpoint as ckpt
from lmlab.training.loop import LoopPlan, LoopResult, train_job


def build_objectives(config: MultimodalRunConfig, tokenizer) -> list:
    objectives = []
    for index, objective_config in enumerate(config.objectives):
        if objective_config.name not in MULTIMODAL_OBJECTIVES:
            raise ConfigError(f"objectives[{index}].name: one of "
                              f"{', '.join(MULTIMODAL_OBJECTIVES)}, got {objective_config.name!r}")
        objective_config.validate(f"objectives[{index}]")
        objective_config.check_compatible(config, f"objectives[{index}]")
        objective_class = MULTIMODAL_OBJECTIVES[objective_config.name][1]
        objectives.append(objective_class(objective_config, tokenizer, config.train.seed))
    return objectives


def _fix_sizes(config: MultimodalRunConfig, tokenizer) -> None:
    """The model's vocabulary, text length and image size follow the data."""
    config.model.vocab_size = tokenizer.vocab_size
    config.model.max_text_length = config.data.max_text_length
    config.model.visual.image_size = config.data.image_size
    config.data.validate()
    config.model.validate()


def _resume_state(run_dir: Path, resume: bool) -> dict | None:
    if not resume:
        if (run_dir / ckpt.CHECKPOINT).exists():
            raise CheckpointError(f"{run_dir}: already holds a checkpoint; resume it or choose "
                                  f"another folder")
        return None
    return ckpt.load_trainer_state(ckpt.checkpoint_folder(run_dir))


def pretraining_job(config: MultimodalRunConfig, tokenizer=None) -> PretrainJob:
    """Corpora, vocabulary (``tokenizer`` or one trained on the pre-training texts), model
    with its objectives' heads, k-means codebooks: the job ``pretrain`` trains (and
    ``pretrain_step_flops`` measures). Fixes ``config``'s sizes to the data."""
    train = pretraining_corpus(config.data, "train")
    held_out = pretraining_corpus(config.data, "held_out")
    tokenizer = tokenizer or train_text_tokenizer(train, config.data)
    for corpus in (train, held_out):
        encode(corpus, tokenizer, config.data.max_text_length)
    _fix_sizes(config, tokenizer)
    objectives = build_objectives(config, tokenizer)
    torch.manual_seed(config.train.seed)
    model = PretrainingModel(build_multimodal(config.model), objectives)
    features = cell_features(torch.from_numpy(train.images), config.model.visual.cell_size)
    for objective in objectives:  # k-means codebook of region classification
        objective.prepare(model, features.reshape(-1, features.shape[-1]))
    fit_visual_words(model.backbone, features, config.train.seed, objectives)
    return PretrainJob(model, config, tokenizer, objectives, train, held_out,
                       config.batch_size, config.train.seed)


def pretrain(run_dir: str | Path, config: MultimodalRunConfig, resume: bool = False,
             log: Callable[[str], None] = print) -> LoopResult:
    run_dir = Path(run_dir)
    state = _resume_state(run_dir, resume)
    tokenizer = (TextTokenizer.load(ckpt.checkpoint_folder(run_dir) / "tokenizer") if resume
                 else None)
    job = pretraining_job(config, tokenizer)
    log(f"pre-training {config.model.architecture} ({config.model.visual.kind}) on "
        f"{len(job.train)} image-text examples, {len(job.train.images)} pictures; "
        f"{sum(p.numel() for p in job.model.parameters()):,} parameters")
    plan = LoopPlan(config.train, config.train.max_steps, name="multimodal")
    steps_per_epoch = -(-len(job.train) // config.batch_size)
    return train_job(job, plan, run_dir, steps_per_epoch, state, log)


def fit_visual_words(backbone, features: torch.Tensor, seed: int, objectives=()) -> None:
    """``visual.kind: vq`` (VideoBERT): fill the visual embedding's codebook. A region
    classification objective with as many codes lends its codebook (then the masked visual
    word the model predicts is the word it reads); otherwise k-means on a seeded sample of
    at most 20,000 training cells."""
    visual = backbone.config.visual
    if visual.kind != "vq":
        return
    for objective in objectives:
        codebook = getattr(objective, "codebook", None)
        if codebook is not None and codebook.shape[0] == visual.num_codes:
            backbone.visual_embedding.codebook.copy_(codebook)
            return
    flat = features.reshape(-1, features.shape[-1])
    rows = torch.randperm(flat.shape[0], generator=torch.Generator().manual_seed(seed))
    backbone.visual_embedding.codebook.copy_(kmeans(flat[rows[:20000]], visual.num_codes,
                                                    20, seed))


def load_backbone(model: torch.nn.Module, run_dir: str | Path) -> None:
    """Copy a pre-training run's ``backbone.*`` weights into ``model`` (a VQAModel)."""
    from safetensors.torch import load_file

    folder = ckpt.checkpoint_folder(run_dir)
    weights = {name.removeprefix("backbone."): value
               for name, value in load_file(str(folder / "model.safetensors")).items()
               if name.startswith("backbone.")}
    missing, unexpected = model.backbone.load_state_dict(weights, strict=False)
    missing = [name for name in missing if not name.endswith("boxes")]
    if missing or unexpected:
        raise CheckpointError(f"{folder}/model.safetensors: not this backbone (missing "
                              f"{missing[:3]}, unexpected {unexpected[:3]}); pre-train with the "
                              f"same model settings")


def finetune_vqa(run_dir: str | Path, config: MultimodalRunConfig, resume: bool = False,
                 log: Callable[[str], None] = print) -> LoopResult:
    """Fine-tune on easy-VQA train (the dev images held out), score dev. The vocabulary
    is the pre-training run's (``init_from``) or, for a fresh model, one trained on the
    same pre-training texts, so every model reads the questions the same way."""
    run_dir = Path(run_dir)
    state = _resume_state(run_dir, resume)
    if resume:
        tokenizer = TextTokenizer.load(ckpt.checkpoint_folder(run_dir) / "tokenizer")
    elif config.init_from:
        source = ckpt.checkpoint_folder(config.init_from)
        tokenizer = TextTokenizer.load(source / "tokenizer")
        config.model = _pretrained_model_config(source)
        # the pictures as the backbone saw them (VideoBERT's frame proxy)
        config.data.video_frames = int(load_raw(source / "config.yaml")["data"].get(
            "video_frames", 0))
    else:
        tokenizer = train_text_tokenizer(pretraining_corpus(config.data, "train"), config.data)
    train, train_labels, answers = vqa_corpus(config.data, "train")
    dev, dev_labels, _ = vqa_corpus(config.data, "dev")
    for corpus in (train, dev):
        encode(corpus, tokenizer, config.data.max_text_length)
    _fix_sizes(config, tokenizer)
    torch.manual_seed(config.train.seed)
    model = VQAModel(build_multimodal(config.model), len(answers))
    if config.init_from and not resume:
        load_backbone(model, config.init_from)
    elif not resume:  # vq from scratch: visual words of the fine-tuning pictures
        fit_visual_words(model.backbone, cell_features(torch.from_numpy(train.images),
                                                       config.model.visual.cell_size),
                         config.train.seed)
    job = VQAJob(model, config, tokenizer, train, train_labels, dev, dev_labels, answers,
                 config.batch_size, config.train.seed, config.blank_images,
                 config.blank_questions)
    plan = LoopPlan(config.train, config.train.max_steps, name="vqa")
    steps_per_epoch = -(-len(train) // config.batch_size)
    return train_job(job, plan, run_dir, steps_per_epoch, state, log)


def _pretrained_model_config(folder: Path) -> MultimodalConfig:
    return MultimodalConfig.from_dict(load_raw(folder / "config.yaml")["model"])


def load_pretrained(run_dir: str | Path) -> tuple[MultimodalRunConfig, object, PretrainingModel]:
    """(config, tokenizer, model with its heads) of a pre-training run folder."""
    folder = ckpt.checkpoint_folder(run_dir)
    raw = load_raw(folder / "config.yaml")
    if raw.get("kind") != "pretrain":
        raise CheckpointError(f"{folder}/config.yaml: kind is {raw.get('kind')!r}; expected a "
                              f"multimodal pre-training run (kind: pretrain)")
    config = config_from_raw(raw, str(folder / "config.yaml"))
    tokenizer = TextTokenizer.load(folder / "tokenizer")
    model = PretrainingModel(build_multimodal(config.model), build_objectives(config, tokenizer))
    ckpt.load_weights(model, folder)
    return config, tokenizer, model


def emoji_retrieval(run_dir: str | Path, limit: int = 0) -> dict:
    """Recall@1/5 both ways on the held-out emoji pairs (the first ``limit``; 0: all),
    English and Chinese captions, by the run's ITM head (every picture against every
    caption of one language)."""
    config, tokenizer, model = load_pretrained(run_dir)
    if "itm" not in model.heads:
        raise ConfigError(f"{run_dir}: retrieval scores pairs with the itm head; pre-train with "
                          f"an itm objective")
    held_out = emoji_corpus(config.data, "test")  # texts: en, zh of each picture in turn
    if limit and limit < len(held_out.images):
        held_out = Corpus(held_out.images[:limit], held_out.texts[:2 * limit],
                          held_out.image_rows[:2 * limit])
    result = {"pairs": len(held_out.images)}
    for offset, language in enumerate(("en", "zh")):
        texts = held_out.texts[offset::2]
        corpus = encode(Corpus(held_out.images, texts, held_out.image_rows[offset::2]),
                        tokenizer, config.data.max_text_length)
        scores = matching_scores(model, held_out.images, corpus.ids,
                                 config.model.visual.cell_size)
        result.update({f"{language}_{k}": v for k, v in recall_at(scores).items()})
    return result
