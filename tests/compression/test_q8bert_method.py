"""``lmlab compress --method q8bert``: quantization-aware fine-tuning end to end."""

import json

import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.finetune.run_folder import load_finetuned


def test_q8bert_fine_tunes_with_fake_quantization_and_saves_int8_weights(finetuned_run,
                                                                          tmp_path, capsys):
    out = tmp_path / "q8"
    assert main(["compress", str(finetuned_run), "--method", "q8bert", "--set", "epochs=0.5",
                 "--set", "batch_size=16", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert summary["stages"][0]["stage"] == "qat" and summary["stages"][0]["history"]
    assert summary["params"] == summary["params_before"]
    # 8 bits a matrix weight: well under a quarter of fp32 plus the 1-D parameters
    assert 3.0 < summary["size_ratio"] < 4.0
    integers = load_file(str(out / "int8.safetensors"))
    _, _, model = load_finetuned(out)
    parameters = dict(model.named_parameters())
    for name, values in integers.items():
        if not name.endswith(".weight_int"):
            continue
        assert values.dtype == torch.int8 and int(values.abs().max()) <= 127
        module = name.removesuffix(".weight_int")
        scale = integers[f"{module}.weight_scale"]
        # the saved fp32 weights are exactly the int8 grid: integers x scale
        torch.testing.assert_close(parameters[f"{module}.weight"], values.float() * scale,
                                   rtol=0, atol=1e-6)
    assert not any("Fake" in type(m).__name__ for m in model.modules())
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 71


def test_q8bert_bits_are_checked(finetuned_run, tmp_path, capsys):
    assert main(["compress", str(finetuned_run), "--method", "q8bert", "--set", "bits=9",
                 "--out", str(tmp_path / "x")]) == 1
    error = capsys.readouterr().err
    assert "--set bits: bad value 9" in error and len(error.splitlines()) == 1
