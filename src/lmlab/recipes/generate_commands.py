"""``lmlab generate``: text from any run that can generate (n-gram, causal LMs, and
encoder–decoders, which read each input as a source), one input from ``--prompt`` or one
per line of ``--input``; greedy, sampling or beam search (``lmlab.generation``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lmlab.atomic import write_text
from lmlab.errors import DataError
from lmlab.generation import GenerationOptions
from lmlab.outputs import prepare_output_file
from lmlab.recipes.arguments import non_negative_int, positive_int, probability_mass
from lmlab.recipes.evaluate import generate_from_run

HELP_EPILOG = """examples:
  lmlab generate runs/gpt-tiny --prompt "the company said" --max-new-tokens 30 --top-p 0.9
  lmlab generate runs/gpt-tiny --prompt "the company said" --temperature 0   (greedy)
  lmlab generate runs/bart-headlines --input descriptions.txt --num-beams 4 \\
      --no-repeat-ngram-size 3 --out titles.txt
"""


def read_inputs(path: str) -> list[str]:
    """One input per line; an empty line or undecodable bytes are one-line errors."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (--input: one input text per line)") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); convert it, e.g. "
                        f"iconv -t UTF-8") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise DataError(f"{path}:{number}: empty line; give one non-empty input per line")
    if not lines:
        raise DataError(f"{path}: empty file; give one input text per line")
    return lines


def options_from_args(args) -> GenerationOptions:
    return GenerationOptions(
        max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens,
        do_sample=args.temperature > 0 and args.num_beams == 1,
        temperature=args.temperature if args.temperature > 0 else 1.0, top_k=args.top_k,
        top_p=args.top_p, num_beams=args.num_beams, length_penalty=args.length_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size, seed=args.seed).validate()


def _generate(args) -> int:
    texts = read_inputs(args.input) if args.input else [args.prompt]
    outputs = generate_from_run(args.run_dir, texts, options_from_args(args))
    if args.out:
        target = prepare_output_file(args.out, args.overwrite,
                                     inputs=[args.input] if args.input else [])
        write_text(target, "".join(output.replace("\n", " ") + "\n" for output in outputs))
        print(json.dumps({"inputs": len(texts), "out": str(target)}))
    else:
        print("\n".join(outputs))
    return 0


def add_commands(subparsers) -> None:
    generate = subparsers.add_parser(
        "generate", help="generate text: continue a prompt, or map each input to an output "
                         "(encoder–decoders)", epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    generate.add_argument("run_dir", metavar="RUN", help="run folder")
    source = generate.add_mutually_exclusive_group()
    source.add_argument("--prompt", default="", help="one input text")
    source.add_argument("--input", metavar="FILE", help="one input text per line (UTF-8)")
    generate.add_argument("--out", metavar="FILE", help="write one output per line here")
    generate.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    generate.add_argument("--max-new-tokens", type=positive_int, default=30, help=">= 1")
    generate.add_argument("--min-new-tokens", type=non_negative_int, default=0,
                          help="no stop token before this many")
    generate.add_argument("--temperature", type=float, default=1.0,
                          help="sampling temperature; 0 = greedy (the default with beams)")
    generate.add_argument("--top-k", type=non_negative_int, default=0, help=">= 0 (0: off)")
    generate.add_argument("--top-p", type=probability_mass, default=1.0,
                          help="nucleus mass in (0, 1] (1: off)")
    generate.add_argument("--num-beams", type=positive_int, default=1,
                          help="beam search with this many beams (1: greedy or sampling)")
    generate.add_argument("--length-penalty", type=float, default=1.0,
                          help="beam score = sum log p / length ** this")
    generate.add_argument("--no-repeat-ngram-size", type=non_negative_int, default=0,
                          help="never repeat an n-gram of this size (0: off)")
    generate.add_argument("--seed", type=int, default=0)
    generate.set_defaults(run=_generate)
