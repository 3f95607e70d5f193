"""MLM + NSP share one forward pass, and the sum equals the separate losses."""

import torch

from lmlab.config import load_config
from lmlab.presets import preset_path
from lmlab.registry import build_model, build_objectives
from lmlab.training.objective_step import combined_loss, corrupted


class _Tok:
    mask_id, num_special, vocab_size, cls_id, sep_id, pad_id = 5, 6, 60, 3, 4, 0


def test_bert_objectives_share_one_forward_and_add_up():
    config = load_config(preset_path("bert/tiny"))
    objectives = build_objectives(config.objectives, _Tok())
    model = build_model(config.model, vocab_size=60, seed=0, objectives=objectives).eval()
    assert set(model.heads) == {"nsp"}
    ids = torch.randint(6, 60, (4, 16))
    ids[:, 0], ids[:, 7], ids[:, 15] = 3, 4, 4
    batch = {"input_ids": ids, "segments": (torch.arange(16) > 7).long().expand(4, 16),
             "attention_mask": torch.ones(4, 16, dtype=torch.long),
             "pair_labels": torch.tensor([0, 1, 1, 0]), "example_ids": torch.arange(4), "step": 0}
    calls = []
    model.encoder.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        total, metrics = combined_loss(model, objectives, corrupted(objectives, batch))
        assert len(calls) == 1
        mlm, nsp = objectives
        # NSP reads the same corrupted pair as MLM (BERT's pre-training loss).
        # Each loss from its own forward of the same (deterministically) corrupted pair.
        separate = (mlm.loss(model, mlm.corrupt(batch)).loss
                    + nsp.loss(model, mlm.corrupt(batch)).loss)
        assert len(calls) == 3
    torch.testing.assert_close(total, separate)
    assert {"mlm_loss", "nsp_loss", "nsp_accuracy"} <= set(metrics)
