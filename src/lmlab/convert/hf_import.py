"""``lmlab convert <hf-dir> --from hf <out-run>``: an HF folder as an lmlab run folder.

The class named in ``config.json`` (``architectures``) says what the folder is
(:func:`lmlab.interop.families.class_of`): a pre-trained model becomes a pre-training run
(MLM, CLM or ELECTRA's rtd, so ``lmlab train --resume`` is not offered but eval, fill-mask,
generate and finetune are), a task model a fine-tuned run. Only JSON and safetensors are
read. A bare encoder (``BertModel``, as all-MiniLM-L6-v2) has no LM head: it starts
untrained, and the summary says so.
"""

from __future__ import annotations

import copy
from pathlib import Path

from lmlab.config import ModelConfig, RunConfig, from_dict
from lmlab.data.tokenizers import sentinel_ids
from lmlab.errors import CheckpointError
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig
from lmlab.finetune.model import build_finetune_model
from lmlab.interop.configs import model_config_from_hf
from lmlab.interop.families import BARE, BODY_PREFIX, PRETRAINED, class_of, name_table
from lmlab.interop.hf_folder import read_json, resolve_hf_folder
from lmlab.interop.hf_seq2seq import seq2seq_model_config_from_hf, seq2seq_to_lmlab
from lmlab.interop.hf_tokenizer import read_hf_tokenizer
from lmlab.interop.hf_xlnet import XLNET_CLASSES, xlnet_entries, xlnet_model_config_from_hf
from lmlab.interop.tables import electra_generator, to_lmlab
from lmlab.outputs import prepare_output_folder
from lmlab.registry import build_model, build_objectives
from lmlab.training.checkpoint import save_checkpoint

GENERATOR = "generator"
OBJECTIVES = {"bert": [{"name": "mlm", "masking": "static"}], "roberta": [{"name": "mlm"}],
              "albert": [{"name": "mlm"}], "gpt2": [{"name": "clm"}]}


def _load_state(folder: Path, architecture: str | None, bare: bool) -> dict:
    """The folder's weights; an encoder's keys prefixed as ``architecture``'s body."""
    from safetensors.torch import load_file

    path = folder / "model.safetensors"
    if not path.exists():
        raise CheckpointError(f"{folder}: no model.safetensors (a pickled pytorch_model.bin "
                              f"is not read; convert it to safetensors first)")
    state = load_file(str(path))
    if architecture is None:
        return state
    prefix = BODY_PREFIX[architecture]
    if bare:  # a bare encoder's keys have no "bert." / "transformer." prefix
        state = {key if key.startswith(prefix) else prefix + key: value
                 for key, value in state.items()}
    return state


def _generator_size(folder: Path, hf: dict, model_config) -> float | None:
    """lmlab's rtd ``generator_size`` from ``<folder>/generator/config.json``, if any."""
    path = folder / GENERATOR / "config.json"
    if not path.exists():
        return None
    generator = read_json(path)
    size = generator["hidden_size"] / hf["hidden_size"]
    encoder = model_config.encoder
    if (generator["num_hidden_layers"] != encoder.num_layers
            or generator["num_attention_heads"] != max(1, round(encoder.num_heads * size))
            or generator["intermediate_size"] != max(1, round(encoder.ffn_size * size))):
        raise CheckpointError(f"{path}: a generator that is not {size:g} x the discriminator "
                              f"in width, heads and FFN, at the same depth, has no lmlab "
                              f"counterpart")
    return size


def _labels(hf: dict, kind: str, classifier_weight: str, state: dict) -> list[str]:
    """Label names from ``id2label``; their number from the classifier's (C, D) rows
    (``classifier_weight``), which is what the weights say."""
    if kind not in ("classification", "tagging"):
        return []
    count = state[classifier_weight].shape[0]
    id2label = {int(key): str(value) for key, value in (hf.get("id2label") or {}).items()}
    return [id2label.get(i, f"LABEL_{i}") for i in range(count)]


