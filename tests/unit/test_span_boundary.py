"""SpanBERT's span-boundary objective (lmlab.objectives.span_boundary)."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmlab.config import load_config
from lmlab.errors import ConfigError
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective
from lmlab.objectives.span_boundary import (SpanBoundaryConfig, SpanBoundaryHead,
                                            SpanBoundaryObjective, span_targets)
from lmlab.presets import preset_path

# Row 0: [CLS] a [s0 s0 s0] b [s1] [SEP]; row 1: [CLS] [s0 s0] a b c d [SEP].
UNITS = torch.tensor([[-1, -1, 0, 0, 0, -1, 1, -1],
                      [-1, 0, 0, -1, -1, -1, -1, -1]])


def test_span_targets_name_the_boundaries_and_relative_positions():
    rows, positions, left, right, relative = span_targets(UNITS)
    assert rows.tolist() == [0, 0, 0, 0, 1, 1]
    assert positions.tolist() == [2, 3, 4, 6, 1, 2]
    assert left.tolist() == [1, 1, 1, 5, 0, 0]  # x_{s-1}
    assert right.tolist() == [5, 5, 5, 7, 3, 3]  # x_{e+1}
    assert relative.tolist() == [0, 1, 2, 0, 0, 1]  # i - s (p_{i-s+1}, 0-based)


def _head_and_model(vocab=11, hidden=8):
    torch.manual_seed(0)
    tokens = nn.Embedding(vocab, hidden)
    head = SpanBoundaryHead(hidden, tokens, max_relative_positions=4)
    return head, SimpleNamespace(heads={"sbo": head})


def test_head_output_shape_and_tied_decoder():
    head, _ = _head_and_model()
    left, right = torch.randn(5, 8), torch.randn(5, 8)
    assert head(left, right, torch.tensor([0, 1, 2, 3, 9])).shape == (5, 11)  # 9 clamps to 3
    assert head.decoder.weight.shape == (11, 8)


def test_loss_uses_exactly_the_span_tokens_and_their_boundaries():
    head, model = _head_and_model()
    ids = torch.randint(6, 11, (2, 8), generator=torch.Generator().manual_seed(1))
    labels = torch.where(UNITS >= 0, ids, torch.full_like(ids, -100))
    hidden = torch.randn(2, 8, 8, requires_grad=True)
    batch = {"mlm_units": UNITS, "mlm_labels": labels,
             "encoder_output": SimpleNamespace(hidden=hidden)}  # the shared forward pass
    loss = SpanBoundaryObjective(SpanBoundaryConfig()).loss(model, batch).loss
    # The hand-written eq. of §3.2 over the six span tokens.
    left = hidden[[0, 0, 0, 0, 1, 1], [1, 1, 1, 5, 0, 0]]
    right = hidden[[0, 0, 0, 0, 1, 1], [5, 5, 5, 7, 3, 3]]
    expected = F.cross_entropy(head(left, right, torch.tensor([0, 1, 2, 0, 0, 1])),
                               ids[[0, 0, 0, 0, 1, 1], [2, 3, 4, 6, 1, 2]])
    assert torch.allclose(loss, expected, atol=1e-6)
    loss.backward()
    touched = hidden.grad.abs().sum(-1) > 0  # (B, T): which encoder outputs feed the loss
    assert touched.nonzero().tolist() == [[0, 1], [0, 5], [0, 7], [1, 0], [1, 3]]


def test_mlm_exposes_the_spans_it_chose():
    tokenizer = SimpleNamespace(mask_id=5, num_special=6, vocab_size=100, kind="word")
    objective = MaskedLMObjective(MaskedLMConfig(unit="span"), tokenizer)
    ids = torch.randint(6, 100, (3, 40), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, -1] = 3, 4  # [CLS] ... [SEP]
    batch = objective.corrupt({"input_ids": ids, "step": 0})
    chosen = batch["mlm_labels"] != -100
    assert torch.equal(chosen, batch["mlm_units"] >= 0)
    for row in range(3):  # every unit is one contiguous span inside [CLS] … [SEP]
        for unit in batch["mlm_units"][row].unique().tolist():
            if unit < 0:
                continue
            where = (batch["mlm_units"][row] == unit).nonzero().squeeze(1)
            assert where.tolist() == list(range(int(where[0]), int(where[-1]) + 1))
            assert where[0] >= 1 and where[-1] <= 38


def test_sbo_needs_span_masking():
    with pytest.raises(ConfigError, match="sbo predicts the spans"):
        load_config(preset_path("spanbert/tiny"), ["objectives.0.unit=token"])
