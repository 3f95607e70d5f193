"""BERT-of-Theseus (Xu et al. 2020, "BERT-of-Theseus: Compressing BERT by Progressive Module
Replacing"): the teacher's N layers are split into M consecutive groups (predecessor
modules prd_i); each is paired with one student layer (successor scc_i). In the replacing
stage every training step draws r_i ~ Bernoulli(p) per module (eq. 1) and runs

    y_{i+1} = r_i · scc_i(y_i) + (1 − r_i) · prd_i(y_i)          (eq. 2)

through the frozen predecessor's embedding and output layer (§3.1: only the successors
learn, from the task loss alone, no distillation term). The replacement rate follows the
curriculum p_d = min(1, θ·t + b) (eq. 5; θ = 0 is the constant rate). The successor
fine-tuning stage then trains the student alone (the run's ordinary head loss).
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.errors import ConfigError
from lmlab.objectives.base import LossOutput


def module_groups(teacher_layers: int, student_layers: int) -> list[list[int]]:
    """The teacher layers (1..N) of each predecessor module: M groups of N/M in order."""
    if teacher_layers % student_layers:
        raise ConfigError(f"--set student_layers={student_layers}: Theseus replaces equal "
                          f"groups of teacher layers; {student_layers} does not divide the "
                          f"teacher's {teacher_layers}")
    size = teacher_layers // student_layers
    return [list(range(1 + g * size, 1 + (g + 1) * size)) for g in range(student_layers)]


def hybrid_hidden(teacher: nn.Module, student: nn.Module, batch: dict, groups: list[list[int]],
                  replaced: list[bool]) -> torch.Tensor:
    """Eq. 2 with the draws ``replaced`` (one per module): the teacher's embedding, then per
    module the student layer (replaced) or the teacher's group. (B, T, D)."""
    backbone = teacher.backbone
    x = backbone.embedding(batch["input_ids"], batch["segments"], None)  # (B, T, D)
    mask = batch["attention_mask"].bool()[:, None, None, :]  # (B, 1, 1, T)
    for index, (group, swap) in enumerate(zip(groups, replaced, strict=True)):
        layers = ([student.backbone.encoder.layers[index]] if swap
                  else [backbone.encoder.layers[i - 1] for i in group])
        for layer in layers:
            x = layer(x, mask, False)
    final = backbone.encoder.final_norm
    return x if final is None else final(x)


class TheseusObjective:
    """The replacing stage's loss; ``state_dict`` carries the step count (resume exact)."""

    def __init__(self, teacher: nn.Module, groups: list[list[int]], rate: float,
                 increase: float = 0.0, seed: int = 0):
        self.teacher = teacher.eval()
        for parameter in self.teacher.parameters():
            parameter.requires_grad_(False)
        self.groups, self.rate, self.increase, self.seed = groups, rate, increase, seed
        self.steps = 0

    def replacing_rate(self) -> float:
        """p_d = min(1, θ·t + b) at the current step t (eq. 5)."""
        return min(1.0, self.increase * self.steps + self.rate)

    def __call__(self, student: nn.Module, batch: dict) -> LossOutput:
        rate = self.replacing_rate()
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.steps)
        replaced = (torch.rand(len(self.groups), generator=generator) < rate).tolist()
        self.steps += 1
        self.teacher.eval()  # the predecessor's dropout stays off
        logits = self.teacher.head(hybrid_hidden(self.teacher, student, batch, self.groups,
                                                 replaced), batch)
        loss = self.teacher.head.loss(logits, batch)
        if not loss.requires_grad:  # every module drawn from the teacher: nothing learns
            loss = loss.detach().requires_grad_()
        return LossOutput(loss, {"replacing_rate": rate, "replaced": sum(replaced)})

    def state_dict(self) -> dict:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state.get("steps", 0))
