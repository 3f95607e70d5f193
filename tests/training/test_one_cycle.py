"""The one-cycle schedule (Smith 2018; MultiFiT's cosine variant): exact factors per step."""

import math

import pytest
import torch

from lmlab.config import TrainConfig, from_dict
from lmlab.errors import ConfigError
from lmlab.training.optim import build_scheduler, lr_factor


def test_one_cycle_curve_exact():
    """10 steps, rise 0.3 -> 3 rising steps from 0.04 to 1 (cosine), then 7 falling to 0.1."""
    train = TrainConfig(schedule="one_cycle", cycle_rise_fraction=0.3, cycle_start_ratio=0.04,
                        min_lr_ratio=0.1, max_steps=10)
    factors = [lr_factor(step, train, 10, 10) for step in range(11)]
    rise = [0.04 + 0.96 * (1 - math.cos(math.pi * s / 3)) / 2 for s in range(3)]
    fall = [0.1 + 0.9 * (1 + math.cos(math.pi * s / 7)) / 2 for s in range(8)]
    assert factors == pytest.approx(rise + fall, abs=1e-12)
    assert factors[0] == pytest.approx(0.04) and factors[3] == 1.0
    assert factors[10] == pytest.approx(0.1)
    assert factors[1] == pytest.approx(0.28)  # 0.04 + 0.96 * (1 - cos(pi/3)) / 2 = 0.04 + 0.24


def test_one_cycle_drives_the_optimizer():
    train = TrainConfig(lr=2.0, schedule="one_cycle", cycle_rise_fraction=0.5,
                        cycle_start_ratio=0.5, max_steps=4)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=train.lr)
    scheduler = build_scheduler(optimizer, train, 4, 4)
    rates = []
    for _ in range(5):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    # rise over 2 steps: 2*(0.5, 0.75); fall over 2 steps to 0: 2*(1, 0.5, 0)
    assert rates == pytest.approx([1.0, 1.5, 2.0, 1.0, 0.0], abs=1e-12)


def test_one_cycle_with_warmup_is_one_line_error():
    with pytest.raises(ConfigError, match=r"train.warmup_steps: .*one_cycle"):
        from_dict(TrainConfig, {"schedule": "one_cycle", "warmup_steps": 10}, "train")
