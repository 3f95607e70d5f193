"""Distillation (issue 20): losses against their closed forms, layer maps, students built
from a teacher, and ``lmlab compress --method kd|pkd|tinybert`` end to end."""

import copy
import json
import math

import pytest
import torch

from lmlab.cli import main
from lmlab.compression.distillation import losses
from lmlab.compression.distillation.objective import (DistillationObjective,
                                                      DistillationSettings, run)
from lmlab.compression.distillation.student import student_from_teacher, teacher_layers
from lmlab.errors import ConfigError
from lmlab.finetune.features import collate
from lmlab.finetune.run_folder import load_finetuned


def _softmax(z, t):
    e = [math.exp(v / t) for v in z]
    return [v / sum(e) for v in e]


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_kd_loss_is_the_closed_form(temperature):
    student, teacher, label, alpha = [1.0, 2.0, 3.0], [3.0, 1.0, 0.0], 2, 0.3
    p, q = _softmax(student, temperature), _softmax(teacher, temperature)
    kl = sum(qi * math.log(qi / pi) for pi, qi in zip(p, q))
    ce = -math.log(_softmax(student, 1.0)[label])
    expected = alpha * temperature ** 2 * kl + (1 - alpha) * ce
    got = losses.kd_loss(torch.tensor([student]), torch.tensor([teacher]),
                         torch.tensor([label]), temperature, alpha)
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_tang_logit_mse_and_soft_cross_entropy():
    student, teacher = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[3.0, 1.0, 0.0]])
    # ||z_t - z_s||^2 = 4 + 1 + 9 = 14; with alpha = 1 only the CE of label 0
    assert losses.logit_mse_loss(student, teacher, None, 0.0).item() == pytest.approx(14.0)
    ce0 = -math.log(_softmax([1, 2, 3], 1)[0])
    assert losses.logit_mse_loss(student, teacher, torch.tensor([0]), 1.0).item() == \
        pytest.approx(ce0, abs=1e-6)
    q, p = _softmax([3, 1, 0], 2.0), _softmax([1, 2, 3], 2.0)
    assert losses.soft_cross_entropy(student, teacher, 2.0).item() == pytest.approx(
        -sum(qi * math.log(pi) for qi, pi in zip(q, p)), abs=1e-6)


def test_patient_loss_normalises_cls_states():
    student = [torch.tensor([[3.0, 4.0]])]  # unit: (0.6, 0.8)
    teacher = [torch.tensor([[0.0, 2.0]])]  # unit: (0, 1)
    assert losses.patient_loss(student, teacher).item() == pytest.approx(0.36 + 0.04)


def test_layer_maps():
    assert teacher_layers("every_other", 6, 3, "init") == [1, 3, 5]
    assert teacher_layers("uniform", 6, 3, "layer_map") == [2, 4, 6]
    assert teacher_layers("first", 6, 2, "init") == [1, 2]
    assert teacher_layers("last", 6, 2, "layer_map") == [5, 6]
    assert teacher_layers("uniform", 6, 4, "layer_map") == [1, 3, 4, 6]
    assert teacher_layers([2, 6], 6, 2, "layer_map") == [2, 6]


@pytest.mark.parametrize("choice, student, message", [
    ("uniform", 7, "--set student_layers=7: a student of a 6-layer teacher has 1 to 6"),
    ("uniform", 0, "--set student_layers=0"),
    ([1, 7], 2, "--set layer_map=[1, 7]: expected 2 increasing teacher layers from 1 to 6"),
    ([3, 2], 2, "--set layer_map=[3, 2]: expected 2 increasing"),
    ([1, 2, 3], 2, "--set layer_map=[1, 2, 3]: expected 2 increasing"),
    ("skip", 2, "--set layer_map=skip: expected one of every_other, first, uniform, last"),
])
def test_a_layer_map_that_does_not_fit_is_one_line(choice, student, message):
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        teacher_layers(choice, 6, student, "layer_map")


def _batch(run_dir):
    config, tokenizer, model = load_finetuned(run_dir)
    texts = ["the cat sat on the mat", "a dog ran"]
    features = [{"ids": tokenizer.encode(t)[:12], "segments": [0] * len(tokenizer.encode(t)[:12]),
                 "label": i} for i, t in enumerate(texts)]
    return config, model, collate(features, "classification", tokenizer.pad_id)


