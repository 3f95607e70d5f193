import json, sys, pathlib, hashlib
from safetensors.torch import load_file
import torch
old, new = pathlib.Path("/tmp/eq/old"), pathlib.Path("/tmp/eq/new")
for run in sorted(p for p in old.iterdir() if p.is_dir()):
    o = [json.loads(l) for l in (run/"metrics.jsonl").read_text().splitlines()]
    n = [json.loads(l) for l in (new/run.name/"metrics.jsonl").read_text().splitlines()]
    ol = [r["loss"] for r in o if "loss" in r]; nl = [r["loss"] for r in n if "loss" in r]
    oe = [(r.get("eval_ppl"), r.get("eval_loss")) for r in o if "eval_loss" in r]
    ne = [(r.get("eval_perplexity"), r.get("eval_loss")) for r in n if "eval_loss" in r]
    wo = load_file(run/"checkpoint/model.safetensors"); wn = load_file(new/run.name/"checkpoint/model.safetensors")
    same_w = wo.keys() == wn.keys() and all(torch.equal(wo[k], wn[k]) for k in wo)
    maxdiff = max(abs(a[1]-b[1]) for a, b in zip(oe, ne)) if oe else None
    print(f"{run.name:16s} train losses equal={ol==nl} weights equal={same_w} eval maxdiff={maxdiff} {oe[-1]} {ne[-1]}")
