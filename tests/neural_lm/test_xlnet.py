"""XLNet (Yang et al. 2019): two-stream self-attention (§2.3, eqs. 4-5) and the permutation
LM objective with partial prediction (§2.3), on tiny shapes in float64."""

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from lmlab.config import load_config
from lmlab.encoders.transformer import TransformerConfig, TransformerEncoder
from lmlab.errors import ConfigError
from lmlab.objectives.base import IGNORE, EvaluationSettings
from lmlab.objectives.xlnet import XLNetConfig, XLNetObjective, two_stream_masks
from lmlab.presets import preset_path
from lmlab.registry import build_model

V, D = 20, 8
TOKENIZER = SimpleNamespace(num_special=4, mask_id=3, vocab_size=V, cls_id=1, sep_id=2)


def _model(partial_k=6, span=False, norm="post"):
    config = load_config(preset_path("xlnet/tiny"), [
        f"model.embedding.hidden_size={D}", "model.embedding.dropout=0.0",
        "model.encoder.ffn_size=16", "model.encoder.dropout=0.0",
        "model.encoder.attention_dropout=0.0", f"model.encoder.norm={norm}"])
    objective = XLNetObjective(XLNetConfig(partial_k=partial_k, span=span), TOKENIZER, seed=3)
    model = build_model(config.model, vocab_size=V, seed=0, objectives=[objective]).double().eval()
    with torch.no_grad():  # u, v start at zero; make them matter
        for layer in model.encoder.layers:
            layer.attention.content_bias.normal_()
            layer.attention.position_bias.normal_()
    return model, objective


