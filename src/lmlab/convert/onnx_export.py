"""``lmlab convert <run> --to onnx <dir>``: one ONNX graph, checked against PyTorch.

The graph takes ``input_ids`` and ``attention_mask`` (and ``token_type_ids`` when the
model has segments), every axis but the hidden width dynamic, and returns ``logits`` and
``hidden`` (the encoder's last states):

* pre-trained LM: vocabulary logits (B, T, V); ELECTRA: replaced-token logits (B, T);
* classification (B, C), regression (B,), span QA (B, T, 2), tagging per token (B, T, K)
  (the caller picks each word's first piece, as lmlab's head does), multiple choice:
  inputs (B, K, T), logits (B, K).

The command runs the graph in onnxruntime on two batch shapes and fails unless it agrees
with PyTorch to 1e-4; ``--int8`` adds ``model.int8.onnx`` (dynamic quantisation of the
weights, ``onnxruntime.quantization.quantize_dynamic``), whose difference is reported,
not bounded: int8 is an approximation.

An encoder–decoder (BART, T5, MASS) is written as two graphs instead
(:mod:`lmlab.convert.onnx_seq2seq`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from lmlab.convert.onnx_checks import largest_difference, write_int8
from lmlab.convert.onnx_seq2seq import export_seq2seq_onnx
from lmlab.convert.runs import ONNX, open_run
from lmlab.errors import CheckpointError
from lmlab.interop.families import PRETRAINED
from lmlab.interop.hf_tokenizer import write_hf_tokenizer
from lmlab.outputs import prepare_output_folder

TOLERANCE = 1e-4
OPSET = 17


class OnnxGraph(nn.Module):
    """The run's model behind ONNX's flat tensor signature."""

    def __init__(self, model: nn.Module, kind: str, segments: bool):
        super().__init__()
        self.model, self.kind, self.segments = model, kind, segments

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        if self.kind == "multiple_choice":  # (B, K, T) -> (B*K, T)
            choices = input_ids.shape[1]
            input_ids, attention_mask = input_ids.flatten(0, 1), attention_mask.flatten(0, 1)
            if token_type_ids is not None:
                token_type_ids = token_type_ids.flatten(0, 1)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        segments = token_type_ids if self.segments else None
        if self.kind == PRETRAINED:
            hidden = self.model(input_ids, attention_mask, segments).hidden  # (B, T, D)
            heads = self.model.heads
            if "rtd" in heads:
                return heads["rtd"].discriminate(hidden), hidden  # (B, T)
            return self.model.lm_head(hidden), hidden  # (B, T, V)
        hidden = self.model.backbone(input_ids, attention_mask, segments).hidden
        batch = {"attention_mask": attention_mask}
        if self.kind == "tagging":  # every position is a "word start": (B, T, K)
            batch["word_starts"] = torch.arange(input_ids.shape[1]).expand_as(input_ids)
        if self.kind == "multiple_choice":
            batch["num_choices"] = choices
        return self.model.head(hidden, batch), hidden


def _inputs(tokenizer, kind: str, segments: bool, batch: int, length: int, seed: int) -> dict:
    """Random real tokens, the last row right-padded; (B, K=3, T) for multiple choice."""
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, 3, length) if kind == "multiple_choice" else (batch, length)
    ids = torch.randint(tokenizer.num_special, tokenizer.vocab_size, shape, generator=generator)
    mask = torch.ones(shape, dtype=torch.long)
    mask[-1, ..., length // 2:] = 0
    ids[mask == 0] = tokenizer.pad_id
    inputs = {"input_ids": ids, "attention_mask": mask}
    if segments:
        types = torch.zeros(shape, dtype=torch.long)
        types[..., length // 3:length // 2] = 1
        inputs["token_type_ids"] = types
    return inputs


def _dynamic_axes(names: list[str], kind: str) -> dict:
    tokens = {0: "batch", 1: "choices", 2: "sequence"} if kind == "multiple_choice" \
        else {0: "batch", 1: "sequence"}
    hidden = {0: "batch_choices", 1: "sequence"} if kind == "multiple_choice" else tokens
    logits = {"classification": {0: "batch"}, "regression": {0: "batch"},
              "multiple_choice": {0: "batch", 1: "choices"}}.get(kind, {0: "batch", 1: "sequence"})
    return {**{name: tokens for name in names}, "logits": logits, "hidden": hidden}


def export_onnx(run_path: str | Path, out: str | Path, int8: bool = False,
                overwrite: bool = False) -> dict:
    """Write ``out/model.onnx`` (+ ``model.int8.onnx``), the tokenizer and ``onnx.json``."""
    import onnxruntime

    run = open_run(run_path, ONNX)
    if run.model_config.decoder is not None:  # two graphs, as HF Optimum writes them
        out = prepare_output_folder(out, "onnx", overwrite)
        summary = export_seq2seq_onnx(run, out, int8)
        write_hf_tokenizer(run.tokenizer, out, True, run.model_config.embedding.max_positions)
        return summary
    # Segment ids enter through a segment table (BERT) or the attention (XLNet §2.5).
    segments = bool(run.model_config.embedding.num_segments
                    or getattr(run.model_config.encoder, "relative_segments", False))
    graph = OnnxGraph(run.model, run.kind, segments).eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if segments else [])
    out = prepare_output_folder(out, "onnx", overwrite)
    path = out / "model.onnx"
    example = _inputs(run.tokenizer, run.kind, segments, 2, 16, 0)
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, tuple(example[n] for n in names), str(path), input_names=names,
                          output_names=["logits", "hidden"], opset_version=OPSET,
                          dynamic_axes=_dynamic_axes(names, run.kind), dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # A second shape proves the batch and sequence axes are dynamic.
    checks = [example, _inputs(run.tokenizer, run.kind, segments, 3, 9, 1)]
    difference = max(largest_difference(session, graph, inputs) for inputs in checks)
    if difference > TOLERANCE:
        raise CheckpointError(f"{path}: onnxruntime differs from PyTorch by {difference:.2e} "
                              f"(> {TOLERANCE:g}); the export is not trustworthy")
    summary = {"out": str(out), "kind": run.kind, "inputs": names, "outputs": ["logits", "hidden"],
               "labels": run.labels, "opset": OPSET, "max_abs_diff": difference,
               "tolerance": TOLERANCE}
    if int8:
        session = write_int8(path, out / "model.int8.onnx")
        summary["int8_max_abs_diff"] = max(largest_difference(session, graph, inputs)
                                           for inputs in checks)
    write_hf_tokenizer(run.tokenizer, out, run.model_config.encoder.mask != "causal",
                       run.model_config.embedding.max_positions)
    (out / "onnx.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary
