"""Images per second of the single- and two-stream multimodal models at one size (issue 22):
a forward + backward pass of image-conditioned MLM on random 32x32 pictures with 16-token
texts, after warm-up steps. Prints one JSON object.

    python bench/multimodal_speed.py --hidden 64 --layers 2 --batch-size 64 --steps 20
"""

from __future__ import annotations

import argparse
import json
import time
from types import SimpleNamespace

import torch

from lmlab.multimodal.models import MultimodalConfig, build_multimodal
from lmlab.multimodal.objectives import ImageMLMConfig, ImageMLMObjective, PretrainingModel
from lmlab.multimodal.visual import VisualConfig, cell_features


def images_per_second(architecture: str, args) -> dict:
    torch.manual_seed(0)
    config = MultimodalConfig(architecture=architecture, vocab_size=2300,
                              hidden_size=args.hidden, num_heads=4, ffn_size=2 * args.hidden,
                              num_layers=args.layers, num_co_layers=1, max_text_length=16,
                              visual=VisualConfig(args.visual, image_size=32, cell_size=8))
    tokenizer = SimpleNamespace(mask_id=5, num_special=6, vocab_size=config.vocab_size)
    objective = ImageMLMObjective(ImageMLMConfig(), tokenizer)
    model = PretrainingModel(build_multimodal(config), [objective]).to(args.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randint(0, 256, (args.batch_size, 32, 32, 3), dtype=torch.uint8)
    ids = torch.randint(6, config.vocab_size, (args.batch_size, 16))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
             "features": cell_features(images, 8), "step": 0}
    batch = objective.corrupt(batch)
    batch = {k: v.to(args.device) if torch.is_tensor(v) else v for k, v in batch.items()}

    def step():
        optimizer.zero_grad()
        objective.loss(model, batch).loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"images_per_s": round(args.steps * args.batch_size / seconds, 1),
            "parameters": sum(p.numel() for p in model.backbone.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--visual", default="patch", choices=["patch", "grid"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"settings": vars(args)}
    for architecture in ("single_stream", "two_stream"):
        result[architecture] = images_per_second(architecture, args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
