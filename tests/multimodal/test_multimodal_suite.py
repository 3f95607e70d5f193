"""Issue 22: ``lmlab compare suites/multimodal`` (Table 8 with measured easy-VQA dev
accuracy, a question-only and an image-only baseline)."""

import json
import os

import pytest
import torch

from lmlab.cli import main
from lmlab.multimodal import emoji_pairs
from lmlab.multimodal.corpus import Corpus
from lmlab.multimodal.job import collate
from lmlab.multimodal.presets import load_multimodal_config
from lmlab.presets import preset_path
from lmlab.recipes.multimodal_suite import (_architecture, _tasks, is_multimodal_suite,
                                            load_multimodal_suite)

needs_font = pytest.mark.skipif(not any(os.path.isfile(p) for p in emoji_pairs.FONT_PATHS),
                                reason="Debian's fonts-noto-color-emoji is not installed")


def test_table8_descriptive_columns():
    lxmert = load_multimodal_config(preset_path("multimodal/lxmert"))
    assert _architecture(lxmert.model) == ("text layers, 1-layer visual encoder + "
                                           "cross-modality layers (LXMERT), grid-cell regions "
                                           "+ boxes", "two")
    assert _tasks(lxmert.objectives) == "MLM (image-conditioned) + mrm (MRC-VQ) + ITM"
    cbt = load_multimodal_config(preset_path("multimodal/cbt"))
    assert _tasks(cbt.objectives) == "MLM (image-conditioned) + mrm (NCE) + ITM"
    uniter = load_multimodal_config(preset_path("multimodal/uniter"))
    assert _tasks(uniter.objectives) == ("MLM (image-conditioned) + mrm (MRC-kl-VQ) + ITM + "
                                         "WRA (OT, IPOT)")
    b2t2 = load_multimodal_config(preset_path("multimodal/b2t2"))
    assert _architecture(b2t2.model) == ("one transformer over words, grid-cell regions + "
                                         "boxes summed into the words (B2T2)", "single")
    videobert = load_multimodal_config(preset_path("multimodal/videobert"))
    assert _architecture(videobert.model) == ("one transformer over text + k-means visual "
                                              "words", "single")


def test_suite_and_quick_section():
    assert is_multimodal_suite("suites/multimodal")
    full, quick = load_multimodal_suite("multimodal"), load_multimodal_suite("multimodal", True)
    assert [m.label for m in full.models][:4] == ["VL-BERT", "UNITER", "Unicoder-VL", "B2T2"]
    assert (full.seeds, quick.seeds, quick.num_codes, len(quick.models)) == ([0, 1], [0], 8, 4)
    assert full.budget_flops > quick.budget_flops > 0  # equal FLOPs, not equal steps


def test_image_only_baseline_keeps_cls_and_sep_only():
    corpus = Corpus(torch.zeros(1, 4, 4, 3, dtype=torch.uint8).numpy(), ["a b", "c"],
                    torch.zeros(2, dtype=torch.long).numpy())
    corpus.ids = torch.tensor([[2, 7, 8, 3, 0], [2, 9, 3, 0, 0]]).numpy()
    corpus.caption_ids = torch.tensor([0, 1]).numpy()
    batch = collate(corpus, torch.arange(2).numpy(), 2, 0, blank_questions=True)
    assert batch["input_ids"].tolist() == [[2, 3, 0, 0, 0], [2, 3, 0, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0]]


@needs_font
def test_quick_compare_writes_table8_and_continues(tmp_path, capsys):
    out = tmp_path / "table8"
    tiny = ("overrides=[train.progress=false, train.num_threads=1, train.warmup_steps=0, "
            "train.eval_every=0, train.checkpoint_every=100, model.hidden_size=16, "
            "model.num_heads=2, model.ffn_size=32, model.num_layers=1, data.vqa_images=12, "
            "data.emoji_limit=30, data.max_text_length=12, data.vocab_size=300, batch_size=8]")
    args = ["compare", "suites/multimodal", "--quick", "--out", str(out),
            "--suite-set", tiny, "--suite-set", "num_codes=8", "--suite-set", "budget_flops=0",
            "--suite-set", "pretrain_steps=2", "--suite-set", "finetune_steps=2",
            "--suite-set", "retrieval_pairs=5",
            "--suite-set", "models=[{preset: multimodal/vl_bert, label: VL-BERT}, "
                           "{preset: multimodal/lxmert, label: LXMERT}]"]
    assert main(args) == 0
    table = json.loads((out / "table8.json").read_text())
    assert [r["model"] for r in table["rows"]] == ["VL-BERT", "LXMERT",
                                                   "question only (baseline)",
                                                   "image only (baseline)"]
    assert table["rows"][0]["streams"] == "single" and table["rows"][1]["streams"] == "two"
    assert table["rows"][0]["params"] > 0 and table["rows"][2]["params"] is None
    assert all(0 <= r["accuracy"]["mean"] <= 1 for r in table["rows"])
    assert table["rows"][0]["pretrain_steps"] == 2 and table["rows"][0]["flops_per_step"] > 0
    assert table["rows"][1]["retrieval_pairs"] == 5
    assert set(table["rows"][1]["retrieval"]) == {
        f"{lang}_{way}_r{k}" for lang in ("en", "zh")
        for way in ("image_to_text", "text_to_image") for k in (1, 5)}
    text = (out / "table8.md").read_text()
    assert "| LXMERT | text layers, 1-layer visual encoder" in text
    assert "Retrieval on 5 held-out emoji pairs" in text
    done = out / "runs" / "lxmert" / "seed0" / "vqa" / "result.json"
    stamp = done.stat().st_mtime_ns
    assert main(args) == 0 and done.stat().st_mtime_ns == stamp  # finished runs are kept
