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
from lmlab.errors import ConfigError
from lmlab.finetune.feature_loop import FeatureTaskOptions, feature_based
from lmlab.finetune.feature_sources import (FrozenLMFeatures, VectorTable, encoder_layers,
                                            top_layer)
from lmlab.finetune.run_folder import load_base
from lmlab.layers.scalar_mix import ScalarMix
from lmlab.objectives.context2vec import context_vectors
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