def _check_fit(model, mapped: dict, allowed_missing: tuple[str, ...], where: str) -> None:
    try:
        missing, unexpected = model.load_state_dict(mapped, strict=False)
    except RuntimeError as error:  # a shape mismatch: name the first one
        lines = [line.strip() for line in str(error).splitlines() if "size mismatch" in line]
        raise CheckpointError(f"{where} does not fit the lmlab model: "
                              f"{lines[0] if lines else str(error).splitlines()[0]}") from None
    missing = [key for key in missing if not key.startswith(allowed_missing)]
    if missing or unexpected:
        raise CheckpointError(f"{where} does not fit the lmlab model: missing {missing[:3]}, "
                              f"unexpected {sorted(unexpected)[:3]}")


def _read_tokenizer(folder: Path, hf: dict):
    """The folder's tokenizer, checked against config.json's vocab_size."""
    tokenizer = read_hf_tokenizer(folder)
    if tokenizer.vocab_size != hf["vocab_size"]:
        raise CheckpointError(f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but "
                              f"config.json says vocab_size={hf['vocab_size']}")
    return tokenizer


def _import_xlnet(folder: Path, hf: dict, out, overwrite: bool) -> dict:
    """An HF ``XLNetLMHeadModel`` folder as a pre-training run of the xlnet objective, or
    ``XLNetForSequenceClassification`` as a fine-tuned run (``pooling: last``)."""
    class_name = (hf.get("architectures") or ["XLNetLMHeadModel"])[0]
    if class_name not in XLNET_CLASSES.values():
        raise CheckpointError(f"{folder}/config.json: {class_name} has no lmlab counterpart "
                              f"(XLNet imports as {', '.join(sorted(set(XLNET_CLASSES.values())))})")
    tokenizer = _read_tokenizer(folder, hf)
    raw_model = xlnet_model_config_from_hf(hf)
    state = _load_state(folder, None, False)
    where = f"{folder}/model.safetensors"
    if class_name == XLNET_CLASSES[PRETRAINED]:
        kind = PRETRAINED
        memory = raw_model["encoder"]["memory_length"]
        data = {"seq_len": 128, "batching": "stream" if memory else "blocks",
                "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size}}
        config = from_dict(RunConfig, {"model": raw_model, "data": data,
                                       "objectives": [{"name": "xlnet"}]}, f"{folder}/config.json")
        model = build_model(config.model, tokenizer.vocab_size,
                            objectives=build_objectives(config.objectives, tokenizer))
    else:
        kind = "regression" if hf.get("problem_type") == "regression" else "classification"
        labels = _labels(hf, kind, "logits_proj.weight", state)
        options = FinetuneOptions(pooling="last")
        config = FinetuneRunConfig(task=(hf.get("lmlab") or {}).get("task", ""), kind=kind,
                                   base=f"hf:{folder}", labels=labels,
                                   model=from_dict(ModelConfig, raw_model, f"{folder}/config.json"),
                                   options=options)
        backbone = build_model(copy.deepcopy(config.model), tokenizer.vocab_size)
        model = build_finetune_model(backbone, kind, max(1, len(labels)), options)
    entries = xlnet_entries(hf["n_layer"], hf["d_model"], hf["n_head"], kind)
    _check_fit(model, to_lmlab(entries, state), (), where)
    out = prepare_output_folder(out, "neural" if kind == PRETRAINED else "finetune", overwrite)
    save_checkpoint(out, model.eval(), config, tokenizer, {"imported_from": str(folder)})
    return {"out": str(out), "class": class_name, "kind": kind}


def _import_seq2seq(folder: Path, hf: dict, out, overwrite: bool) -> dict:
    """An HF BART or T5 (``...ForConditionalGeneration``) folder as a pre-training run of
    the bart or t5 objective (its denoising held-out measure, generate and finetune work)."""
    tokenizer = _read_tokenizer(folder, hf)
    raw_model = seq2seq_model_config_from_hf(hf)
    positions = raw_model["embedding"].get("max_positions", 512)
    data = {"seq_len": min(128, positions), "batching": "blocks",
            "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size,
                          "sentinels": len(sentinel_ids(tokenizer))}}
    config = from_dict(RunConfig, {"model": raw_model, "data": data,
                                   "objectives": [{"name": hf["model_type"]}]},
                       f"{folder}/config.json")
    model = build_model(config.model, tokenizer.vocab_size)
    _check_fit(model, seq2seq_to_lmlab(_load_state(folder, None, False), hf), (),
               f"{folder}/model.safetensors")
    out = prepare_output_folder(out, "neural", overwrite)
    save_checkpoint(out, model.eval(), config, tokenizer, {"imported_from": str(folder)})
    return {"out": str(out), "class": hf["architectures"][0], "kind": PRETRAINED}


