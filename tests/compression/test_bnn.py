"""The BNN row: BCN encoder (McCann et al. 2017) as a distilled student (Liu et al. 2019)."""

import json
import math

import pytest
import torch

from lmlab.cli import main
from lmlab.encoders.bcn import BCNConfig, BCNEncoder, bi_attention
from lmlab.errors import ConfigError
from lmlab.finetune.run_folder import load_finetuned
from lmlab.recipes.compress import method_settings


def test_bi_attention_on_known_values():
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])  # the third position is padding
    keep = torch.tensor([[True, True, False]])
    e = math.e
    c = bi_attention(x, x, keep)[0, :2]  # A = I on the real positions
    assert c.flatten().tolist() == pytest.approx([e / (e + 1), 1 / (e + 1), 1 / (e + 1), e / (e + 1)])


def test_padding_does_not_change_the_real_positions():
    torch.manual_seed(0)
    encoder = BCNEncoder(8, BCNConfig(cell_size=3, dropout=0.0)).eval()
    x = torch.randn(1, 4, 8)
    padded = torch.cat([x, torch.randn(1, 2, 8)], dim=1)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    with torch.no_grad():
        alone = encoder(x).hidden
        out = encoder(padded, mask).hidden
    assert out.shape == (1, 6, 6)
    assert torch.allclose(out[:, :4], alone, atol=1e-6)


def test_bnn_compresses_a_run(finetuned_run, tmp_path, capsys):
    out = tmp_path / "bnn"
    assert main(["compress", str(finetuned_run), "--method", "bnn", "--set", "epochs=0.5",
                 "--set", "batch_size=16", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    config, _, model = load_finetuned(out)
    assert config.model.encoder.name == "bcn" and model.backbone.encoder.output_size == 128
    assert summary["student"]["encoder"] == "bcn" and summary["params"] < summary["params_before"]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(
        summary["student"]["dev"]["accuracy"], abs=0.01)


def test_bad_bnn_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="--set cell_size=-2"):
        method_settings("bnn", {"cell_size": -2})
    with pytest.raises(ConfigError, match=r"\.dropout: must be in"):
        BCNConfig(dropout=1.5).validate("model.encoder")


def test_table_6_describes_a_recurrent_student():
    from lmlab.recipes.compress_suite import _shape

    config = {"model": {"encoder": {"name": "bcn", "cell_size": 0, "dropout": 0.1},
                        "embedding": {"hidden_size": 384}}}
    assert _shape(config) == "bcn, d=384, cells=auto"
