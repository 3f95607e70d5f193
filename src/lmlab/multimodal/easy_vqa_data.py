"""easy-VQA (Zhou 2020; PyPI ``easy-vqa==1.0``, MIT): 64x64 pictures of one coloured shape
with questions about it and 13 answers, read through the package's own loader functions.

Splits: the package's ``train`` (4,000 images, 38,575 questions) is cut by a seeded
permutation of its *image ids* into ``train`` and ``dev`` (``dev_fraction`` of the images,
with all their questions, so no dev picture is seen in training); the package's ``test``
(1,000 images, 9,673 questions) is held out of every training path: :func:`load_split`
returns it only when ``held_out_ok=True`` is passed, which only final evaluation does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmlab.errors import ConfigError, DataError
from lmlab.multimodal.images import load_image

IMAGE_SIZE = 64
SPLITS = ("train", "dev", "test")
DEV_FRACTION = 0.1
SPLIT_SEED = 22


@dataclass(frozen=True)
class VQAExample:
    question: str
    answer: str
    image: int
    """Row of the split's image array (not the package's image id)."""


@dataclass
class VQASplit:
    name: str
    examples: list[VQAExample]
    images: np.ndarray  # (N, 64, 64, 3) uint8
    image_ids: list[int]  # the package's id of each row
    answers: list[str]  # the 13 answers, the package's order (the label ids)

    def labels(self) -> np.ndarray:
        index = {answer: i for i, answer in enumerate(self.answers)}
        return np.array([index[e.answer] for e in self.examples], dtype=np.int64)


def split_image_ids(image_ids: list[int], seed: int = SPLIT_SEED,
                    dev_fraction: float = DEV_FRACTION) -> tuple[list[int], list[int]]:
    """(train ids, dev ids): a seeded permutation of the sorted ids, the first
    ``round(dev_fraction * n)`` of it dev. Both lists sorted."""
    ordered = sorted(image_ids)
    order = np.random.default_rng(seed).permutation(len(ordered))
    cut = int(round(dev_fraction * len(ordered)))
    dev = sorted(ordered[i] for i in order[:cut])
    train = sorted(ordered[i] for i in order[cut:])
    return train, dev


def load_split(name: str, seed: int = SPLIT_SEED, held_out_ok: bool = False,
               limit_images: int = 0) -> VQASplit:
    """One split (``train``, ``dev`` or, with ``held_out_ok``, ``test``). ``limit_images``
    keeps the first n images of the split (and their questions) for quick runs."""
    import easy_vqa

    if name not in SPLITS:
        raise ConfigError(f"easy-vqa split: {name!r} is not one of {', '.join(SPLITS)}")
    if name == "test" and not held_out_ok:
        raise ConfigError("easy-vqa split: 'test' is held out of training; use 'dev' "
                          "(a seeded part of train) while training and tuning")
    package = "test" if name == "test" else "train"
    texts, answers, owners = (easy_vqa.get_test_questions() if package == "test"
                              else easy_vqa.get_train_questions())
    paths = (easy_vqa.get_test_image_paths() if package == "test"
             else easy_vqa.get_train_image_paths())
    questions_file = Path(easy_vqa.__file__).parent / "data" / package / "questions.json"
    check_questions_have_images(owners, paths, questions_file)
    if package == "test":
        chosen = sorted(paths)
    else:
        train_ids, dev_ids = split_image_ids(list(paths), seed)
        chosen = train_ids if name == "train" else dev_ids
    if limit_images:
        chosen = chosen[:limit_images]
    row = {image_id: i for i, image_id in enumerate(chosen)}
    images = np.stack([load_image(paths[i], IMAGE_SIZE, resize=False) for i in chosen])
    examples = [VQAExample(text, answer, row[owner])
                for text, answer, owner in zip(texts, answers, owners) if owner in row]
    return VQASplit(name, examples, images, list(chosen), list(easy_vqa.get_answers()))


def check_questions_have_images(owners, paths: dict, questions_file: Path) -> None:
    """A question whose image id has no picture is a one-line error naming the file."""
    for number, owner in enumerate(owners):
        if owner not in paths:
            raise DataError(f"{questions_file}: question {number} refers to image {owner}, "
                            f"which has no {owner}.png beside it; every question needs its "
                            f"image")
