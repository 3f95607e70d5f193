"""``lmlab convert <encoder–decoder run> --to onnx <dir>``: two graphs, split as HF Optimum
splits BART and T5 (``optimum-cli export onnx --task text2text-generation``):

* ``encoder_model.onnx``: ``input_ids``, ``attention_mask`` (B, S) -> ``last_hidden_state``
  (B, S, D), the encoder's output (the memory);
* ``decoder_model.onnx``: ``input_ids`` (B, T) (the decoder inputs so far, the start token
  first), ``encoder_hidden_states`` (B, S, D), ``encoder_attention_mask`` (B, S) ->
  ``logits`` (B, T, V).

Batch, source and target lengths are dynamic axes. There is no KV cache (Optimum's
``decoder_with_past_model.onnx``): each step re-reads the whole prefix, so a step costs
O(T) decoder positions instead of one; :func:`greedy` is that loop, with lmlab's greedy
rules (per-row stop token, suppressed ids). Any lmlab encoder–decoder exports (BART, T5,
MASS; pre-trained or fine-tuned to generate), whether or not an HF class computes it:
the graphs trace lmlab's own modules. ``onnx.json`` carries what a caller needs to
decode: the decoder's start token, the stop token, the padding id and the suppressed ids.

Each graph is run in onnxruntime on two shapes and must agree with PyTorch to 1e-4;
``--int8`` quantises both (``quantize_dynamic``) and reports their difference.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lmlab.convert.onnx_checks import largest_difference, write_int8
from lmlab.convert.runs import GENERATION, ConvertibleRun
from lmlab.errors import CheckpointError
from lmlab.finetune.generate import special_ids
from lmlab.generation.api import finetuned_suppressed_ids, lmlab_special_ids
from lmlab.interop.families import PRETRAINED
from lmlab.registry import build_objectives

TOLERANCE = 1e-4
OPSET = 17
ENCODER, DECODER = "encoder_model.onnx", "decoder_model.onnx"
ENCODER_INPUTS = ["input_ids", "attention_mask"]
DECODER_INPUTS = ["input_ids", "encoder_hidden_states", "encoder_attention_mask"]


class ExportableRMSNorm(nn.Module):
    """``nn.RMSNorm`` written out (Zhang & Sennrich 2019, eq. 4: x / sqrt(mean(x²) + eps) · g),
    since the TorchScript exporter has no ``aten::rms_norm`` at opset 17 (T5's norms)."""

    def __init__(self, norm: nn.RMSNorm):
        super().__init__()
        self.weight = norm.weight
        self.eps = norm.eps if norm.eps is not None else torch.finfo(torch.float32).eps

    def forward(self, x):
        scale = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)  # (..., 1)
        return x * scale * self.weight


def exportable(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose RMSNorms are :class:`ExportableRMSNorm` (the run's model
    stays as it is: the checks compare against it)."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.RMSNorm) and len(child.normalized_shape) == 1:
                setattr(module, name, ExportableRMSNorm(child))
    return model


class EncoderGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.encode(input_ids, attention_mask)  # (B, S, D)


class DecoderGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, encoder_hidden_states, encoder_attention_mask):
        hidden = self.model.decode(input_ids, encoder_hidden_states, encoder_attention_mask)
        return self.model.lm_head(hidden)  # (B, T, V)


def decoding_ids(run: ConvertibleRun) -> dict:
    """Start, stop, padding and suppressed ids of ``run``'s greedy decoding, as
    ``lmlab generate`` (pre-trained) or the fine-tuning's evaluation (generation) uses."""
    tokenizer = run.tokenizer
    if run.kind == GENERATION:
        special = special_ids(tokenizer, run.generation_mode, run.decoder_start_id)
        suppressed = finetuned_suppressed_ids(tokenizer, special)
    else:
        start = build_objectives(run.objectives[:1], tokenizer)[0].decoder_start_id
        special, suppressed = lmlab_special_ids(tokenizer, start), []
    return {"decoder_start_id": special.decoder_start_id, "stop_id": special.stop_ids[0],
            "pad_id": special.pad_id, "suppressed_ids": suppressed}


