"""Generation speed, lmlab vs HF ``generate`` on the same weights: new tokens/s of greedy
and beam-4 search at batch 1 and 16, for an encoder–decoder (BART layout) and a decoder-only
LM (GPT-2 layout). Prints one JSON object.

The models: random weights (speed does not depend on their values) at two sizes, both
with a vocabulary of 8,000: ``tiny``, the size of lmlab's bart/tiny and gpt/tiny presets
(d_model 128, 2 + 2 layers or 4 decoder layers, 2 heads, FFN 512), and ``small``,
BART-base's shape scaled to a laptop (d_model 256, 3 + 3 layers or 6, 4 heads, FFN 1024);
BART layout and GPT-2 layout, imported into lmlab with lmlab's own HF import code. At batch 1 a step
of the small model is mostly its matrix-vector products (the 8000 x 256 output layer
alone reads 8 MB), which both libraries pay alike; HF's per-step overhead weighs more at
the tiny size.
Each call generates exactly ``--new-tokens`` per sequence (``min_new_tokens`` = max, so
EOS never ends a sequence early on either side) from sources/prompts of 32 tokens, with the
KV cache on both sides. Both outputs are compared token by token (``same_tokens``).
Times are the median of ``--repeats`` calls after one warm-up; one torch thread.

    python bench/generation.py [--quick] [--out bench/results/generation.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
import transformers

from lmlab.config import ModelConfig, from_dict
from lmlab.generation import GenerationOptions, SpecialIds, generate_ids
from lmlab.interop.hf import gpt2_to_lmlab, model_config_from_hf
from lmlab.interop.hf_seq2seq import seq2seq_model_config_from_hf, seq2seq_to_lmlab
from lmlab.registry import build_model

VOCAB, SOURCE = 8000, 32
SIZES = {"tiny": (128, 2, 2), "small": (256, 3, 4)}  # width, layers per stack, heads


def _bart(size: str):
    width, layers, heads = SIZES[size]
    config = transformers.BartConfig(
        vocab_size=VOCAB, d_model=width, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=4 * width,
        decoder_ffn_dim=4 * width, max_position_embeddings=256, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=None)
    reference = transformers.BartForConditionalGeneration(config).eval()
    hf = config.to_dict()
    ours = build_model(from_dict(ModelConfig, seq2seq_model_config_from_hf(hf), "model"))
    ours.load_state_dict(seq2seq_to_lmlab(reference.state_dict(), hf), strict=True)
    return reference, ours.eval(), SpecialIds((2,), 1, 2)


def _gpt2(size: str):
    width, layers, heads = SIZES[size]
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=256, n_embd=width,
                                     n_layer=2 * layers, n_head=heads, bos_token_id=2,
                                     eos_token_id=2, pad_token_id=1)
    reference = transformers.GPT2LMHeadModel(config).eval()
    ours = build_model(from_dict(ModelConfig, model_config_from_hf(config.to_dict()), "model"))
    ours.load_state_dict(gpt2_to_lmlab(reference.state_dict(), 2 * layers), strict=True)
    return reference, ours.eval(), SpecialIds((2,), 1)


def _time(function, repeats: int):
    function()  # warm-up
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _hf_call(reference, special, prompts, options):
    ids = torch.tensor(prompts)
    mask = torch.ones_like(ids)

    def call():
        with torch.no_grad():
            output = reference.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=options.max_new_tokens,
                min_new_tokens=options.min_new_tokens, num_beams=options.num_beams,
                do_sample=False, eos_token_id=list(special.stop_ids), pad_token_id=special.pad_id)
        start = 1 if special.decoder_start_id is not None else ids.shape[1]
        return output[:, start:].tolist()
    return call


def measure(size: str, family: str, batch: int, beams: int, new_tokens: int,
            repeats: int) -> dict:
    reference, ours, special = {"bart": _bart, "gpt2": _gpt2}[family](size)
    generator = torch.Generator().manual_seed(batch)
    prompts = torch.randint(3, VOCAB, (batch, SOURCE), generator=generator).tolist()
    options = GenerationOptions(max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                num_beams=beams)
    ours_s, ours_out = _time(lambda: generate_ids(ours, prompts, options, special), repeats)
    hf_s, hf_out = _time(_hf_call(reference, special, prompts, options), repeats)
    tokens = batch * new_tokens
    return {"size": size, "family": family, "batch": batch, "num_beams": beams, "new_tokens": new_tokens,
            "lmlab_tokens_per_s": round(tokens / ours_s, 1),
            "hf_tokens_per_s": round(tokens / hf_s, 1),
            "speedup_vs_hf": round(hf_s / ours_s, 2), "same_tokens": ours_out == hf_out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    new_tokens, repeats = (8, 1) if args.quick else (32, 3)
    rows = [measure(size, family, batch, beams, new_tokens, repeats) for size in SIZES
            for family in ("bart", "gpt2") for batch in (1, 16) for beams in (1, 4)]
    result = {"bench": "generation", "torch": torch.__version__,
              "transformers": transformers.__version__, "machine": platform.machine(),
              "threads": 1, "source_tokens": SOURCE, "rows": rows}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
