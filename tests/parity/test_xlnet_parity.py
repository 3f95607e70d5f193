"""XLNet against HF transformers (``XLNetLMHeadModel``, ``XLNetForSequenceClassification``):
imported random weights give HF's hidden states, two-stream logits and memories (1e-5);
an exported lmlab run loads in ``transformers`` with lmlab's logits; export then import
gives back every tensor; what HF XLNet cannot compute is refused in one line."""

import json
import sys
from pathlib import Path

import pytest
import torch

from lmlab.cli import main
from lmlab.config import ModelConfig, from_dict, load_config
from lmlab.finetune.config import FinetuneOptions
from lmlab.finetune.model import build_finetune_model
from lmlab.interop.configs import NoCounterpartError
from lmlab.interop.hf_xlnet import (hf_xlnet_config, lmlab_to_xlnet, xlnet_entries,
                                    xlnet_model_config_from_hf)
from lmlab.interop.tables import to_lmlab
from lmlab.objectives.xlnet import XLNetConfig, XLNetObjective, two_stream_masks
from lmlab.presets import preset_path
from lmlab.registry import build_model
from lmlab.training.checkpoint import load_run
from lmlab.training.trainer import train

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_overrides  # noqa: E402

transformers = pytest.importorskip("transformers")
V, D, L, H, T = 40, 16, 2, 2, 7


def _hf(class_name: str = "XLNetLMHeadModel", **options):
    torch.manual_seed(0)  # initializer_range 0.3: logits far from zero, differences visible
    config = transformers.XLNetConfig(vocab_size=V, d_model=D, n_layer=L, n_head=H, d_head=D // H,
                                      d_inner=32, initializer_range=0.3, **options)
    return getattr(transformers, class_name)(config).eval()


def _ours(hf, kind: str = "pretrained"):
    config = from_dict(ModelConfig, xlnet_model_config_from_hf(hf.config.to_dict()), "model")
    if kind == "pretrained":
        objective = XLNetObjective(XLNetConfig(), type("Tokenizer", (), {"num_special": 0})())
        model = build_model(config, objectives=[objective])
    else:
        model = build_finetune_model(build_model(config), kind, 3, FinetuneOptions(pooling="last"))
    model.load_state_dict(to_lmlab(xlnet_entries(L, D, H, kind), hf.state_dict()),
                          strict=True)
    return model.eval()


def _inputs(seed: int = 0, length: int = T):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (2, length), generator=generator)
    segments = torch.zeros(2, length, dtype=torch.long)
    segments[0, 3:], segments[1, 5:] = 1, 1
    return ids, segments


def test_hidden_states_with_segments_and_padding_equal_hf():
    hf = _hf()
    model = _ours(hf)
    ids, segments = _inputs()
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, 5:] = 0  # one row right-padded
    with torch.no_grad():
        ours = model(ids, mask, segments).hidden
        theirs = hf.transformer(ids, attention_mask=mask, token_type_ids=segments).last_hidden_state
    assert theirs.abs().mean() > 0.1
    torch.testing.assert_close(ours[mask.bool()], theirs[mask.bool()], atol=1e-5, rtol=1e-5)
    # The segment term is really there: other segments, other states.
    with torch.no_grad():
        assert not torch.allclose(model(ids, mask, torch.zeros_like(segments)).hidden, ours)


def test_two_stream_logits_equal_hf_perm_mask_and_target_mapping():
    """lmlab's query mask is HF's perm_mask negated; every position a target (identity
    target_mapping); the first of each order reads nothing in HF and is never a target."""
    hf = _hf()
    model = _ours(hf)
    ids, segments = _inputs(1)
    generator = torch.Generator().manual_seed(3)
    rank = torch.stack([torch.randperm(T, generator=generator) for _ in range(2)])
    content, query = two_stream_masks(rank, torch.ones(2, T, dtype=torch.bool))
    with torch.no_grad():
        theirs = hf(ids, token_type_ids=segments, perm_mask=(~query).float(),
                    target_mapping=torch.eye(T).expand(2, T, T)).logits
        x = model.embedding(ids)
        _, g, _ = model.encoder.two_stream(x, model.heads["xlnet"](x), content, query,
                                           segments=segments)
        ours = model.lm_head(g)
    torch.testing.assert_close(ours[rank > 0], theirs[rank > 0], atol=1e-5, rtol=1e-5)


def test_memory_of_the_previous_segment_equals_hf_mems():
    hf = _hf(mem_len=5)
    model = _ours(hf)
    assert model.encoder.memory_length == 5
    first, _ = _inputs(2)
    second, _ = _inputs(3, length=4)
    with torch.no_grad():
        hf_first = hf.transformer(first, use_mems=True)
        ours_first = model(first)
        for theirs, ours in zip(hf_first.mems, ours_first.memory):  # HF (M, B, D)
            torch.testing.assert_close(ours, theirs.transpose(0, 1), atol=1e-6, rtol=0)
        theirs = hf.transformer(second, mems=hf_first.mems, use_mems=True).last_hidden_state
        ours = model(second, memory=ours_first.memory).hidden
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(model(second).hidden, ours, atol=1e-3)  # it does read them
        # The two streams read the same memory (pre-training with recurrence).
        rank = torch.tensor([[2, 0, 3, 1], [1, 3, 0, 2]])
        content, query = two_stream_masks(rank, torch.ones(2, 4, dtype=torch.bool))
        theirs = hf(second, mems=hf_first.mems, perm_mask=(~query).float(),
                    target_mapping=torch.eye(4).expand(2, 4, 4), use_mems=True).logits
        x = model.embedding(second)
        _, g, _ = model.encoder.two_stream(x, model.heads["xlnet"](x), content, query,
                                           ours_first.memory)
    torch.testing.assert_close(model.lm_head(g)[rank > 0], theirs[rank > 0], atol=1e-5, rtol=1e-5)


