"""Typed, strict configuration (DESIGN §6.4).

A run is described by :class:`RunConfig` (model, objectives, data, train), loaded from a
YAML preset with optional dotted overrides (``--set train.max_steps=2000``). Every key is
checked before any work starts: unknown keys, wrong types and impossible values raise
:class:`ConfigError` naming the key path (``model.encoder.num_heads``) and what is
allowed. Parts whose fields depend on a ``name`` (encoders, objectives) are looked up in
:mod:`lmlab.registry`, so a new part brings its own config dataclass.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lmlab import registry
from lmlab.data.corpus import decode_text
from lmlab.data.tokenizers import TokenizerConfig
from lmlab.embeddings.token_embedding import EmbeddingConfig
from lmlab.errors import ConfigError, DataError
from lmlab.heads.lm_head import LMHeadConfig


DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
"""The device names ``train.device`` (and ``finetune --device``) accept."""


@dataclass
class ModelConfig:
    family: str = "custom"
    """Free-form family name shown in tables (gpt, bert, lstm, ...)."""
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    encoder: Any = None
    """An encoder config chosen by its ``name`` key (see ``registry.ENCODERS``)."""
    decoder: Any = None
    """An encoder–decoder's decoder config chosen by its ``name`` key (see
    ``registry.DECODERS``; MASS, BART, T5), or None for an encoder-only model."""
    lm_head: LMHeadConfig = field(default_factory=LMHeadConfig)
    init: Literal["normal", "uniform"] = "normal"
    """Weight initialisation: normal(0, init_scale) (BERT/GPT) or uniform(-s, s) (Zaremba)."""
    init_scale: float = 0.02

    def validate(self, path: str) -> None:
        _require(self.init_scale > 0, f"{path}.init_scale", "must be > 0")
        _require(self.encoder is not None, f"{path}.encoder",
                 "missing; give a mapping with a name (e.g. {name: transformer})")
        factorised = self.embedding.embedding_size not in (0, self.embedding.hidden_size)
        _require(not factorised or self.lm_head.transform or not self.lm_head.tie_weights,
                 f"{path}.lm_head.transform", "a factorised embedding (embedding_size != "
                 "hidden_size) with tied weights needs transform: true (H -> E before the decoder)")
        _require(self.embedding.char_cnn is None or not self.lm_head.tie_weights,
                 f"{path}.lm_head.tie_weights", "a char-CNN embedding (model.embedding.char_cnn) "
                 "has no token table to tie the LM head to; set tie_weights: false")
        check = getattr(self.encoder, "check_compatible", None)
        if check is not None:
            check(self.embedding, f"{path}.encoder")
        if self.decoder is not None:
            self.decoder.check_compatible(self.embedding, f"{path}.decoder")


@dataclass
class MixedCorpus:
    """One corpus of ``data.datasets``: a catalogue name or path, and its language id."""

    name: str = ""
    language: int = 0

    def validate(self, path: str) -> None:
        _require(bool(self.name), f"{path}.name", "a dataset name or path is required")
        _require(self.language >= 0, f"{path}.language", "must be >= 0")


@dataclass
class DataConfig:
    dataset: str = "ptb"
    """A catalogue name (``lmlab data list``) or a folder/file path."""
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    seq_len: int = 128
    """Tokens per training sequence (BPTT length for recurrent encoders)."""
    batch_size: int = 32
    batching: Literal["stream", "blocks", "pairs"] = "blocks"
    """stream: B parallel contiguous streams read in order, state carried across batches
    (Zaremba et al. 2014); blocks: non-overlapping blocks shuffled every epoch; pairs:
    ``[CLS] A [SEP] B [SEP]`` sentence pairs for nsp/sop/sso (:mod:`lmlab.data.pairs`)."""
    eval_batch_size: int = 16
    encoding_errors: Literal["strict", "replace"] = "strict"
    datasets: list[MixedCorpus] = field(default_factory=list)
    """With ``dataset: mix``: the corpora to mix, ``[{name, language}]`` (catalogue names or
    paths; language: an id of ``model.embedding.num_languages``), their train splits
    resampled by language (:mod:`lmlab.crosslingual.sampling`); any other ``dataset``
    (an override) wins and these are not read."""
    language_alpha: float = 0.5
    """The sampling exponent α of ``datasets`` (XLM 0.5, XLM-R 0.3; 1 = proportional)."""

    def validate(self, path: str) -> None:
        _require(self.dataset != "mix" or bool(self.datasets), f"{path}.datasets",
                 "dataset: mix needs a list of corpora [{name, language}]")
        _require(0.0 < self.language_alpha <= 1.0, f"{path}.language_alpha",
                 "must be in (0, 1]")
        _require(self.seq_len >= 2, f"{path}.seq_len", "must be >= 2")
        _require(self.batch_size >= 1, f"{path}.batch_size", "must be >= 1")
        _require(self.eval_batch_size >= 1, f"{path}.eval_batch_size", "must be >= 1")


@dataclass
class StageConfig:
    """One stage of ``train.stages`` (ERNIE 2.0's continual multi-task schedule,
    :mod:`lmlab.training.stages`)."""

    start_step: int = 0
    """The optimizer step at which this stage begins."""
    start_fraction: float = 0.0
    """Or: where it begins as a fraction of the run's total steps (a budget-sized run,
    ``lmlab compare``); used when ``start_step`` is 0."""
    objectives: list[str] = field(default_factory=list)
    """Names of the run's objectives that this stage adds; earlier stages' stay active."""


@dataclass
class TrainConfig:
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    momentum: float = 0.0
    schedule: Literal["constant", "linear", "cosine", "step", "one_cycle"] = "linear"
    """Learning-rate schedule after warmup; ``step`` multiplies by ``decay_rate`` every
    ``decay_every_epochs`` once ``decay_start_epoch`` has passed (Zaremba et al. 2014);
    ``one_cycle``: Smith's one-cycle policy with cosine annealing (MultiFiT §3), rising over
    ``cycle_rise_fraction`` of the steps from ``cycle_start_ratio`` × lr to lr, then falling
    to ``min_lr_ratio`` × lr (its own warm-up: ``warmup_steps`` must be 0)."""
    cycle_rise_fraction: float = 0.3
    """one_cycle: share of the steps spent rising (fastai's ``pct_start``, 0.3)."""
    cycle_start_ratio: float = 0.04
    """one_cycle: the first rate as a fraction of lr (fastai's 1 / ``div_factor`` = 1/25)."""
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    decay_rate: float = 0.5
    decay_start_epoch: float = 4.0
    decay_every_epochs: float = 1.0
    grad_clip: float = 1.0
    """Clip the global gradient norm to this value; 0 disables clipping."""
    grad_accum: int = 1
    max_steps: int = 1000
    """Optimizer steps; when ``max_epochs`` is set it wins."""
    max_epochs: float = 0.0
    max_time_s: float = 0.0
    """Stop (and checkpoint) after this many seconds of training; 0 = no limit."""
    eval_every: int = 500
    eval_batches: int = 50
    checkpoint_every: int = 500
    log_every: int = 50
    seed: int = 0
    num_threads: int = 0
    """torch intra-op threads; 0 = leave PyTorch's default."""
    progress: bool = True
    device: str = "auto"
    """Where to train: auto (the best available: cuda, then mps, then cpu), cpu, cuda,
    cuda:N or mps. Checkpoints are fp32 on CPU whatever the device."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Autocast precision of the forward pass: auto = bf16 on a GPU that supports it, else
    fp32 (CPU bf16 has no native kernels here: ~10x slower); fp16 uses a gradient scaler
    and needs CUDA. Weights and optimizer state stay fp32."""
    compile: bool = False
    """Compile the model with ``torch.compile`` (in place: checkpoint keys unchanged)."""
    activation_checkpointing: bool = False
    """Recompute each transformer layer's activations in backward instead of storing them:
    less memory for about a third more compute (no effect on other encoders)."""
    distributed: Literal["ddp", "fsdp"] = "ddp"
    """Under torchrun with several processes: ddp (replicate the model, average gradients)
    or fsdp (shard parameters, gradients and optimizer state: FSDP2 ``fully_shard``)."""
    checkpoint_sharded: bool = False
    """Under FSDP: each rank writes its own shards (``model-RRRRR-of-NNNNN.safetensors``,
    ``optimizer-...``) instead of gathering the whole state to rank 0; one process reads
    them back by concatenation (``lmlab consolidate RUN`` writes the single file). Without
    FSDP it is ignored with a one-line note."""
    distributed_timeout_s: float = 300.0
    stages: list[StageConfig] = field(default_factory=list)
    """Staged objectives (ERNIE 2.0, Sun et al. 2020 §3.2): stage i starts at its
    ``start_step`` and adds its objectives to those of the earlier stages; an objective no
    stage names trains from step 0. Empty: every objective trains at every step."""
    """Under torchrun: how long a process waits for the others in a collective before the
    run fails with a one-line error (a dead peer is usually noticed at once)."""

    def validate(self, path: str) -> None:
        _require(DEVICE.fullmatch(self.device) is not None,
                 f"{path}.device", f"must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        _require(self.lr > 0, f"{path}.lr", "must be > 0")
        _require(self.distributed_timeout_s > 0, f"{path}.distributed_timeout_s", "must be > 0")
        _require(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
                 f"{path}.betas", "must be two numbers in [0, 1)")
        for name in ("warmup_steps", "max_steps", "eval_every", "eval_batches",
                     "checkpoint_every", "log_every", "num_threads"):
            _require(getattr(self, name) >= 0, f"{path}.{name}", "must be >= 0")
        _require(self.grad_accum >= 1, f"{path}.grad_accum", "must be >= 1")
        _require(self.grad_clip >= 0, f"{path}.grad_clip", "must be >= 0 (0 disables)")
        _require(0 < self.decay_rate <= 1, f"{path}.decay_rate", "must be in (0, 1]")
        _require(self.decay_every_epochs > 0, f"{path}.decay_every_epochs", "must be > 0")
        _require(0 <= self.min_lr_ratio <= 1, f"{path}.min_lr_ratio", "must be in [0, 1]")
        _require(0 < self.cycle_rise_fraction < 1, f"{path}.cycle_rise_fraction",
                 "must be in (0, 1)")
        _require(0 < self.cycle_start_ratio <= 1, f"{path}.cycle_start_ratio",
                 "must be in (0, 1]")
        _require(self.schedule != "one_cycle" or not self.warmup_steps, f"{path}.warmup_steps",
                 "must be 0 with schedule: one_cycle (it rises over cycle_rise_fraction)")
        _require(self.max_steps > 0 or self.max_epochs > 0, f"{path}.max_steps",
                 "max_steps or max_epochs must be > 0")


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    objectives: list[Any] = field(default_factory=list)
    """Weighted list of objectives, each chosen by its ``name`` (``registry.OBJECTIVES``)."""
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self, path: str) -> None:
        _require(bool(self.objectives), "objectives", "needs at least one objective")
        self._check_positions()
        for index, objective in enumerate(self.objectives):
            check = getattr(objective, "check_compatible", None)
            if check is not None:
                check(self, f"objectives[{index}]")
        check_stages(self.train.stages, [objective.name for objective in self.objectives])

    def _check_positions(self) -> None:
        """A sequence longer than the position table fails only in the first forward pass,
        after the run folder exists; refuse it here, before anything is written."""
        embedding = self.model.embedding
        _require(embedding.position == "none" or self.data.seq_len <= embedding.max_positions,
                 "data.seq_len", f"{self.data.seq_len} is longer than the model's "
                 f"{embedding.max_positions} positions (model.embedding.max_positions, "
                 f"{embedding.position}); lower data.seq_len or raise max_positions")

    def to_dict(self) -> dict:
        return to_dict(self)


def check_stages(stages: list, objective_names: list[str], path: str = "train.stages") -> None:
    """Reject stages that do not start at step 0, that do not increase (all by step, or
    all by fraction in [0, 1)), or that name an objective the run lacks (or one twice)."""
    if not stages:
        return
    by_fraction = any(stage.start_fraction for stage in stages)
    starts = [stage.start_fraction if by_fraction else stage.start_step for stage in stages]
    key = "start_fraction" if by_fraction else "start_step"
    if by_fraction and any(stage.start_step for stage in stages):
        raise ConfigError(f"{path}: give every stage's start as start_step or every one as "
                          f"start_fraction, not both")
    if starts[0] != 0:
        raise ConfigError(f"{path}.0.{key}: the first stage must start at 0, got {starts[0]}")
    seen: set[str] = set()
    for index, stage in enumerate(stages):
        if index and starts[index] <= starts[index - 1]:
            raise ConfigError(f"{path}.{index}.{key}: stages must start at increasing "
                              f"steps, got {starts[index]} after {starts[index - 1]}")
        if not 0 <= stage.start_fraction < 1:
            raise ConfigError(f"{path}.{index}.start_fraction: must be in [0, 1), got "
                              f"{stage.start_fraction}")
        for name in stage.objectives:
            if name not in objective_names:
                raise ConfigError(f"{path}.{index}.objectives: {name!r} is not an objective "
                                  f"of this run ({', '.join(objective_names)})")
            if name in seen:
                raise ConfigError(f"{path}.{index}.objectives: {name!r} is already added by "
                                  f"an earlier stage")
            seen.add(name)


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{key}: {message}")


# --- generic strict conversion -------------------------------------------------------

def _polymorphic_table(path: str):
    """Which name -> config class table a polymorphic key uses."""
    if path.endswith("encoder"):
        return "encoder", {name: entry[0] for name, entry in registry.ENCODERS.items()}
    if path.endswith("decoder"):
        return "decoder", {name: entry[0] for name, entry in registry.DECODERS.items()}
    return "objective", {name: entry[0] for name, entry in registry.OBJECTIVES.items()}


def _build_polymorphic(value: Any, path: str) -> Any:
    kind, table = _polymorphic_table(path)
    if not isinstance(value, dict) or "name" not in value:
        raise ConfigError(f"{path}: expected a mapping with a 'name' key "
                          f"(one of: {', '.join(sorted(table))})")
    name = value["name"]
    if not isinstance(name, str) or name not in table:
        close = difflib.get_close_matches(str(name), list(table), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"{path}.name: unknown {kind} {name!r}{hint} "
                          f"(allowed: {', '.join(sorted(table))})")
    return from_dict(table[name], value, path)


_YAML_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _convert(value: Any, annotation: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        if value is None and path.endswith("decoder"):  # optional: encoder-only models
            return None
        return _build_polymorphic(value, path)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise ConfigError(f"{path}: {value!r} is not allowed "
                              f"(allowed: {', '.join(map(repr, choices))})")
        return value
    if origin in (typing.Union, types.UnionType):
        arguments = typing.get_args(annotation)
        if value is None and type(None) in arguments:
            return None
        non_none = [a for a in arguments if a is not type(None)]
        return _convert(value, non_none[0], path)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__} {value!r}")
        (item_type,) = typing.get_args(annotation) or (Any,)
        return [_convert(item, item_type, f"{path}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, path)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str) and _YAML_FLOAT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads "1e-3" (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if annotation is dict or origin is dict:  # free-form settings, checked by their reader
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__} {value!r}")
        return dict(value)
    raise TypeError(f"config field {path} has an unsupported annotation {annotation!r}")


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and bad values."""
    where = path or "config"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [key for key in data if key not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{_join(path, key)}: unknown key{hint} "
                          f"(allowed: {', '.join(fields)})")
    values = {key: _convert(value, hints[key], _join(path, key)) for key, value in data.items()}
    for key in fields:
        if key not in values and dataclasses.is_dataclass(hints[key]):
            values[key] = from_dict(hints[key], {}, _join(path, key))  # defaults, validated
    instance = cls(**values)
    validate = getattr(instance, "validate", None)
    if validate is not None:
        validate(where)
    return instance


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def to_dict(instance: Any) -> Any:
    if dataclasses.is_dataclass(instance):
        return {f.name: to_dict(getattr(instance, f.name)) for f in dataclasses.fields(instance)}
    if isinstance(instance, list):
        return [to_dict(item) for item in instance]
    return instance


# --- loading, overrides ---------------------------------------------------------------

def apply_override(raw: dict, assignment: str) -> None:
    """Apply one ``a.b.c=value`` override to a raw config dict (value parsed as YAML)."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. train.max_steps=2000")
    dotted, text = assignment.split("=", 1)
    keys = dotted.strip().split(".")
    if not all(keys):
        raise ConfigError(f"--set {assignment!r}: {dotted.strip()!r} is not a dotted key, e.g. "
                          f"train.max_steps=2000")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {dotted}: the value {text!r} is not valid YAML "
                          f"({_yaml_problem(error)}); quote it, e.g. {dotted}='\"...\"'") from None
    node: Any = raw
    for depth, key in enumerate(keys[:-1]):
        if isinstance(node, list):
            node = _list_item(node, key, ".".join(keys[:depth + 1]))
        else:
            node = node.setdefault(key, {})
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"--set {dotted}: {'.'.join(keys[:depth + 1])} is a value, "
                                  f"not a section")
    last = keys[-1]
    if isinstance(node, list):
        node[_list_index(node, last, dotted)] = value
    else:
        node[last] = value


