"""Staged objectives: which of a run's objectives train at a given step (``train.stages``).

ERNIE 2.0's sequential (continual) multi-task learning (Sun et al. 2020, §3.2 and
Fig. 3): training runs in stages; stage i starts at its ``start_step`` and *adds* its
tasks, and every task of the earlier stages stays in the mix, so the model keeps what it
learned. lmlab's loop reads the stages generically: an objective is active from the start
of the stage that names it; an objective that no stage names is active from step 0. An
inactive objective neither corrupts the batch nor adds to the loss.

Example (3 stages)::

    train:
      stages:
        - {start_step: 0, objectives: [mlm]}
        - {start_step: 100, objectives: [cap]}
        - {start_step: 200, objectives: [tdr, sd]}

gives [mlm] on steps 0-99, [mlm, cap] on 100-199 and all four from step 200. The stage
config (:class:`lmlab.config.StageConfig`) is checked against the run's objectives when
the config loads (``config.check_stages``).
"""

from __future__ import annotations


def start_steps(stages: list, objective_names: list[str]) -> list[int]:
    """The step from which each objective (in run order) is active."""
    first = {name: stage.start_step for stage in stages for name in stage.objectives}
    return [first.get(name, 0) for name in objective_names]


def active(stages: list, objective_names: list[str], step: int) -> list[bool]:
    """(len(objectives),) whether each objective trains at ``step``."""
    return [step >= start for start in start_steps(stages, objective_names)]
