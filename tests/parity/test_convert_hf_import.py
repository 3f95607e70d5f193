"""HF -> lmlab: ``lmlab convert <hf-dir> --from hf <out>`` turns a ``transformers`` folder
(random weights, every family and head) into an lmlab run folder whose model gives the
HF model's hidden states and logits to 1e-5; all-MiniLM-L6-v2 (a real checkpoint, a bare
``BertModel``) too; and a round trip lmlab -> HF -> lmlab keeps every tensor."""

import pytest
import torch

from convert_helpers import (assert_same, hf_outputs, lmlab_outputs, make_batch, randomise,
                             tiny_tokenizer)
from lmlab.convert.hf_export import export_hf
from lmlab.convert.hf_import import import_hf
from lmlab.convert.runs import HF, open_run
from lmlab.interop.families import CLASSES, ELECTRA_SUMMARY, PRETRAINED
from lmlab.interop.hf_tokenizer import write_hf_tokenizer

transformers = pytest.importorskip("transformers")

SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 48, "max_position_embeddings": 40}
CONFIGS = {
    "bert": dict(SMALL, hidden_act="gelu"),
    "roberta": dict(SMALL, max_position_embeddings=40, pad_token_id=0),
    "albert": dict(SMALL, embedding_size=16, hidden_act="gelu_new"),
    "electra": dict(SMALL, embedding_size=32),
    "gpt2": {"n_embd": 32, "n_layer": 2, "n_head": 2, "n_inner": 48, "n_positions": 40},
}
CASES = [(arch, kind) for arch, classes in CLASSES.items() for kind in classes]


def _hf_folder(folder, architecture, kind):
    tokenizer = tiny_tokenizer()
    extra = {"num_labels": {"regression": 1, "span_qa": 2}.get(kind, 3)}
    if architecture == "electra" and kind == "multiple_choice":
        extra.update(ELECTRA_SUMMARY)
    config = transformers.AutoConfig.for_model(architecture, vocab_size=tokenizer.vocab_size,
                                               **CONFIGS[architecture], **extra)
    torch.manual_seed(0)
    model = getattr(transformers, CLASSES[architecture][kind])(config).eval()
    randomise(model)
    model.save_pretrained(str(folder))
    write_hf_tokenizer(tokenizer, folder, architecture != "gpt2", 40)
    return model


@pytest.mark.parametrize("architecture,kind", CASES, ids=str)
def test_imported_run_gives_the_hf_outputs(tmp_path, architecture, kind):
    reference = _hf_folder(tmp_path / "hf", architecture, kind)
    summary = import_hf(tmp_path / "hf", tmp_path / "run")
    assert summary["kind"] == kind
    run = open_run(tmp_path / "run", HF)
    assert run.architecture == architecture
    ours_kind = None if kind == PRETRAINED else kind
    batch = make_batch(run.tokenizer, ours_kind)
    assert_same(lmlab_outputs(run.model, batch, ours_kind, architecture),
                hf_outputs(reference, batch, ours_kind, architecture))


@pytest.mark.parametrize("preset,kind", [("bert/tiny", "classification"),
                                         ("roberta/tiny", None), ("albert/tiny", "tagging"),
                                         ("electra/tiny", None), ("gpt/tiny", None)], ids=str)
def test_round_trip_keeps_every_tensor(make_run, tmp_path, preset, kind):
    run_dir = make_run(preset, kind)
    export_hf(run_dir, tmp_path / "hf")
    import_hf(tmp_path / "hf", tmp_path / "back")
    before, after = open_run(run_dir, HF).model.state_dict(), open_run(tmp_path / "back", HF).model.state_dict()
    unused = ("lm_head.",) if preset == "electra/tiny" else ()  # not part of ELECTRA in HF
    assert set(before) == set(after)
    for key in before:
        if not key.startswith(unused):
            torch.testing.assert_close(after[key], before[key], atol=0, rtol=0, msg=key)


def test_minilm_imports_as_a_bert_run(minilm_dir, tmp_path):
    summary = import_hf(minilm_dir, tmp_path / "minilm")
    assert summary["class"] == "BertModel" and summary["untrained"] == ["lm_head"]
    run = open_run(tmp_path / "minilm", HF)
    reference = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    batch = hf_tokenizer(["The stock market fell sharply on Monday.", "A cat sat."],
                         padding=True, return_tensors="pt")
    real = batch["input_ids"][0][batch["attention_mask"][0].bool()]
    assert run.tokenizer.encode("The stock market fell sharply on Monday.") == real[1:-1].tolist()
    with torch.no_grad():
        expected = reference(**batch, output_hidden_states=True)
        got = run.model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                        return_layers=True)
    keep = batch["attention_mask"].bool()
    torch.testing.assert_close(got.hidden[keep], expected.last_hidden_state[keep],
                               atol=1e-5, rtol=1e-5)


def test_minilm_classifier_round_trip(minilm_dir, tmp_path):
    """MiniLM + a classification head (random head weights) -> HF
    BertForSequenceClassification -> lmlab: the same logits at each step."""
    reference = transformers.BertForSequenceClassification.from_pretrained(
        str(minilm_dir), num_labels=2).eval()
    with torch.no_grad():
        reference.classifier.weight.normal_(0, 0.2)
    reference.save_pretrained(str(tmp_path / "hf"))
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    hf_tokenizer.save_pretrained(str(tmp_path / "hf"))
    import_hf(tmp_path / "hf", tmp_path / "run")
    export_hf(tmp_path / "run", tmp_path / "again")
    again = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(tmp_path / "again")).eval()
    run = open_run(tmp_path / "run", HF)
    batch = hf_tokenizer(["A man plays a flute.", "It rained all day."], ["Music.", "Dry."],
                         padding=True, return_tensors="pt")
    lmlab_batch = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                   "segments": batch["token_type_ids"]}
    with torch.no_grad():
        expected = reference(**batch).logits
        got = run.model(lmlab_batch)
        exported = again(**batch).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(exported, expected, atol=1e-5, rtol=1e-5)
