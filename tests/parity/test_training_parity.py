"""Training parity with HF transformers: from the same weights, lmlab's MLM training step
(objective corruption -> encoder -> tied MLM head -> loss -> backward -> clipping -> AdamW
with BERT's decay groups) follows HF ``BertForMaskedLM`` trained with ``torch.optim.AdamW``
step for step. The forward parity of ``test_hf_parity`` cannot see a wrong gradient, a
missing weight tie or a parameter the optimizer skips; this can."""

from types import SimpleNamespace

import pytest
import torch

from lmlab.config import load_config
from lmlab.interop.hf import bert_to_lmlab
from lmlab.objectives.mlm import IGNORE, MaskedLMConfig, MaskedLMObjective
from lmlab.presets import preset_path
from lmlab.training.objective_step import combined_loss
from lmlab.training.optim import build_optimizer

from test_hf_parity import _lmlab_model_from_hf

transformers = pytest.importorskip("transformers")

VOCAB, STEPS = 500, 12


def _reference_optimizer(model, train):
    """HF Trainer's AdamW groups (no decay on biases and LayerNorm weights), unfused."""
    def exempt(name):
        return name.endswith("bias") or "LayerNorm" in name

    named = list(model.named_parameters())
    decay = [parameter for name, parameter in named if not exempt(name)]
    rest = [parameter for name, parameter in named if exempt(name)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": train.weight_decay},
                              {"params": rest, "weight_decay": 0.0}],
                             lr=train.lr, betas=tuple(train.betas), eps=train.eps)


def test_bert_mlm_training_follows_hf_for_twelve_steps():
    preset = load_config(preset_path("bert/tiny"))
    train = preset.train
    hf_config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=preset.model.embedding.hidden_size,
        num_hidden_layers=preset.model.encoder.num_layers,
        num_attention_heads=preset.model.encoder.num_heads,
        intermediate_size=preset.model.encoder.ffn_size, max_position_embeddings=512,
        layer_norm_eps=preset.model.encoder.layer_norm_eps,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # deterministic steps
    torch.manual_seed(0)
    reference = transformers.BertForMaskedLM(hf_config).train()
    ours = _lmlab_model_from_hf(hf_config, reference.state_dict(), bert_to_lmlab).train()
    mlm = MaskedLMConfig(mask_rate=0.15, masking="dynamic")
    objective = MaskedLMObjective(mlm, SimpleNamespace(mask_id=4, num_special=5,
                                                      vocab_size=VOCAB))
    our_optimizer = build_optimizer(ours, train)
    reference_optimizer = _reference_optimizer(reference, train)

    generator = torch.Generator().manual_seed(1)
    ours_losses, reference_losses = [], []
    for step in range(STEPS):
        ids = torch.randint(5, VOCAB, (4, 32), generator=generator)  # (B, T)
        mask = torch.ones_like(ids)
        mask[2, 24:] = 0  # one padded row
        batch = {"input_ids": ids, "attention_mask": mask, "step": step,
                 "segments": torch.zeros_like(ids)}
        masked = objective.corrupt(batch)
        assert (masked["mlm_labels"] != IGNORE).sum() > 0

        our_optimizer.zero_grad(set_to_none=True)
        loss, _ = combined_loss(ours, [objective], masked)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), train.grad_clip)
        our_optimizer.step()

        reference_optimizer.zero_grad(set_to_none=True)
        reference_loss = reference(masked["input_ids"], attention_mask=mask,
                                   token_type_ids=batch["segments"],
                                   labels=masked["mlm_labels"]).loss
        reference_loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), train.grad_clip)
        reference_optimizer.step()
        ours_losses.append(loss.item())
        reference_losses.append(reference_loss.item())

    # lr 1e-3 moves the loss well away from its start, so a wrong step would show.
    assert reference_losses[-1] < reference_losses[0] - 0.05
    torch.testing.assert_close(torch.tensor(ours_losses), torch.tensor(reference_losses),
                               atol=1e-4, rtol=0)
    # And the weights after the last step are the same tensors.
    expected = bert_to_lmlab(reference.state_dict(), hf_config.num_hidden_layers)
    got = ours.state_dict()
    for name, tensor in expected.items():
        torch.testing.assert_close(got[name], tensor, atol=1e-4, rtol=0, msg=name)
