"""``lmlab finetune SOURCE --task T --feature-based``: resolve a feature source named on the
command line (or in ``suites/feature_based``) and train the task model on its features.

SOURCE is one of

* ``random``: a trainable randomly initialised embedding of the task's training words;
* ``vectors:<path>``: a word-vector file or an ``lmlab embed train`` run folder (word2vec,
  C&W), frozen; an OOV word reads the zero vector;
* ``elmo:<run>``: a biLM run (bilstm encoder), frozen; ``--feature-layers mix`` learns
  ELMo's scalar mix of its L+1 layers
  (the 2L+1 representations, directions side by side) with the task, ``top`` reads the top
  layer only;
* ``context2vec:<run>``: a context2vec run's context vector of each word's slot, frozen;
* ``transformer:<run>``: a pre-trained or fine-tuned transformer run's last layer at each
  word's first sub-token, frozen.

Word vectors are read here (``lmlab.wordvec`` is a corner only recipes import); the
model-backed sources are built by :mod:`lmlab.finetune.feature_sources`.
"""

from __future__ import annotations

from pathlib import Path

from lmlab.embeddings.char_cnn import CharCNNEmbedding, spell_sentences
from lmlab.errors import ConfigError, DataError
from lmlab.evaluation.metrics import compute
from lmlab.finetune import task_data
from lmlab.finetune.evaluate import read_inputs, scorable_examples, write_predictions
from lmlab.finetune.feature_loop import (FeatureTaskOptions, feature_based, feature_items,
                                         load_task_model, predict_items)
from lmlab.finetune.feature_sources import (FrozenLMFeatures, VectorTable, encoder_layers,
                                            top_layer)
from lmlab.finetune.run_folder import load_base
from lmlab.layers.scalar_mix import ScalarMix
from lmlab.objectives.context2vec import context_vectors
from lmlab.outputs import prepare_output_file
from lmlab.tasks.catalogue import get_task
from lmlab.training.checkpoint import load_run
from lmlab.wordvec.io import load_vectors

SOURCE_KINDS = ("random", "vectors", "elmo", "context2vec", "transformer")


def parse_source(text: str) -> tuple[str, str]:
    """``kind:path`` (or ``random``) -> (kind, path); an unknown kind is a one-line error."""
    kind, _, path = text.partition(":")
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"feature source {text!r}: unknown kind {kind!r}; expected one of "
                          f"random, vectors:<file or run>, elmo:<run>, context2vec:<run>, "
                          f"transformer:<run>")
    if kind == "random" and path:
        raise ConfigError(f"feature source {text!r}: random takes no path")
    if kind != "random" and not path:
        raise ConfigError(f"feature source {text!r}: {kind} needs a path ({kind}:<path>)")
    return kind, path


def char_ids_of(model):
    """A char-CNN embedding's words -> (n, W) character ids (OOV words keep their
    spelling), or None: the model reads token ids."""
    if not isinstance(model.embedding, CharCNNEmbedding):
        return None
    width = model.embedding.max_word_length  # long words: cut, counted in the OOV summary
    return lambda words: spell_sentences([words], width)[0][0]


def build_source(text: str):
    """(source or None for ``random``, a description for results.json)."""
    kind, path = parse_source(text)
    info = {"spec": text, "kind": kind, "path": path}
    if kind == "random":
        return None, info
    if kind == "vectors":
        words, vectors = load_vectors(path)
        return VectorTable(words, vectors, name=text), info
    if kind == "transformer":
        _, tokenizer, backbone, _ = load_base(path)
        backbone.lm_head = None
        return FrozenLMFeatures(backbone, tokenizer, top_layer, text, add_specials=True), info
    _, tokenizer, model = load_run(path)
    if getattr(model.encoder, "config", None) is None or \
            getattr(model.encoder.config, "name", "") != "bilstm":
        raise ConfigError(f"feature source {text!r}: {kind} reads a bilstm run, not a "
                          f"{type(model.encoder).__name__}")
    features = encoder_layers if kind == "elmo" else context_vectors_as_layers
    return FrozenLMFeatures(model, tokenizer, features, text, char_ids=char_ids_of(model)), info


def context_vectors_as_layers(model, ids, mask):
    """context2vec's context vector of each slot (Melamud et al. 2016, §2) as one layer."""
    return context_vectors(model, ids, mask).unsqueeze(0)  # (1, B, T, C)


def scalar_mix(num_layers: int) -> ScalarMix:
    """ELMo's γ Σ_j softmax(w)_j h_j (§3.2, eq. 1), learned with the task model."""
    return ScalarMix(num_layers)


def run_feature_based(source: str, task: str, options: FeatureTaskOptions, out: str | Path,
                      command: str = "") -> dict:
    built, info = build_source(source)
    return feature_based(built, source, task, options, out, scalar_mix, command, info)


def _loaded(run_dir: str):
    """(saved description, options, task model, its feature source) of a finished run."""
    saved, options, model = load_task_model(Path(run_dir), scalar_mix)
    source, _ = build_source(saved["source"])  # the frozen features, computed again
    return saved, options, model, source


def evaluate_feature_run(run_dir: str, task: str | None, split: str) -> dict:
    """``lmlab evaluate`` of a feature-based run: its best task model on ``split`` (a split
    name or a file in the task's public format)."""
    saved, options, model, source = _loaded(run_dir)
    spec = get_task(task or saved["task"])
    examples = scorable_examples(run_dir, spec, split, saved["kind"], saved["task"],
                                 saved["labels"])
    _, items = feature_items(spec, examples, saved["labels"], options, model, source)
    predictions = predict_items(model, spec, examples, items, saved["labels"], options)
    scores = compute(spec.metric, predictions, task_data.golds(spec, examples))
    return {"run": str(run_dir), "task": spec.name, "split": split, "source": saved["source"],
            "examples": len(examples), **scores}


def predict_feature_file(run_dir: str, input_path: str, out_path: str,
                         overwrite: bool = False) -> int:
    """``lmlab predict`` of a feature-based run: one label (or tag sequence) a line."""
    out = prepare_output_file(out_path, overwrite, inputs=[input_path])
    saved, options, model, source = _loaded(run_dir)
    spec = get_task(saved["task"])
    examples = read_inputs(Path(input_path), spec.kind)
    if spec.kind == "classification" and any(e.text_b for e in examples):
        raise DataError(f"{input_path}: a feature-based classifier reads one sentence a line "
                        f"(no tab-separated pair)")
    _, items = feature_items(spec, examples, saved["labels"], options, model, source)
    return write_predictions(out, predict_items(model, spec, examples, items, saved["labels"],
                                                options))
