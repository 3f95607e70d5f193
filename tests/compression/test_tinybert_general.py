"""TinyBERT's general distillation (Jiao et al. 2020 §3.3): the task-agnostic stage of
``lmlab compress --method tinybert --set general_epochs=E`` with TinyBERT's loss set
(eqs. 7-9 over n = g(m)), and the losses on hand-computed tiny examples."""

import copy
import dataclasses
import json

import pytest
import torch

from lmlab.cli import main
from lmlab.compression.distillation import losses
from lmlab.compression.distillation.objective import (DistillationObjective,
                                                      DistillationSettings, States, run,
                                                      tinybert_projections)
from lmlab.compression.distillation.student import student_from_teacher, teacher_layers
from lmlab.errors import ConfigError
from lmlab.finetune.features import collate
from lmlab.finetune.general_distill import base_teacher, unlabeled_features
from lmlab.finetune.run_folder import load_base, load_finetuned
from lmlab.recipes.compress import method_settings
from lmlab.tasks.catalogue import get_task
from lmlab.training.checkpoint import save_checkpoint


@pytest.mark.parametrize("teacher, student, expected", [
    (6, 3, [2, 4, 6]), (12, 4, [3, 6, 9, 12]), (4, 2, [2, 4]), (6, 6, [1, 2, 3, 4, 5, 6]),
    (6, 1, [6])])
def test_the_layer_mapping_is_g_of_m_equals_m_n_over_m(teacher, student, expected):
    assert teacher_layers("uniform", teacher, student, "layer_map") == expected


def test_the_attention_loss_by_hand_leaves_padding_out():
    keep = torch.tensor([[True, True, False]])  # (B=1, T=3), the last token padding
    teacher = torch.full((1, 2, 3, 3), 100.0)  # (B, H, T, T); padded pairs must not count
    teacher[0, 0, :2, :2] = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    teacher[0, 1, :2, :2] = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    student = torch.zeros(1, 2, 3, 3)
    # head 0: 1 + 4 + 9 + 16 = 30; head 1: 4; (1/h) Σ_i mean over the 4 real pairs
    assert losses.attention_mse(student, teacher, keep).item() == pytest.approx(34 / 8)


def _states(layers, scores):
    return States(torch.zeros(1, 2), layers, scores)


def test_the_transformer_losses_with_w_h_and_the_layer_map_by_hand():
    keep = torch.tensor([[True, True, False]])  # (1, 3)
    projections = tinybert_projections(2, 3)
    with torch.no_grad():  # W_h, W_e: R^2 -> R^3, x ↦ (x1, x2, x1 + x2)
        for name in ("embedding", "hidden"):
            projections[name].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    h_student = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])  # (1, 3, d'=2)
    e_student = torch.zeros(1, 3, 2)
    e_teacher = torch.tensor([[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]]])  # (1, 3, 3)
    h_teacher_1 = torch.zeros(1, 3, 3)  # not mapped: g(1) = 2 for M = 1, N = 2
    h_teacher_2 = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 3.0], [0.0, 0.0, 0.0]]])
    a_student = torch.zeros(1, 1, 3, 3)
    a_teacher_1, a_teacher_2 = torch.ones(1, 1, 3, 3), torch.full((1, 1, 3, 3), 2.0)
    objective = DistillationObjective(torch.nn.Linear(1, 1), DistillationSettings(
        "tinybert", stage="general"), teacher_layers("uniform", 2, 1, "layer_map"), projections)
    terms = objective._transformer_terms(
        _states([e_student, h_student], [a_student]),
        _states([e_teacher, h_teacher_1, h_teacher_2], [a_teacher_1, a_teacher_2]), keep)
    # H^S W_h = [1, 0, 1], [0, 1, 1]; minus H_2^T: [0, 0, 1], [0, 0, -2] -> 5 / (2 · 3)
    assert terms["hidden"].item() == pytest.approx(5 / 6)
    assert terms["embedding"].item() == pytest.approx(3 / 6)  # (1 + 1 + 1) / (2 · 3)
    assert terms["attention"].item() == pytest.approx(4.0)  # teacher layer 2's scores: 2²


def test_projections_exist_only_when_the_widths_differ():
    assert tinybert_projections(384, 384) is None
    projections = tinybert_projections(4, 6)
    assert projections["hidden"].weight.shape == (6, 4) and projections["hidden"].bias is None
    assert projections["embedding"].weight.shape == (6, 4)


def _unlabeled_batch(run_folder):
    config, tokenizer, model = load_finetuned(run_folder)
    spec = get_task(config.task)
    features = unlabeled_features(spec, tokenizer, config, "task", 4, 0)
    return config, model.eval(), collate(features, spec.kind, tokenizer.pad_id)


