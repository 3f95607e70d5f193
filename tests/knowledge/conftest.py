"""WordNet 3.0 for the knowledge tests: Debian's wordnet-base (installed by .ci/run as root)."""

from __future__ import annotations

import pytest

from lmlab.config import load_config
from lmlab.knowledge.wordnet import load_wordnet, wordnet_folder
from lmlab.presets import preset_path
from lmlab.training.trainer import train


@pytest.fixture(scope="session")
def wordnet():
    """The whole of WordNet 3.0, read once (about 3 s); skipped where it is not installed."""
    folder = wordnet_folder()
    if not (folder / "data.noun").is_file():
        pytest.skip(f"WordNet 3.0 not at {folder} (apt-get install wordnet-base, or set "
                    f"LMLAB_WORDNET)")
    return load_wordnet(folder)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_corpus):
    """A bert/tiny run of 2 steps on the tiny PTB cut, for the commands that read a run."""
    out = tmp_path_factory.mktemp("knowledge_run") / "run"
    config = load_config(preset_path("bert/tiny"), [
        f"data.dataset={tiny_corpus}", "train.max_steps=2", "train.max_epochs=0",
        "train.eval_every=2", "train.checkpoint_every=2", "train.eval_batches=1",
        "train.progress=false", "data.seq_len=16", "data.batch_size=2"])
    train(config, out, log=lambda *_: None)
    return out
