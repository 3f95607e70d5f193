"""Generation fine-tunes -> HF (``lmlab convert <run> --to hf``, issue 23): a fine-tuned BART
or T5 is written as ``...ForConditionalGeneration`` with the run's decoder start, a GPT
prefix-LM fine-tune as ``GPT2LMHeadModel``; HF gives lmlab's logits (1e-5), and HF
``generate()`` with nothing but the exported generation config gives the tokens and text
of the fine-tuning's own greedy decoding (``finetune.generate.generate_features``)."""

import copy
import json
from pathlib import Path

import pytest
import torch

from test_seq2seq_export import TEXTS, _one_line_error, trained  # noqa: F401 (a fixture)
from lmlab.cli import main
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig
from lmlab.finetune.generate import generate_features, generation_options, special_ids
from lmlab.finetune.model import build_finetune_model
from lmlab.finetune.run_folder import load_finetuned
from lmlab.finetune.seq2seq_features import encode_seq2seq
from lmlab.generation import GenerationOptions, generate_ids
from lmlab.generation.api import finetuned_suppressed_ids
from lmlab.tasks.examples import Seq2SeqExample
from lmlab.training.checkpoint import load_run, save_checkpoint

transformers = pytest.importorskip("transformers")

NEW_TOKENS = 8
FAMILIES = {"bart": ("bart/tiny", "BartForConditionalGeneration"),
            "t5": ("t5/tiny", "T5ForConditionalGeneration")}


def _finetuned(run: Path, folder: Path, mode: str, start: int | None, shake: float = 0.3) -> Path:
    """A generation fine-tune of ``run`` (weights shaken so that greedy outputs differ and
    stop at varied lengths, as test_seq2seq_export._rewritten), saved as lmlab finetune
    saves one."""
    config, tokenizer, backbone = load_run(run)
    options = FinetuneOptions(max_target_len=NEW_TOKENS)
    model = build_finetune_model(backbone, "generation", 0, options)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.backbone.named_parameters():
            if "norm" not in name:
                parameter.add_(torch.randn(parameter.shape, generator=generator) * shake)
        stop = tokenizer.eos_id if mode == "prefix_lm" else tokenizer.sep_id
        model.backbone.embedding.tokens.weight[stop] *= 4.0
    run_config = FinetuneRunConfig(task="gen/ag_news_headlines", kind="generation",
                                   base=str(run), model=config.model, options=options,
                                   generation_mode=mode, decoder_start_id=start)
    save_checkpoint(folder, model, run_config, tokenizer, {})
    return folder


def _convert(run: Path, out: Path, capsys) -> dict:
    assert main(["convert", str(run), "--to", "hf", str(out)]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _lmlab_greedy(folder: Path) -> tuple[list[list[int]], list[str], list[list[int]]]:
    """(new ids, texts, prompts) of the fine-tuned run's own greedy decoding of TEXTS."""
    config, tokenizer, model = load_finetuned(folder)
    examples = [Seq2SeqExample(text, None) for text in TEXTS]
    features = encode_seq2seq(tokenizer, examples, config.generation_mode,
                              config.options.max_seq_len, config.options.max_target_len,
                              config.decoder_start_id)
    prompts = [feature["prompt"] for feature in features]
    special = special_ids(tokenizer, config.generation_mode, config.decoder_start_id)
    options = generation_options(config.options)
    options = GenerationOptions(**{**options.__dict__, "suppress_ids": tuple(
        finetuned_suppressed_ids(tokenizer, special))})
    ids = generate_ids(model.backbone, prompts, options, special)
    return ids, generate_features(model.backbone, features, config, tokenizer), prompts


def _until_stop(row: list[int], stop: int) -> list[int]:
    return row[:row.index(stop) + 1] if stop in row else row


@pytest.mark.parametrize("family", list(FAMILIES))
def test_finetuned_encoder_decoder_exports_with_its_logits_and_greedy_output(
        family, trained, tmp_path, capsys):
    preset, class_name = FAMILIES[family]
    base = trained(preset)
    tokenizer = load_run(base)[1]
    start = tokenizer.mask_id  # not the base's start: the run's own must be written
    run = _finetuned(base, tmp_path / "run", "encoder_decoder", start)
    summary = _convert(run, tmp_path / "hf", capsys)
    assert (summary["class"], summary["kind"]) == (class_name, "generation")
    reference = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(tmp_path / "hf")).eval()
    assert type(reference).__name__ == class_name
    settings = reference.generation_config
    assert (settings.decoder_start_token_id, settings.eos_token_id) == (start, tokenizer.sep_id)
    assert settings.max_new_tokens == NEW_TOKENS
    batch = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))(
        TEXTS, padding=True, return_tensors="pt")
    ids, texts, prompts = _lmlab_greedy(run)
    assert [row[mask.bool()].tolist() for row, mask in
            zip(batch["input_ids"], batch["attention_mask"])] == prompts
    # Logits, teacher-forced on the run's start + random target tokens.
    _, _, model = load_finetuned(run)
    targets = torch.randint(tokenizer.num_special, tokenizer.vocab_size, (len(TEXTS), 6),
                            generator=torch.Generator().manual_seed(0))
    decoder_ids = torch.cat([torch.full((len(TEXTS), 1), start), targets], dim=1)  # (B, T)
    with torch.no_grad():
        expected = reference(**batch, decoder_input_ids=decoder_ids).logits  # (B, T, V)
        hidden = model({**batch, "decoder_ids": decoder_ids})  # (B, T, D) decoder states
        got = model.head.lm_head(hidden)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # Greedy: HF generate() with the exported generation config only.
    output = reference.generate(**batch)  # (B, 1 + new)
    assert output[:, 0].tolist() == [start] * len(TEXTS)
    theirs = [_until_stop(row, tokenizer.sep_id) for row in output[:, 1:].tolist()]
    assert theirs == ids
    assert [tokenizer.decode([t for t in row if t != tokenizer.sep_id]) for row in theirs] == texts
    assert len({tuple(r) for r in ids}) == len(ids)
    if family == "bart":  # (the shaken T5 runs to NEW_TOKENS on these texts)
        assert any(len(row) < NEW_TOKENS for row in ids)