def test_a_student_with_every_layer_is_the_teacher(finetuned_run):
    config, teacher, batch = _batch(finetuned_run)
    layers = config.model.encoder.num_layers
    student, student_config = student_from_teacher(teacher, config, list(range(1, layers + 1)))
    assert student_config.model.encoder.num_layers == layers
    assert torch.equal(run(student, batch).logits, run(teacher, batch).logits)
    small, small_config = student_from_teacher(teacher, config, [layers])
    assert small_config.model.encoder.num_layers == 1 and len(small.backbone.encoder.layers) == 1
    assert config.model.encoder.num_layers == layers  # the teacher's config is unchanged
    kept, original = (small.backbone.encoder.layers[0].state_dict(),
                      teacher.backbone.encoder.layers[layers - 1].state_dict())
    assert kept.keys() == original.keys()
    assert all(torch.equal(kept[name], original[name]) for name in kept)


def test_tinybert_intermediate_loss_is_zero_for_identical_models(finetuned_run):
    config, teacher, batch = _batch(finetuned_run)
    student = copy.deepcopy(teacher)
    layers = config.model.encoder.num_layers
    objective = DistillationObjective(teacher, DistillationSettings("tinybert", stage="intermediate"),
                                      list(range(1, layers + 1)))
    out = objective(student.eval(), batch)
    assert set(out.metrics) == {"embedding", "hidden", "attention"}
    assert out.loss.item() == 0.0
    scores = run(teacher, batch, scores=True).scores
    heads = config.model.encoder.num_heads
    assert len(scores) == layers and scores[0].shape == (2, heads, batch["input_ids"].shape[1],
                                                         batch["input_ids"].shape[1])
    with torch.no_grad():  # a changed student layer gives a positive attention term
        student.backbone.encoder.layers[0].attention.qkv.weight.mul_(1.5)
    assert objective(student, batch).metrics["attention"] > 0


