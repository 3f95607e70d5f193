"""FLOPs of one multimodal pre-training step, so that the Table 8 suite can give every model
the same compute (as ``lmlab compare`` does for the text objectives with
:mod:`lmlab.training.step_cost`): forward + backward of every objective on batch 0, counted
by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix products and attention, 2 FLOPs
per multiply-add; element-wise work, IPOT's plan (no gradient, but counted: its matrix
products run), corruption and the optimizer update are not all counted alike — the same
rules for every model). Attention runs through the reference path while counting.
"""

from __future__ import annotations

import copy

import torch

from lmlab.multimodal.runs import pretraining_job
from lmlab.training.step_cost import _addmm_inplace_flops, _reference_attention


def pretrain_step_flops(config) -> dict:
    """{flops_per_step, params} of ``config``'s pre-training (a copy; ``config`` untouched)."""
    from torch.utils.flop_counter import FlopCounterMode

    job = pretraining_job(copy.deepcopy(config))
    model = job.model
    model.train()
    extra = {torch.ops.aten.addmm_: _addmm_inplace_flops}
    with _reference_attention(model), \
            FlopCounterMode(display=False, custom_mapping=extra) as counter:
        job.loss(job.batch(0)).loss.backward()
    return {"flops_per_step": int(counter.get_total_flops()),
            "params": sum(p.numel() for p in model.backbone.parameters())}
