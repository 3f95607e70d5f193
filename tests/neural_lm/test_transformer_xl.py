"""Transformer-XL (Dai et al. 2019): relative attention (§3.3) and segment memory (§3.2),
on tiny shapes in float64, plus the transformer_xl/tiny preset's smoke run and resume."""

import math
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmlab.config import load_config
from lmlab.embeddings.token_embedding import sinusoidal_table
from lmlab.encoders.transformer import TransformerConfig, TransformerEncoder
from lmlab.errors import ConfigError
from lmlab.layers.decoder_attention import KeyValueCache
from lmlab.layers.relative_attention import RelativeMultiHeadAttention
from lmlab.presets import preset_path
from lmlab.recipes.evaluate import perplexity_of_run
from lmlab.training import checkpoint as ckpt
from lmlab.training.trainer import train

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_overrides  # noqa: E402

D, H = 8, 2


def _encoder(memory_length=0, num_layers=2, norm="pre", seed=0) -> TransformerEncoder:
    torch.manual_seed(seed)
    config = TransformerConfig(num_layers=num_layers, num_heads=H, ffn_size=16, norm=norm,
                               dropout=0.0, attention_dropout=0.0, position="xl",
                               memory_length=memory_length)
    encoder = TransformerEncoder(D, config).double().eval()
    for attention in (layer.attention for layer in encoder.layers):
        with torch.no_grad():  # u, v start at zero; make them matter
            attention.content_bias.normal_()
            attention.position_bias.normal_()
    return encoder


def _x(length, batch=2, seed=1):
    return torch.randn(batch, length, D, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(seed))


