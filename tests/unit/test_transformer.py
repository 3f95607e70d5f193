import torch

from lmlab.config import load_config
from lmlab.presets import preset_path
from lmlab.registry import build_model


def _model(preset, **overrides):
    sets = [f"{k}={v}" for k, v in overrides.items()]
    config = load_config(preset_path(preset), sets)
    return build_model(config.model, vocab_size=50, seed=0).eval()


def test_causal_mask_no_position_sees_the_future():
    model = _model("gpt/tiny")
    ids = torch.randint(6, 50, (2, 16))
    with torch.no_grad():
        base = model.logits(ids)[0]
        for t in (0, 5, 15):
            perturbed = ids.clone()
            perturbed[:, t] = (perturbed[:, t] + 1 - 6) % 44 + 6
            logits = model.logits(perturbed)[0]
            assert torch.equal(logits[:, :t], base[:, :t])  # exactly unchanged before t
            assert not torch.allclose(logits[:, t:], base[:, t:])


def test_bidirectional_encoder_sees_both_sides():
    model = _model("bert/tiny")
    ids = torch.randint(6, 50, (1, 10))
    perturbed = ids.clone()
    perturbed[0, 9] = 7 if ids[0, 9] != 7 else 8
    with torch.no_grad():
        assert not torch.allclose(model(ids).hidden[0, 0], model(perturbed).hidden[0, 0])


def test_fused_attention_matches_the_reference_path():
    for preset in ("gpt/tiny", "bert/tiny"):
        model = _model(preset)
        ids = torch.randint(6, 50, (2, 12))
        mask = torch.ones(2, 12, dtype=torch.long)
        mask[1, 8:] = 0
        with torch.no_grad():
            fast = model(ids, mask).hidden
            for layer in model.encoder.layers:
                layer.attention.use_reference = True
            slow = model(ids, mask).hidden
        keep = mask.bool()
        torch.testing.assert_close(fast[keep], slow[keep], atol=1e-5, rtol=1e-5)


def test_weight_tying_shares_one_tensor():
    model = _model("gpt/tiny")
    assert model.lm_head.decoder.weight is model.embedding.tokens.weight
    untied = _model("lstm/small")
    assert untied.lm_head.decoder.weight is not untied.embedding.tokens.weight