def test_the_general_stage_takes_the_loss_set_of_the_method(finetuned_run):
    config, teacher, batch = _unlabeled_batch(finetuned_run)
    layers = config.model.encoder.num_layers
    every = list(range(1, layers + 1))
    tiny = DistillationObjective(teacher, DistillationSettings("tinybert", stage="general"), every)
    out = tiny(copy.deepcopy(teacher).eval(), batch)
    assert set(out.metrics) == {"embedding", "hidden", "attention"} and out.loss.item() == 0.0
    distil = DistillationObjective(teacher, DistillationSettings("kd", stage="general"), every)
    assert set(distil(copy.deepcopy(teacher).eval(), batch).metrics) == {"cosine", "hidden"}
    # a one-layer student of teacher layer 1 matched to g(1) = N: the terms recomputed
    student, _ = student_from_teacher(teacher, config, [1])
    mapped = DistillationObjective(teacher, DistillationSettings("tinybert", stage="general"),
                                   teacher_layers("uniform", layers, 1, "layer_map"))
    out = mapped(student.eval(), batch)
    mine, theirs = run(student, batch, scores=True), run(teacher, batch, scores=True)
    keep = batch["attention_mask"].bool()
    hidden = losses.masked_mse(mine.layers[1], theirs.layers[layers], keep)
    attention = losses.attention_mse(mine.scores[0], theirs.scores[layers - 1], keep)
    assert out.metrics["embedding"] == 0.0  # the student keeps the teacher's embedding
    assert out.metrics["hidden"] == pytest.approx(hidden.item(), rel=1e-6) and hidden > 0
    assert out.metrics["attention"] == pytest.approx(attention.item(), rel=1e-6)
    assert out.loss.item() == pytest.approx(hidden.item() + attention.item(), rel=1e-6)


def test_tinybert_general_then_task_stages(finetuned_run, tmp_path):
    out = tmp_path / "tiny"
    assert main(["compress", str(finetuned_run), "--method", "tinybert",
                 "--set", "student_layers=1", "--set", "epochs=0.25", "--set", "batch_size=16",
                 "--set", "intermediate_epochs=0.25", "--set", "general_epochs=1",
                 "--set", "general_text=task", "--set", "general_examples=160",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert [s["stage"] for s in summary["stages"]] == ["general", "intermediate", "prediction"]
    logged = [json.loads(line) for line in
              (out / "stages" / "general" / "metrics.jsonl").read_text().splitlines()]
    assert any({"embedding", "attention", "hidden"} <= set(row) for row in logged)
    assert not any("cosine" in row for row in logged)


def test_bad_tinybert_general_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="--set general_epochs=-1"):
        method_settings("tinybert", {"general_epochs": -1})
    with pytest.raises(ConfigError, match="--set general_text='books'"):
        method_settings("tinybert", {"general_text": "books"})


@pytest.fixture()
def run_from_pretrained(finetuned_run, pretraining_run, tmp_path):
    """The tiny fine-tuned run, recorded as fine-tuned from the tiny pre-training run."""
    config, tokenizer, model = load_finetuned(finetuned_run)
    config = dataclasses.replace(config, base=str(pretraining_run))
    save_checkpoint(tmp_path / "run", model, config, tokenizer, {})
    return tmp_path / "run"


def test_the_base_teacher_is_the_pretrained_backbone_with_the_runs_head(run_from_pretrained,
                                                                       pretraining_run):
    config, _, teacher = load_finetuned(run_from_pretrained)
    general = base_teacher(teacher, config.base, str(run_from_pretrained))
    pretrained = load_base(str(pretraining_run))[2].state_dict()
    mine = general.backbone.state_dict()
    assert mine.keys() == pretrained.keys()
    assert all(torch.equal(mine[name], pretrained[name]) for name in mine)
    assert all(torch.equal(a, b) for a, b in zip(general.head.parameters(),
                                                 teacher.head.parameters()))
    layer = "encoder.layers.0.attention.qkv.weight"  # the run's own teacher is untouched
    assert not torch.equal(teacher.backbone.state_dict()[layer], pretrained[layer])


def test_general_teacher_base_end_to_end(run_from_pretrained, tmp_path):
    out = tmp_path / "tiny-base"
    assert main(["compress", str(run_from_pretrained), "--method", "tinybert",
                 "--set", "student_layers=1", "--set", "epochs=0.25", "--set", "batch_size=16",
                 "--set", "intermediate_epochs=0.25", "--set", "general_epochs=0.25",
                 "--set", "general_text=task", "--set", "general_examples=32",
                 "--set", "general_teacher=base", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert summary["stages"][0]["stage"] == "general"


def test_general_teacher_base_needs_pretrained_weights(finetuned_run, tmp_path, capsys):
    assert main(["compress", str(finetuned_run), "--method", "tinybert",
                 "--set", "student_layers=1", "--set", "general_epochs=1",
                 "--set", "general_teacher=base", "--out", str(tmp_path / "x")]) != 0
    error = capsys.readouterr().err.strip()
    assert error.startswith("lmlab: error: --set general_teacher=base: ") and \
        "fine-tuned from random weights" in error and "\n" not in error
    with pytest.raises(ConfigError, match="--set general_teacher='bert'"):
        method_settings("kd", {"general_teacher": "bert"})