def test_gpt_prefix_lm_finetune_exports_as_gpt2(trained, tmp_path, capsys):
    base = trained("gpt/tiny")
    run = _finetuned(base, tmp_path / "run", "prefix_lm", None, shake=0.5)
    summary = _convert(run, tmp_path / "hf", capsys)
    assert (summary["class"], summary["kind"]) == ("GPT2LMHeadModel", "generation")
    reference = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    _, tokenizer, model = load_finetuned(run)
    assert reference.generation_config.eos_token_id == tokenizer.eos_id
    ids, texts, prompts = _lmlab_greedy(run)
    assert prompts[0][-1] == tokenizer.sep_id  # source [SEP]: where the target starts
    theirs = []
    # Logits compared in float64: the shaken weights give large logits whose fp32 rounding
    # differs between HF's and lmlab's kernels by a few 1e-5 (thread-count dependent).
    reference64, model64 = copy.deepcopy(reference).double(), copy.deepcopy(model).double()
    for prompt in prompts:  # one at a time: GPT-2 would need left padding for a batch
        row = torch.tensor([prompt])
        with torch.no_grad():
            expected = reference64(row).logits  # (1, T, V)
            got = model64.backbone.lm_head(model64.backbone(row).hidden)
        torch.testing.assert_close(got, expected, atol=1e-9, rtol=1e-9)
        output = reference.generate(row, attention_mask=torch.ones_like(row))
        theirs.append(_until_stop(output[0, len(prompt):].tolist(), tokenizer.eos_id))
    assert theirs == ids
    assert [tokenizer.decode([t for t in row if t != tokenizer.eos_id]) for row in theirs] == texts
    assert len({tuple(r) for r in ids}) > 1


def test_unilm_and_other_heads_on_an_encoder_decoder_are_refused(trained, tmp_path, capsys):
    base = trained("bert/tiny")
    run = _finetuned(base, tmp_path / "unilm", "unilm", None)
    error = _one_line_error(["convert", str(run), "--to", "hf", str(tmp_path / "hf")], capsys)
    assert "a unilm generation fine-tune" in error and "GPT2LMHeadModel" in error
    error = _one_line_error(["convert", str(run), "--to", "onnx", str(tmp_path / "onnx")], capsys)
    assert "no ONNX export (encoder–decoders have)" in error
    config, tokenizer, backbone = load_run(trained("bart/tiny"))
    options = FinetuneOptions()
    classifier = build_finetune_model(backbone, "classification", 2, options)
    save_checkpoint(tmp_path / "cls", classifier, FinetuneRunConfig(
        task="glue/sst2", kind="classification", base="bart", labels=["0", "1"],
        model=config.model, options=options), tokenizer, {})
    for target in ("hf", "onnx"):
        error = _one_line_error(["convert", str(tmp_path / "cls"), "--to", target,
                                 str(tmp_path / target)], capsys)
        assert "a fine-tuned bart encoder–decoder (classification) has no" in error
        assert "only pre-trained and generation runs have" in error
    assert not (tmp_path / "hf").exists() and not (tmp_path / "onnx").exists()
