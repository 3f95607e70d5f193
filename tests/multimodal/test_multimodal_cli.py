"""Issue 22, command line: multimodal presets through ``lmlab train`` (exact resume),
``lmlab evaluate`` and ``lmlab predict RUN --image PATH --question TEXT``."""

import json
import os

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.errors import ConfigError
from lmlab.multimodal import emoji_pairs
from lmlab.multimodal.presets import load_multimodal_config
from lmlab.presets import multimodal_preset_names, preset_path

needs_font = pytest.mark.skipif(not any(os.path.isfile(p) for p in emoji_pairs.FONT_PATHS),
                                reason="Debian's fonts-noto-color-emoji is not installed")

TINY = ["model.hidden_size=16", "model.num_heads=2", "model.ffn_size=32", "model.num_layers=1",
        "data.vqa_images=12", "data.emoji_limit=30", "data.max_text_length=12",
        "data.vocab_size=300", "batch_size=8", "train.eval_every=0", "train.log_every=1",
        "train.checkpoint_every=2", "train.progress=false", "train.schedule=constant",
        "train.num_threads=1", "train.device=cpu", "train.warmup_steps=0"]


def _sets(items):
    return [part for item in items for part in ("--set", item)]


def _pretrain_sets(preset):
    config = load_multimodal_config(preset_path(preset))
    codes = [f"objectives.{i}.num_codes=8" for i, o in enumerate(config.objectives)
             if o.name == "mrm" and o.target in ("classification", "kl")]
    return _sets(TINY + codes + ["model.visual.num_codes=8"])


def test_packaged_multimodal_presets_load():
    names = multimodal_preset_names()
    assert {"multimodal/vl_bert", "multimodal/vilbert", "multimodal/easy_vqa"} <= set(names)
    for name in names:
        assert load_multimodal_config(preset_path(name)).kind in ("pretrain", "vqa")


def test_unknown_key_in_a_multimodal_preset_names_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("kind: pretrain\nmodel: {hidden_sise: 8}\nobjectives: [{name: itm}]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: model.hidden_sise: unknown key"):
        load_multimodal_config(path)
    path.write_text("kind: pretrain\nobjectives: [{name: mlm}]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: objectives\[0\].name: one of mlm_image"):
        load_multimodal_config(path)


@needs_font
@pytest.mark.parametrize("preset", [n for n in multimodal_preset_names()
                                    if n != "multimodal/easy_vqa"])
def test_every_pretraining_preset_trains_resumes_exactly_and_evaluates(tmp_path, preset, capsys):
    sets = _pretrain_sets(preset)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["train", preset, "--out", str(whole), "--set", "train.max_steps=4"] + sets) == 0
    assert main(["train", preset, "--out", str(cut), "--set", "train.max_steps=2"] + sets) == 0
    assert main(["train", "--resume", str(cut), "--set", "train.max_steps=4"]) == 0
    a = load_file(str(whole / "checkpoint" / "model.safetensors"))
    b = load_file(str(cut / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    capsys.readouterr()
    assert main(["evaluate", str(whole)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["split"] == "held_out" and result["mlm_image_loss"] > 0


@needs_font
def test_vqa_run_trains_evaluates_and_predicts_from_the_command_line(tmp_path, capsys):
    pre, vqa = tmp_path / "pre", tmp_path / "vqa"
    assert main(["train", "multimodal/vl_bert", "--out", str(pre), "--set",
                 "train.max_steps=2"] + _pretrain_sets("multimodal/vl_bert")) == 0
    assert main(["train", "multimodal/easy_vqa", "--out", str(vqa), "--set", "train.max_steps=3",
                 "--set", f"init_from={pre}"] + _sets(TINY)) == 0
    capsys.readouterr()
    assert main(["evaluate", str(vqa)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["split"] == "dev" and 0 <= result["accuracy"] <= 1 and result["questions"] > 0
    picture = tmp_path / "shape.png"
    Image.fromarray(np.full((64, 64, 3), 200, dtype=np.uint8)).save(picture)
    assert main(["predict", str(vqa), "--image", str(picture), "--question",
                 "what color is the shape?"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    import easy_vqa
    assert answer["answer"] in easy_vqa.get_answers()
    assert main(["predict", str(vqa), "--image", str(picture)]) == 1
    assert "has no question" in capsys.readouterr().err
    assert main(["predict", str(vqa), "--image", str(picture), "--question", "what shape?",
                 "--no-resize"]) == 1
    assert "shape.png" in capsys.readouterr().err


def test_predict_on_a_text_run_without_input_is_a_one_line_error(tmp_path, capsys):
    run = tmp_path / "text"
    (run / "checkpoint").mkdir(parents=True)
    (run / "checkpoint" / "config.yaml").write_text("model: {}\n")
    assert main(["predict", str(run), "--image", "x.png", "--question", "what?"]) == 1
    assert "give --input FILE and --out FILE" in capsys.readouterr().err


def test_data_option_on_a_multimodal_preset_is_refused(tmp_path, capsys):
    assert main(["train", "multimodal/vl_bert", "--data", "ptb", "--out",
                 str(tmp_path / "run")]) == 1
    assert "--data does not apply" in capsys.readouterr().err


@needs_font
def test_videobert_vqa_from_scratch_fits_its_visual_words(tmp_path):
    run = tmp_path / "vq"
    assert main(["train", "multimodal/easy_vqa", "--out", str(run), "--set", "train.max_steps=2",
                 "--set", "model.visual.kind=vq"] + _sets(TINY + ["model.visual.num_codes=8"])) == 0
    codebook = load_file(str(run / "checkpoint" / "model.safetensors"))[
        "backbone.visual_embedding.codebook"]
    assert codebook.shape == (8, 192) and bool(codebook.abs().sum(1).gt(0).all())


@needs_font
def test_mrc_kl_variant_trains_and_evaluates(tmp_path, capsys):
    run = tmp_path / "kl"
    assert main(["train", "multimodal/vl_bert", "--out", str(run), "--set", "train.max_steps=2",
                 "--set", "objectives.1.target=kl"] + _pretrain_sets("multimodal/vl_bert")) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["mrm_loss"] > 0


@needs_font
def test_vqa_from_a_frame_proxy_run_reads_the_same_mosaics(tmp_path):
    pre, vqa = tmp_path / "pre", tmp_path / "vqa"
    assert main(["train", "multimodal/videobert_frames", "--out", str(pre), "--set",
                 "train.max_steps=1"] + _pretrain_sets("multimodal/videobert_frames")) == 0
    assert main(["train", "multimodal/easy_vqa", "--out", str(vqa), "--set", "train.max_steps=1",
                 "--set", f"init_from={pre}"] + _sets(TINY)) == 0
    saved = load_multimodal_config(vqa / "checkpoint" / "config.yaml")
    assert saved.data.video_frames == 16 and saved.model.visual.kind == "vq"
