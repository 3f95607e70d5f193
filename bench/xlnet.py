"""XLNet and Transformer-XL training-step speed (issue 19), one JSON: xlnet/tiny
(two-stream attention, Yang et al. 2019 §2.3) against bert/tiny's encoder trained with MLM
alone (BERT's corruption, no NSP) at the same size, XLNet with a 64-token memory of the
previous segment (§2.5), and transformer_xl/tiny (causal LM) with its 64-token memory
(Dai et al. 2019 §3.2) and without. All L2 / H128 / A2 / FFN 512 on batches of 16 × 64
tokens with WikiText-2's word vocabulary size. A step is corrupt (orders and masks, or
the 15 % masking, on the CPU) + loss + backward + AdamW update; tokens/s counts every
input token. Prints one JSON object (saved to bench/results/xlnet.json).

    python bench/xlnet.py                 # 30 steps each, about two minutes on one core
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from lmlab.config import load_config
from lmlab.presets import preset_path
from lmlab.registry import build_model, build_objectives

RESULT = Path(__file__).parent / "results" / "xlnet.json"
VOCAB = 33278  # WikiText-2 words + specials (the word tokenizer's vocabulary)
TOKENIZER = SimpleNamespace(pad_id=0, unk_id=1, eos_id=2, cls_id=3, sep_id=4, mask_id=5,
                            num_special=6, vocab_size=VOCAB)
MEMORY = ["model.encoder.memory_length=64", "data.batching=stream"]
PRESETS = {"xlnet": ("xlnet/tiny", []),
           "mlm": ("bert/tiny", ["objectives=[{name: mlm}]", "data.batching=blocks"]),
           "xlnet_memory": ("xlnet/tiny", MEMORY),
           "transformer_xl_memory": ("transformer_xl/tiny", MEMORY),
           "transformer_xl_no_memory": ("transformer_xl/tiny", ["model.encoder.memory_length=0"])}


def step_speed(preset: str, overrides: list[str], steps: int, batch: int, length: int) -> dict:
    config = load_config(preset_path(preset), overrides)
    objectives = build_objectives(config.objectives, TOKENIZER, seed=0)
    model = build_model(config.model, vocab_size=VOCAB, seed=0, objectives=objectives).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(TOKENIZER.num_special, VOCAB, (steps + 1, batch, length), generator=generator)
    ids[:, :, 0], ids[:, :, -1] = TOKENIZER.cls_id, TOKENIZER.sep_id  # [CLS] block [SEP]
    seconds = 0.0
    for step, rows in enumerate(ids):
        start = time.perf_counter()
        # Stream objectives read the batch as the next segment of each row's text.
        raw = {"input_ids": rows, "labels": rows.roll(-1, dims=1), "step": step,
               "example_ids": torch.arange(batch) + step * batch, "reset_memory": step == 0}
        corrupted = objectives[0].corrupt(raw)
        loss = objectives[0].loss(model, corrupted).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step:  # the first step warms up
            seconds += time.perf_counter() - start
    parameters = sum(p.numel() for p in model.parameters())
    return {"preset": preset, "overrides": overrides, "parameters": parameters,
            "seconds_per_step": round(seconds / steps, 4),
            "tokens_per_second": round(steps * batch * length / seconds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {name: step_speed(preset, overrides, args.steps, args.batch, args.length)
            for name, (preset, overrides) in PRESETS.items()}
    def ratio(a: str, b: str) -> float:
        return round(rows[a]["seconds_per_step"] / rows[b]["seconds_per_step"], 2)

    report = {"benchmark": "xlnet vs mlm and transformer-xl memory vs none, training step, "
                           "same L2/H128/A2 size",
              "device": "cpu, 1 thread", "steps": args.steps,
              "batch": [args.batch, args.length], "vocab": VOCAB, **rows,
              "xlnet_cost_per_step_relative_to_mlm": ratio("xlnet", "mlm"),
              "xlnet_memory_cost_relative_to_xlnet": ratio("xlnet_memory", "xlnet"),
              "transformer_xl_memory_cost_relative_to_none": ratio("transformer_xl_memory",
                                                                   "transformer_xl_no_memory")}
    print(json.dumps(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