def _ids(length, batch=1, seed=0):
    return torch.randint(4, V, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_two_stream_masks_of_a_four_token_order():
    """(c) order z = (2, 0, 3, 1): rank = (1, 3, 0, 2). Content: rank_j <= rank_i; query:
    rank_j < rank_i (the first of the order, position 2, reads only itself)."""
    content, query = two_stream_masks(torch.tensor([[1, 3, 0, 2]]), torch.ones(1, 4, dtype=torch.bool))
    assert content[0].int().tolist() == [[1, 0, 1, 0],
                                         [1, 1, 1, 1],
                                         [0, 0, 1, 0],
                                         [1, 0, 1, 1]]
    assert query[0].int().tolist() == [[0, 0, 1, 0],
                                       [1, 0, 1, 1],
                                       [0, 0, 1, 0],
                                       [1, 0, 1, 0]]


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_query_stream_never_sees_its_own_content(norm):
    """(a) d g_i / d e(x_j) is exactly zero for every j at or after i in the order (its own
    token included) and non-zero for every j before it."""
    model, objective = _model(partial_k=1, norm=norm)
    ids = _ids(6)
    batch = objective.permute({"input_ids": ids, "step": 5, "example_ids": torch.tensor([7])})
    rank = batch["xlnet_rank"][0]
    x = model.embedding(ids).detach().requires_grad_()  # (1, T, D)
    for i in range(6):
        if rank[i] == 0:
            continue  # the first of the order is never a target
        _, g, _ = model.encoder.two_stream(x, model.heads["xlnet"](x), batch["content_mask"],
                                        batch["query_mask"])
        probe = torch.randn(D, dtype=torch.float64, generator=torch.Generator().manual_seed(i))
        (gradient,) = torch.autograd.grad(g[0, i] @ probe, x)  # not .sum(): LN outputs sum to 0
        for j in range(6):
            seen = gradient[0, j].abs().sum().item()
            assert (seen > 0) == bool(rank[j] < rank[i]), (i, j, seen)


def test_identity_order_is_a_causal_lm():
    """(b) With the identity order and K = 1, XLNet is a causal LM of x_i given x_<i:

    * the content stream equals the Transformer-XL causal encoder (``mask: causal``, the
      same weights) exactly: its mask is the causal one;
    * the loss equals the mean over i = 1..T-1 of CE(head(g_i), x_i), with g_i computed
      from the prefix x_0..x_i alone (nothing after i matters).

    Equality with the clm objective's loss on the same weights is impossible by design:
    clm predicts x_i from h_{i-1}, whose query is the content of x_{i-1} at position i-1;
    XLNet predicts it from g_i, whose query is w at position i (different relative
    distances, a different residual), so the two are different functions of the weights."""
    model, objective = _model(partial_k=1)
    length = 7
    ids = _ids(length, seed=4)
    rank = torch.arange(length)[None]
    content, query = two_stream_masks(rank, torch.ones(1, length, dtype=torch.bool))
    assert objective.target_count(length, length) == length - 1
    labels = ids.clone()
    labels[0, 0] = IGNORE  # the first has nothing to read
    batch = {"input_ids": ids, "content_mask": content, "query_mask": query, "xlnet_labels": labels}
    loss = objective.loss(model, batch).loss
    h, _, _ = objective.streams(model, batch)
    causal = TransformerEncoder(D, TransformerConfig(
        num_layers=2, num_heads=2, ffn_size=16, norm="post", mask="causal", dropout=0.0,
        attention_dropout=0.0, position="xl", layer_norm_eps=1e-12, relative_biases="per_layer",
        attention_bias=False, relative_segments=True)).double().eval()  # as xlnet/tiny
    causal.load_state_dict(model.encoder.state_dict())
    torch.testing.assert_close(h, causal(model.embedding(ids)).hidden, rtol=0, atol=1e-12)
    losses = []
    for i in range(1, length):
        prefix = ids[:, :i + 1]
        c, q = two_stream_masks(torch.arange(i + 1)[None], torch.ones(1, i + 1, dtype=torch.bool))
        _, g, _ = objective.streams(model, {"input_ids": prefix, "content_mask": c, "query_mask": q})
        losses.append(F.cross_entropy(model.lm_head(g[0, i:]), prefix[0, i:]))
    torch.testing.assert_close(loss, torch.stack(losses).mean(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("k, span", [(6, False), (1, False), (6, True), (3, True)])
def test_partial_prediction_predicts_the_last_ceil_n_over_k(k, span):
    """(d) n = 11 predictable tokens between [CLS] and [SEP]: the targets are the last
    ceil(n / K) of the order (ceil(11/6) = 2, K = 1: all 11); [CLS] and [SEP] come first
    and are never targets; ``span``: the targets are contiguous positions."""
    objective = XLNetObjective(XLNetConfig(partial_k=k, span=span), TOKENIZER)
    ids = torch.cat([torch.tensor([[1]]), _ids(11, seed=2), torch.tensor([[2]])], dim=1)  # (1, 13)
    for step in range(5):
        batch = objective.permute({"input_ids": ids, "step": step})
        rank, labels = batch["xlnet_rank"][0], batch["xlnet_labels"][0]
        targets = (labels != IGNORE).nonzero().squeeze(1)
        count = math.ceil(11 / k)
        assert targets.numel() == count
        assert sorted(rank[targets].tolist()) == list(range(13 - count, 13))
        assert rank[0] == 0 and rank[12] == 1  # specials first
        assert torch.equal(labels[targets], ids[0, targets])
        if span:
            assert targets.max() - targets.min() == count - 1


def test_padding_is_last_in_the_order_and_never_read():
    objective = XLNetObjective(XLNetConfig(partial_k=2), TOKENIZER)
    ids = torch.cat([torch.tensor([[1]]), _ids(5), torch.tensor([[2, 0, 0]])], dim=1)  # (1, 9)
    keep = torch.tensor([[1] * 7 + [0, 0]])
    batch = objective.permute({"input_ids": ids, "attention_mask": keep})
    assert batch["xlnet_rank"][0, 7:].tolist() == [9, 9]
    assert not batch["content_mask"][0, :, 7:].any() and not batch["query_mask"][0, :, 7:].any()
    assert (batch["xlnet_labels"][0] != IGNORE).sum() == 3  # ceil(5 / 2)


def test_orders_are_seeded_by_seed_step_and_example():
    """(e) same (seed, step, example id) -> same order, wherever the row sits in the batch;
    another step -> another order; held out (static), the step does not matter. Exact
    resume of the preset: tests/training/test_resume.py (xlnet/tiny)."""
    objective = XLNetObjective(XLNetConfig(), TOKENIZER, seed=11)
    ids = _ids(16, batch=2)
    first = objective.permute({"input_ids": ids, "step": 3, "example_ids": torch.tensor([5, 9])})
    swapped = objective.permute({"input_ids": ids.flip(0), "step": 3,
                                 "example_ids": torch.tensor([9, 5])})
    assert torch.equal(first["xlnet_rank"], swapped["xlnet_rank"].flip(0))
    other = objective.permute({"input_ids": ids, "step": 4, "example_ids": torch.tensor([5, 9])})
    assert not torch.equal(first["xlnet_rank"], other["xlnet_rank"])
    static = [objective.permute({"input_ids": ids, "step": s, "example_ids": torch.tensor([5, 9])},
                                static=True)["xlnet_rank"] for s in (3, 4)]
    assert torch.equal(*static)
    again = XLNetObjective(XLNetConfig(), TOKENIZER, seed=11).permute(
        {"input_ids": ids, "step": 3, "example_ids": torch.tensor([5, 9])})
    assert torch.equal(first["xlnet_rank"], again["xlnet_rank"])


def test_fine_tuning_forward_is_bidirectional_with_relative_positions():
    """Without objective masks (fine-tuning) every position reads every other: the output
    at position 0 depends on the last token."""
    model, _ = _model()
    ids = _ids(5)
    changed = ids.clone()
    changed[0, 4] = (ids[0, 4] + 1 - 4) % (V - 4) + 4
    assert not torch.allclose(model(ids).hidden[0, 0], model(changed).hidden[0, 0])


@pytest.mark.parametrize("overrides, key", [
    (["model.encoder.mask=bidirectional"], "model.encoder.mask"),
    (["model.encoder.mask=causal"], "model.encoder.mask"),
    (["model.encoder.position=absolute"], "model.encoder.position"),
    (["model.encoder.memory_length=8"], "data.batching"),  # a memory reads a stream
    (["model.encoder.relative_segments=true", "model.encoder.position=absolute"],
     "model.encoder.relative_segments"),
    (["data.batching=stream"], "data.batching"),
    (["objectives=[{name: xlnet, partial_k: 0}]"], "partial_k"),
    (["model.encoder={name: lstm}"], "model.encoder.name"),
])
def test_config_errors_are_one_line_and_name_the_key(overrides, key):
    """(f)"""
    with pytest.raises(ConfigError) as error:
        load_config(preset_path("xlnet/tiny"), overrides)
    message = str(error.value)
    assert "\n" not in message and key in message, message


def test_last_pooling_reads_the_last_kept_position():
    """XLNet's classifier summary (HF summary_type "last"): right or left padding."""
    from lmlab.heads.sequence_classification import pool
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float64).view(2, 4, 1)
    keep = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]])
    assert pool(hidden, keep, "last").squeeze(1).tolist() == [2.0, 7.0]


