"""lmlab encoder–decoders -> HF (``lmlab convert <run> --to hf``), the inverse of the import
tested in test_seq2seq_parity: import then export gives back every tensor of a random HF
BART and T5; a briefly trained lmlab run, exported, gives lmlab's logits (to 1e-5) and
greedy tokens through ``AutoModelForSeq2SeqLM``; a run neither HF class computes exactly
is refused in one line, before anything is written."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from test_seq2seq_parity import CASES, _pair
from lmlab.cli import main
from lmlab.config import ModelConfig, from_dict, load_config
from lmlab.convert.hf_export import build_hf_model
from lmlab.generation import GenerationOptions, generate_ids
from lmlab.generation.api import lmlab_special_ids
from lmlab.interop.configs import NoCounterpartError
from lmlab.interop.hf_seq2seq import seq2seq_model_config_from_hf
from lmlab.interop.hf_seq2seq_export import (hf_seq2seq_config, lmlab_to_hf_seq2seq,
                                             seq2seq_architecture)
from lmlab.presets import preset_path
from lmlab.registry import build_objectives
from lmlab.training.checkpoint import load_run, save_checkpoint
from lmlab.training.trainer import train

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_overrides  # noqa: E402

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("family", list(CASES))
def test_import_then_export_gives_back_every_tensor(family):
    make_config, class_name = CASES[family]
    hf_config = make_config()
    reference, ours = _pair(hf_config, getattr(transformers, class_name))
    if family == "bart":  # the two position rows HF never reads: import drops, export zeros
        for side in (reference.model.encoder, reference.model.decoder):
            side.embed_positions.weight.data[:2] = 0
    hf = hf_config.to_dict()
    model_config = from_dict(ModelConfig, seq2seq_model_config_from_hf(hf), "model")
    ids = SimpleNamespace(pad_id=hf["pad_token_id"], cls_id=hf.get("bos_token_id"),
                          sep_id=hf["eos_token_id"], vocab_size=hf["vocab_size"])
    config = hf_seq2seq_config(model_config, ids, hf["decoder_start_token_id"])
    assert {k: v for k, v in config.items() if k in hf and not k.endswith("token_id")} == \
        {k: hf[k] for k in config if k in hf and not k.endswith("token_id")}
    architecture, state = lmlab_to_hf_seq2seq(ours.state_dict(), model_config)
    assert architecture == family
    exported = build_hf_model(architecture, class_name, config, state).state_dict()
    expected = reference.state_dict()
    assert exported.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(exported[key], tensor), key


# --- trained runs, exported on the command line -------------------------------------------

_RUNS: dict = {}
# MASS's layout is BART's, with BART's LayerNorm eps; its preset's 1e-12 is refused below.
MASS_AS_BART = [f"model.{part}.layer_norm_eps=1e-5" for part in ("embedding", "encoder", "decoder")]
EXPORTS = {"bart": ("bart/tiny", (), "BartForConditionalGeneration"),
           "t5": ("t5/tiny", (), "T5ForConditionalGeneration"),
           "mass": ("mass/tiny", tuple(MASS_AS_BART), "BartForConditionalGeneration")}
TEXTS = ["the company said it expects to report higher profits in the third quarter",
         "stock prices fell sharply", "the bank sold its shares"]


@pytest.fixture
def trained(tiny_corpus, tmp_path_factory):
    """An lmlab run of ``preset`` trained 2 steps on tiny PTB (made once per session)."""
    def make(preset: str, overrides=()) -> Path:
        key = (preset, tuple(overrides))
        if key not in _RUNS:
            folder = tmp_path_factory.mktemp(preset.replace("/", "-"))
            config = load_config(preset_path(preset), tiny_overrides(preset, tiny_corpus, 2, 2)
                                 + list(overrides))
            train(config, folder, log=lambda *_: None)
            _RUNS[key] = folder
        return _RUNS[key]
    return make


def _rewritten(run: Path, folder: Path) -> Path:
    """A copy of ``run`` with its weights shaken (2 steps leave greedy decoding repeating
    one token; random weights and a larger [SEP] row make outputs differ and stop at
    varied lengths)."""
    config, tokenizer, model = load_run(run)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" not in name:  # a shaken norm makes every step alike
                parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.3)
        model.embedding.tokens.weight[tokenizer.sep_id] *= 4.0
    save_checkpoint(folder, model, config, tokenizer, {})
    return folder


def _one_line_error(argv, capsys) -> str:
    assert main(argv) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("lmlab: error: "), error
    return error


def _export(run: Path, out: Path, capsys):
    """``lmlab convert run --to hf out``; (HF model, HF-tokenized padded batch of TEXTS)."""
    assert main(["convert", str(run), "--to", "hf", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    reference = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(out)).eval()
    assert type(reference).__name__ == summary["class"]
    batch = transformers.AutoTokenizer.from_pretrained(str(out))(TEXTS, padding=True,
                                                                 return_tensors="pt")
    return reference, batch


@pytest.mark.parametrize("name", list(EXPORTS))
def test_exported_run_gives_lmlab_logits(name, trained, tmp_path, capsys):
    preset, overrides, class_name = EXPORTS[name]
    run = trained(preset, overrides)  # t5/tiny has no biases (bias: false), as T5
    reference, batch = _export(run, tmp_path / "hf", capsys)
    assert type(reference).__name__ == class_name
    config, tokenizer, model = load_run(run)
    # The exported tokenizer wraps a source as lmlab's seq2seq does: [CLS] text [SEP].
    prompts = [[tokenizer.cls_id] + tokenizer.encode(text) + [tokenizer.sep_id] for text in TEXTS]
    assert [row[mask.bool()].tolist() for row, mask in
            zip(batch["input_ids"], batch["attention_mask"])] == prompts
    assert batch["attention_mask"].min() == 0  # the batch has padding
    start = build_objectives(config.objectives[:1], tokenizer)[0].decoder_start_id
    generator = torch.Generator().manual_seed(0)
    targets = torch.randint(tokenizer.num_special, tokenizer.vocab_size, (len(TEXTS), 7),
                            generator=generator)
    decoder_ids = torch.cat([torch.full((len(TEXTS), 1), start), targets], dim=1)  # (B, T)
    with torch.no_grad():
        expected = reference(**batch, decoder_input_ids=decoder_ids).logits  # (B, T, V)
        memory = model.encode(batch["input_ids"], batch["attention_mask"])  # (B, S, D)
        got = model.lm_head(model.decode(decoder_ids, memory, batch["attention_mask"]))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", list(EXPORTS))
def test_exported_generation_config_gives_lmlab_greedy_tokens(name, trained, tmp_path, capsys):
    preset, overrides, _ = EXPORTS[name]
    run = _rewritten(trained(preset, overrides), tmp_path / "run")
    reference, batch = _export(run, tmp_path / "hf", capsys)
    config, tokenizer, model = load_run(run)
    start = build_objectives(config.objectives[:1], tokenizer)[0].decoder_start_id
    prompts = [[tokenizer.cls_id] + tokenizer.encode(text) + [tokenizer.sep_id] for text in TEXTS]
    ours = generate_ids(model, prompts, GenerationOptions(max_new_tokens=8),
                        lmlab_special_ids(tokenizer, start))
    # HF with the exported generation config only: its start, stop and pad tokens.
    output = reference.generate(**batch, max_new_tokens=8, do_sample=False)  # (B, 1 + new)
    assert output[:, 0].tolist() == [start] * len(TEXTS)
    theirs = []
    for row in output[:, 1:].tolist():
        stop = row.index(tokenizer.sep_id) + 1 if tokenizer.sep_id in row else len(row)
        theirs.append(row[:stop])
    assert theirs == ours
    assert any(len(tokens) < 8 for tokens in ours) and len({tuple(o) for o in ours}) == len(ours)


def test_runs_without_an_exact_counterpart_are_refused_in_one_line(trained, tmp_path, capsys):
    out = tmp_path / "hf"
    error = _one_line_error(["convert", str(trained("mass/tiny")), "--to", "hf", str(out)],
                            capsys)
    assert "model.embedding.layer_norm_eps: 1e-12" in error and "BART" in error
    biased = trained("t5/tiny", ("model.encoder.bias=true", "model.decoder.bias=true"))
    error = _one_line_error(["convert", str(biased), "--to", "hf", str(out)], capsys)
    assert "encoder.layers.0.attention.qkv.bias: " in error and "no biases" in error
    assert not out.exists()


@pytest.mark.parametrize("preset,override,setting", [
    ("bart/tiny", "model.decoder.norm=pre", "model.decoder.norm"),
    ("bart/tiny", "model.decoder.embedding=separate", "model.decoder.embedding"),
    ("bart/tiny", "model.decoder.activation=relu", "model.decoder.activation"),
    ("t5/tiny", "model.decoder.activation=gelu", "model.decoder.activation"),
    ("t5/tiny", "model.decoder.relative_buckets=16", "model.decoder.relative_buckets"),
    ("t5/tiny", "model.lm_head.bias=true", "model.lm_head"),
    ("t5/tiny", "model.decoder.bias=true", "model.decoder.bias"),
])
def test_each_setting_neither_class_has_is_named(preset, override, setting):
    model = load_config(preset_path(preset), [override]).model
    with pytest.raises(NoCounterpartError, match=f"^{setting}: "):
        seq2seq_architecture(model)


@pytest.mark.parametrize("name", ["bart", "t5"])
def test_export_then_import_gives_back_the_run(name, trained, tmp_path, capsys):
    """``--to hf`` then ``--from hf``: a run with the same weights (T5's folds within one
    rounding step), the same tokenizer, and the objective that generates the same way."""
    preset, overrides, _ = EXPORTS[name]
    run = trained(preset, overrides)
    assert main(["convert", str(run), "--to", "hf", str(tmp_path / "hf")]) == 0
    assert main(["convert", str(tmp_path / "hf"), "--from", "hf", str(tmp_path / "back")]) == 0
    capsys.readouterr()
    config, tokenizer, model = load_run(run)
    config_back, tokenizer_back, model_back = load_run(tmp_path / "back")
    assert config_back.objectives[0].name == name
    assert tokenizer_back.encode(TEXTS[0]) == tokenizer.encode(TEXTS[0])
    ours, theirs = model.state_dict(), model_back.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        torch.testing.assert_close(theirs[key], ours[key], atol=1e-6, rtol=1e-6, msg=key)
    start = build_objectives(config.objectives[:1], tokenizer)[0].decoder_start_id
    assert build_objectives(config_back.objectives[:1], tokenizer_back)[0].decoder_start_id == start
