"""N-gram run folders: what ``lmlab ngram build`` writes and the rest of lmlab reads.

A run folder holds ``ngram.json`` (the marker: order, smoothing, vocabulary size, data,
build time, ...), ``model.arpa`` (the model, standard ARPA, loadable by KenLM) and
``model.npz`` (the same numbers in binary, for fast loading), and, written last,
``manifest.json`` (sha256 per file): loading checks it, so a damaged file, or an ARPA edited
after the build beside the ``model.npz`` built with it, is refused in one line that says
which file is current.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lmlab.atomic import write_json
from lmlab.errors import CheckpointError, ConfigError
from lmlab.manifest import MANIFEST, describe, find_problems, write_manifest
from lmlab.ngram.arpa import read_arpa, write_arpa
from lmlab.ngram.build import build_model
from lmlab.ngram.counting import check_order
from lmlab.ngram.estimate import SMOOTHINGS, check_prune
from lmlab.ngram.generate import sample
from lmlab.ngram.model import NgramModel
from lmlab.ngram.score import perplexity
from lmlab.ngram.source import iter_token_sentences, resolve_data
from lmlab.ngram.storage import load_npz, save_npz
from lmlab.ngram.vocab import TEXT_UNK_WORD
from lmlab.outputs import prepare_output_folder

MARKER = "ngram.json"
ARPA_NAME = "model.arpa"
NPZ_NAME = "model.npz"
FORMAT = "lmlab-ngram/1"


def is_ngram_run(path) -> bool:
    """Whether ``path`` is a folder written by :func:`build_run`."""
    marker = Path(path) / MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def data_reference(data: str | Path, path: Path) -> str:
    """How the run names its data: the catalogue name, or the file's absolute path, so that
    ``eval perplexity`` finds the same text from any working directory."""
    return str(path.resolve()) if Path(data) == path else str(data)


def check_settings(order: int, smoothing: str, prune) -> None:
    """Raise ConfigError for an order, smoothing or pruning that the build would refuse."""
    check_prune(prune, check_order(order))
    if smoothing not in SMOOTHINGS:
        raise ConfigError(f"unknown smoothing {smoothing!r}; choose one of {', '.join(SMOOTHINGS)}")


def build_run(data: str, order: int, out: str | Path, smoothing: str = "mkn", prune=None,
              vocab_limit: int | None = None, *, discount_fallback: bool = False,
              add_k: float = 0.1, memory_mb: float | None = None,
              overwrite: bool = False) -> dict:
    """Estimate a model on ``data`` (train split of a catalogue name, or a text file).

    Writes ``out/model.arpa``, ``out/model.npz`` and ``out/ngram.json``; returns the
    ``ngram.json`` content (with ``build_seconds``: counting, estimation and ARPA writing).
    ``memory_mb`` bounds counting: sorted runs spill to a temporary folder inside ``out``.
    An existing output in ``out`` is refused unless ``overwrite`` (:mod:`lmlab.outputs`).
    """
    started = time.perf_counter()
    path = resolve_data(data, "train")
    check_settings(order, smoothing, prune)  # a typo must not cost the run in ``out``
    out = prepare_output_folder(out, "ngram", overwrite)
    model = build_model(iter_token_sentences(path), order, smoothing=smoothing, prune=prune,
                        vocab_limit=vocab_limit, discount_fallback=discount_fallback, add_k=add_k,
                        memory_mb=memory_mb, spill_dir=out if memory_mb is not None else None)
    write_arpa(model, out / ARPA_NAME)
    save_npz(model, out / NPZ_NAME)
    info = dict(model.info)
    info.update({
        "format": FORMAT, "data": data_reference(data, path), "data_path": str(path.resolve()),
        "arpa": ARPA_NAME, "ngram_counts": model.sizes(),
        "text_unk_rewritten_to": TEXT_UNK_WORD,
        "manifest": MANIFEST,  # a build that wrote this marker also writes the manifest
        "build_seconds": time.perf_counter() - started,
    })
    info["discounts"] = None if info["discounts"] is None else \
        [[float(d) for d in ds] for ds in info["discounts"]]
    write_json(out / MARKER, info)
    write_manifest(out)  # last: it vouches for the model files and the marker
    return info


def load_run(path) -> NgramModel:
    """The model of a run folder (binary twin if present, else the ARPA file)."""
    path = Path(path)
    if not is_ngram_run(path):
        raise CheckpointError(f"{path}: not an n-gram run folder (no valid {MARKER}); "
                              f"create one with: lmlab ngram build -o 5 --data ptb --out {path}")
    _verify(path)
    model = load_npz(path / NPZ_NAME) if (path / NPZ_NAME).is_file() else read_arpa(path / ARPA_NAME)
    model.info.update(_marker(path))
    return model


def _marker(path: Path) -> dict:
    return json.loads((path / MARKER).read_text(encoding="utf-8"))


def _verify(path: Path) -> None:
    """Refuse a run whose files differ from its manifest, saying which model file is current."""
    rebuild = f"rebuild it with 'lmlab ngram build --out {path} --overwrite ...'"
    if not (path / MANIFEST).is_file() and "manifest" in _marker(path):
        raise CheckpointError(f"{path}: no {MANIFEST}, though its {MARKER} says the build "
                              f"writes one: the build was interrupted; {rebuild}")
    problems = find_problems(path, required=(ARPA_NAME,))
    if not problems:
        return
    if ARPA_NAME in problems and NPZ_NAME not in problems and (path / NPZ_NAME).is_file():
        raise CheckpointError(describe(problems, (
            f"{NPZ_NAME} beside it matches the manifest: it is the model the build wrote and "
            f"the current one, the ARPA is not; score an edited ARPA with 'lmlab ngram score "
            f"--arpa {path / ARPA_NAME}', or {rebuild}")))
    if NPZ_NAME in problems and ARPA_NAME not in problems:
        raise CheckpointError(describe(problems, (
            f"{ARPA_NAME} still matches the manifest and is current; score it with "
            f"'lmlab ngram score --arpa {path / ARPA_NAME}', or {rebuild}")))
    raise CheckpointError(describe(problems, rebuild))


def evaluate_run_perplexity(path, data: str | None, split: str) -> dict:
    """Perplexity of the run's model on ``split`` of ``data`` (KenLM conventions); without
    ``data``, of the data the run was built on (a text file: that file, whatever the split)."""
    model = load_run(path)
    data = data or model.info["data"]
    result = perplexity(model, iter_token_sentences(resolve_data(data, split)))
    result.update({"data": str(data), "split": split, "order": model.order,
                   "smoothing": model.info.get("smoothing")})
    return result


def generate_from_run(path, prompt: str, max_new_tokens: int, temperature=1.0, top_k=0,
                      top_p=1.0, seed=0) -> str:
    """The prompt followed by sampled words (stops early at ``</s>``)."""
    return sample(load_run(path), prompt, max_new_tokens, temperature=temperature,
                  top_k=top_k, top_p=top_p, seed=seed)
