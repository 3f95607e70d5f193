"""The models ``lmlab serve`` holds: each run folder loaded once, with the endpoints that
fit what it can do (issue 23).

| run folder                              | kind        | endpoints                 |
|-----------------------------------------|-------------|---------------------------|
| causal LM (gpt, lstm, nnlm, rnnlm, ...) | causal-lm   | score, generate, embed    |
| masked LM (bert, roberta, unilm, ...)   | masked-lm   | fill-mask, embed          |
| bidirectional LM (elmo: bilm)           | bidirectional-lm | embed                |
| encoder–decoder (bart, t5, mass)        | seq2seq     | generate, embed           |
| fine-tuned classification / regression  | classifier  | classify, embed           |
| fine-tuned tagging                      | tagger      | tag, embed                |
| fine-tuned generation                   | generator   | generate                  |
| fine-tuned span QA (SQuAD style)        | reader      | answer, embed             |
| fine-tuned multiple choice              | chooser     | choose, embed             |
| other fine-tunes (text-to-text)         | finetuned   | embed                     |
| n-gram, word vectors (corner loaders)   | ngram, word-vectors | score, generate; embed |

Loading goes through lmlab's own loaders (safetensors weights, manifest checked, nothing
unpickled); a run folder with a missing or damaged file is their one-line
:class:`~lmlab.errors.CheckpointError`. The n-gram and word-vector corners are beside the
tower (DESIGN §2): ``lmlab.recipes.serve_corners`` passes their loaders in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from lmlab.errors import CheckpointError, ConfigError
from lmlab.finetune.run_folder import load_finetuned
from lmlab.registry import build_objectives
from lmlab.serve import neural
from lmlab.training.checkpoint import checkpoint_folder, load_run, read_checkpoint_raw

ENDPOINTS = ("score", "fill-mask", "generate", "classify", "tag", "answer", "choose", "embed")

Handler = Callable[[list[str], object], list[dict]]
"""One endpoint of one model: (input texts, the request) -> one result per text."""


@dataclass
class ServedModel:
    name: str
    kind: str
    """causal-lm, masked-lm, bidirectional-lm, seq2seq, classifier, tagger, generator,
    finetuned, ngram, word-vectors (the table above)."""
    handlers: dict[str, Handler]
    """Endpoint name (``ENDPOINTS``) -> its handler."""
    info: dict = field(default_factory=dict)
    """What ``/models`` shows besides name, kind and endpoints (labels, mask token, ...)."""

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind,
                "endpoints": [e for e in ENDPOINTS if e in self.handlers], **self.info}


CornerLoader = Callable[[str, Path], "ServedModel | None"]
"""(name, folder) -> the served model, or None when the folder is not of its kind."""


def load_neural(name: str, path: Path) -> ServedModel:
    """A pre-training run or a fine-tuned run (its config.yaml names a task)."""
    folder = checkpoint_folder(path, verify=False)  # a peek; the loaders below verify
    if "task" in read_checkpoint_raw(folder):
        config, tokenizer, model = load_finetuned(path)
        return _finetuned(name, config, tokenizer, model)
    config, tokenizer, model = load_run(path)
    objective = build_objectives(config.objectives[:1], tokenizer)[0]
    about = {"objective": config.objectives[0].describe(), "parameters": model.num_parameters()}
    if model.is_seq2seq:
        return ServedModel(name, "seq2seq", {
            "generate": neural.generator(model, tokenizer, objective.decoder_start_id),
            "embed": neural.embedder(model, tokenizer, framed=True)}, about)
    if getattr(model.encoder, "lm_input_size", None) is not None:  # biLM (ELMo): [h→ ; h←]
        return ServedModel(name, "bidirectional-lm", {  # its backward half reads the future
            "embed": neural.embedder(model, tokenizer, framed=False)}, about)
    if objective.causal:
        return ServedModel(name, "causal-lm", {
            "score": neural.scorer(model, tokenizer, config.data.seq_len),
            "generate": neural.generator(model, tokenizer, objective.decoder_start_id),
            "embed": neural.embedder(model, tokenizer, framed=False)},
            {**about, "recurrent": model.recurrent})
    return ServedModel(name, "masked-lm", {
        "fill-mask": neural.mask_filler(model, tokenizer),
        "embed": neural.embedder(model, tokenizer, framed=True)},
        {**about, "mask_token": tokenizer.id_to_token(tokenizer.mask_id)})


def _finetuned(name: str, config, tokenizer, model) -> ServedModel:
    about = {"task": config.task, "parameters": sum(p.numel() for p in model.parameters())}
    embed = neural.embedder(model.backbone, tokenizer, framed=True)  # as fine-tuning packs
    if config.kind in ("classification", "regression") and not config.options.text_to_text:
        return ServedModel(name, "classifier", {
            "classify": neural.classifier(model, tokenizer, config), "embed": embed},
            {**about, "labels": list(config.labels)})
    if config.kind == "tagging":
        return ServedModel(name, "tagger", {"tag": neural.tagger(model, tokenizer, config),
                                            "embed": embed},
                           {**about, "labels": list(config.labels)})
    if config.kind == "span_qa":
        return ServedModel(name, "reader", {"answer": neural.answerer(model, tokenizer, config),
                                            "embed": embed}, about)
    if config.kind == "multiple_choice":
        return ServedModel(name, "chooser", {"choose": neural.chooser(model, tokenizer, config),
                                             "embed": embed}, about)
    if config.kind == "generation" and not config.options.text_to_text:
        return ServedModel(name, "generator", {"generate": neural.finetuned_generator(
            model, tokenizer, config)}, about)
    return ServedModel(name, "finetuned", {"embed": embed}, about)


def parse_run(argument: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named after its folder)."""
    name, sep, path = argument.partition("=")
    if not sep or not name or "/" in name:
        path = argument
        name = Path(argument.rstrip("/")).name
    return name, Path(path)


def load_models(arguments: Sequence[str], corner_loaders: Sequence[CornerLoader] = ()
                ) -> dict[str, ServedModel]:
    """Every run (``NAME=PATH`` or ``PATH``), by name; the corner loaders are asked first."""
    models: dict[str, ServedModel] = {}
    for argument in arguments:
        name, path = parse_run(argument)
        if name in models:
            raise ConfigError(f"RUN {argument}: a second model named {name!r}; name each one "
                              f"with NAME=PATH")
        if not path.is_dir():
            raise CheckpointError(f"{path}: no such run folder")
        for loader in corner_loaders:
            served = loader(name, path)
            if served is not None:
                break
        else:
            served = load_neural(name, path)
        models[name] = served
    return models
