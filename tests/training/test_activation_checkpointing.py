"""train.activation_checkpointing recomputes transformer layers in backward: the same
losses and gradients (dropout included: its masks are replayed), less memory."""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from helpers import tiny_config

from lmlab.training.objective_step import combined_loss, corrupted
from lmlab.training.step_cost import training_parts
from lmlab.training.trainer import train


def _loss_and_gradients(parts, recompute: bool):
    for module in parts.model.modules():
        if hasattr(module, "checkpoint_activations"):
            module.checkpoint_activations = recompute
    parts.model.train()
    parts.model.zero_grad(set_to_none=True)
    torch.manual_seed(7)  # the same dropout stream for both
    loss, _ = combined_loss(parts.model, parts.objectives,
                            corrupted(parts.objectives, parts.batches.batch(0)))
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in parts.model.named_parameters()
                           if p.grad is not None}


def test_recomputed_layers_give_the_same_loss_and_gradients_with_dropout(tiny_corpus):
    parts = training_parts(tiny_config("bert/tiny", tiny_corpus))
    assert any(getattr(m, "checkpoint_activations", None) is False for m in parts.model.modules())
    stored_loss, stored = _loss_and_gradients(parts, recompute=False)
    recomputed_loss, recomputed = _loss_and_gradients(parts, recompute=True)
    assert torch.equal(stored_loss, recomputed_loss)
    assert stored.keys() == recomputed.keys()
    for name in stored:
        torch.testing.assert_close(recomputed[name], stored[name], rtol=0, atol=1e-7, msg=name)


def test_recomputation_keeps_fewer_activations(tiny_corpus):
    parts = training_parts(tiny_config("gpt/tiny", tiny_corpus))
    saved = {}
    for recompute in (False, True):
        for module in parts.model.modules():
            if hasattr(module, "checkpoint_activations"):
                module.checkpoint_activations = recompute
        count = [0]

        def pack(tensor):
            count[0] += tensor.numel()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            combined_loss(parts.model, parts.objectives,
                          corrupted(parts.objectives, parts.batches.batch(0)))
        saved[recompute] = count[0]
    assert saved[True] < saved[False] / 2


def test_a_run_with_the_option_trains_to_the_same_weights(tiny_corpus, tmp_path):
    for name, recompute in (("plain", False), ("recomputed", True)):
        config = tiny_config("gpt/tiny", tiny_corpus, steps=4, every=4)
        config.train.activation_checkpointing = recompute
        train(config, tmp_path / name, log=lambda *_: None)
    plain = load_file(str(tmp_path / "plain" / "checkpoint" / "model.safetensors"))
    recomputed = load_file(str(tmp_path / "recomputed" / "checkpoint" / "model.safetensors"))
    for key in plain:
        torch.testing.assert_close(recomputed[key], plain[key], rtol=0, atol=1e-6, msg=key)