@pytest.mark.parametrize("method, extra", [
    ("kd", []), ("pkd", ["--set", "layer_map=last"]),
    ("tinybert", ["--set", "intermediate_epochs=0.5"]),
])
def test_compress_distils_a_student_that_evaluates(finetuned_run, tmp_path, capsys, method, extra):
    out = tmp_path / method
    assert main(["compress", str(finetuned_run), "--method", method, "--set", "student_layers=1",
                 "--set", "epochs=0.5", "--set", "batch_size=16", *extra,
                 "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert summary["student"]["layers"] == 1 and summary["params"] < summary["params_before"]
    assert summary["stages"][-1]["history"] and "accuracy" in summary["teacher"]["dev"]
    config, _, model = load_finetuned(out)
    assert config.model.encoder.num_layers == 1 and len(model.backbone.encoder.layers) == 1
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(
        summary["student"]["dev"]["accuracy"], abs=1e-9)
    if method == "kd":  # a distilled student is an ordinary BERT: it exports to HF
        assert main(["convert", str(out), "--to", "hf", str(tmp_path / "hf")]) == 0
        assert json.loads((tmp_path / "hf" / "config.json").read_text())["num_hidden_layers"] == 1


@pytest.mark.parametrize("setting, message", [
    (["student_layers=9"], "--set student_layers=9: a student of a 2-layer teacher has 1 to 2"),
    (["student_layers=1", "init=[1, 5]"], "--set init=[1, 5]: expected 1 increasing teacher "
                                          "layers from 1 to 2"),
    (["temperature=0"], "--set temperature=0: must be > 0"),
    (["alpha=2"], "--set alpha=2: must be in [0, 1]"),
])
def test_bad_distillation_settings_are_one_line(finetuned_run, tmp_path, capsys, setting, message):
    settings = [part for pair in setting for part in ("--set", pair)]
    assert main(["compress", str(finetuned_run), "--method", "kd", *settings,
                 "--out", str(tmp_path / "x")]) == 1
    error = capsys.readouterr().err
    assert message in error and len(error.splitlines()) == 1


def test_resume_keeps_a_finished_compression_and_refuses_other_settings(finetuned_run, tmp_path,
                                                                        capsys):
    out = tmp_path / "kd"
    command = ["compress", str(finetuned_run), "--method", "kd", "--set", "student_layers=1",
               "--set", "epochs=0.25", "--out", str(out)]
    assert main(command) == 0
    first = (out / "compression.json").read_text()
    capsys.readouterr()
    assert main(command) == 1  # without --resume an existing output is refused
    assert "already" in capsys.readouterr().err
    assert main([*command, "--resume"]) == 0
    assert (out / "compression.json").read_text() == first
    capsys.readouterr()
    assert main([*command[:-2], "--set", "alpha=0.9", "--out", str(out), "--resume"]) == 1
    error = capsys.readouterr().err
    assert "was compressed with another method, settings or source" in error
    assert len(error.splitlines()) == 1


def test_theseus_groups_and_replacement_extremes(finetuned_run):
    from lmlab.compression.distillation.theseus import (TheseusObjective, hybrid_hidden,
                                                        module_groups)
    assert module_groups(6, 3) == [[1, 2], [3, 4], [5, 6]]
    assert module_groups(6, 1) == [[1, 2, 3, 4, 5, 6]]
    with pytest.raises(ConfigError, match="--set student_layers=4: Theseus replaces equal"):
        module_groups(6, 4)
    config, teacher, batch = _batch(finetuned_run)
    student, _ = student_from_teacher(teacher, config, [2])  # one successor for both layers
    with torch.no_grad():  # a successor unlike the teacher's layers
        student.backbone.encoder.layers[0].ffn.apply(
            lambda m: m.weight.mul_(1.3) if isinstance(m, torch.nn.Linear) else None)
    teacher.eval(), student.eval()
    groups = module_groups(2, 1)
    out = student.backbone(batch["input_ids"], batch["attention_mask"], batch["segments"])
    with torch.no_grad():  # replacing probability 1 is the student, 0 the teacher
        assert torch.equal(hybrid_hidden(teacher, student, batch, groups, [True]), out.hidden)
        assert torch.equal(hybrid_hidden(teacher, student, batch, groups, [False]),
                           teacher.backbone(batch["input_ids"], batch["attention_mask"],
                                            batch["segments"]).hidden)
    objective = TheseusObjective(teacher, groups, rate=1.0)
    loss = objective(student, batch)
    assert loss.metrics == {"replacing_rate": 1.0, "replaced": 1}
    assert loss.loss.item() == pytest.approx(torch.nn.functional.cross_entropy(
        teacher.head(out.hidden, batch), batch["labels"]).item(), abs=1e-6)
    scheduled = TheseusObjective(teacher, groups, rate=0.3, increase=0.25)
    assert [scheduled.replacing_rate() for _ in range(1)] == [0.3]
    scheduled.load_state_dict({"steps": 2})
    assert scheduled.replacing_rate() == pytest.approx(0.8)
    scheduled.load_state_dict({"steps": 10})
    assert scheduled.replacing_rate() == 1.0
    assert scheduled.state_dict() == {"steps": 10}


def test_compress_theseus_end_to_end(finetuned_run, tmp_path, capsys):
    out = tmp_path / "theseus"
    assert main(["compress", str(finetuned_run), "--method", "theseus", "--set",
                 "student_layers=1", "--set", "epochs=0.5", "--set", "successor_epochs=0.25",
                 "--set", "rate_increase=0.05", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert [stage["stage"] for stage in summary["stages"]] == ["replacing", "successor"]
    assert summary["student"]["modules"] == [[1, 2]] and summary["student"]["layers"] == 1
    assert summary["student"]["final_replacing_rate"] == 1.0  # 0.5 + 0.05 * 20 steps
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0


def test_distilbert_cosine_term(finetuned_run):
    config, teacher, batch = _batch(finetuned_run)
    keep = batch["attention_mask"].bool()
    a = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])  # cos with b: 1 (same direction), 0
    b = torch.tensor([[[3.0, 0.0], [5.0, 0.0]]])
    assert losses.cosine_loss(a, b, torch.tensor([[True, True]])).item() == pytest.approx(0.5)
    assert losses.cosine_loss(a, b, torch.tensor([[True, False]])).item() == pytest.approx(0.0)
    student = copy.deepcopy(teacher).eval()
    with torch.no_grad():
        student.backbone.encoder.layers[-1].ffn.apply(
            lambda m: m.weight.mul_(1.5) if isinstance(m, torch.nn.Linear) else None)
    layers = config.model.encoder.num_layers
    plain = DistillationObjective(teacher, DistillationSettings("kd"), list(range(1, layers + 1)))
    triple = DistillationObjective(teacher, DistillationSettings("kd", cosine=2.0),
                                   list(range(1, layers + 1)))
    with torch.no_grad():
        cos = losses.cosine_loss(run(student, batch).layers[-1], run(teacher, batch).layers[-1],
                                 keep)
        assert set(triple(student, batch).metrics) == {"kd", "cosine"}
        assert triple(student, batch).loss.item() == pytest.approx(
            plain(student, batch).loss.item() + 2 * cos.item(), abs=1e-6)


def test_layer_drop_skips_layers_in_training_only(finetuned_run):
    config, model, batch = _batch(finetuned_run)
    encoder = model.backbone.encoder
    ids, mask = batch["input_ids"], batch["attention_mask"]
    embedded = model.backbone.embedding(ids, batch["segments"], None)
    model.eval()
    encoder.layer_drop = 0.999999
    with torch.no_grad():  # evaluation: every layer runs whatever the rate
        assert torch.equal(model.backbone(ids, mask, batch["segments"]).hidden,
                           encoder(embedded, mask).hidden)
        full = encoder(embedded, mask).hidden
        for module in model.modules():  # training mode without dropout noise
            module.train()
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
            if isinstance(getattr(module, "dropout", None), float):  # attention dropout
                module.dropout = 0.0
        torch.manual_seed(0)
        skipped = encoder(embedded, mask, return_layers=True)
        assert torch.equal(skipped.hidden, embedded)  # every layer the identity
        encoder.layer_drop = 0.0
        assert torch.allclose(encoder(embedded, mask).hidden, full, atol=1e-6)


def test_compress_layerdrop_end_to_end(finetuned_run, tmp_path, capsys):
    out = tmp_path / "ld"
    assert main(["compress", str(finetuned_run), "--method", "layerdrop", "--set", "epochs=0.25",
                 "--set", "student_layers=1", "--set", "rate=0.5", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert summary["student"]["kept_teacher_layers"] == [1]
    assert [s["stage"] for s in summary["stages"]] == ["layerdrop", "prune"]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(
        summary["student"]["dev"]["accuracy"], abs=1e-9)


def test_several_teachers_average_their_soft_targets(finetuned_run):
    config, teacher, batch = _batch(finetuned_run)
    other = copy.deepcopy(teacher)
    with torch.no_grad():
        other.head.classifier.weight.mul_(-2.0)
    layers = list(range(1, config.model.encoder.num_layers + 1))
    settings = DistillationSettings("kd", temperature=2.0)
    ensemble = DistillationObjective(teacher, settings, layers, more_teachers=[other])
    with torch.no_grad():
        target = ensemble._ensemble(run(teacher, batch).logits, batch)
        expected = (torch.softmax(run(teacher, batch).logits / 2, -1) +
                    torch.softmax(run(other, batch).logits / 2, -1)) / 2
        torch.testing.assert_close(torch.softmax(target / 2, -1), expected)
        twin = DistillationObjective(teacher, settings, layers,
                                     more_teachers=[copy.deepcopy(teacher)])
        alone = DistillationObjective(teacher, settings, layers)
        student = copy.deepcopy(teacher)
        student.head.classifier.weight.mul_(0.5)
        assert twin(student, batch).loss.item() == pytest.approx(alone(student, batch).loss.item(),
                                                                 abs=1e-6)


def test_compress_kd_with_two_teachers(finetuned_run, pretraining_run, tmp_path, capsys):
    out = tmp_path / "mt"
    assert main(["compress", str(finetuned_run), "--method", "kd", "--set", "student_layers=1",
                 "--set", "epochs=0.25", "--set", f"teachers=[{finetuned_run}]",
                 "--out", str(out)]) == 0
    assert json.loads((out / "compression.json").read_text())["settings"]["teachers"] == \
        [str(finetuned_run)]
    capsys.readouterr()
    assert main(["compress", str(finetuned_run), "--method", "pkd", "--set", "student_layers=1",
                 "--set", f"teachers=[{finetuned_run}]", "--out", str(tmp_path / "x")]) == 1
    assert "--set teachers (or --teachers): not a setting of --method pkd" in \
        capsys.readouterr().err
    assert main(["compress", str(finetuned_run), "--method", "kd", "--set", "student_layers=1",
                 "--set", f"teachers=[{pretraining_run}]", "--out", str(tmp_path / "y")]) == 1
    error = capsys.readouterr().err
    assert "not a fine-tuned one" in error and len(error.splitlines()) == 1
