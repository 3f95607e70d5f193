"""Answer a question about a picture with a fine-tuned easy-VQA run (issue 22: ``predict``
takes an image path and a question).

The picture goes through :func:`~lmlab.multimodal.images.load_image` at the run's image
size (resized unless ``resize=False``, when another size is a one-line error naming the
file); a question without a picture, or a picture without a question, is a one-line error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lmlab.config import load_raw
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import DataError
from lmlab.multimodal.corpus import Corpus, encode
from lmlab.multimodal.frames import clip_mosaic
from lmlab.multimodal.images import load_image
from lmlab.multimodal.job import VQAModel, collate
from lmlab.multimodal.models import MultimodalConfig, build_multimodal
from lmlab.training import checkpoint as ckpt


class VQAPredictor:
    def __init__(self, run_dir: str | Path):
        import easy_vqa

        folder = ckpt.checkpoint_folder(run_dir)
        raw = load_raw(folder / "config.yaml")
        if raw.get("kind") != "vqa":
            raise DataError(f"{folder}/config.yaml: kind is {raw.get('kind')!r}; predict needs "
                            f"an easy-VQA fine-tuned run (kind: vqa)")
        self.config = MultimodalConfig.from_dict(raw["model"])
        self.max_length = int(raw["data"]["max_text_length"])
        self.video_frames = int(raw["data"].get("video_frames", 0))
        self.blank_images = bool(raw.get("blank_images", False))
        self.blank_questions = bool(raw.get("blank_questions", False))
        self.tokenizer = TextTokenizer.load(folder / "tokenizer")
        self.answers = list(easy_vqa.get_answers())
        self.model = VQAModel(build_multimodal(self.config), len(self.answers))
        ckpt.load_weights(self.model, folder)
        self.model.eval()

    @torch.no_grad()
    def answer(self, image_path: str | Path | None, question: str | None,
               resize: bool = True) -> str:
        if not image_path:
            raise DataError(f"question {question!r} has no image; give an image path")
        if not question or not question.strip():
            raise DataError(f"{image_path}: the image has no question; give one")
        size = self.config.visual.image_size
        picture = load_image(image_path, size, resize)  # (S, S, 3)
        if self.video_frames:  # the frame-sequence proxy, as in training
            picture = clip_mosaic(picture, self.video_frames)
        corpus = encode(Corpus(picture[None], [question.strip()], np.zeros(1, dtype=np.int64)),
                        self.tokenizer, self.max_length)
        batch = collate(corpus, np.zeros(1, dtype=np.int64), self.config.visual.cell_size, 0,
                        self.blank_images, self.blank_questions)
        logits = self.model(batch["input_ids"], batch["attention_mask"], batch["features"])
        return self.answers[int(logits.argmax(-1))]
