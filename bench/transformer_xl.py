"""Transformer-XL memory (Dai et al. 2019 §3.2, issue 19): a short transformer_xl/tiny run
on WikiText-2 (trained with segments of 64 and memory 64), its validation perplexity read
with memory M = 0, 64, 128, 256, and its speed with and without memory. Prints one JSON
object (saved to bench/results/transformer_xl.json).

    python bench/transformer_xl.py                      # 400 steps: ~5 minutes on one core
    python bench/transformer_xl.py --steps 1500 --out bench/results/transformer_xl_1500.json
    python bench/transformer_xl.py --steps 20 --eval-tokens 5000   # a quick look

M = 0 is read two ways: segment by segment (stride 64, no context across segments: the
paper's "vanilla" model) and in overlapping windows (stride 32, the transformer default).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from lmlab.config import load_config
from lmlab.presets import preset_path
from lmlab.recipes.evaluate import perplexity_of_run
from lmlab.training.checkpoint import load_run
from lmlab.training.trainer import train

RESULT = Path(__file__).parent / "results" / "transformer_xl.json"


def tokens_per_second(model, memory_length: int, steps: int, batch: int, length: int) -> dict:
    """Segments of ``length`` read one after another, memory carried (as in training): a
    training step (forward + backward) and an inference forward, tokens per second."""
    model.encoder.memory_length = memory_length
    vocab = model.embedding.tokens.num_embeddings
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(vocab, (steps + 1, batch, length), generator=generator)  # (S+1, B, T)
    speeds = {}
    for mode in ("train", "eval"):
        model.train(mode == "train")
        memory = model(ids[0]).memory  # warm-up; fills the memory
        start = time.perf_counter()
        for segment in ids[1:]:
            with torch.set_grad_enabled(mode == "train"):
                output = model(segment, memory=memory)
                if mode == "train":
                    model.lm_head(output.hidden).logsumexp(-1).mean().backward()
            memory = output.memory
        speeds[mode] = round(steps * batch * length / (time.perf_counter() - start))
    return speeds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--eval-tokens", type=int, default=30000,
                        help="validation tokens scored per memory length (0: all 217k)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(preset_path("transformer_xl/tiny"), [
        f"train.max_steps={args.steps}", "train.max_epochs=0", "train.warmup_steps=30",
        f"train.eval_every={args.steps}", f"train.checkpoint_every={args.steps}",
        "train.eval_batches=5", "train.progress=false", "train.log_every=50"])
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "xl"
        start = time.perf_counter()
        train(config, run, log=lambda *_: None)
        train_seconds = time.perf_counter() - start
        scored = {}
        for memory, stride in ((0, 64), (0, 32), (64, None), (128, None), (256, None)):
            name = f"M={memory}" + (f" stride={stride}" if stride else "")
            result = perplexity_of_run(str(run), None, "valid", stride, args.eval_tokens, memory)
            scored[name] = round(result["perplexity"], 2)
        _, _, model = load_run(str(run))
        speed = {f"M={m}": tokens_per_second(model, m, 10, config.data.batch_size,
                                              config.data.seq_len) for m in (0, 64, 128)}
    report = {
        "benchmark": "transformer_xl/tiny on WikiText-2 (word level), valid perplexity by "
                     "evaluation memory length",
        "model": "L2 / H128 / A2 / FFN 512, relative positions (position: xl), tied LM head",
        "training_budget": {"steps": args.steps, "batch": config.data.batch_size,
                            "segment": config.data.seq_len,
                            "memory": config.model.encoder.memory_length,
                            "tokens": args.steps * config.data.batch_size * config.data.seq_len,
                            "seconds": round(train_seconds), "threads": 1,
                            "optimizer": "adamw lr 1e-3, cosine, warmup 30"},
        "valid_tokens_scored": args.eval_tokens or "all",
        "valid_perplexity": scored,
        "tokens_per_second": speed,
        "tokens_per_second_note": "10 segments of 16x64 after one warm-up, memory carried; "
                                  "train = forward + backward (logsumexp loss), eval = forward",
        "machine": f"CPU, 1 thread ({os.cpu_count()} cores, shared with other benchmarks)",
        "torch": torch.__version__,
    }
    print(json.dumps(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
