"""Shared test setup: real data from ../shared/data, derived files in a temp cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LMLAB_DATA") or REPO_ROOT.parent / "shared" / "data")


def pytest_configure(config):
    os.environ.setdefault("LMLAB_DATA", str(SHARED_DATA))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"test data not found at {SHARED_DATA}; set LMLAB_DATA")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Token stores and other derived files go to a per-session temp folder."""
    monkeypatch.setenv("LMLAB_CACHE", str(tmp_path_factory.getbasetemp() / "lmlab-cache"))


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory, shared_data) -> Path:
    """A small PTB-shaped folder (train/valid/test) cut from the real PTB files."""
    folder = tmp_path_factory.mktemp("tiny_ptb")
    sizes = {"train": 1500, "valid": 150, "test": 150}
    for split, lines in sizes.items():
        source = (shared_data / "ptb" / f"ptb.{split}.txt").read_text().splitlines()[:lines]
        (folder / f"{split}.txt").write_text("\n".join(source) + "\n")
    return folder


@pytest.fixture
def unwritable_folder(tmp_path) -> Path:
    """A folder this process cannot write in: chmod for a user, /sys for root (chmod does
    not stop root)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    try:
        (Path("/sys") / "lmlab-probe").mkdir()
    except OSError:
        return Path("/sys")
    pytest.skip("no read-only folder available")