def _source(tokenizer, batch: int, length: int, seed: int) -> dict:
    """Random real tokens, the last row right-padded (B, S)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(tokenizer.num_special, tokenizer.vocab_size, (batch, length),
                        generator=generator)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[-1, length // 2:] = 0
    ids[mask == 0] = tokenizer.pad_id
    return {"input_ids": ids, "attention_mask": mask}


def _checks(model, tokenizer, start: int) -> list[tuple[dict, dict]]:
    """(encoder inputs, decoder inputs) on two shapes: (2, 16) -> 5 and (3, 9) -> 2."""
    cases = []
    for batch, length, target, seed in ((2, 16, 5, 0), (3, 9, 2, 1)):
        source = _source(tokenizer, batch, length, seed)
        with torch.no_grad():
            memory = model.encode(source["input_ids"], source["attention_mask"])
        generator = torch.Generator().manual_seed(seed + 10)
        decoder_ids = torch.randint(tokenizer.num_special, tokenizer.vocab_size,
                                    (batch, target), generator=generator)
        decoder_ids[:, 0] = start
        cases.append((source, {"input_ids": decoder_ids, "encoder_hidden_states": memory,
                               "encoder_attention_mask": source["attention_mask"]}))
    return cases


def _export(graph: nn.Module, inputs: dict, names: list[str], output: str, axes: dict,
            path: Path) -> None:
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, tuple(inputs[n] for n in names), str(path), input_names=names,
                          output_names=[output], opset_version=OPSET, dynamic_axes=axes,
                          dynamo=False)


def export_seq2seq_onnx(run: ConvertibleRun, out: Path, int8: bool) -> dict:
    """Write ``out/encoder_model.onnx`` and ``out/decoder_model.onnx`` (+ ``.int8.onnx``);
    returns the summary that ``onnx.json`` holds (``out`` already prepared)."""
    import onnxruntime

    model = (run.model if run.kind == PRETRAINED else run.model.backbone).eval()
    ids = decoding_ids(run)
    checks = _checks(model, run.tokenizer, ids["decoder_start_id"])
    traced = exportable(model).eval()
    graphs = {ENCODER: (EncoderGraph(model).eval(), 0, ENCODER_INPUTS, "last_hidden_state",
                        {"input_ids": {0: "batch", 1: "source"},
                         "attention_mask": {0: "batch", 1: "source"},
                         "last_hidden_state": {0: "batch", 1: "source"}}),
              DECODER: (DecoderGraph(model).eval(), 1, DECODER_INPUTS, "logits",
                        {"input_ids": {0: "batch", 1: "target"},
                         "encoder_hidden_states": {0: "batch", 1: "source"},
                         "encoder_attention_mask": {0: "batch", 1: "source"},
                         "logits": {0: "batch", 1: "target"}})}
    summary = {"out": str(out), "kind": run.kind, "family": run.model_config.family,
               "graphs": {}, "kv_cache": False, "opset": OPSET, "tolerance": TOLERANCE, **ids}
    for file, (graph, side, names, output, axes) in graphs.items():
        path = out / file
        twin = (EncoderGraph if side == 0 else DecoderGraph)(traced).eval()
        _export(twin, checks[0][side], names, output, axes, path)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        difference = max(largest_difference(session, graph, case[side]) for case in checks)
        if difference > TOLERANCE:
            raise CheckpointError(f"{path}: onnxruntime differs from PyTorch by "
                                  f"{difference:.2e} (> {TOLERANCE:g}); the export is not "
                                  f"trustworthy")
        entry = {"inputs": names, "output": output, "max_abs_diff": difference}
        if int8:
            session = write_int8(path, path.with_suffix(".int8.onnx"))
            entry["int8_max_abs_diff"] = max(largest_difference(session, graph, case[side])
                                             for case in checks)
        summary["graphs"][file] = entry
    summary["max_abs_diff"] = max(g["max_abs_diff"] for g in summary["graphs"].values())
    (out / "onnx.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def greedy(encoder, decoder, prompts: list[list[int]], decoder_start_id: int, stop_id: int,
           pad_id: int, max_new_tokens: int, suppressed_ids=()) -> list[list[int]]:
    """Greedy decoding with the two onnxruntime sessions, no KV cache: the new ids of each
    prompt (``[CLS] source [SEP]``), the stop token included when reached, as lmlab's
    :func:`~lmlab.generation.search.greedy_or_sample` chooses them."""
    width = max(len(prompt) for prompt in prompts)
    source = np.full((len(prompts), width), pad_id, dtype=np.int64)  # (B, S)
    mask = np.zeros((len(prompts), width), dtype=np.int64)
    for row, prompt in enumerate(prompts):
        source[row, :len(prompt)], mask[row, :len(prompt)] = prompt, 1
    (memory,) = encoder.run(None, {"input_ids": source, "attention_mask": mask})  # (B, S, D)
    decoded = np.full((len(prompts), 1), decoder_start_id, dtype=np.int64)  # (B, t)
    outputs: list[list[int]] = [[] for _ in prompts]
    running = np.arange(len(prompts))  # rows still decoding -> prompt index
    for _ in range(max_new_tokens):
        (logits,) = decoder.run(None, {"input_ids": decoded, "encoder_hidden_states": memory,
                                       "encoder_attention_mask": mask})  # (B, t, V)
        scores = logits[:, -1].copy()  # (B, V)
        scores[:, list(suppressed_ids)] = -np.inf
        tokens = scores.argmax(axis=-1)  # (B,)
        for row, index in enumerate(running):
            outputs[index].append(int(tokens[row]))
        alive = tokens != stop_id
        running, tokens = running[alive], tokens[alive]
        decoded, memory, mask = decoded[alive], memory[alive], mask[alive]
        if not len(running):
            break
        decoded = np.concatenate([decoded, tokens[:, None]], axis=1)
    return outputs
