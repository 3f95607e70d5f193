"""lmlab tokenizers as HF tokenizer folders, and back.

An lmlab tokenizer *is* an HF ``tokenizers`` JSON (:mod:`lmlab.data.tokenizers`), so an
export copies it and adds what ``transformers`` needs to use it: a post-processor that
wraps text as ``[CLS] A [SEP] (B [SEP])`` for the bidirectional families (lmlab's own
packing, :mod:`lmlab.finetune.features`), and a ``tokenizer_config.json`` naming the
special tokens. lmlab's own encoding never adds special tokens, so the post-processor
does not change it on the way back.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmlab.data.tokenizers import SPECIAL_ROLES, TextTokenizer, wordpiece_from_vocab
from lmlab.errors import CheckpointError
from lmlab.interop.hf_folder import lowercase_of, read_json

KINDS = {"WordPiece": "wordpiece", "BPE": "bpe", "Unigram": "unigram", "WordLevel": "word"}


def special_tokens(tokenizer: TextTokenizer) -> dict[str, str]:
    """role (pad, unk, eos, cls, sep, mask) -> token."""
    ids = [tokenizer.pad_id, tokenizer.unk_id, tokenizer.eos_id, tokenizer.cls_id,
           tokenizer.sep_id, tokenizer.mask_id]
    return {role: tokenizer.id_to_token(i) for role, i in zip(SPECIAL_ROLES, ids)}


def write_hf_tokenizer(tokenizer: TextTokenizer, folder: Path, bidirectional: bool,
                       max_length: int) -> None:
    """``tokenizer.json`` + ``tokenizer_config.json`` that ``AutoTokenizer`` loads."""
    from tokenizers import Tokenizer, processors

    backend = Tokenizer.from_str(tokenizer.backend.to_str())  # a copy: the run's is unchanged
    roles = special_tokens(tokenizer)
    if bidirectional:
        cls, sep = roles["cls"], roles["sep"]
        backend.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, tokenizer.cls_id), (sep, tokenizer.sep_id)])
    backend.save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length,
              "pad_token": roles["pad"], "unk_token": roles["unk"], "cls_token": roles["cls"],
              "sep_token": roles["sep"], "mask_token": roles["mask"], "eos_token": roles["eos"],
              "bos_token": roles["cls"], "lmlab_kind": tokenizer.kind,
              "model_input_names": ["input_ids", "token_type_ids", "attention_mask"]
              if bidirectional else ["input_ids", "attention_mask"],
              "lmlab_special_tokens": roles}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")


def _token(value) -> str | None:
    return value.get("content") if isinstance(value, dict) else value


def read_hf_tokenizer(folder: Path) -> TextTokenizer:
    """An lmlab tokenizer from ``tokenizer.json`` (+ ``tokenizer_config.json``), or from
    BERT's ``vocab.txt``. Roles the folder does not name fall back to its eos/unk token
    (GPT-2 has only ``<|endoftext|>``)."""
    from tokenizers import Tokenizer

    config_path = folder / "tokenizer_config.json"
    config = read_json(config_path) if config_path.exists() else {}
    if not (folder / "tokenizer.json").exists():
        if (folder / "vocab.txt").exists():
            return wordpiece_from_vocab(folder / "vocab.txt",
                                        lowercase_of(folder, folder / "vocab.txt"))
        raise CheckpointError(f"{folder}: no tokenizer.json or vocab.txt")
    backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    backend.no_padding()  # lmlab pads and truncates its batches itself
    backend.no_truncation()
    roles = dict(config.get("lmlab_special_tokens") or {})
    for role in SPECIAL_ROLES:
        roles.setdefault(role, _token(config.get(f"{role}_token")))
    fallback = roles.get("eos") or roles.get("unk") or roles.get("sep")
    roles = {role: token or fallback for role, token in roles.items()}
    if any(token is None or backend.token_to_id(token) is None for token in roles.values()):
        raise CheckpointError(f"{folder}: the tokenizer lacks special tokens for "
                              f"{', '.join(r for r, t in roles.items() if t is None)}")
    model = json.loads(backend.to_str())["model"]["type"]
    kind = config.get("lmlab_kind") or KINDS.get(model, "bpe")
    return TextTokenizer(backend, kind, roles["unk"], roles)
