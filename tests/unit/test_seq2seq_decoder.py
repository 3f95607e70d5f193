"""The encoder–decoder transformer: KV-cached decoding equals a full pass, the fused
attention equals its reference twin, the options build, and bad configs are one line."""

import pytest
import torch

from lmlab.config import ModelConfig, from_dict, load_config
from lmlab.errors import ConfigError
from lmlab.layers.relative_position import relative_position_bucket
from lmlab.presets import preset_path
from lmlab.registry import build_model

VARIANTS = {
    "bart": {"norm": "post", "embedding": "shared_tokens"},
    "t5": {"norm": "pre", "norm_type": "rms", "relative_buckets": 8, "embedding": "shared"},
    "separate": {"norm": "pre", "embedding": "separate"},
}


def _model(variant: str, dtype=torch.float64):
    options = VARIANTS[variant]
    relative = "relative_buckets" in options
    encoder = {"name": "transformer", "num_layers": 2, "num_heads": 2, "ffn_size": 64,
               "norm": options["norm"], "mask": "bidirectional"}
    if relative:
        encoder.update(norm_type="rms", relative_buckets=8)
    config = from_dict(ModelConfig, {
        "embedding": {"hidden_size": 32, "position": "none" if relative else "learned",
                      "max_positions": 64},
        "encoder": encoder,
        "decoder": {"name": "transformer", "num_layers": 2, "num_heads": 2, "ffn_size": 64,
                    **options}}, "model")
    return build_model(config, vocab_size=40, seed=0).eval().to(dtype)


def _inputs():
    generator = torch.Generator().manual_seed(0)
    source = torch.randint(6, 40, (3, 9), generator=generator)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0  # a padded source row
    target = torch.randint(6, 40, (3, 7), generator=generator)
    return source, mask, target


def _stepwise(model, target, memory, mask):
    cache = model.decoder.new_cache()
    steps = [model.decode(target[:, t:t + 1], memory, mask, cache=cache)
             for t in range(target.shape[1])]
    assert cache.length == target.shape[1]
    return torch.cat(steps, dim=1)  # (B, T, D)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_kv_cached_decoding_equals_the_uncached_pass(variant):
    """Step-by-step with the cache == one full causal pass. In float64 the two agree to
    1e-12 (not bit for bit: the matrix products reduce in shape-dependent order), and the
    greedy token at every step is the same."""
    model = _model(variant)
    source, mask, target = _inputs()
    with torch.no_grad():
        memory = model.encode(source, mask)
        full = model.decode(target, memory, mask)  # (B, T, D)
        stepwise = _stepwise(model, target, memory, mask)
        # Uncached incremental decoding: re-run the whole prefix, keep its last position.
        uncached = torch.cat([model.decode(target[:, :t + 1], memory, mask)[:, -1:]
                              for t in range(target.shape[1])], dim=1)
    torch.testing.assert_close(stepwise, full, rtol=0, atol=1e-12)
    torch.testing.assert_close(uncached, full, rtol=0, atol=1e-12)
    assert torch.equal(model.lm_head(stepwise).argmax(-1), model.lm_head(full).argmax(-1))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fused_attention_matches_the_reference_path(variant):
    model = _model(variant, torch.float32)
    source, mask, target = _inputs()
    with torch.no_grad():
        fast = model.decode(target, model.encode(source, mask), mask)
        for module in model.modules():
            if hasattr(module, "use_reference"):
                module.use_reference = True
        slow = model.decode(target, model.encode(source, mask), mask)
        slow_cached = _stepwise(model, target, model.encode(source, mask), mask)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(slow_cached, slow, atol=1e-5, rtol=1e-5)


def test_decoder_is_causal_and_reads_only_real_source_tokens():
    model = _model("bart")
    source, mask, target = _inputs()
    with torch.no_grad():
        memory = model.encode(source, mask)
        base = model.decode(target, memory, mask)
        later = target.clone()
        later[:, 4] = 7 if int(later[0, 4]) != 7 else 8
        changed = model.decode(later, memory, mask)
        assert torch.equal(changed[:, :4], base[:, :4])  # no position sees the future
        padded = source.clone()
        padded[1, 6:] = 5  # other tokens under the padding
        assert torch.equal(model.decode(target, model.encode(padded, mask), mask)[1], base[1])


def test_embedding_sharing_and_tied_output():
    shared_tokens, shared, separate = (_model(v) for v in ("bart", "t5", "separate"))
    assert shared_tokens.decoder_embedding.tokens is shared_tokens.embedding.tokens
    assert shared_tokens.decoder_embedding.positions is not shared_tokens.embedding.positions
    assert shared.decoder_embedding is None
    assert separate.decoder_embedding.tokens is not separate.embedding.tokens
    assert separate.lm_head.decoder.weight is separate.decoder_embedding.tokens.weight
    assert shared_tokens.lm_head.decoder.weight is shared_tokens.embedding.tokens.weight
    assert isinstance(shared.decoder.layers[0].ffn_norm, torch.nn.RMSNorm)


def test_relative_position_buckets_t5_values():
    offsets = torch.tensor([-200, -20, -8, -3, 0, 3, 8, 20, 200])
    # Bidirectional, 32 buckets, max distance 128: 16 per side, 8 exact, log beyond.
    assert relative_position_bucket(offsets, True, 32, 128).tolist() == \
        [15, 10, 8, 3, 0, 19, 24, 26, 31]
    # Causal: 16 exact, log beyond; keys after the query all fall in bucket 0.
    # (Both rows are what HF's T5Attention._relative_position_bucket gives.)
    assert relative_position_bucket(offsets, False, 32, 128).tolist() == \
        [31, 17, 8, 3, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("override, message", [
    ("model.decoder.num_heads=3", r"model\.decoder\.num_heads: 3 heads do not divide"),
    ("model.decoder.name=lstm", r"model\.decoder\.name: unknown decoder 'lstm'"),
    ("model.decoder.embedding=tied", r"model\.decoder\.embedding: 'tied' is not allowed"),
    ("model.decoder.relative_buckets=1", r"model\.decoder\.relative_buckets: 0 \(none\) or >= 2"),
    ("model.decoder=null", r"objectives\[0\]: bart needs an encoder–decoder model; set model\.decoder"),
])
def test_decoder_config_errors_are_one_line_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_config(preset_path("bart/tiny"), [override])
    assert "\n" not in str(error.value)
