"""``lmlab compress`` then ``lmlab evaluate`` / ``predict`` on a tiny fine-tuned run; bad input."""

import json

import pytest
import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.finetune.run_folder import load_finetuned


def _evaluate(run, capsys) -> dict:
    capsys.readouterr()
    assert main(["evaluate", str(run), "--split", "dev"]) == 0
    return json.loads(capsys.readouterr().out)


def test_kmeans_then_evaluate(finetuned_run, tmp_path, capsys):
    out = tmp_path / "km"
    assert main(["compress", str(finetuned_run), "--method", "kmeans", "--bits", "2",
                 "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((out / "compression.json").read_text())
    assert summary["method"] == "kmeans" and summary["settings"] == {"bits": 2}
    assert printed["size_ratio"] == summary["size_ratio"] > 1
    _, _, model = load_finetuned(out)
    for name, parameter in model.named_parameters():
        if parameter.dim() == 2:
            assert torch.unique(parameter).numel() <= 4, name
    assert _evaluate(out, capsys)["examples"] == 71  # WNLI dev


def test_magnitude_then_evaluate_and_predict(finetuned_run, tmp_path, capsys):
    out = tmp_path / "pruned"
    assert main(["compress", str(finetuned_run), "--method", "magnitude", "--sparsity", "0.5",
                 "--scope", "matrix", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    _, _, model = load_finetuned(out)
    masks = load_file(str(out / "masks.safetensors"))
    parameters = dict(model.named_parameters())
    for name, mask in masks.items():  # each matrix at half (floor) sparsity, zeros = mask
        assert int((mask == 0).sum()) == parameters[name].numel() // 2
        assert torch.equal(parameters[name] == 0, mask == 0)
    assert summary["params"] == summary["params_before"]
    assert summary["nonzero_params"] == summary["nonzero_params_before"] - sum(
        int((m == 0).sum()) for m in masks.values())
    assert _evaluate(out, capsys)["examples"] == 71
    inputs = tmp_path / "in.tsv"
    inputs.write_text("The cat sat.\tThe cat sat down.\n")
    assert main(["predict", str(out), "--input", str(inputs), "--out", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p").read_text().strip() in ("0", "1")


def test_dynamic_int8_is_quantized_on_load_and_not_twice(finetuned_run, tmp_path, capsys):
    out = tmp_path / "int8"
    assert main(["compress", str(finetuned_run), "--method", "dynamic_int8",
                 "--out", str(out)]) == 0
    config, _, model = load_finetuned(out)
    assert config.quantization == "dynamic_int8"
    assert any(type(m).__name__ == "Linear" and "quantized" in type(m).__module__
               for m in model.modules())
    fp32 = _evaluate(finetuned_run, capsys)
    int8 = _evaluate(out, capsys)
    assert int8["examples"] == 71 and abs(int8["accuracy"] - fp32["accuracy"]) <= 0.05
    capsys.readouterr()
    assert main(["compress", str(out), "--method", "dynamic_int8",
                 "--out", str(tmp_path / "again")]) == 1
    assert "already quantized (dynamic_int8)" in capsys.readouterr().err
    assert main(["finetune", str(out), "--task", "glue/wnli", "--out", str(tmp_path / "ft")]) == 1
    assert "inference only" in capsys.readouterr().err
    assert main(["convert", str(out), "--to", "hf", str(tmp_path / "hf")]) == 1
    assert "has no HF transformers counterpart" in capsys.readouterr().err


def test_a_pretraining_run_is_refused(pretraining_run, tmp_path, capsys):
    assert main(["compress", str(pretraining_run), "--method", "kmeans",
                 "--out", str(tmp_path / "x")]) == 1
    error = capsys.readouterr().err
    assert "a pre-training run, not a fine-tuned one" in error and len(error.splitlines()) == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("arguments, expected", [
    (["--method", "kmeans", "--bits", "0"], "--bits: bad value 0"),
    (["--method", "kmeans", "--bits", "9"], "--bits: bad value 9"),
    (["--method", "magnitude", "--sparsity", "1"], "--sparsity: bad value 1.0"),
    (["--method", "magnitude", "--sparsity", "-0.5"], "--sparsity: bad value -0.5"),
    (["--method", "dynamic_int8", "--bits", "4"],
     "--set bits (or --bits): not a setting of --method dynamic_int8; expected one of: none"),
    (["--method", "kmeans", "--sparsity", "0.5"],
     "--set sparsity (or --sparsity): not a setting of --method kmeans; expected one of: bits"),
    (["--method", "kmeans", "--set", "bitz=3"], "--set bitz (or --bitz): not a setting"),
    (["--method", "kmeans", "--set", "bits"], "--set bits: expected NAME=VALUE"),
    (["--method", "kmeans", "--set", "bits=x"], "--bits: bad value 'x'"),
])
def test_bad_settings_are_one_line_errors(finetuned_run, tmp_path, capsys, arguments, expected):
    assert main(["compress", str(finetuned_run), *arguments, "--out", str(tmp_path / "x")]) == 1
    error = capsys.readouterr().err
    assert expected in error and len(error.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_an_existing_output_is_kept(finetuned_run, tmp_path, capsys):
    out = tmp_path / "km"
    assert main(["compress", str(finetuned_run), "--method", "kmeans", "--out", str(out)]) == 0
    assert main(["compress", str(finetuned_run), "--method", "kmeans", "--out", str(out)]) == 1
    assert "already holds a compressed model" in capsys.readouterr().err
    assert main(["compress", str(finetuned_run), "--method", "kmeans", "--out", str(out),
                 "--overwrite"]) == 0
