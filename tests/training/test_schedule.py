"""Learning-rate schedules: exact factors per step."""

from types import SimpleNamespace

import pytest

from lmlab.training.optim import lr_factor


def _train(**overrides):
    base = dict(warmup_steps=0, schedule="step", decay_rate=0.5, decay_start_epoch=4,
                decay_every_epochs=1.0, min_lr_ratio=0.0)
    return SimpleNamespace(**{**base, **overrides})


def test_step_decay_is_zaremba_schedule():
    """Zaremba et al. (2014) ptb_word_lm: lr * 0.5 ** max(i + 1 - max_epoch, 0) for the
    0-based epoch i, max_epoch = 4: four epochs at the full rate, then halved each epoch."""
    steps_per_epoch = 10
    factors = [lr_factor(epoch * steps_per_epoch + 3, _train(), 130, steps_per_epoch)
               for epoch in range(13)]
    assert factors == [0.5 ** max(i + 1 - 4, 0) for i in range(13)]
    assert factors[:6] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25]


def test_step_decay_every_two_epochs():
    factors = [lr_factor(epoch * 5, _train(decay_start_epoch=2, decay_every_epochs=2), 50, 5)
               for epoch in range(7)]
    assert factors == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]


@pytest.mark.parametrize("schedule,expected", [("linear", 0.5), ("cosine", 0.5),
                                               ("constant", 1.0)])
def test_warmup_then_decay(schedule, expected):
    train = _train(schedule=schedule, warmup_steps=10)
    assert lr_factor(4, train, 110, 1) == pytest.approx(0.5)  # (4 + 1) / 10
    assert lr_factor(60, train, 110, 1) == pytest.approx(expected)  # half-way after warmup