def _list_index(node: list, key: str, path: str) -> int:
    if not key.isdigit() or int(key) >= len(node):
        raise ConfigError(f"--set {path}: {key!r} is not an index of a list of {len(node)}")
    return int(key)


def _list_item(node: list, key: str, path: str) -> Any:
    return node[_list_index(node, key, path)]


def load_raw(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file (a preset is named family/size, e.g. gpt/tiny)")
    try:
        raw = yaml.safe_load(decode_text(path.read_bytes(), path))
    except DataError as error:
        raise ConfigError(str(error)) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}{_yaml_where(error)}: not valid YAML: {_yaml_problem(error)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return raw


def _yaml_where(error: yaml.YAMLError) -> str:
    """``:LINE:COLUMN`` (1-based) of a YAML error, when PyYAML knows it."""
    mark = getattr(error, "problem_mark", None)
    return f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's message on one line, without the source excerpt it appends."""
    parts = [getattr(error, "context", None), getattr(error, "problem", None)]
    text = ", ".join(p for p in parts if p) or str(error).splitlines()[0]
    return " ".join(text.split())


def load_config(path: str | Path | None = None, overrides: list[str] = (),
                raw: dict | None = None, schema: type = RunConfig):
    """Load a preset (or a raw dict), apply ``--set`` overrides, validate everything.
    ``schema``: the dataclass to build (a run by default; e.g. a compare suite)."""
    raw = dict(raw) if raw is not None else load_raw(path)
    for assignment in overrides:
        apply_override(raw, assignment)
    try:
        return from_dict(schema, raw)
    except ConfigError as error:
        blamed = _override_of(str(error), overrides)
        if blamed is not None:  # the value came from the command line, not the file
            where = f" (over {path})" if path is not None else ""
            raise ConfigError(f"--set {blamed}{where}: {error}") from None
        if path is not None:
            raise ConfigError(f"{path}: {error}") from None
        raise


def _override_of(message: str, overrides: list[str]) -> str | None:
    """The ``--set`` assignment whose key the error's key path (``a.b[0].c: ...``) is, is
    inside, or contains; None when the error is the file's own."""
    key = re.sub(r"\[(\d+)\]", r".\1", message.split(":", 1)[0].strip())
    for assignment in reversed(list(overrides)):  # the last --set of a key is the one used
        dotted = assignment.split("=", 1)[0].strip()
        if key == dotted or key.startswith(dotted + ".") or dotted.startswith(key + "."):
            return assignment
    return None


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)
