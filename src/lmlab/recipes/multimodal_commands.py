"""The multimodal side of ``lmlab train`` / ``evaluate`` / ``predict`` (issue 22). The
core commands ask :func:`is_multimodal` and hand over; nothing else changes for them.

    lmlab train multimodal/vilbert --out runs/vilbert
    lmlab train multimodal/easy_vqa --set init_from=runs/vilbert --out runs/vqa
    lmlab train --resume runs/vqa --set train.max_steps=2000
    lmlab evaluate runs/vqa
    lmlab predict runs/vqa --image shape.png --question "what color is the shape?"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from lmlab.errors import ConfigError, DataError
from lmlab.multimodal.evaluate import evaluate_multimodal
from lmlab.multimodal.predict import VQAPredictor
from lmlab.multimodal.presets import (is_multimodal_preset, is_multimodal_run,
                                      load_multimodal_config, load_run_config)
from lmlab.multimodal.runs import finetune_vqa, pretrain
from lmlab.outputs import prepare_output_folder


def is_multimodal(config: str | Path | None = None, run_dir: str | Path | None = None) -> bool:
    """Whether a preset file or a run folder is multimodal (``kind: pretrain|vqa``)."""
    if config is not None and Path(config).is_file():
        return is_multimodal_preset(config)
    return run_dir is not None and Path(run_dir).is_dir() and is_multimodal_run(run_dir)


def train(config_path, out, resume_dir, overrides: list[str], overwrite: bool,
          log: Callable[[str], None] = print) -> int:
    if resume_dir:
        config, run_dir = load_run_config(resume_dir, overrides), resume_dir
    else:
        if not out:
            raise ConfigError(f"{config_path}: give --out RUN for the new run")
        if any(o.split("=", 1)[0].strip() == "data.dataset" for o in overrides):
            raise ConfigError(f"{config_path}: a multimodal run reads emoji pairs and easy-VQA "
                              f"(data.sources); --data does not apply")
        config = load_multimodal_config(config_path, overrides)
        prepare_output_folder(out, "neural", overwrite)
        run_dir = out
    work = pretrain if config.kind == "pretrain" else finetune_vqa
    result = work(run_dir, config, resume=bool(resume_dir), log=log)
    log(json.dumps({"run": str(run_dir), "kind": config.kind, "steps": result.steps,
                    "train_seconds": round(result.train_seconds, 1),
                    "final_loss": round(result.final_loss, 4),
                    **{k: round(v, 4) for k, v in (result.evaluation or {}).items()}}))
    return 0


def evaluate(run_dir) -> int:
    print(json.dumps(evaluate_multimodal(run_dir)))
    return 0


def predict(run_dir, image: str | None, question: str | None, resize: bool = True) -> int:
    if not image and not question:
        raise DataError(f"{run_dir}: a multimodal run answers --question TEXT about --image PATH")
    answer = VQAPredictor(run_dir).answer(image, question, resize)
    print(json.dumps({"image": image, "question": question, "answer": answer}))
    return 0
