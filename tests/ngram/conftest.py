"""Shared toy corpora for the n-gram tests."""

from __future__ import annotations

import random

import pytest

TOY = ["a b", "a c", "b a b"]


def random_corpus(seed: int, sentences: int = 60, vocab: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    return [[rng.choice(words[: rng.randint(2, vocab)]) for _ in range(rng.randint(1, 8))]
            for _ in range(sentences)]


@pytest.fixture
def toy_file(tmp_path):
    path = tmp_path / "toy.txt"
    path.write_text("\n".join(TOY) + "\n", encoding="utf-8")
    return path
