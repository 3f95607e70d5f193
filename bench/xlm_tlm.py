"""Held-out TLM masked-token perplexity of pre-trained runs (issue 24, XLM §3.3): the 500
news-commentary en–zh pairs that no training path reads, as ``[CLS] en [SEP] zh [SEP]``
with positions restarting for the Chinese side, language ids 0/1, fixed static masks
(15 %, 80/10/10). A run without a ``tlm`` objective (MLM only) is measured with TLM's
default settings, so an MLM-only and an MLM+TLM run of ``xlm/tiny`` compare directly.
Prints one JSON object per run.

    python bench/xlm_tlm.py runs/xlm-mlm-tlm runs/xlm-mlm-only
"""

from __future__ import annotations

import argparse
import json

from lmlab.objectives.base import EvaluationSettings
from lmlab.objectives.held_out import evaluate_held_out
from lmlab.objectives.tlm import TranslationLMConfig, TranslationLMObjective
from lmlab.training.checkpoint import load_run


def held_out_tlm(run: str) -> dict:
    config, tokenizer, model = load_run(run)
    settings = [o for o in config.objectives if o.name == "tlm"]
    tlm = TranslationLMObjective(settings[0] if settings else TranslationLMConfig(), tokenizer)
    result = evaluate_held_out(model, [tlm], None,
                               EvaluationSettings(seq_len=config.data.seq_len, batch_size=16))
    return {"run": run, "objectives": [o.name for o in config.objectives], **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+")
    for run in parser.parse_args().runs:
        print(json.dumps(held_out_tlm(run)))


if __name__ == "__main__":
    main()
