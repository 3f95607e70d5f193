"""easy-VQA dev accuracy with and without multimodal pre-training (issue 22).

Four runs of one model size, each through lmlab's training loop:

1. ``pretrain``: the model pre-trained on emoji pairs (train split, en + zh names) and
   easy-VQA train pictures with their questions (no answers), with image-conditioned MLM,
   masked region modelling (``--mrm-target``) and image-text matching; then image↔text
   retrieval recall@1/5 on the held-out emoji pairs (English and Chinese captions) by its
   ITM head;
2. ``pretrained``: (1) fine-tuned on easy-VQA train, scored on dev (a seeded tenth of the
   package's train images; its test split is never read);
3. ``scratch``: the same model fine-tuned from random weights, same steps;
4. ``question_only``: (3) with every picture white — the question-only baseline.

Prints one JSON object (settings, wall times, dev accuracy overall / yes-no / other).

    python bench/multimodal_vqa.py --out runs/mm --pretrain-steps 600 --finetune-steps 600
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from lmlab.config import TrainConfig
from lmlab.multimodal.corpus import MultimodalDataConfig
from lmlab.multimodal.models import MultimodalConfig
from lmlab.multimodal.objectives import (ImageMLMConfig, ImageTextMatchingConfig,
                                         MaskedRegionConfig)
from lmlab.multimodal.runs import MultimodalRunConfig, emoji_retrieval, finetune_vqa, pretrain
from lmlab.multimodal.visual import VisualConfig


def settings(args, steps: int, lr: float) -> TrainConfig:
    return TrainConfig(max_steps=steps, lr=lr, warmup_steps=steps // 10, eval_every=0,
                       checkpoint_every=steps, log_every=50, progress=False, seed=args.seed,
                       device=args.device, num_threads=args.threads)


def model(args) -> MultimodalConfig:
    return MultimodalConfig(architecture=args.architecture, hidden_size=args.hidden,
                            num_heads=4, ffn_size=2 * args.hidden, num_layers=args.layers,
                            num_co_layers=1, dropout=0.1,
                            visual=VisualConfig(args.visual, image_size=32, cell_size=8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--architecture", default="single_stream",
                        choices=["single_stream", "two_stream"])
    parser.add_argument("--visual", default="patch", choices=["patch", "grid"])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--pretrain-steps", type=int, default=600)
    parser.add_argument("--finetune-steps", type=int, default=600)
    parser.add_argument("--mrm-target", default="classification",
                        choices=["classification", "regression"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default="", help="comma list of runs to do (default all)")
    args = parser.parse_args()
    out = Path(args.out)
    only = set(filter(None, args.only.split(",")))
    data = MultimodalDataConfig(max_text_length=16)
    results: dict = {"settings": vars(args), "device": args.device,
                     "torch_threads": args.threads}
    quiet = lambda line: None  # noqa: E731

    def timed(name, work):
        start = time.perf_counter()
        result = work()
        results[name] = {"seconds": round(time.perf_counter() - start, 1),
                         "steps": result.steps, "final_loss": round(result.final_loss, 4),
                         **{k: round(v, 4) for k, v in (result.evaluation or {}).items()}}
        print(json.dumps({name: results[name]}), flush=True)

    if not only or "pretrain" in only:
        pre = MultimodalRunConfig(
            model=model(args), data=data, train=settings(args, args.pretrain_steps, 5e-4),
            batch_size=args.batch_size,
            objectives=[ImageMLMConfig(), MaskedRegionConfig(target=args.mrm_target),
                        ImageTextMatchingConfig()])
        timed("pretrain", lambda: pretrain(out / "pretrain", pre, log=quiet))
        results["retrieval"] = {k: round(v, 4) for k, v in
                                emoji_retrieval(out / "pretrain").items()}
        print(json.dumps({"retrieval": results["retrieval"]}), flush=True)
    for name, init, blank in (("pretrained", str(out / "pretrain"), False),
                              ("scratch", "", False), ("question_only", "", True)):
        if only and name not in only:
            continue
        config = MultimodalRunConfig(kind="vqa", model=model(args), data=data,
                                     train=settings(args, args.finetune_steps, 5e-4),
                                     batch_size=args.batch_size, init_from=init,
                                     blank_images=blank)
        torch.manual_seed(args.seed)
        timed(name, lambda: finetune_vqa(out / name, config, log=quiet))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
