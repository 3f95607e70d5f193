"""Transformer-XL memory (Dai et al. 2019 §3.2, issue 19): a short transformer_xl/tiny run
on WikiText-2 (trained with segments of 64 and memory 64), its validation perplexity read
with memory M = 0, 64, 128, 256, and its speed with and without memory. Prints one JSON
object (saved to bench/results/transformer_xl.json).

    python bench/transformer_xl.py                      # 400 steps: ~5 minutes on one core
    python bench/transformer_xl.py --steps 1500 --out bench/results/transformer_xl_1500.json
    python bench/transformer_xl.py --steps 20 --eval-tokens 5000   # a quick look
    python bench/transformer_xl.py --gpt-beside bench/results/transformer_xl_1500.json

``--gpt-beside RESULT`` adds the vanilla row the issue asks for to an existing result: the
same transformer with learned absolute positions and no memory (GPT), trained for the same
training FLOPs as that result's Transformer-XL (counted per step on a real batch, as
``lmlab compare`` does), read in segments (stride 64) and in windows (stride 32).

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
from lmlab.training.step_cost import flops_per_step, training_parts
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


def _config(steps: int, overrides: list[str] = ()):
    return load_config(preset_path("transformer_xl/tiny"), [
        f"train.max_steps={steps}", "train.max_epochs=0", "train.warmup_steps=30",
        f"train.eval_every={steps}", f"train.checkpoint_every={steps}",
        "train.eval_batches=5", "train.progress=false", "train.log_every=50", *overrides])


# The vanilla baseline: the same stack with learned absolute positions and no memory.
GPT = ["model.embedding.position=learned", "model.embedding.max_positions=512",
       "model.encoder.position=absolute", "model.encoder.memory_length=0"]


def gpt_beside(result_path: Path, eval_tokens: int) -> dict:
    """Train and score the same-FLOPs vanilla row beside a saved Transformer-XL result."""
    report = json.loads(result_path.read_text())
    xl_steps = report["training_budget"]["steps"]
    cost = {name: flops_per_step(training_parts(config), config)
            for name, config in (("xl", _config(xl_steps)), ("gpt", _config(1, GPT)))}
    steps = round(xl_steps * cost["xl"] / cost["gpt"])
    config = _config(steps, GPT)
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "gpt"
        start = time.perf_counter()
        train(config, run, log=lambda *_: None)
        seconds = time.perf_counter() - start
        scored = {f"stride={stride}": round(perplexity_of_run(
            str(run), None, "valid", stride, eval_tokens)["perplexity"], 2) for stride in (64, 32)}
    report["same_flops_gpt"] = {
        "model": "the same L2 / H128 stack, learned absolute positions, no memory",
        "flops_per_step": {"transformer_xl": cost["xl"], "gpt": cost["gpt"]},
        "steps": steps, "train_seconds": round(seconds), "valid_perplexity": scored}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpt-beside", type=Path, help="add the same-FLOPs GPT row to this "
                        "saved result (trains GPT only)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--eval-tokens", type=int, default=30000,
                        help="validation tokens scored per memory length (0: all 217k)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.gpt_beside:
        report = gpt_beside(args.gpt_beside, report_tokens(args.gpt_beside, args.eval_tokens))
        print(json.dumps(report["same_flops_gpt"]))
        args.gpt_beside.write_text(json.dumps(report, indent=2) + "\n")
        return 0
    config = _config(args.steps)
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


def report_tokens(path: Path, default: int) -> int:
    """The validation tokens a saved result scored, so the new row reads the same ones."""
    scored = json.loads(path.read_text()).get("valid_tokens_scored", default)
    return 0 if scored == "all" else int(scored)


if __name__ == "__main__":
    raise SystemExit(main())