def test_finetune_an_xlnet_run_with_last_pooling(tiny_corpus, tmp_path, capsys):
    """A two-step xlnet/tiny run fine-tuned on a few glue/sst2 examples (``--pooling last``)."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
    from helpers import tiny_config

    from lmlab.cli import main
    from lmlab.training.trainer import train

    run = tmp_path / "xlnet"
    train(tiny_config("xlnet/tiny", tiny_corpus, steps=2, every=2), run, log=lambda *_: None)
    out = tmp_path / "sst2"
    assert main(["finetune", str(run), "--task", "glue/sst2", "--out", str(out), "--pooling",
                 "last", "--max-train-examples", "16", "--epochs", "1", "--batch-size", "8",
                 "--max-seq-len", "24", "--max-unk-rate", "1", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["metric"] == "accuracy"


def test_two_stream_reference_path_equals_sdpa():
    """DESIGN §6.9: the explicit softmax path and SDPA give the same two streams."""
    model, objective = _model()
    batch = objective.permute({"input_ids": _ids(9, batch=2), "step": 1})
    fast = objective.streams(model, batch)
    for layer in model.encoder.layers:
        layer.attention.use_reference = True
    slow = objective.streams(model, batch)
    for a, b in zip(fast[:2], slow[:2]):  # h, g (no memory)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_memory_carries_the_previous_segment_and_resumes_exactly():
    """§2.5 recurrence: with memory_length the loss of a stream batch reads the previous
    segment's content stream (reset at the stream's start), and the carried memory is
    trainer state: restored into a fresh objective, the next loss is the same."""
    config = load_config(preset_path("xlnet/tiny"), [
        f"model.embedding.hidden_size={D}", "model.embedding.dropout=0.0",
        "model.encoder.ffn_size=16", "model.encoder.dropout=0.0",
        "model.encoder.attention_dropout=0.0", "model.encoder.memory_length=6",
        "data.batching=stream"])
    objective = XLNetObjective(XLNetConfig(), TOKENIZER, seed=3)
    model = build_model(config.model, vocab_size=V, seed=0, objectives=[objective]).double().eval()
    assert model.recurrent
    first = objective.corrupt({"input_ids": _ids(5, batch=2, seed=1), "step": 0, "reset_memory": True})
    second = objective.corrupt({"input_ids": _ids(5, batch=2, seed=2), "step": 1, "reset_memory": False})
    objective.loss(model, first)
    assert [m.shape for m in objective.memory] == [(2, 5, D)] * 2  # both layers' inputs
    saved = {key: value.clone() for key, value in objective.state_dict().items()}
    with_memory = objective.loss(model, second).loss
    assert objective.memory[0].shape == (2, 6, D)  # the last M = 6 of 5 + 5
    fresh = XLNetObjective(XLNetConfig(), TOKENIZER, seed=3)
    fresh.load_state_dict(saved)
    torch.testing.assert_close(fresh.loss(model, second).loss, with_memory, rtol=0, atol=0)
    restarted = objective.loss(model, {**second, "reset_memory": True}).loss
    assert not torch.isclose(restarted, with_memory)  # the memory is read


def test_held_out_with_a_memory_reads_one_stream():
    config = load_config(preset_path("xlnet/tiny"), [
        f"model.embedding.hidden_size={D}", "model.encoder.ffn_size=16",
        "model.encoder.memory_length=4", "data.batching=stream"])
    objective = XLNetObjective(XLNetConfig(partial_k=2), TOKENIZER, seed=3)
    model = build_model(config.model, vocab_size=V, seed=0, objectives=[objective]).eval()
    ids = _ids(25, seed=5)[0].numpy()
    batches = list(objective.evaluation_batches(model, ids, EvaluationSettings(seq_len=8)))
    assert [tuple(b["input_ids"].shape) for b in batches] == [(1, 8)] * 3  # 25 tokens, windows of 8
    assert [b["reset_memory"] for b in batches] == [True, False, False]
    assert [int(b["example_ids"]) for b in batches] == [0, 1, 2]  # a fixed order per window
    with torch.no_grad():
        totals = [objective.evaluate(model, batch) for batch in batches]
    assert [t["tokens"] for t in totals] == [4] * 3  # ceil(8 / 2) targets per window
    assert [m.shape[1] for m in objective.eval_memory] == [4, 4]


def test_two_segment_pairs_reach_the_relative_segment_encoding(tiny_corpus):
    """§3.1 + §2.5: with data.batching: pairs XLNet reads [CLS] A [SEP] B [SEP] with
    segment ids 0/1 (B next or from elsewhere, no pair label), and the segments change the
    loss through the attention's segment term (the model has no segment table)."""
    import sys
    from pathlib import Path

    from lmlab.data.lm_data import prepare_tokenizer
    from lmlab.training.parts import build_parts
    sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
    from helpers import tiny_overrides

    config = load_config(preset_path("xlnet/tiny"), tiny_overrides("xlnet/tiny", tiny_corpus, 2, 2)
                         + ["data.batching=pairs", "model.embedding.dropout=0.0",
                            "model.encoder.dropout=0.0", "model.encoder.attention_dropout=0.0"])
    assert config.model.embedding.num_segments == 0
    parts = build_parts(config, prepare_tokenizer(config.data))
    batch = parts.objectives[0].corrupt(parts.batches.batch(0))
    assert batch["segments"].max() == 1 and (batch["input_ids"][:, 0] == parts.tokenizer.cls_id).all()
    with torch.no_grad():
        generator = torch.Generator().manual_seed(0)
        for layer in parts.model.encoder.layers:  # s+/s- and b start near 0: make them matter
            layer.attention.segment_vectors.normal_(0.0, 1.0, generator=generator)
            layer.attention.segment_bias.normal_(0.0, 1.0, generator=generator)
        objective, model = parts.objectives[0], parts.model.eval()
        h, g, _ = objective.streams(model, batch)
        h0, g0, _ = objective.streams(model, {**batch, "segments": torch.zeros_like(batch["segments"])})
        assert objective.loss(model, batch).loss.isfinite()
    assert (h - h0).abs().max() > 1e-2 and (g - g0).abs().max() > 1e-2
