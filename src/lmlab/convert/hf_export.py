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
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lmlab.convert.runs import HF, ConvertibleRun, open_run
from lmlab.errors import CheckpointError
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


def _lmlab_state(run: ConvertibleRun) -> dict:
    state = dict(run.model.state_dict())
    prefix = "backbone." if run.kind != PRETRAINED else ""
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
    start = build_objectives(run.objectives[:1], tokenizer)[0].decoder_start_id
    config = hf_seq2seq_config(model_config, tokenizer, start)
    config["lmlab"] = {"family": model_config.family, "kind": run.kind, "task": run.task}
    architecture, state = lmlab_to_hf_seq2seq(run.model.state_dict(), model_config)
    hf = build_hf_model(architecture, SEQ2SEQ_CLASSES[architecture], config, state)
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
    architecture = export_architecture(run.architecture, run.kind, run.options)
    class_name = CLASSES[architecture][run.kind]
    tokenizer = run.tokenizer
    config = hf_config(architecture, run.model_config, tokenizer.pad_id, tokenizer.cls_id,
                       tokenizer.eos_id if architecture == "gpt2" else tokenizer.sep_id)
    if run.kind != PRETRAINED:
        config.update(head_config(architecture, run.kind, run.labels))
    config["lmlab"] = {"family": run.model_config.family, "kind": run.kind, "task": run.task}
    state = _lmlab_state(run)
    rules = name_table(architecture, run.kind, run.model_config, tokenizer.pad_id)
    hf = build_hf_model(architecture, class_name, config, to_hf(rules, state))
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
