"""``lmlab data info``: where a dataset's files are and what they hold."""

from __future__ import annotations

from lmlab.data import catalogue


def dataset_info(name: str, verify: bool = False) -> dict:
    entry = catalogue.get(name)
    splits = {}
    for split, split_file in entry.splits.items():
        path = catalogue.data_dir() / split_file.relative_path
        splits[split] = {"path": str(path), "present": path.exists(),
                         "bytes": path.stat().st_size if path.exists() else None,
                         "sha256": split_file.sha256, "url": split_file.url}
    info = {"name": entry.name, "description": entry.description,
            "tokenizer": entry.default_tokenizer, "unk_token": entry.unk_token,
            "licence": entry.licence, "splits": splits}
    if verify:
        info["verify"] = catalogue.verify(name)
    return info
