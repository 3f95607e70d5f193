"""``lmlab convert <encoder–decoder> --to onnx``: the two graphs HF Optimum writes
(encoder_model.onnx, decoder_model.onnx) agree with PyTorch to 1e-4 on two shapes and on
a third the export never saw, and greedy decoding with the two graphs (no KV cache) gives
lmlab's greedy tokens, for a pre-trained BART and T5, a MASS in its own layout (no HF
class), and a fine-tuned generator."""

import json

import numpy as np
import pytest
import torch

from test_seq2seq_export import TEXTS, _rewritten, trained  # noqa: F401 (a fixture)
from test_seq2seq_finetuned_export import _finetuned, _lmlab_greedy
from lmlab.cli import main
from lmlab.convert.onnx_seq2seq import DECODER, ENCODER, greedy
from lmlab.generation import GenerationOptions, generate_ids
from lmlab.generation.api import lmlab_special_ids
from lmlab.registry import build_objectives
from lmlab.training.checkpoint import load_run

onnxruntime = pytest.importorskip("onnxruntime")

PRESETS = ["bart/tiny", "t5/tiny", "mass/tiny"]


def _convert(run, out, capsys, *extra) -> dict:
    assert main(["convert", str(run), "--to", "onnx", str(out), *extra]) == 0
    capsys.readouterr()
    return json.loads((out / "onnx.json").read_text())


def _sessions(out, suffix=".onnx"):
    return [onnxruntime.InferenceSession(str(out / name.replace(".onnx", suffix)),
                                         providers=["CPUExecutionProvider"])
            for name in (ENCODER, DECODER)]


@pytest.mark.parametrize("preset", PRESETS)
def test_two_graphs_match_pytorch_on_a_shape_never_seen(preset, trained, tmp_path, capsys):
    run = trained(preset)
    summary = _convert(run, tmp_path / "onnx", capsys)
    assert summary["kv_cache"] is False and set(summary["graphs"]) == {ENCODER, DECODER}
    assert summary["graphs"][DECODER]["inputs"] == ["input_ids", "encoder_hidden_states",
                                                    "encoder_attention_mask"]
    assert all(g["max_abs_diff"] <= 1e-4 for g in summary["graphs"].values())
    config, tokenizer, model = load_run(run)
    start = build_objectives(config.objectives[:1], tokenizer)[0].decoder_start_id
    assert (summary["decoder_start_id"], summary["stop_id"]) == (start, tokenizer.sep_id)
    encoder, decoder = _sessions(tmp_path / "onnx")
    # Batch 4, source 21 (one row padded), target 11: the export checked (2, 16) and (3, 9).
    generator = torch.Generator().manual_seed(7)
    ids = torch.randint(tokenizer.num_special, tokenizer.vocab_size, (4, 21), generator=generator)
    mask = torch.ones_like(ids)
    mask[2, 13:] = 0
    ids[mask == 0] = tokenizer.pad_id
    targets = torch.randint(tokenizer.num_special, tokenizer.vocab_size, (4, 11),
                            generator=generator)
    with torch.no_grad():
        memory = model.encode(ids, mask)  # (B, S, D)
        logits = model.lm_head(model.decode(targets, memory, mask))  # (B, T, V)
    (got_memory,) = encoder.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    np.testing.assert_allclose(got_memory, memory.numpy(), atol=1e-4, rtol=1e-4)
    (got_logits,) = decoder.run(None, {"input_ids": targets.numpy(),
                                       "encoder_hidden_states": memory.numpy(),
                                       "encoder_attention_mask": mask.numpy()})
    np.testing.assert_allclose(got_logits, logits.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("preset", PRESETS)
def test_greedy_with_the_two_graphs_gives_lmlab_tokens(preset, trained, tmp_path, capsys):
    """On shaken weights (varied outputs and lengths; test_seq2seq_export._rewritten)."""
    run = _rewritten(trained(preset), tmp_path / "run")
    summary = _convert(run, tmp_path / "onnx", capsys)
    config, tokenizer, model = load_run(run)
    start = summary["decoder_start_id"]
    prompts = [[tokenizer.cls_id] + tokenizer.encode(text) + [tokenizer.sep_id] for text in TEXTS]
    # lmlab's greedy: generate_ids, incremental with its KV cache.
    ours = generate_ids(model, prompts, GenerationOptions(max_new_tokens=8),
                        lmlab_special_ids(tokenizer, start))
    encoder, decoder = _sessions(tmp_path / "onnx")
    theirs = greedy(encoder, decoder, prompts, start, tokenizer.sep_id, tokenizer.pad_id, 8)
    assert theirs == ours and len({tuple(o) for o in ours}) == len(ours)


def test_finetuned_generator_with_int8(trained, tmp_path, capsys):
    base = trained("bart/tiny")
    start = load_run(base)[1].mask_id
    # Lightly shaken: int8's error grows with the weights' scale.
    run = _finetuned(base, tmp_path / "run", "encoder_decoder", start, shake=0.05)
    summary = _convert(run, tmp_path / "onnx", capsys, "--int8")
    assert (summary["kind"], summary["decoder_start_id"]) == ("generation", start)
    assert summary["suppressed_ids"]  # the special tokens a fine-tuned generator never writes
    for name, graph in summary["graphs"].items():
        assert graph["max_abs_diff"] <= 1e-4
        assert 0 < graph["int8_max_abs_diff"] < 0.5, name  # an approximation of the same model
        int8 = tmp_path / "onnx" / name.replace(".onnx", ".int8.onnx")
        assert int8.stat().st_size < (tmp_path / "onnx" / name).stat().st_size
    ids, _, prompts = _lmlab_greedy(run)
    encoder, decoder = _sessions(tmp_path / "onnx")
    assert greedy(encoder, decoder, prompts, start, summary["stop_id"], summary["pad_id"], 8,
                  summary["suppressed_ids"]) == ids