def test_sequence_classifier_equals_hf_on_left_padded_pairs():
    """XLNet reads the last token (HF pads on the left for it); lmlab's ``pooling: last``
    finds the last real token on either side."""
    hf = _hf("XLNetForSequenceClassification", num_labels=3)
    model = _ours(hf, "classification")
    ids, segments = _inputs(4)
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, :2] = 0  # left padding
    with torch.no_grad():
        theirs = hf(ids, attention_mask=mask, token_type_ids=segments).logits
        ours = model({"input_ids": ids, "attention_mask": mask, "segments": segments})
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind, class_name", [("pretrained", "XLNetLMHeadModel"),
                                              ("classification", "XLNetForSequenceClassification")])
def test_import_then_export_gives_back_every_tensor(kind, class_name):
    hf = _hf(class_name, **({"num_labels": 3} if kind != "pretrained" else {}))
    config = from_dict(ModelConfig, xlnet_model_config_from_hf(hf.config.to_dict()), "model")
    back = lmlab_to_xlnet(_ours(hf, kind).state_dict(), config, kind)
    own = hf.state_dict()
    assert set(own) - set(back) == ({"lm_loss.weight"} if kind == "pretrained" else set())
    for key in back:  # lm_loss.weight is tied to the word embedding in both
        if kind != "pretrained" and key == "transformer.mask_emb":
            assert not back[key].any()  # no query stream in a classifier: zeros
            continue
        torch.testing.assert_close(back[key], own[key], atol=0, rtol=0, msg=key)


# --- a trained run through the command line ------------------------------------------------

@pytest.fixture(scope="module")
def xlnet_run(tiny_corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("xlnet")
    train(load_config(preset_path("xlnet/tiny"), tiny_overrides("xlnet/tiny", tiny_corpus, 2, 2)),
          folder, log=lambda *_: None)
    return folder


def test_cli_export_loads_in_transformers_with_lmlab_logits_and_imports_back(xlnet_run, tmp_path,
                                                                             capsys):
    assert main(["convert", str(xlnet_run), "--to", "hf", str(tmp_path / "hf")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["class"] == "XLNetLMHeadModel"
    reference = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    assert type(reference).__name__ == "XLNetLMHeadModel"
    config, tokenizer, model = load_run(xlnet_run)
    batch = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))(
        ["the company said", "profits rose sharply in the quarter"], ["stock prices fell", "a"],
        padding=True, return_tensors="pt")
    segments = batch["token_type_ids"]
    assert segments.max() == 1 and batch["attention_mask"].min() == 0
    with torch.no_grad():
        theirs = reference(batch["input_ids"], attention_mask=batch["attention_mask"],
                           token_type_ids=segments).logits
        ours = model.lm_head(model(batch["input_ids"], batch["attention_mask"], segments).hidden)
    keep = batch["attention_mask"].bool()
    torch.testing.assert_close(ours[keep], theirs[keep], atol=1e-5, rtol=1e-5)
    assert main(["convert", str(tmp_path / "hf"), "--from", "hf", str(tmp_path / "back")]) == 0
    config_back, tokenizer_back, model_back = load_run(tmp_path / "back")
    assert config_back.objectives[0].name == "xlnet"
    mine, theirs = model.state_dict(), model_back.state_dict()
    assert mine.keys() == theirs.keys()
    for key in mine:
        torch.testing.assert_close(theirs[key], mine[key], atol=0, rtol=0, msg=key)


def test_fine_tuned_classifier_exports_to_xlnet_for_sequence_classification(make_run, tmp_path):
    from lmlab.convert.hf_export import export_hf
    from lmlab.finetune.run_folder import load_finetuned

    run = make_run("xlnet/tiny", "classification", pooling="last")
    summary = export_hf(run, tmp_path / "hf")
    assert summary["class"] == "XLNetForSequenceClassification"
    reference = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(tmp_path / "hf")).eval()
    _, tokenizer, model = load_finetuned(run)
    ids, segments = _inputs(5)
    ids = ids % (tokenizer.vocab_size - tokenizer.num_special) + tokenizer.num_special
    with torch.no_grad():
        theirs = reference(ids, token_type_ids=segments).logits
        ours = model({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                      "segments": segments})
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert main(["convert", str(tmp_path / "hf"), "--from", "hf", str(tmp_path / "back")]) == 0
    _, _, back = load_finetuned(tmp_path / "back")
    for key, value in model.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value, atol=0, rtol=0, msg=key)


def test_a_classifier_that_does_not_read_the_last_token_is_refused(make_run, tmp_path, capsys):
    run = make_run("xlnet/tiny", "classification", pooling="mean")
    assert main(["convert", str(run), "--to", "hf", str(tmp_path / "hf")]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--pooling last" in error, error


@pytest.mark.parametrize("override, setting", [
    ("model.encoder.relative_segments=false", "model.encoder.relative_segments"),
    ("model.encoder.attention_bias=true", "model.encoder.attention_bias"),
    ("model.encoder.norm=pre", "model.encoder.norm"),
    ("model.lm_head.bias=false", "model.lm_head"),
])
def test_each_setting_hf_xlnet_lacks_is_named(override, setting):
    config = load_config(preset_path("xlnet/tiny"), [override])
    tokenizer = type("Tokenizer", (), {"vocab_size": V, "pad_id": 0, "cls_id": 2, "sep_id": 3})()
    with pytest.raises(NoCounterpartError, match=f"^{setting}: ") as error:
        hf_xlnet_config(config.model, tokenizer)
    assert "\n" not in str(error.value)
