"""``lmlab eval retrieval RUN``: parallel sentence retrieval on the fixed held-out pairs
(issue 24; :mod:`lmlab.crosslingual.retrieval`): mean-pooled layer-L states, cosine,
accuracy@1 in both directions."""

from __future__ import annotations

from lmlab.crosslingual.parallel import DEFAULT_PARALLEL, HELD_OUT_PAIRS, held_out_pairs
from lmlab.crosslingual.retrieval import retrieval_accuracy, sentence_vectors
from lmlab.errors import ConfigError
from lmlab.training.checkpoint import load_run


def retrieval_of_run(run: str, parallel: str = DEFAULT_PARALLEL, held_out: int = HELD_OUT_PAIRS,
                     layer: int = -1, max_len: int = 128) -> dict:
    """Accuracy@1 of ``run`` on the ``held_out`` pairs of ``parallel`` (the same seeded 500
    that TLM and Unicoder never train on). A model with language embeddings reads the
    source side as language 0 and the target side as language 1 (the presets' en / zh)."""
    config, tokenizer, model = load_run(run)
    layers = getattr(config.model.encoder, "num_layers", 0)
    if layers and not (1 <= layer <= layers or -layers <= layer <= -1):
        raise ConfigError(f"--layer: {run} has layers 1..{layers} (or -1..-{layers} from the "
                          f"top); got {layer}")
    pairs = held_out_pairs(parallel, held_out)
    with_languages = config.model.embedding.num_languages >= 2
    vectors = [sentence_vectors(model, tokenizer, [getattr(p, side) for p in pairs], layer,
                                language if with_languages else None, max_len)
               for side, language in (("source", 0), ("target", 1))]
    return {"run": str(run), "parallel": parallel, "layer": layer,
            "language_ids": with_languages, **retrieval_accuracy(*vectors)}