def import_hf(hf_path: str | Path, out: str | Path, overwrite: bool = False) -> dict:
    """Write the lmlab run ``out`` from the HF folder ``hf_path``; returns a summary."""
    folder = resolve_hf_folder(hf_path)
    hf = read_json(folder / "config.json")
    if hf.get("model_type") in ("bart", "t5"):
        return _import_seq2seq(folder, hf, out, overwrite)
    if hf.get("model_type") == "xlnet":
        return _import_xlnet(folder, hf, out, overwrite)
    architecture, kind = class_of(hf.get("architectures"), hf)
    if hf.get("model_type") != architecture:
        raise CheckpointError(f"{folder}/config.json: model_type {hf.get('model_type')!r} "
                              f"does not match its class {hf['architectures'][0]}")
    model_config = from_dict(ModelConfig, model_config_from_hf(hf), f"{folder}/config.json")
    tokenizer = _read_tokenizer(folder, hf)
    bare = hf["architectures"][0] in BARE
    state = _load_state(folder, architecture, bare)
    rules = name_table(architecture, kind, model_config, hf.get("pad_token_id") or 0)
    if bare:  # the body only: no MLM head to read
        rules = [rule for rule in rules if all(key in state for key in rule.theirs)]
    summary = {"out": str(out), "class": hf["architectures"][0], "kind": kind}
    if kind == PRETRAINED:
        objectives = copy.deepcopy(OBJECTIVES.get(architecture))
        generator_size = None
        if architecture == "electra":
            generator_size = _generator_size(folder, hf, model_config)
            objectives = [{"name": "rtd", "generator_size": generator_size or 0.25}]
        raw_model = model_config_from_hf(hf)
        data = {"seq_len": min(128, model_config.embedding.max_positions),
                "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size}}
        config = from_dict(RunConfig, {"model": raw_model, "objectives": objectives,
                                       "data": data})
        model = build_model(config.model, tokenizer.vocab_size,
                            objectives=build_objectives(config.objectives, tokenizer))
        mapped = to_lmlab(rules, state)
        if generator_size is not None:
            generator_state = _load_state(folder / GENERATOR, "electra", False)
            mapped.update({key: value for key, value in to_lmlab(
                electra_generator(model_config.encoder.num_layers), generator_state).items()
                if key.startswith("heads.rtd.") and not key.endswith("decoder.weight")})
            # tied to the (shared) token matrix, as in lmlab's ElectraModules
            mapped["heads.rtd.generator_head.decoder.weight"] = mapped["embedding.tokens.weight"]
        untrained = ("lm_head.",) if bare or architecture == "electra" else ()
        if architecture == "electra" and generator_size is None:
            untrained += ("heads.rtd.generator", )
        if bare and architecture == "electra":
            untrained += ("heads.rtd.",)
        _check_fit(model, mapped, untrained, f"{folder}/model.safetensors")
        summary["untrained"] = [name.rstrip(".") for name in untrained]
        kind_of_output = "neural"
    else:
        labels = _labels(hf, kind, rules[-2].theirs[0], state)  # the classifier's weight
        config = FinetuneRunConfig(task=(hf.get("lmlab") or {}).get("task", ""), kind=kind,
                                   base=f"hf:{folder}", labels=labels, model=model_config,
                                   options=FinetuneOptions())
        backbone = build_model(copy.deepcopy(model_config), tokenizer.vocab_size)
        model = build_finetune_model(backbone, kind, len(labels), config.options)
        _check_fit(model, to_lmlab(rules, state), (), f"{folder}/model.safetensors")
        kind_of_output = "finetune"
    out = prepare_output_folder(out, kind_of_output, overwrite)
    save_checkpoint(out, model.eval(), config, tokenizer, {"imported_from": str(folder)})
    return summary
