"""Training throughput: lmlab vs HF transformers, identical configs, one process.

    python bench/train_throughput.py [--steps 10] [--vocab 30522]

Trains lmlab's bert/tiny preset (MLM) against HF ``BertForMaskedLM`` and gpt/tiny (CLM)
against ``GPT2LMHeadModel``: same vocabulary, layers, hidden size, heads, seq 128,
batch 32, fp32, 2 threads, AdamW, the same initial weights. First both compute the loss
of the same batch in eval mode (they must agree), then each trains ``--steps`` steps
(after 2 warm-up steps) and tokens/s are compared. Achieved GFLOP/s (analytic FLOPs of
the step, 6·N·tokens style) is printed next to a measured fp32 matmul peak.

Then the whole loop (``lmlab train`` in a subprocess, data from ``$LMLAB_DATA``) of each
preset three ways on the same cores: eager in one process, ``train.compile=true`` in one
process, and eager in 2 gloo processes under torchrun with the threads split between
them (``--only loop`` runs just this part). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import torch


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def step_flops(layers: int, hidden: int, ffn: int, vocab: int, tokens: int, seq: int,
               head_tokens: int, head_transform: bool) -> float:
    """Forward+backward FLOPs (3 × forward): projections, attention scores, vocabulary head."""
    per_token_layer = 2 * (4 * hidden * hidden + 2 * hidden * ffn) + 2 * 2 * seq * hidden
    head = 2 * hidden * vocab + (2 * hidden * hidden if head_transform else 0)
    return 3 * (tokens * layers * per_token_layer + head_tokens * head)


def time_training(step_fn, steps: int) -> float:
    for _ in range(2):
        step_fn()
    started = time.perf_counter()
    for _ in range(steps):
        step_fn()
    return time.perf_counter() - started


def _optimizer(model):
    return torch.optim.AdamW(model.parameters(), lr=1e-4)


def train_step(model, loss_fn):
    """A closure doing one AdamW step of ``loss_fn()`` on ``model``."""
    optimizer = _optimizer(model)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn().backward()
        optimizer.step()

    return step


def bench_mlm(vocab: int, batch: int, seq: int, steps: int) -> dict:
    import transformers

    from lmlab.config import load_config
    from lmlab.interop.hf import bert_to_lmlab
    from lmlab.objectives.mlm import MaskedLMObjective
    from lmlab.presets import preset_path
    from lmlab.registry import build_model

    config = load_config(preset_path("bert/tiny"))
    encoder = config.model.encoder
    hf = transformers.BertForMaskedLM(transformers.BertConfig(
        vocab_size=vocab, hidden_size=config.model.embedding.hidden_size,
        num_hidden_layers=encoder.num_layers, num_attention_heads=encoder.num_heads,
        intermediate_size=encoder.ffn_size, max_position_embeddings=512,
        attn_implementation="sdpa"))
    ours = build_model(config.model, vocab_size=vocab, seed=0)
    ours.load_state_dict(bert_to_lmlab(hf.state_dict(), encoder.num_layers))

    class Tok:
        mask_id, num_special, vocab_size, cls_id, sep_id = 5, 6, vocab, 3, 4

    objective = MaskedLMObjective(config.objectives[0], Tok())
    ids = torch.randint(6, vocab, (batch, seq), generator=torch.Generator().manual_seed(0))
    data = {"input_ids": ids, "example_ids": torch.arange(batch), "step": 0}
    corrupted, labels = objective.choose(data)

    ours.eval(), hf.eval()
    with torch.no_grad():
        our_loss = objective.loss(ours, objective.corrupt(data)).loss.item()
        hf_loss = hf(input_ids=corrupted, labels=labels).loss.item()
    ours.train(), hf.train()
    our_step = train_step(ours, lambda: objective.loss(ours, objective.corrupt(data)).loss)
    hf_step = train_step(hf, lambda: hf(input_ids=corrupted, labels=labels).loss)

    tokens = batch * seq * steps
    our_s, hf_s = time_training(our_step, steps), time_training(hf_step, steps)
    masked = int((labels != -100).sum())
    args = (encoder.num_layers, config.model.embedding.hidden_size, encoder.ffn_size, vocab,
            batch * seq, seq)
    return {"lmlab_tokens_per_s": tokens / our_s, "hf_tokens_per_s": tokens / hf_s,
            "speedup": hf_s / our_s, "lmlab_loss": our_loss, "hf_loss": hf_loss,
            "lmlab_gflops": step_flops(*args, masked, True) * steps / our_s / 1e9,
            "hf_gflops": step_flops(*args, batch * seq, True) * steps / hf_s / 1e9}


def bench_clm(vocab: int, batch: int, seq: int, steps: int) -> dict:
    import transformers

    from lmlab.config import load_config
    from lmlab.interop.hf import gpt2_to_lmlab
    from lmlab.objectives.clm import CausalLMObjective
    from lmlab.presets import preset_path
    from lmlab.registry import build_model

    config = load_config(preset_path("gpt/tiny"))
    encoder, embedding = config.model.encoder, config.model.embedding
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=vocab, n_positions=embedding.max_positions, n_embd=embedding.hidden_size,
        n_layer=encoder.num_layers, n_head=encoder.num_heads, n_inner=encoder.ffn_size,
        activation_function="gelu_new", attn_implementation="sdpa"))
    ours = build_model(config.model, vocab_size=vocab, seed=0)
    ours.load_state_dict(gpt2_to_lmlab(hf.state_dict(), encoder.num_layers))
    objective = CausalLMObjective(config.objectives[0])
    ids = torch.randint(0, vocab, (batch, seq + 1), generator=torch.Generator().manual_seed(0))
    data = {"input_ids": ids[:, :-1], "labels": ids[:, 1:]}

    ours.eval(), hf.eval()
    with torch.no_grad():
        our_loss = objective.loss(ours, objective.corrupt(data)).loss.item()
        # HF shifts internally: give it the T+1 window, compare the same T predictions.
        hf_loss = hf(input_ids=ids, labels=ids).loss.item()
    ours.train(), hf.train()
    hf_input = ids[:, :-1]
    our_step = train_step(ours, lambda: objective.loss(ours, objective.corrupt(data)).loss)
    hf_step = train_step(hf, lambda: hf(input_ids=hf_input, labels=hf_input).loss)

    tokens = batch * seq * steps
    our_s, hf_s = time_training(our_step, steps), time_training(hf_step, steps)
    flops = step_flops(encoder.num_layers, embedding.hidden_size, encoder.ffn_size, vocab,
                       batch * seq, seq, batch * seq, False) * steps
    return {"lmlab_tokens_per_s": tokens / our_s, "hf_tokens_per_s": tokens / hf_s,
            "speedup": hf_s / our_s, "lmlab_loss": our_loss, "hf_loss": hf_loss,
            "lmlab_gflops": flops / our_s / 1e9, "hf_gflops": flops / hf_s / 1e9}


def loop_modes(preset: str, threads: int, batch: int, seq: int, steps: int) -> dict:
    """Tokens/s of ``lmlab train`` eager, compiled, and eager in 2 processes (gloo)."""
    settings = [f"data.batch_size={batch}", f"data.seq_len={seq}", f"train.max_steps={steps}",
                "train.max_epochs=0", "train.eval_every=0", "train.eval_batches=1",
                "train.checkpoint_every=0", "train.progress=false", "train.log_every=1"]
    modes = {"eager_1_process": (1, threads, []), "compiled_1_process": (1, threads, ["train.compile=true"]),
             "eager_2_processes": (2, max(1, threads // 2), [])}
    result = {}
    for mode, (processes, per_process, extra) in modes.items():
        launcher = ([sys.executable, "-m", "lmlab"] if processes == 1 else
                    [sys.executable, "-m", "torch.distributed.run", "--standalone",
                     f"--nproc_per_node={processes}", "-m", "lmlab"])
        with tempfile.TemporaryDirectory() as folder:
            command = [*launcher, "train", preset, "--data", "ptb", "--out", f"{folder}/run"]
            for setting in settings + extra:
                command += ["--set", setting]
            began = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True,
                                  env={**os.environ, "OMP_NUM_THREADS": str(per_process)})
            wall = time.perf_counter() - began
            if done.returncode:
                result[mode] = {"error": done.stderr.strip().splitlines()[-1]}
                continue
            rows = [json.loads(line) for line in open(f"{folder}/run/metrics.jsonl")
                    if '"tokens_per_s"' in line]
        late = rows[len(rows) // 2:]  # the second half: after compiling and warm-up
        result[mode] = {"processes": processes, "threads_per_process": per_process,
                        "tokens_per_s": round(sum(r["tokens_per_s"] for r in late) / len(late)),
                        "wall_s": round(wall, 1)}
    eager = result["eager_1_process"].get("tokens_per_s")
    for mode in ("compiled_1_process", "eager_2_processes"):
        if eager and "tokens_per_s" in result[mode]:
            result[mode]["speedup_vs_eager_1_process"] = round(result[mode]["tokens_per_s"] / eager, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--vocab", type=int, default=30522)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["mlm", "clm", "loop"], default=None)
    parser.add_argument("--loop-steps", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import transformers

    result = {"bench": "train_throughput", "threads": args.threads, "vocab": args.vocab,
              "batch": args.batch, "seq": args.seq, "steps": args.steps,
              "torch": torch.__version__, "transformers": transformers.__version__,
              "cpu": platform.processor() or platform.machine(),
              "matmul_peak_gflops": matmul_peak_gflops()}
    if args.only in (None, "mlm"):
        result["mlm_bert_tiny"] = bench_mlm(args.vocab, args.batch, args.seq, args.steps)
    if args.only in (None, "clm"):
        result["clm_gpt_tiny"] = bench_clm(args.vocab, args.batch, args.seq, args.steps)
    if args.only in (None, "loop"):
        result["loop"] = {preset: loop_modes(preset, args.threads, args.batch, args.seq,
                                             args.loop_steps)
                          for preset in ("gpt/tiny", "bert/tiny")}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
