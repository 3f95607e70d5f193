"""lmlab -> HF: ``lmlab convert <run> --to hf`` writes a folder that ``transformers``'
``AutoModelFor...`` and ``AutoTokenizer`` load, and that gives lmlab's hidden states and
logits to 1e-5, for every family and every fine-tuning head with an HF counterpart."""

import pytest

from convert_helpers import assert_same, hf_outputs, lmlab_outputs, lmlab_generator_logits, make_batch
from lmlab.convert.hf_export import export_hf
from lmlab.convert.runs import HF, open_run

transformers = pytest.importorskip("transformers")

FAMILIES = ["bert/tiny", "roberta/tiny", "albert/tiny", "electra/tiny"]
KINDS = [None, "classification", "regression", "tagging", "span_qa", "multiple_choice"]
AUTO = {None: "AutoModel", "classification": "AutoModelForSequenceClassification",
        "regression": "AutoModelForSequenceClassification",
        "tagging": "AutoModelForTokenClassification", "span_qa": "AutoModelForQuestionAnswering",
        "multiple_choice": "AutoModelForMultipleChoice"}
CASES = [(family, kind) for family in FAMILIES for kind in KINDS] + \
        [("gpt/tiny", None), ("gpt/tiny", "tagging"), ("gpt/tiny", "span_qa")]


def _load(out, kind, class_name):
    if kind is None:  # the pre-training class itself (AutoModel gives the bare encoder)
        return getattr(transformers, class_name).from_pretrained(str(out)).eval()
    return getattr(transformers, AUTO[kind]).from_pretrained(str(out)).eval()


@pytest.mark.parametrize("preset,kind", CASES, ids=lambda v: str(v))
def test_exported_folder_gives_lmlab_outputs(make_run, tmp_path, preset, kind):
    run_dir = make_run(preset, kind)
    summary = export_hf(run_dir, tmp_path / "hf")
    run = open_run(run_dir, HF)
    reference = _load(tmp_path / "hf", kind, summary["class"])
    assert type(reference).__name__ == summary["class"]
    batch = make_batch(run.tokenizer, kind)
    assert_same(lmlab_outputs(run.model, batch, kind, run.architecture),
                hf_outputs(reference, batch, kind, summary["architecture"]))
    if kind is None and preset != "gpt/tiny":  # the bare encoder loads through AutoModel too
        encoder = transformers.AutoModel.from_pretrained(str(tmp_path / "hf")).eval()
        assert type(encoder).__name__.endswith("Model")


def test_electra_generator_is_written_beside_the_discriminator(make_run, tmp_path):
    run_dir = make_run("electra/tiny")
    summary = export_hf(run_dir, tmp_path / "hf")
    generator = transformers.AutoModelForMaskedLM.from_pretrained(
        str(tmp_path / "hf"), subfolder="generator").eval()
    run = open_run(run_dir, HF)
    batch = make_batch(run.tokenizer, None)
    import torch
    with torch.no_grad():
        expected = generator(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             token_type_ids=batch["segments"]).logits
    got = lmlab_generator_logits(run.model, batch)
    torch.testing.assert_close(got, expected[batch["attention_mask"].bool()], atol=1e-5, rtol=1e-5)
    assert summary["generator"].endswith("generator")


@pytest.mark.parametrize("preset", ["bert/tiny", "gpt/tiny"])
def test_exported_tokenizer_loads_in_transformers(make_run, tmp_path, preset):
    run_dir = make_run(preset)
    export_hf(run_dir, tmp_path / "hf")
    run = open_run(run_dir, HF)
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    text = "the stock market fell on monday"
    ids = run.tokenizer.encode(text)
    if preset == "gpt/tiny":
        assert hf_tokenizer(text)["input_ids"] == ids
    else:  # BERT-style families wrap a text as [CLS] text [SEP], as lmlab's packing does
        assert hf_tokenizer(text)["input_ids"] == [run.tokenizer.cls_id] + ids + [run.tokenizer.sep_id]
        pair = hf_tokenizer(text, "a cat sat")
        assert pair["token_type_ids"][-1] == 1
    assert hf_tokenizer.pad_token_id == run.tokenizer.pad_id
