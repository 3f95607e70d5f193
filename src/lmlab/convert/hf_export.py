"""``lmlab convert <run> --to hf <dir>``: a folder ``transformers`` loads.

The weights go through the architecture's name table (:mod:`lmlab.interop.families`),
into the ``transformers`` class that ``AutoModelFor...`` picks for the task, which then
writes itself (``save_pretrained``: config.json + model.safetensors) beside the
tokenizer (:mod:`lmlab.interop.hf_tokenizer`). An ELECTRA run also writes its generator
as ``<dir>/generator`` (``ElectraForMaskedLM``; load it with ``subfolder="generator"``).
An XLNet (pre-trained, or fine-tuned for classification / regression with ``pooling:
last``) is written as ``XLNetLMHeadModel`` / ``XLNetForSequenceClassification``
(:mod:`lmlab.interop.hf_xlnet`). An encoder–decoder (BART, T5, MASS in BART's layout) is written as
``BartForConditionalGeneration`` or ``T5ForConditionalGeneration``
(:mod:`lmlab.interop.hf_seq2seq_export`), which ``AutoModelForSeq2SeqLM`` loads and whose
``generate`` starts and stops as ``lmlab generate`` does.

A generation fine-tune keeps its whole LM (``backbone.*``; its head is the same tied LM
head): an encoder–decoder is written as the pre-trained one is, with the run's decoder
start, a GPT prefix-LM fine-tune as ``GPT2LMHeadModel`` (prompt: ``source [SEP]``, stop
``<eos>``). Their generation config makes HF ``generate()`` decode as the fine-tuning's
dev evaluation does (:func:`lmlab.finetune.generate.generate_features`): the same stop
token, ``suppress_tokens`` (the special tokens it never proposes), ``max_new_tokens``
(``max_target_len``), ``num_beams``, ``length_penalty`` and ``no_repeat_ngram_size``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lmlab.convert.runs import GENERATION, HF, ConvertibleRun, open_run
from lmlab.errors import CheckpointError
from lmlab.finetune.generate import special_ids
from lmlab.generation.api import finetuned_suppressed_ids
from lmlab.interop.configs import electra_generator_config, hf_config
from lmlab.interop.families import (CLASSES, PRETRAINED, export_architecture, head_config,
                                    name_table)
from lmlab.interop.hf_seq2seq_export import (SEQ2SEQ_CLASSES, hf_seq2seq_config,
                                             lmlab_to_hf_seq2seq)
from lmlab.interop.hf_tokenizer import write_hf_tokenizer
from lmlab.interop.hf_xlnet import XLNET_CLASSES, hf_xlnet_config, lmlab_to_xlnet
from lmlab.interop.tables import electra_generator, to_hf
from lmlab.outputs import prepare_output_folder
from lmlab.registry import build_objectives

GENERATOR = "generator"


def build_hf_model(architecture: str, class_name: str, config: dict, state: dict):
    """An HF model of ``class_name`` holding ``state`` (HF names); every parameter must be
    given, except those tied to one that is (the MLM decoders)."""
    import transformers

    hf = getattr(transformers, class_name)(transformers.AutoConfig.for_model(architecture, **config))
    missing, unexpected = hf.load_state_dict(state, strict=False)
    own = hf.state_dict()
    given = {own[key].data_ptr() for key in state if key in own}
    untied = [key for key in missing if own[key].data_ptr() not in given
              and key in dict(hf.named_parameters())]
    if unexpected or untied:
        raise CheckpointError(f"{class_name} does not fit the mapped weights: missing "
                              f"{untied[:3]}, unexpected {sorted(unexpected)[:3]}")
    return hf.eval()


def _language_model_state(run: ConvertibleRun) -> dict:
    """The LanguageModel's state: a generation fine-tune's ``backbone.*`` unprefixed (its
    ``head.lm_head`` is the backbone's tied LM head, the same tensors)."""
    state = run.model.state_dict()
    if run.kind != GENERATION:
        return dict(state)
    return {key[len("backbone."):]: value for key, value in state.items()
            if key.startswith("backbone.")}


def _write_generation_config(hf, run: ConvertibleRun) -> None:
    """HF ``generate()`` defaults that decode as the fine-tuning's evaluation does."""
    special = special_ids(run.tokenizer, run.generation_mode, run.decoder_start_id)
    options, settings = run.options, hf.generation_config
    settings._from_model_config = False  # never rebuilt from config.json: these are the run's
    settings.suppress_tokens = finetuned_suppressed_ids(run.tokenizer, special)
    settings.eos_token_id = special.stop_ids[0]
    settings.pad_token_id = special.pad_id
    settings.max_new_tokens = options.max_target_len
    settings.max_length = None
    settings.num_beams = options.num_beams
    if options.num_beams > 1:
        settings.length_penalty = options.length_penalty
    if options.no_repeat_ngram_size:
        settings.no_repeat_ngram_size = options.no_repeat_ngram_size


def _lmlab_state(run: ConvertibleRun) -> dict:
    state = _language_model_state(run)
    prefix = "backbone." if run.kind not in (PRETRAINED, GENERATION) else ""
    embedding = run.model_config.embedding
    if not embedding.num_segments:  # HF always adds token type 0: zeros add nothing
        state[prefix + "embedding.segments.weight"] = torch.zeros(
            1, embedding.embedding_size or embedding.hidden_size)
    return state


def _generator_size(run: ConvertibleRun) -> float:
    rtd = next(o for o in run.objectives if o.name == "rtd")
    return rtd.generator_size


def _export_seq2seq(run: ConvertibleRun, out: str | Path, overwrite: bool) -> dict:
    """A pre-trained encoder–decoder as ``...ForConditionalGeneration`` (BART or T5)."""
    tokenizer, model_config = run.tokenizer, run.model_config
    start = (run.decoder_start_id if run.kind == GENERATION
             else build_objectives(run.objectives[:1], tokenizer)[0].decoder_start_id)
    config = hf_seq2seq_config(model_config, tokenizer, start)
    config["lmlab"] = {"family": model_config.family, "kind": run.kind, "task": run.task}
    architecture, state = lmlab_to_hf_seq2seq(_language_model_state(run), model_config)
    hf = build_hf_model(architecture, SEQ2SEQ_CLASSES[architecture], config, state)
    if run.kind == GENERATION:
        _write_generation_config(hf, run)
    out = prepare_output_folder(out, "hf", overwrite)
    hf.save_pretrained(str(out))
    # [CLS] text [SEP], as lmlab's seq2seq sources; BART and T5 take no token types.
    write_hf_tokenizer(tokenizer, out, True, model_config.embedding.max_positions)
    path = out / "tokenizer_config.json"
    tokenizer_config = json.loads(path.read_text(encoding="utf-8"))
    tokenizer_config["model_input_names"] = ["input_ids", "attention_mask"]
    path.write_text(json.dumps(tokenizer_config, indent=1), encoding="utf-8")
    return {"out": str(out), "class": SEQ2SEQ_CLASSES[architecture],
            "architecture": architecture, "kind": run.kind}


def _export_xlnet(run: ConvertibleRun, out: str | Path, overwrite: bool) -> dict:
    """An XLNet run as ``XLNetLMHeadModel`` or ``XLNetForSequenceClassification``."""
    model_config, tokenizer = run.model_config, run.tokenizer
    config = hf_xlnet_config(model_config, tokenizer)
    if run.kind != PRETRAINED:
        config.update(head_config("xlnet", run.kind, run.labels))
    config["lmlab"] = {"family": model_config.family, "kind": run.kind, "task": run.task}
    class_name = XLNET_CLASSES[run.kind]
    hf = build_hf_model("xlnet", class_name, config,
                        lmlab_to_xlnet(run.model.state_dict(), model_config, run.kind))
    out = prepare_output_folder(out, "hf", overwrite)
    hf.save_pretrained(str(out))
    # [CLS] A [SEP] B [SEP], segments 0 and 1, as lmlab's XLNet runs read pairs.
    write_hf_tokenizer(tokenizer, out, True, model_config.embedding.max_positions)
    return {"out": str(out), "class": class_name, "architecture": "xlnet", "kind": run.kind}


def export_hf(run_path: str | Path, out: str | Path, overwrite: bool = False) -> dict:
    """Write ``out`` (an HF folder); returns a summary (class, architecture, files)."""
    run = open_run(run_path, HF)
    if run.model_config.decoder is not None:
        return _export_seq2seq(run, out, overwrite)
    if run.architecture == "xlnet":
        return _export_xlnet(run, out, overwrite)
    kind = PRETRAINED if run.kind == GENERATION else run.kind  # a generator is its LM
    architecture = export_architecture(run.architecture, kind, run.options)
    class_name = CLASSES[architecture][kind]
    tokenizer = run.tokenizer
    config = hf_config(architecture, run.model_config, tokenizer.pad_id, tokenizer.cls_id,
                       tokenizer.eos_id if architecture == "gpt2" else tokenizer.sep_id)
    if kind != PRETRAINED:
        config.update(head_config(architecture, kind, run.labels))
    config["lmlab"] = {"family": run.model_config.family, "kind": run.kind, "task": run.task}
    state = _lmlab_state(run)
    rules = name_table(architecture, kind, run.model_config, tokenizer.pad_id)
    hf = build_hf_model(architecture, class_name, config, to_hf(rules, state))
    if run.kind == GENERATION:
        _write_generation_config(hf, run)
    out = prepare_output_folder(out, "hf", overwrite)
    hf.save_pretrained(str(out))
    bidirectional = architecture != "gpt2"
    write_hf_tokenizer(tokenizer, out, bidirectional, run.model_config.embedding.max_positions)
    summary = {"out": str(out), "class": class_name, "architecture": architecture,
               "kind": run.kind}
    if architecture == "electra" and run.kind == PRETRAINED:
        generator = electra_generator_config(config, run.model_config, _generator_size(run))
        rules = electra_generator(run.model_config.encoder.num_layers)
        hf = build_hf_model("electra", "ElectraForMaskedLM", generator, to_hf(rules, state))
        hf.save_pretrained(str(out / GENERATOR))
        write_hf_tokenizer(tokenizer, out / GENERATOR, True,
                           run.model_config.embedding.max_positions)
        summary["generator"] = str(out / GENERATOR)
    return summary
