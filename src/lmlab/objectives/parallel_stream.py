"""The parallel-pair stream shared by Unicoder's objectives (Huang et al. 2019, §3):
their config fields, the encoded training pairs and which pairs a training step reads.

The pairs of step s are a pure function of (seed, stream, s): the k-th pair read overall
is pair order_e[k mod n] of pass e = k // n, order_e a seeded permutation of the n
training pairs. Nothing is carried between steps, so a resumed run reads what an
uninterrupted one reads (DESIGN §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lmlab.crosslingual.hsk import HSK_PAIRS
from lmlab.crosslingual.pair_sources import pair_sources
from lmlab.errors import ConfigError
from lmlab.objectives.base import ConfigDefaults


@dataclass
class ParallelStreamConfig(ConfigDefaults):
    """The fields every Unicoder objective shares (its own config adds ``name``)."""

    weight: float = 1.0
    parallel: str = "uer_py/corpora/news-commentary-v13-en-zh_sampled.txt"
    """``pairs.txt`` (``source<TAB>target``) or ``a.en,a.zh``; its ``held_out`` pairs
    (seeded, the retrieval set) are never trained on."""
    held_out: int = 500
    extra_parallel: list[str] = field(default_factory=lambda: [HSK_PAIRS])
    """More training pairs, used whole: ``hsk-sentences-audio`` (4,354 zh-en pairs of the
    PyPI package) or parallel files."""
    source_language: int = 0
    target_language: int = 1
    """Language ids (``model.embedding.num_languages``) of the two sides."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if not self.parallel:
            raise ConfigError(f"{path}.parallel: a file of parallel pairs is required")
        if self.held_out < 1:
            raise ConfigError(f"{path}.held_out: must be >= 1")

    def check_compatible(self, run_config, path: str) -> None:
        check_pair_compatible(self, run_config, path, self.name)


def check_pair_compatible(config, run_config, path: str, name: str) -> int:
    """What an objective over parallel pairs needs: a bidirectional encoder, its two
    language ids in the config, room for ``[CLS] a [SEP] b [SEP]``; returns the number of
    languages."""
    if getattr(run_config.model.encoder, "mask", None) != "bidirectional":
        raise ConfigError(f"{path}: {name} needs a bidirectional encoder; set "
                          f"model.encoder.mask: bidirectional")
    count = run_config.model.embedding.num_languages
    for field_name in ("source_language", "target_language"):
        value = getattr(config, field_name)
        if not 0 <= value < count:
            raise ConfigError(f"{path}.{field_name}: language id {value} is not in the config "
                              f"(model.embedding.num_languages={count})")
    if run_config.data.seq_len < 5:
        raise ConfigError(f"{path}: {name} needs data.seq_len >= 5 ([CLS] a [SEP] b [SEP])")
    return count


class ParallelStream:
    """The training pairs of a :class:`ParallelStreamConfig` as token ids, read and
    encoded once, and the pairs each step reads."""

    def __init__(self, config: ParallelStreamConfig, tokenizer, seed: int, stream: int):
        self.config, self.tokenizer, self.seed, self.stream = config, tokenizer, seed, stream
        self._train: list[tuple[list[int], list[int]]] | None = None

    def train(self) -> list[tuple[list[int], list[int]]]:
        if self._train is None:
            pairs = pair_sources(self.config.parallel, self.config.held_out,
                                 self.config.extra_parallel)[0]
            sources = self.tokenizer.encode_batch([p.source for p in pairs])
            targets = self.tokenizer.encode_batch([p.target for p in pairs])
            # a side that tokenizes to nothing cannot be recovered or classified
            self._train = [(s, t) for s, t in zip(sources, targets) if s and t]
        return self._train

    def chosen(self, step: int, count: int) -> list[int]:
        """Indices of the ``count`` training pairs step ``step`` reads."""
        n = len(self.train())
        indices, orders = [], {}
        for k in range(step * count, (step + 1) * count):
            epoch, index = divmod(k, n)
            if epoch not in orders:
                orders[epoch] = np.random.default_rng(
                    [self.seed, self.stream, epoch]).permutation(n)
            indices.append(int(orders[epoch][index]))
        return indices
