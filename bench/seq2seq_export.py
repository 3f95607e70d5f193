"""Exported encoder–decoder generators against lmlab (issue 23): one JSON object.

    python bench/seq2seq_export.py RUN [--examples 64] [--out bench/results/seq2seq_export.json]

RUN is an encoder–decoder run (BART, T5, MASS), pre-trained (sources: PTB valid lines,
decoded as ``lmlab generate`` does) or fine-tuned to generate (sources: its task's dev
split, decoded as the fine-tuning's evaluation does). The run is exported with ``lmlab
convert --to hf`` and ``--to onnx --int8`` into a temporary folder; the first
``--examples`` sources are decoded greedily by lmlab (``generate_ids``, KV cache), by HF
``generate()`` with the exported generation config only, and by the two ONNX graphs
(fp32 and int8, :func:`lmlab.convert.onnx_seq2seq.greedy`, no KV cache). Reported: the
share of outputs equal to lmlab's (token ids), lmlab's mean output length and number of
distinct outputs (an agreement of empty outputs says nothing), and sources/s of each (batch 1, one
thread, tokenisation excluded; wall time on whatever else the machine is doing).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=16,
                        help="pre-trained runs (a fine-tune uses its max_target_len)")
    parser.add_argument("--out", default="")
    args = parser.parse_args()

    import onnxruntime
    import torch
    import transformers

    from lmlab.convert.hf_export import export_hf
    from lmlab.convert.onnx_export import export_onnx
    from lmlab.convert.onnx_seq2seq import DECODER, ENCODER, greedy
    from lmlab.data.catalogue import data_dir
    from lmlab.finetune import task_data
    from lmlab.finetune.generate import generation_options, special_ids
    from lmlab.finetune.run_folder import load_finetuned
    from lmlab.generation import GenerationOptions, generate_ids
    from lmlab.generation.api import finetuned_suppressed_ids, lmlab_special_ids
    from lmlab.registry import build_objectives
    from lmlab.tasks.catalogue import get_task
    from lmlab.training.checkpoint import checkpoint_folder, load_run, read_checkpoint_raw

    torch.set_num_threads(1)
    folder_config = read_checkpoint_raw(checkpoint_folder(args.run, verify=False))
    if "task" in folder_config:  # a generation fine-tune: its dev sources, its decoding
        config, tokenizer, model = load_finetuned(args.run)
        spec = get_task(config.task)
        examples = spec.read(config.options.dev_split)[:args.examples]
        prompts = [f["prompt"] for f in task_data.encode(spec, tokenizer, examples, config)]
        special = special_ids(tokenizer, config.generation_mode, config.decoder_start_id)
        options = generation_options(config.options)
        options = GenerationOptions(**{**options.__dict__, "suppress_ids": tuple(
            finetuned_suppressed_ids(tokenizer, special))})
        backbone, source = model.backbone, f"{config.task} dev"
    else:  # pre-trained: PTB valid lines as sources, lmlab generate's greedy
        config, tokenizer, backbone = load_run(args.run)
        start = build_objectives(config.objectives[:1], tokenizer)[0].decoder_start_id
        lines = (data_dir() / "ptb" / "ptb.valid.txt").read_text().splitlines()
        prompts = [[tokenizer.cls_id] + tokenizer.encode(line) + [tokenizer.sep_id]
                   for line in lines if line.strip()][:args.examples]
        special = lmlab_special_ids(tokenizer, start)
        options, source = GenerationOptions(max_new_tokens=args.max_new_tokens), "ptb valid"
    limit, stop = options.max_new_tokens, special.stop_ids[0]
    results: dict = {"run": args.run, "sources": source, "examples": len(prompts),
                     "max_new_tokens": limit}

    def timed(decode) -> tuple[list, float]:
        started = time.perf_counter()
        outputs = [decode(prompt) for prompt in prompts]  # batch 1
        return outputs, len(prompts) / (time.perf_counter() - started)

    def agreement(outputs: list) -> float:
        return sum(a == b for a, b in zip(outputs, ours)) / len(ours)

    ours, speed = timed(lambda p: generate_ids(backbone, [p], options, special)[0])
    results["lmlab"] = {"sources_per_second": round(speed, 1),
                        "mean_new_tokens": sum(map(len, ours)) / len(ours),
                        "distinct_outputs": len({tuple(o) for o in ours}),
                        "sample": [tokenizer.decode(o) for o in ours[:2]]}

    with tempfile.TemporaryDirectory() as folder:
        export_hf(args.run, Path(folder) / "hf")
        hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(Path(folder) / "hf")).eval()

        def hf_decode(prompt: list[int]) -> list[int]:
            row = torch.tensor([prompt])
            with torch.no_grad():  # the exported generation config, the length as lmlab's
                output = hf.generate(row, attention_mask=torch.ones_like(row),
                                     max_new_tokens=limit)[0, 1:].tolist()
            return output[:output.index(stop) + 1] if stop in output else output

        theirs, speed = timed(hf_decode)
        results["hf_generate"] = {"equal_to_lmlab": agreement(theirs),
                                  "sources_per_second": round(speed, 1)}
        summary = export_onnx(args.run, Path(folder) / "onnx", int8=True)
        results["onnx_max_abs_diff"] = summary["max_abs_diff"]
        for name, suffix in (("onnx_fp32", ".onnx"), ("onnx_int8", ".int8.onnx")):
            encoder, decoder = (onnxruntime.InferenceSession(
                str(Path(folder) / "onnx" / graph.replace(".onnx", suffix)),
                providers=["CPUExecutionProvider"]) for graph in (ENCODER, DECODER))
            outputs, speed = timed(lambda p: greedy(
                encoder, decoder, [p], summary["decoder_start_id"], summary["stop_id"],
                summary["pad_id"], limit, summary["suppressed_ids"])[0])
            results[name] = {"equal_to_lmlab": agreement(outputs),
                             "sources_per_second": round(speed, 1)}
    line = json.dumps(results)
    print(line)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
