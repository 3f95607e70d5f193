"""Open any lmlab run folder for conversion: a pre-trained LM or a fine-tuned model.

Everything a converter needs is checked here first, so a run with a missing file, or a
family with no counterpart in the requested format, fails in one line before anything
is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmlab.config import load_raw
from lmlab.errors import CheckpointError
from lmlab.finetune.run_folder import load_finetuned
from lmlab.interop.configs import NoCounterpartError, hf_architecture
from lmlab.interop.families import PRETRAINED
from lmlab.interop.hf_seq2seq_export import seq2seq_architecture
from lmlab.interop.hf_xlnet import XLNET_CLASSES, is_xlnet
from lmlab.outputs import kind_of
from lmlab.training.checkpoint import checkpoint_folder, load_run

# What the families without an HF/ONNX counterpart are written as instead.
OTHER_FORMATS = {
    "ngram": "an n-gram model: its formats are ARPA (model.arpa, read by KenLM and "
             "'lmlab ngram score --arpa') and lmlab's model.npz",
    "wordvec": "word vectors: their formats are word2vec text and binary and safetensors "
               "(lmlab embed train writes them)",
    "recurrent": "its format is the lmlab run folder (model.safetensors + config.yaml + "
                 "tokenizer/), read by lmlab eval, finetune and (left-to-right LMs) generate",
}
HF, ONNX = "HF transformers", "ONNX"
GENERATION = "generation"  # a fine-tuned generator: the whole LM, its LM head included
REQUIRED = ("config.yaml", "model.safetensors", "tokenizer/tokenizer.json",
            "tokenizer/lmlab_tokenizer.json")


@dataclass
class ConvertibleRun:
    """A loaded run: ``model`` is a LanguageModel (kind PRETRAINED) or a FineTuneModel."""
    folder: Path
    model_config: object
    tokenizer: object
    model: object
    architecture: str
    kind: str = PRETRAINED
    objective_names: list[str] = field(default_factory=list)
    objectives: list = field(default_factory=list)
    """The run's objective configs (ELECTRA's generator size lives in its rtd entry)."""
    labels: list[str] = field(default_factory=list)
    task: str = ""
    options: object = None
    generation_mode: str = ""
    """Fine-tuned generators: encoder_decoder, prefix_lm or unilm (finetune.seq2seq_features)."""
    decoder_start_id: int | None = None
    """Fine-tuned encoder–decoders: the decoder's first input (FinetuneRunConfig)."""


def open_run(path: str | Path, target: str) -> ConvertibleRun:
    """Load a run for conversion to ``target`` ("HF transformers" or "ONNX"); an HF target
    also needs an HF architecture (:func:`~lmlab.interop.configs.hf_architecture`, for an
    encoder–decoder :func:`~lmlab.interop.hf_seq2seq_export.seq2seq_architecture`)."""
    path = Path(path)
    found = kind_of(path) if path.is_dir() else None
    if found in ("ngram", "wordvec"):
        raise NoCounterpartError(f"{path} holds {OTHER_FORMATS[found].split(':')[0]}, which "
                                 f"has no {target} counterpart; {OTHER_FORMATS[found].split(': ')[1]}")
    folder = checkpoint_folder(path, verify=False)  # the loaders below verify its manifest
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        hint = ("; it looks like an HF folder: convert it with --from hf"
                if (folder / "config.json").is_file() else "")
        raise CheckpointError(f"{folder}: the run folder is incomplete (missing "
                              f"{', '.join(missing)}){hint}")
    raw = load_raw(folder / "config.yaml")
    if raw.get("quantization"):  # lmlab compress --method dynamic_int8 (issue 20)
        raise NoCounterpartError(f"{path}: a {raw['quantization']} run has no {target} "
                                 f"counterpart (its int8 layers exist only once loaded); "
                                 f"convert the fine-tuned run it was compressed from")
    if "task" in raw:
        config, tokenizer, model = load_finetuned(path)
        run = ConvertibleRun(folder, config.model, tokenizer, model, "", config.kind,
                             labels=list(config.labels), task=config.task, options=config.options,
                             generation_mode=config.generation_mode,
                             decoder_start_id=config.decoder_start_id)
    else:
        config, tokenizer, model = load_run(path)
        names = [objective.name for objective in config.objectives]
        run = ConvertibleRun(folder, config.model, tokenizer, model, "", PRETRAINED, names,
                             list(config.objectives))
    if getattr(run.model_config.encoder, "name", None) != "transformer":
        raise NoCounterpartError(f"{path}: a {run.model_config.family} model "
                                 f"({run.model_config.encoder.name} encoder) has no {target} "
                                 f"counterpart; {OTHER_FORMATS['recurrent']}")
    if getattr(run.model_config, "decoder", None) is not None:
        _need_seq2seq_export(path, run, target)
        # ONNX traces lmlab's own modules: any encoder–decoder, HF class or not.
        run.architecture = seq2seq_architecture(run.model_config) if target == HF else "seq2seq"
    elif target == HF and is_xlnet(run.model_config):
        _need_xlnet_export(path, run)
        run.architecture = "xlnet"
    elif target == HF:
        run.architecture = hf_architecture(run.model_config, run.objective_names)
        if run.kind == GENERATION:
            _need_decoder_only_export(path, run)
    elif run.kind == GENERATION:
        raise NoCounterpartError(f"{path}: a fine-tuned {run.generation_mode} generator of a "
                                 f"{run.model_config.family} model has no {target} export "
                                 f"(encoder–decoders have); export it with --to hf")
    return run


def _need_decoder_only_export(path: Path, run: ConvertibleRun) -> None:
    """A GPT fine-tuned as a prefix LM is a plain GPT-2 LM (source [SEP] target <eos>, one
    causal sequence); UniLM's bidirectional source attention has no HF class."""
    if run.architecture != "gpt2" or run.generation_mode != "prefix_lm":
        raise NoCounterpartError(f"{path}: a {run.generation_mode} generation fine-tune of a "
                                 f"{run.model_config.family} model has no HF class (only GPT "
                                 f"prefix-LM fine-tunes export, as GPT2LMHeadModel)")


def _need_xlnet_export(path: Path, run: ConvertibleRun) -> None:
    """XLNet exports pre-trained, or with a sequence head that reads the last token."""
    if run.kind not in XLNET_CLASSES:
        raise NoCounterpartError(f"{path}: a fine-tuned XLNet ({run.kind}) has no HF export "
                                 f"yet (pre-trained, classification and regression have)")
    if run.kind != PRETRAINED and run.options.pooling != "last":
        raise NoCounterpartError(f"{path}: HF XLNetForSequenceClassification reads the last "
                                 f"token; this run pools {run.options.pooling!r} (fine-tune "
                                 f"with --pooling last)")


def _need_seq2seq_export(path: Path, run: ConvertibleRun, target: str) -> None:
    """Encoder–decoders export pre-trained or fine-tuned to generate (the whole model)."""
    if run.kind not in (PRETRAINED, GENERATION):
        raise NoCounterpartError(f"{path}: a fine-tuned {run.model_config.family} "
                                 f"encoder–decoder ({run.kind}) has no {target} export (only "
                                 f"pre-trained and generation runs have)")
