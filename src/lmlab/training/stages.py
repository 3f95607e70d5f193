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

gives [mlm] on steps 0-99, [mlm, cap] on 100-199 and all four from step 200.
``start_fraction`` (0, 0.25, 0.5, ...) places the stages at fractions of the run's total
steps instead, so a run sized by a FLOPs budget keeps its schedule's shape. The stage
config (:class:`lmlab.config.StageConfig`) is checked against the run's objectives when
the config loads (``config.check_stages``).
"""

from __future__ import annotations


def start_steps(stages: list, objective_names: list[str], total_steps: int = 0) -> list[int]:
    """The step from which each objective (in run order) is active; a stage given by
    ``start_fraction`` starts at ``round(start_fraction * total_steps)``."""
    first = {name: stage.start_step or round(stage.start_fraction * total_steps)
             for stage in stages for name in stage.objectives}
    return [first.get(name, 0) for name in objective_names]


def active(stages: list, objective_names: list[str], step: int,
           total_steps: int = 0) -> list[bool]:
    """(len(objectives),) whether each objective trains at ``step``."""
    return [step >= start for start in start_steps(stages, objective_names, total_steps)]
