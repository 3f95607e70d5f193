"""``lmlab convert <run> --to onnx``: every transformer family, LM or fine-tuned, gives
PyTorch's outputs in onnxruntime to 1e-4 on two batch shapes (dynamic axes), and the
graph runs on a third shape the export never saw."""

import json

import numpy as np
import pytest
import torch

from lmlab.convert.onnx_export import OnnxGraph, _inputs, export_onnx
from lmlab.convert.runs import ONNX, open_run

onnxruntime = pytest.importorskip("onnxruntime")

FAMILIES = ["bert/tiny", "roberta/tiny", "albert/tiny", "electra/tiny"]
KINDS = [None, "classification", "regression", "tagging", "span_qa", "multiple_choice"]
CASES = [(f, k) for f in FAMILIES for k in KINDS] + \
        [("gpt/tiny", None), ("gpt/tiny", "tagging"), ("gpt/tiny", "span_qa"),
         ("gpt/tiny", "classification"),  # ONNX has no HF restriction on GPT pooling
         ("xlnet/tiny", None), ("xlnet/tiny", "classification"), ("xlnet/tiny", "tagging")]


@pytest.mark.parametrize("preset,kind", CASES, ids=str)
def test_onnx_matches_pytorch(make_run, tmp_path, preset, kind):
    run_dir = make_run(preset, kind)
    summary = export_onnx(run_dir, tmp_path / "onnx")
    assert summary["max_abs_diff"] <= 1e-4
    saved = json.loads((tmp_path / "onnx" / "onnx.json").read_text())
    assert saved["inputs"][:2] == ["input_ids", "attention_mask"]
    if preset == "xlnet/tiny":  # relative segment encoding reads the segment ids
        assert saved["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    # A shape the export never saw: batch 4, 23 tokens.
    run = open_run(run_dir, ONNX)
    segments = "token_type_ids" in saved["inputs"]
    graph = OnnxGraph(run.model, run.kind, segments).eval()
    inputs = _inputs(run.tokenizer, run.kind, segments, 4, 23, 7)
    session = onnxruntime.InferenceSession(str(tmp_path / "onnx" / "model.onnx"))
    logits, _ = session.run(["logits", "hidden"], {k: v.numpy() for k, v in inputs.items()})
    with torch.no_grad():
        expected = graph(**inputs)[0].numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=1e-4)


def test_int8_is_written_and_close(make_run, tmp_path):
    summary = export_onnx(make_run("bert/tiny", "classification"), tmp_path / "onnx", int8=True)
    assert (tmp_path / "onnx" / "model.int8.onnx").stat().st_size < \
        (tmp_path / "onnx" / "model.onnx").stat().st_size
    assert summary["int8_max_abs_diff"] < 0.5  # an approximation, but of the same model
