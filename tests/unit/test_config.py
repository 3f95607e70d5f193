import pytest

from lmlab.config import apply_override, dump_config, load_config, load_raw
from lmlab.errors import ConfigError
from lmlab.presets import preset_names, preset_path


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_loads_and_round_trips(preset):
    config = load_config(preset_path(preset))
    import yaml
    assert load_config(raw=yaml.safe_load(dump_config(config))) == config


def test_unknown_key_names_its_path_and_suggests():
    with pytest.raises(ConfigError, match=r"model\.encoder\.num_head: unknown key; did you mean 'num_heads'"):
        load_config(preset_path("gpt/tiny"), ["model.encoder.num_head=4"])


def test_wrong_type_and_bad_choice():
    with pytest.raises(ConfigError, match=r"train\.max_steps: expected an integer, got 'many'"):
        load_config(preset_path("gpt/tiny"), ["train.max_steps=many"])
    with pytest.raises(ConfigError, match=r"model\.encoder\.norm: 'middle' is not allowed \(allowed: 'pre', 'post'\)"):
        load_config(preset_path("gpt/tiny"), ["model.encoder.norm=middle"])


def test_heads_must_divide_hidden_size():
    with pytest.raises(ConfigError, match=r"model\.encoder\.num_heads: 3 heads do not divide .*hidden_size=128"):
        load_config(preset_path("gpt/tiny"), ["model.encoder.num_heads=3"])


def test_negative_rates_are_rejected():
    with pytest.raises(ConfigError, match=r"objectives\[0\]\.mask_rate: must be in \(0, 1\)"):
        load_config(preset_path("bert/tiny"), ["objectives.0.mask_rate=-0.1"])
    with pytest.raises(ConfigError, match=r"model\.embedding\.dropout"):
        load_config(preset_path("bert/tiny"), ["model.embedding.dropout=-1"])


def test_unknown_encoder_and_objective_names():
    with pytest.raises(ConfigError, match=r"model\.encoder\.name: unknown encoder 'transfomer'; did you mean transformer"):
        load_config(preset_path("gpt/tiny"), ["model.encoder.name=transfomer"])
    with pytest.raises(ConfigError, match=r"objectives\[0\]\.name: unknown objective 'mml'"):
        load_config(preset_path("gpt/tiny"), ["objectives.0.name=mml"])


def test_objective_must_fit_the_encoder():
    with pytest.raises(ConfigError, match="mlm needs a bidirectional encoder"):
        load_config(preset_path("gpt/tiny"), ["objectives.0.name=mlm"])


def test_overrides_parse_yaml_values():
    raw = {"train": {"lr": 1.0}}
    apply_override(raw, "train.lr=3e-4")
    apply_override(raw, "train.betas=[0.9, 0.98]")
    assert raw == {"train": {"lr": "3e-4", "betas": [0.9, 0.98]}}
    raw.update({"model": {"encoder": {"name": "lstm"}}, "objectives": [{"name": "clm"}]})
    apply_override(raw, "objectives.0.weight=2")
    config = load_config(raw=raw)
    assert config.train.lr == 3e-4 and config.objectives[0].weight == 2.0
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_override(raw, "train.lr")


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_raw(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_raw(bad)


def test_missing_encoder_is_reported():
    with pytest.raises(ConfigError, match=r"model\.encoder: missing"):
        load_config(raw={"objectives": [{"name": "clm"}]})


@pytest.mark.parametrize("override, message", [
    ("train.lr=abc", r"^--set train\.lr=abc \(over .*tiny\.yaml\): train\.lr: expected a number"),
    ("model.encoder.num_hads=2", r"^--set model\.encoder\.num_hads=2 \(over .*\): model\.encoder"
                                 r"\.num_hads: unknown key; did you mean 'num_heads'"),
    ("objectives.0.mask_rate=2", r"^--set objectives\.0\.mask_rate=2 \(over .*\): objectives\[0\]"),
])
def test_an_error_from_set_is_blamed_on_the_set(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(preset_path("bert/tiny"), [override])


def test_an_error_of_the_file_itself_names_the_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(preset_path("bert/tiny").read_text().replace("num_heads: 2", "num_heads: 3"))
    with pytest.raises(ConfigError, match=r"^.*run\.yaml: model\.encoder\.num_heads: 3 heads"):
        load_config(path, ["train.lr=0.001"])
