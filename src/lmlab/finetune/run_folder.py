"""Base encoders and fine-tuned run folders.

A base is an lmlab pre-training run (``runs/bert-tiny``), a fine-tuned run, or a local HF
BERT folder (``hf:<dir>``). A fine-tuned run is written with the spine's atomic
:func:`~lmlab.training.checkpoint.save_checkpoint` (model.safetensors + config.yaml +
tokenizer/ + trainer_state.pt), its config.yaml being a :class:`FinetuneRunConfig`.
"""

from __future__ import annotations

import copy
from pathlib import Path

from lmlab.compression.quantization.dynamic import quantize_dynamic_int8
from lmlab.config import from_dict
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import CheckpointError, ConfigError
from lmlab.finetune.config import FinetuneRunConfig
from lmlab.finetune.model import build_finetune_model
from lmlab.interop.hf_folder import HF_PREFIX, load_hf_bert
from lmlab.registry import build_model, build_objectives
from lmlab.training.checkpoint import (checkpoint_folder, load_run, load_weights,
                                      read_checkpoint_raw, save_checkpoint)


def _finetuned_config(folder: Path) -> FinetuneRunConfig | None:
    raw = read_checkpoint_raw(folder)
    if "task" not in raw:
        return None
    try:
        return from_dict(FinetuneRunConfig, raw)
    except ConfigError as error:
        raise CheckpointError(f"{folder}/config.yaml: {error}") from None


def load_base(base: str):
    """(ModelConfig, tokenizer, backbone LanguageModel, pooler state or None)."""
    if base.startswith(HF_PREFIX):
        return load_hf_bert(base)
    folder = checkpoint_folder(base, verify=False)  # a peek; the loaders below verify it
    if (finetuned := _finetuned_config(folder)) is not None:
        if finetuned.quantization:
            raise CheckpointError(f"{base}: a {finetuned.quantization} run is for inference "
                                  f"only; fine-tune the run it was compressed from")
        config, tokenizer, model = load_finetuned(base)
        return copy.deepcopy(config.model), tokenizer, model.backbone, None

    config, tokenizer, model = load_run(base)
    # A left-to-right LSTM's output at a real token never reads the right padding after
    # it, so the heads can read it (Dai & Le 2015: the classifier from the last state).
    if getattr(model.encoder, "recurrent", False) and \
            not getattr(model.encoder, "left_to_right", False):
        raise CheckpointError(f"{base}: a recurrent LM cannot be fine-tuned with these heads "
                              f"(they expect a transformer encoder or an lstm)")
    return config.model, tokenizer, model, None


def check_pooling(backbone, kind: str, pooling: str, base: str) -> None:
    """Refuse ``pooling: cls`` on a left-to-right encoder: position 0 has read only [CLS]."""
    pooled = kind in ("classification", "regression", "multiple_choice")
    if pooled and pooling == "cls" and getattr(backbone.encoder, "left_to_right", False):
        raise ConfigError(f"--pooling cls: {base} reads left to right, so its first position "
                          f"has seen only [CLS]; use --pooling last (or mean)")


def load_finetuned(path: str | Path):
    """(FinetuneRunConfig, tokenizer, FineTuneModel in eval mode)."""
    folder = checkpoint_folder(path)
    config = _finetuned_config(folder)
    if config is None:
        raise CheckpointError(f"{path}: a pre-training run, not a fine-tuned one (run "
                              f"'lmlab finetune {path} --task ...' first)")
    tokenizer = TextTokenizer.load(folder / "tokenizer")
    backbone = build_model(copy.deepcopy(config.model), tokenizer.vocab_size)
    model = build_finetune_model(backbone, config.kind, len(config.labels), config.options)
    load_weights(model, folder)
    if config.quantization == "dynamic_int8":  # safetensors holds fp32; quantized here
        model = quantize_dynamic_int8(model)
    return config, tokenizer, model.eval()


def save_finetuned(out: Path, model, config: FinetuneRunConfig, tokenizer, state: dict) -> Path:
    return save_checkpoint(Path(out), model, config, tokenizer, state)


def generation_setup(base: str, tokenizer) -> tuple[str, int | None]:
    """How ``base`` generates once fine-tuned on a generation task: (mode, decoder start
    id); see :mod:`lmlab.finetune.seq2seq_features` for the modes."""
    refuse = (f"{base}: a masked LM cannot be fine-tuned to generate; use an encoder–decoder "
              f"(mass/, bart/, t5/), a causal LM (gpt/) or a UniLM run")
    if base.startswith(HF_PREFIX):
        raise CheckpointError(refuse)
    folder = checkpoint_folder(base, verify=False)
    finetuned = _finetuned_config(folder)
    if finetuned is not None:
        if not finetuned.generation_mode:
            raise CheckpointError(f"{base} was fine-tuned for {finetuned.task} "
                                  f"({finetuned.kind}); it cannot generate")
        return finetuned.generation_mode, finetuned.decoder_start_id
    config, _, _ = load_run(base)
    objective = build_objectives(config.objectives[:1], tokenizer)[0]
    if config.model.decoder is not None:
        return "encoder_decoder", objective.decoder_start_id
    if config.objectives[0].name == "unilm":
        return "unilm", None
    if getattr(config.model.encoder, "mask", None) == "causal":
        return "prefix_lm", None
    raise CheckpointError(refuse)
