"""Score a multimodal run folder (issue 22: every model loads in ``lmlab evaluate``).

* a ``vqa`` run: easy-VQA dev accuracy, overall and yes/no vs other (the package's test
  split stays held out: it is never read here);
* a ``pretrain`` run: every objective's held-out loss (emoji test + easy-VQA dev, the fixed
  evaluation corruption) and, when it has an ``itm`` head, emoji retrieval recall@1/5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lmlab.config import load_raw
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import CheckpointError
from lmlab.multimodal.corpus import encode, pretraining_corpus, vqa_corpus
from lmlab.multimodal.job import PretrainJob, VQAModel, collate, vqa_scores
from lmlab.multimodal.models import build_multimodal
from lmlab.multimodal.presets import config_from_raw
from lmlab.multimodal.runs import build_objectives, emoji_retrieval, load_pretrained
from lmlab.training import checkpoint as ckpt


@torch.no_grad()
def evaluate_vqa(run_dir: str | Path, batch_size: int = 256) -> dict:
    folder = ckpt.checkpoint_folder(run_dir)
    config = config_from_raw(load_raw(folder / "config.yaml"), str(folder / "config.yaml"))
    tokenizer = TextTokenizer.load(folder / "tokenizer")
    dev, labels, answers = vqa_corpus(config.data, "dev")
    encode(dev, tokenizer, config.data.max_text_length)
    model = VQAModel(build_multimodal(config.model), len(answers))
    ckpt.load_weights(model, folder)
    model.eval()
    predicted = []
    for start in range(0, len(dev), batch_size):
        rows = np.arange(start, min(start + batch_size, len(dev)))
        batch = collate(dev, rows, config.model.visual.cell_size, 0, config.blank_images,
                        config.blank_questions)
        logits = model(batch["input_ids"], batch["attention_mask"], batch["features"])
        predicted.append(logits.argmax(-1).numpy())
    return {"split": "dev", "questions": len(dev),
            **vqa_scores(np.concatenate(predicted), labels, answers)}


@torch.no_grad()
def evaluate_pretraining(run_dir: str | Path) -> dict:
    config, tokenizer, model = load_pretrained(run_dir)
    objectives = build_objectives(config, tokenizer)
    for objective in objectives:  # region classification: the codebook saved with its head
        if getattr(objective, "codebook", "none") is None:
            objective.codebook = model.heads[objective.config.name].codebook.clone()
    held_out = encode(pretraining_corpus(config.data, "held_out"), tokenizer,
                      config.data.max_text_length)
    model.eval()
    job = PretrainJob(model, config, tokenizer, objectives, held_out, held_out,
                      config.batch_size, config.train.seed)
    result = {"split": "held_out", "examples": min(job.eval_examples, len(held_out)),
              **job.evaluate()}
    if "itm" in model.heads:
        result["retrieval"] = emoji_retrieval(run_dir)
    return result


def evaluate_multimodal(run_dir: str | Path) -> dict:
    folder = ckpt.checkpoint_folder(run_dir)
    kind = load_raw(folder / "config.yaml").get("kind")
    if kind == "vqa":
        return evaluate_vqa(run_dir)
    if kind == "pretrain":
        return evaluate_pretraining(run_dir)
    raise CheckpointError(f"{folder}/config.yaml: kind {kind!r} is not a multimodal run "
                          f"(pretrain or vqa)")