def _paper_attention(attention: RelativeMultiHeadAttention, x, memory):
    """The §3.3 logit term by term, one (i, j) at a time: (q_i+u)·k_j + (q_i+v)·W_R R_{i-j}."""
    context = torch.cat([memory, x], dim=1)  # (B, M+T, D)
    weight, bias = attention.qkv.weight, attention.qkv.bias
    q = (x @ weight[:D].T + bias[:D]).view(*x.shape[:2], H, D // H)
    k = (context @ weight[D:2 * D].T + bias[D:2 * D]).view(*context.shape[:2], H, D // H)
    v = (context @ weight[2 * D:].T + bias[2 * D:]).view(*context.shape[:2], H, D // H)
    table = sinusoidal_table(context.shape[1], D).double() @ attention.position.weight.T
    table = table.view(-1, H, D // H)  # W_R R_distance, (K, H, d)
    u, w = attention.content_bias, attention.position_bias
    batch, length, past = x.shape[0], x.shape[1], memory.shape[1]
    out = torch.zeros(batch, length, H, D // H, dtype=x.dtype)
    for b in range(batch):
        for h in range(H):
            for i in range(length):
                visible = range(past + i + 1)  # causal: the memory and keys up to i
                scores = torch.stack([((q[b, i, h] + u[h]) @ k[b, j, h]
                                       + (q[b, i, h] + w[h]) @ table[past + i - j, h])
                                      for j in visible]) / math.sqrt(D // H)
                out[b, i, h] = torch.softmax(scores, 0) @ v[b, :len(visible), h]
    return attention.out(out.reshape(batch, length, D))


@pytest.mark.parametrize("past", [0, 3])
@pytest.mark.parametrize("use_reference", [False, True])
def test_attention_is_the_papers_equation(past, use_reference):
    attention = _encoder().layers[0].attention
    attention.use_reference = use_reference
    x, memory = _x(4), _x(past, seed=2)
    got = attention(x, None, True, memory=memory, sinusoids=sinusoidal_table(past + 4, D))
    assert torch.allclose(got, _paper_attention(attention, x, memory), atol=1e-12)


def test_no_memory_is_causal_prefix_by_prefix():
    """(1) M = 0: position t over the whole sequence equals the prefix 0..t run alone."""
    encoder = _encoder(memory_length=0)
    assert not encoder.recurrent
    x = _x(6)
    whole = encoder(x)
    assert whole.memory is None
    for t in range(1, 7):
        assert torch.allclose(encoder(x[:, :t]).hidden, whole.hidden[:, :t], atol=1e-12)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_segment_with_memory_equals_the_whole_run(norm):
    """(2) segment 2 read with segment 1's memory (M >= its length) = the last positions of
    segments 1+2 run at once."""
    x = _x(9)
    first, second = x[:, :5], x[:, 5:]
    whole = _encoder(memory_length=0, norm=norm)(x).hidden  # (B, 9, D)
    encoder = _encoder(memory_length=6, norm=norm)
    assert encoder.recurrent
    one = encoder(first)
    assert [m.shape for m in one.memory] == [(2, 5, D)] * 2
    two = encoder(second, memory=one.memory)
    assert torch.allclose(one.hidden, whole[:, :5], atol=1e-5)
    assert torch.allclose(two.hidden, whole[:, 5:], atol=1e-5)
    assert [m.shape for m in two.memory] == [(2, 6, D)] * 2  # the last M = 6 inputs
    # the kept memory is the layer inputs: layer 0's is the embedding output itself
    assert torch.equal(two.memory[0], x[:, 3:])


def test_memory_shorter_than_the_context_is_a_window():
    """M = 2: the second segment sees only the last 2 positions of the first."""
    x = _x(7)
    encoder = _encoder(memory_length=2, num_layers=1)
    two = encoder(x[:, 4:], memory=encoder(x[:, :4]).memory).hidden
    alone = _encoder(memory_length=0, num_layers=1)(x[:, 2:]).hidden  # 2 remembered + 3
    assert torch.allclose(two, alone[:, 2:], atol=1e-12)


def test_outputs_are_shift_invariant():
    """(3) the same tokens at another absolute offset (after masked padding, or after a
    different unseen past), with the same relative context, give identical outputs."""
    encoder = _encoder(memory_length=0)
    x = _x(5)
    padded = torch.cat([_x(3, seed=7), x], dim=1)  # the same 5 inputs at positions 3..7
    keep = torch.tensor([[0, 0, 0] + [1] * 5] * 2)
    own = torch.eye(8, dtype=torch.bool)[None]  # a padding query sees itself (no empty row)
    got = encoder(padded, keep.bool()[:, None, :] | own).hidden[:, 3:]
    assert torch.allclose(got, encoder(x).hidden, atol=1e-12)
    # Memory of 2: a segment's output depends on its last 2 remembered inputs only, not
    # on where the stream started.
    encoder = _encoder(memory_length=2, num_layers=1)
    short = encoder(x[:, 3:], memory=encoder(x[:, :3]).memory).hidden
    long_past = torch.cat([_x(6, seed=9), x[:, :3]], dim=1)
    long = encoder(x[:, 3:], memory=encoder(long_past).memory).hidden
    assert torch.allclose(short, long, atol=1e-12)


def test_memory_is_detached():
    """(4) no gradient flows into segment 1 from segment 2's loss (§3.2: SG(m))."""
    encoder = _encoder(memory_length=4)
    first = _x(4).requires_grad_()
    memory = encoder(first).memory
    assert all(not m.requires_grad for m in memory)
    encoder(_x(3, seed=5), memory=memory).hidden.square().sum().backward()
    assert first.grad is None
    assert encoder.layers[0].attention.content_bias.grad is not None


def test_incremental_decoding_matches_the_full_run():
    """M = 0 generation path: cached keys/values plus relative distances = one full pass."""
    encoder = _encoder(memory_length=0)
    x = _x(6)
    cache = KeyValueCache(len(encoder.layers))
    steps = [encoder(x[:, :3], cache=cache).hidden]
    for t in range(3, 6):
        steps.append(encoder(x[:, t:t + 1], cache=cache).hidden)
    assert torch.allclose(torch.cat(steps, dim=1), encoder(x).hidden, atol=1e-12)


def test_activation_checkpointing_keeps_outputs_and_gradients():
    encoder = _encoder(memory_length=3).train()
    memory = encoder(_x(3)).memory
    x = _x(4, seed=3)
    results = []
    for recompute in (False, True):
        encoder.zero_grad()
        encoder.checkpoint_activations = recompute
        output = encoder(x, memory=memory).hidden
        output.square().sum().backward()
        results.append((output, [p.grad.clone() for p in encoder.parameters()]))
    (plain, plain_grads), (again, again_grads) = results
    assert torch.allclose(plain, again, atol=1e-12)
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(plain_grads, again_grads))


def test_global_biases_are_shared_by_the_layers():
    encoder = _encoder()
    first, second = (layer.attention for layer in encoder.layers)
    assert first.content_bias is second.content_bias
    assert first.position_bias is second.position_bias
    assert first.position is not second.position  # W_R is per layer


@pytest.mark.parametrize("overrides, key", [
    (["model.encoder.memory_length=-1"], "model.encoder.memory_length"),
    (["model.encoder.position=absolute"], "model.encoder.memory_length"),
    (["model.encoder.mask=bidirectional", "model.encoder.memory_length=0"],
     "model.encoder.position"),
    (["model.embedding.position=learned"], "model.embedding.position"),
    (["model.encoder.relative_buckets=32"], "model.encoder.relative_buckets"),
    (["model.encoder={name: lstm, memory_length: 8}"], "model.encoder.memory_length"),
    (["data.batching=blocks"], "data.batching"),  # rows of blocks are not one text
])
def test_config_errors_are_one_line_and_name_the_key(overrides, key):
    """(5)"""
    with pytest.raises(ConfigError) as error:
        load_config(preset_path("transformer_xl/tiny"), overrides)
    message = str(error.value)
    assert "\n" not in message and key in message, message


def _tiny(corpus, steps, every):
    return load_config(preset_path("transformer_xl/tiny"),
                       tiny_overrides("transformer_xl/tiny", corpus, steps, every)
                       + ["data.seq_len=16", "data.batch_size=2", "model.encoder.memory_length=16"])


class _Interrupted(Exception):
    pass


def test_preset_trains_and_resumes_exactly(tiny_corpus, tmp_path, monkeypatch):
    """(6) the preset trains; interrupted at step 2 and resumed == uninterrupted, bit for
    bit (the carried memory is part of the trainer state)."""
    steps = 4
    result = train(_tiny(tiny_corpus, steps, 2), tmp_path / "full", log=lambda *_: None)
    assert result.steps == steps and result.valid["perplexity"] > 1
    real_save = ckpt.save_checkpoint

    def save_then_die(run_dir, model, config, tokenizer, state):
        real_save(run_dir, model, config, tokenizer, state)
        if state["step"] == steps // 2:
            raise _Interrupted

    monkeypatch.setattr(ckpt, "save_checkpoint", save_then_die)
    with pytest.raises(_Interrupted):
        train(_tiny(tiny_corpus, steps, 2), tmp_path / "cut", log=lambda *_: None)
    monkeypatch.setattr(ckpt, "save_checkpoint", real_save)
    state = torch.load(tmp_path / "cut" / "checkpoint" / "trainer_state.pt", weights_only=True)
    assert state["step"] == steps // 2
    carried = state["job"]["objectives"][0]  # clm's state: the per-layer memory
    assert [tuple(carried[f"memory.{i}"].shape) for i in range(2)] == [(2, 16, 128)] * 2
    train(None, tmp_path / "cut", resume=True, log=lambda *_: None)
    full = load_file(str(tmp_path / "full" / "checkpoint" / "model.safetensors"))
    cut = load_file(str(tmp_path / "cut" / "checkpoint" / "model.safetensors"))
    assert full.keys() == cut.keys()
    for key in full:
        assert torch.equal(full[key], cut[key]), key


def test_evaluation_reads_any_memory_length(tiny_corpus, tmp_path):
    """``lmlab eval perplexity RUN --memory-length M``: the trained weights with another M
    (0: the windowed, non-recurrent path)."""
    train(_tiny(tiny_corpus, 2, 2), tmp_path / "run", log=lambda *_: None)
    scores = {m: perplexity_of_run(str(tmp_path / "run"), None, "valid", max_tokens=200,
                                   memory_length=m) for m in (0, 16, 64)}
    assert all(score["perplexity"] > 1 and score["memory_length"] == m
               for m, score in scores.items())
    assert scores[16]["perplexity"] == perplexity_of_run(
        str(tmp_path / "run"), None, "valid", max_tokens=200)["perplexity"]  # the run's own
    assert scores[64]["perplexity"] != scores[16]["perplexity"]
    with pytest.raises(ConfigError, match="--memory-length"):
        perplexity_of_run(str(tmp_path / "run"), None, "valid", memory_length=-1)
