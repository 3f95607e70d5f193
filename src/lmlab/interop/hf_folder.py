"""Import a local HF-format BERT folder (config.json + model.safetensors + vocab.txt).

The folder is what ``BertModel.save_pretrained`` writes (all-MiniLM-L6-v2, bert-base-*):
only JSON, text and safetensors are read, never pickled code. Weights map onto lmlab's
BERT composition through :func:`lmlab.interop.hf.bert_to_lmlab`; the parity test checks
that the composed model gives ``transformers.BertModel``'s hidden states to 1e-5.
A ``pooler.dense`` in the checkpoint (BERT's [CLS] pooler, Devlin et al. 2019 §3) is
returned separately so a classification head can start from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lmlab.config import ModelConfig, from_dict
from lmlab.data.tokenizers import wordpiece_from_vocab
from lmlab.errors import CheckpointError
from lmlab.interop.hf import bert_to_lmlab, model_config_from_hf
from lmlab.registry import build_model

HF_PREFIX = "hf:"


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None


def resolve_hf_folder(path: str | Path) -> Path:
    """The folder holding config.json; accepts the folder or a ``model/`` child of it."""
    folder = Path(str(path)[len(HF_PREFIX):] if str(path).startswith(HF_PREFIX) else path)
    for candidate in (folder, folder / "model"):
        if (candidate / "config.json").exists():
            return candidate
    raise CheckpointError(f"{folder}: not an HF model folder (no config.json)")


def lowercase_of(folder: Path, vocab_path: Path) -> bool:
    """Uncased checkpoints say so in tokenizer_config.json; otherwise a cased vocabulary
    has capitalised words in it."""
    tokenizer_config = folder / "tokenizer_config.json"
    if tokenizer_config.exists():
        value = read_json(tokenizer_config).get("do_lower_case")
        if isinstance(value, bool):
            return value
    tokens = set(vocab_path.read_text(encoding="utf-8").split("\n"))
    return "The" not in tokens


def _load_state(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = folder / "model.safetensors"
    if not path.exists():
        raise CheckpointError(f"{folder}: no model.safetensors (pickled pytorch_model.bin "
                              f"is not loaded; convert it to safetensors first)")
    state = load_file(str(path))
    # Sentence-transformers checkpoints save the bare BertModel (no "bert." prefix).
    return {key if key.startswith(("bert.", "cls.")) else f"bert.{key}": value
            for key, value in state.items()}


def load_hf_bert(path: str | Path):
    """(ModelConfig, TextTokenizer, LanguageModel in eval mode, pooler state or None)."""
    folder = resolve_hf_folder(path)
    hf_config = read_json(folder / "config.json")
    if hf_config.get("model_type") != "bert":
        raise CheckpointError(f"{folder}/config.json: model_type {hf_config.get('model_type')!r}"
                              f" is not 'bert'")
    if hf_config.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"{folder}/config.json: position_embedding_type must be "
                              f"'absolute'")
    vocab_path = folder / "vocab.txt"
    tokenizer = wordpiece_from_vocab(vocab_path, lowercase_of(folder, vocab_path))
    raw = model_config_from_hf(hf_config)
    model_config = from_dict(ModelConfig, raw, f"{folder}/config.json")
    if tokenizer.vocab_size != hf_config["vocab_size"]:
        raise CheckpointError(f"{vocab_path}: {tokenizer.vocab_size} tokens but config.json "
                              f"says vocab_size={hf_config['vocab_size']}")
    state = _load_state(folder)
    with_mlm_head = "cls.predictions.bias" in state
    mapped = bert_to_lmlab(state, hf_config["num_hidden_layers"], with_mlm_head)
    model = build_model(model_config, tokenizer.vocab_size)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    allowed_missing = set() if with_mlm_head else {
        key for key in missing if key.startswith("lm_head.") and key != "lm_head.decoder.weight"}
    if unexpected or set(missing) - allowed_missing:
        raise CheckpointError(f"{folder}/model.safetensors does not fit BERT: missing "
                              f"{sorted(set(missing) - allowed_missing)[:3]}, unexpected "
                              f"{sorted(unexpected)[:3]}")
    pooler = None
    if "bert.pooler.dense.weight" in state:
        pooler = {"weight": state["bert.pooler.dense.weight"],
                  "bias": state["bert.pooler.dense.bias"]}
    return model_config, tokenizer, model.eval(), pooler
