"""PD (MLM pre-training of the student) and DistilBERT-style task-agnostic distillation."""

import json

import pytest
import torch.nn.functional as F

from lmlab.cli import main
from lmlab.compression.distillation.objective import DistillationObjective, DistillationSettings
from lmlab.errors import ConfigError
from lmlab.finetune.features import collate
from lmlab.finetune.general_distill import (MaskedLMStage, unlabeled_features,
                                            wikitext_paragraphs)
from lmlab.finetune.run_folder import load_finetuned
from lmlab.recipes.compress import method_settings
from lmlab.tasks.catalogue import get_task


def _batch(run, examples=4):
    config, tokenizer, model = load_finetuned(run)
    spec = get_task(config.task)
    features = unlabeled_features(spec, tokenizer, config, "task", examples, 0)
    return config, tokenizer, model, collate(features, spec.kind, tokenizer.pad_id)


def test_general_loss_is_zero_for_a_student_equal_to_its_teacher(finetuned_run):
    _, _, model, batch = _batch(finetuned_run)
    student = load_finetuned(finetuned_run)[2]
    objective = DistillationObjective(model, DistillationSettings("kd", stage="general"), [1, 2])
    out = objective(student.eval(), batch)
    assert out.metrics["cosine"] == pytest.approx(0.0, abs=1e-6)
    assert out.metrics["hidden"] == pytest.approx(0.0, abs=1e-10)


def test_the_mlm_stage_is_bert_cloze_through_the_lm_head(finetuned_run):
    config, tokenizer, model, batch = _batch(finetuned_run)
    model.eval()
    stage = MaskedLMStage(tokenizer, seed=0)
    stage.attach_head(model, config.model)
    assert model.backbone.lm_head.decoder.weight is model.backbone.embedding.tokens.weight
    loss = stage(model, batch).loss
    again = MaskedLMStage(tokenizer, seed=0)  # the same masking for the same call count
    corrupted = again.mlm.corrupt({k: v for k, v in batch.items() if k != "labels"} | {"step": 0})
    chosen = corrupted["mlm_labels"] != -100
    assert 0 < int(chosen.sum()) <= int(batch["attention_mask"].sum())
    hidden = model.backbone(corrupted["input_ids"], corrupted["attention_mask"],
                            corrupted["segments"]).hidden
    expected = F.cross_entropy(model.backbone.lm_head(hidden[chosen]),
                               corrupted["mlm_labels"][chosen])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert stage.state_dict() == {"calls": 1}
    stage.detach_head(model)
    assert model.backbone.lm_head is None


def test_wikitext_paragraphs_drop_headings_and_blank_lines():
    paragraphs = wikitext_paragraphs()
    assert paragraphs[0].startswith("Senjō no Valkyria 3 : <unk> Chronicles")
    assert not any(p.startswith("=") or not p for p in paragraphs)


def test_kd_with_pd_and_general_stages(finetuned_run, tmp_path):
    out = tmp_path / "pd"
    assert main(["compress", str(finetuned_run), "--method", "kd", "--set", "student_layers=1",
                 "--set", "epochs=0.25", "--set", "batch_size=16", "--set", "pretrain_epochs=0.25",
                 "--set", "general_epochs=0.25", "--set", "general_text=task",
                 "--set", "general_examples=64", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert [s["stage"] for s in summary["stages"]] == ["pretrain_mlm", "general", "kd"]
    assert summary["student"]["layers"] == 1


def test_bad_general_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="--set general_text='books'"):
        method_settings("kd", {"general_text": "books"})
    with pytest.raises(ConfigError, match="--set pretrain_epochs=-1"):
        method_settings("kd", {"pretrain_epochs": -1})
