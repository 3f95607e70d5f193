"""WordNet 3.0 for the knowledge tests: Debian's wordnet-base (installed by .ci/run as root)."""

from __future__ import annotations

import pytest

from lmlab.knowledge.wordnet import load_wordnet, wordnet_folder


@pytest.fixture(scope="session")
def wordnet():
    """The whole of WordNet 3.0, read once (about 3 s); skipped where it is not installed."""
    folder = wordnet_folder()
    if not (folder / "data.noun").is_file():
        pytest.skip(f"WordNet 3.0 not at {folder} (apt-get install wordnet-base, or set "
                    f"LMLAB_WORDNET)")
    return load_wordnet(folder)
