"""Counting under a memory budget: sorted runs spilled to disk, merged streaming.

When the sorted count tables held in memory grow past the budget, they are merged into one
*run* (rows sorted lexicographically, duplicates summed) and written to a temporary folder
as ``.npy`` files. At the end the runs are merged k-way, a block of each at a time: every
row up to the smallest "last row of a block" among the unfinished runs is final, so those
rows are merged, written out and dropped (lmplz's external merge sort, in numpy). Memory is
one block per run plus one merged block, whatever the corpus size.

The merged table is returned memory-mapped; its files are unlinked right away (POSIX keeps
the data until the mapping goes), so nothing is left in the folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from lmlab.data.catalogue import cache_dir
from lmlab.ngram.sorted_rows import pack_keys, unique_rows

BYTES_PER_TOKEN = 400  # Python int + list slot + windows, keys, sort buffers per chunk token


def chunk_tokens_for(memory_mb: float) -> int:
    """Tokens per counting chunk so a chunk's working set stays within ~1/4 of the budget."""
    return max(1024, int(memory_mb * (1 << 20) / 4 / BYTES_PER_TOKEN))


def table_bytes(tables: list[tuple[np.ndarray, np.ndarray]]) -> int:
    return sum(rows.nbytes + counts.nbytes for rows, counts in tables)


def spill_folder(spill_dir: str | Path | None) -> tempfile.TemporaryDirectory:
    base = Path(spill_dir) if spill_dir is not None else cache_dir() / "ngram-spill"
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="counts-", dir=base)


def write_run(folder: Path, index: int, rows: np.ndarray, counts: np.ndarray) -> tuple[Path, Path]:
    paths = folder / f"run{index:05d}.rows.npy", folder / f"run{index:05d}.counts.npy"
    np.save(paths[0], rows)
    np.save(paths[1], counts)
    return paths


def _at_most(keys: list[np.ndarray], cutoff: list[np.ndarray]) -> np.ndarray:
    """(B,) bool: row <= cutoff row, lexicographically (keys most significant first)."""
    result = np.ones(keys[0].shape[0], dtype=bool)
    for key, limit in zip(reversed(keys), reversed(cutoff)):
        result = (key < limit) | ((key == limit) & result)
    return result


def merge_runs(runs: list[tuple[Path, Path]], order: int, vocab_size: int, folder: Path,
               block_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """k-way merge of sorted runs; returns memory-mapped (rows (M, N) uint32, counts (M,))."""
    bits = max(1, (vocab_size - 1).bit_length())
    tables = [(np.load(r, mmap_mode="r"), np.load(c, mmap_mode="r")) for r, c in runs]
    cursor = [0] * len(tables)
    rows_path, counts_path = folder / "merged.rows", folder / "merged.counts"
    total = 0
    with open(rows_path, "wb") as rows_out, open(counts_path, "wb") as counts_out:
        while True:
            live = [i for i, (rows, _) in enumerate(tables) if cursor[i] < rows.shape[0]]
            if not live:
                break
            blocks = {i: np.asarray(tables[i][0][cursor[i]:cursor[i] + block_rows]) for i in live}
            unfinished = [i for i in live if cursor[i] + block_rows < tables[i][0].shape[0]]
            take = {i: blocks[i].shape[0] for i in live}
            if unfinished:  # rows beyond the smallest block end may still have duplicates to come
                lasts = np.stack([blocks[i][-1] for i in unfinished])  # (U, N)
                cutoff_row = lasts[np.lexsort(lasts.T[::-1])[0]][None, :]
                cutoff = pack_keys(cutoff_row, bits)
                for i in live:
                    take[i] = int(_at_most(pack_keys(blocks[i], bits), cutoff).sum())
            rows = np.concatenate([blocks[i][:take[i]] for i in live])
            counts = np.concatenate([np.asarray(tables[i][1][cursor[i]:cursor[i] + take[i]]) for i in live])
            rows, counts = unique_rows(rows, counts)
            rows_out.write(np.ascontiguousarray(rows, dtype=np.uint32).tobytes())
            counts_out.write(counts.astype(np.int64).tobytes())
            total += rows.shape[0]
            for i in live:
                cursor[i] += take[i]
    del tables
    merged_rows = np.memmap(rows_path, dtype=np.uint32, mode="r", shape=(total, order))
    merged_counts = np.memmap(counts_path, dtype=np.int64, mode="r", shape=(total,))
    return merged_rows, merged_counts
