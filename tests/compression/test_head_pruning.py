"""Head pruning (Michel et al. 2019): gate gradients, iterative masks, real removal."""

import copy
import dataclasses

import pytest
import torch

from lmlab.compression.pruning.heads import (attentions, check_heads, head_importance,
                                             iterative_head_masks, remove_heads)
from lmlab.config import load_config
from lmlab.errors import ConfigError
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig
from lmlab.finetune.model import build_finetune_model
from lmlab.finetune.run_folder import load_finetuned, save_finetuned
from lmlab.presets import preset_path
from lmlab.registry import build_model

VOCAB = 50
SHAPE = ["model.embedding.max_positions=16", "data.seq_len=16", "model.encoder.num_layers=3",
         "model.encoder.num_heads=4", "model.embedding.hidden_size=32",
         "model.encoder.ffn_size=24"]


def _model(dtype=torch.float32):
    config = load_config(preset_path("bert/tiny"), SHAPE)
    backbone = build_model(config.model, VOCAB, seed=0)
    model = build_finetune_model(backbone, "classification", 3, FinetuneOptions(max_seq_len=16))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # every weight random: heads differ, the head is not near zero
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return config, model.to(dtype).eval()


def _batch(seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (4, 7), generator=generator)
    mask = torch.ones(4, 7, dtype=torch.long)
    mask[1, 5:] = 0
    return {"input_ids": ids, "attention_mask": mask, "segments": torch.zeros_like(ids),
            "labels": torch.tensor([0, 1, 2, 1])}


def _loss(model, batch):
    return model.head.loss(model(batch), batch)


KEEP = [torch.tensor([True, False, True, False]), torch.tensor([False, False, False, False]),
        torch.tensor([True, True, True, False])]  # layer 2 loses every head


def test_removed_heads_give_the_masked_models_outputs():
    _, model = _model()
    pruned = copy.deepcopy(model)
    for module, keep in zip(attentions(model), KEEP):
        module.head_gate = keep.float()
    with torch.no_grad():
        masked_logits = model(_batch())
    assert remove_heads(pruned, KEEP) == [2, 0, 3]
    with torch.no_grad():
        pruned_logits = pruned(_batch())
    assert torch.allclose(pruned_logits, masked_logits, atol=1e-6, rtol=0)
    removed = 2 * (3 * 8 * 32 + 3 * 8 + 8 * 32) + 4 * (3 * 8 * 32 + 3 * 8 + 8 * 32) + \
        1 * (3 * 8 * 32 + 3 * 8 + 8 * 32)  # per head d = 8: q,k,v rows + biases, out columns
    assert sum(p.numel() for p in model.parameters()) - \
        sum(p.numel() for p in pruned.parameters()) == removed
    for module in attentions(pruned):
        module.use_reference = True  # the fused SDPA path and the reference agree
    with torch.no_grad():
        assert torch.allclose(pruned(_batch()), pruned_logits, atol=1e-6, rtol=0)


def test_a_pruned_model_rebuilds_from_its_config(tmp_path):
    from lmlab.data.tokenizers import TokenizerConfig, train_tokenizer

    config, model = _model()
    tokenizer = train_tokenizer(["a b c d e f g h"] * 3, TokenizerConfig(), "word", None)
    backbone = build_model(config.model, tokenizer.vocab_size, seed=0)
    model = build_finetune_model(backbone, "classification", 3, FinetuneOptions(max_seq_len=16))
    heads = remove_heads(model, KEEP)
    encoder = dataclasses.replace(config.model.encoder, heads_per_layer=heads)
    run_config = FinetuneRunConfig(task="glue/mnli", kind="classification", base="random",
                                   labels=["a", "b", "c"],
                                   model=dataclasses.replace(config.model, encoder=encoder),
                                   options=FinetuneOptions(max_seq_len=16))
    save_finetuned(tmp_path, model, run_config, tokenizer, {})
    loaded_config, _, loaded = load_finetuned(tmp_path)
    assert loaded_config.model.encoder.heads_per_layer == [2, 0, 3]
    batch = _batch()
    batch["input_ids"] = batch["input_ids"] % tokenizer.vocab_size
    with torch.no_grad():
        assert torch.equal(loaded(batch), model.eval()(batch))


def test_importance_is_the_gate_gradient_by_finite_differences():
    _, model = _model(torch.float64)
    scores = head_importance(model, [_batch(0), _batch(1)], _loss, normalize=False)
    assert [len(s) for s in scores] == [4, 4, 4]
    epsilon = 1e-6
    for layer in (0, 2):
        for head in (0, 3):
            total = 0.0
            for seed in (0, 1):
                values = []
                for sign in (1, -1):
                    gate = torch.ones(4, dtype=torch.float64)
                    gate[head] += sign * epsilon
                    attentions(model)[layer].head_gate = gate
                    with torch.no_grad():
                        values.append(float(_loss(model, _batch(seed))))
                    attentions(model)[layer].head_gate = None
                total += abs(values[0] - values[1]) / (2 * epsilon)
            assert float(scores[layer][head]) == pytest.approx(total, rel=1e-6)


def test_importance_is_normalised_per_layer_and_gates_are_lifted():
    _, model = _model()
    scores = head_importance(model, [_batch()], _loss)
    for score in scores:
        assert float(score.norm()) == pytest.approx(1.0, rel=1e-6)
    assert all(m.head_gate is None for m in attentions(model))


def test_iterative_masks_remove_the_asked_share_lowest_first():
    _, model = _model()
    batches = [_batch()]
    masks = iterative_head_masks(model, batches, _loss, fraction=0.5, step=1.0)
    assert sum(int((~m).sum()) for m in masks) == 6  # floor(.5 * 12)
    scores = torch.cat(head_importance(model, batches, _loss))
    lowest = set(torch.argsort(scores, stable=True)[:6].tolist())
    assert set((~torch.cat(masks)).nonzero().flatten().tolist()) == lowest
    rounds = iterative_head_masks(model, batches, _loss, fraction=0.5, step=0.1)
    assert sum(int((~m).sum()) for m in rounds) == 6  # 2 per round, 3 rounds


@pytest.mark.parametrize("fraction, step", [(1.5, 0.1), (-0.1, 0.1), (0.5, 0), ("x", 0.1)])
def test_bad_fraction_or_step_is_refused(fraction, step):
    with pytest.raises(ConfigError, match="--set"):
        check_heads(fraction, step)


@pytest.mark.parametrize("override, message", [
    ("model.encoder.heads_per_layer=[2,2]", "expected 3 counts"),
    ("model.encoder.heads_per_layer=[2,5,1]", "each 0..4"),
    ("model.encoder.ffn_per_layer=[1,2,30]", "each 0..24"),
])
def test_bad_per_layer_counts_are_one_line_config_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(preset_path("bert/tiny"), SHAPE + [override])


def test_per_layer_counts_refuse_shared_layers():
    with pytest.raises(ConfigError, match="share_layers: none"):
        load_config(preset_path("bert/tiny"), SHAPE + ["model.encoder.share_layers=all",
                                                      "model.encoder.heads_per_layer=[1,1,1]"])


def test_a_pruned_model_has_no_hf_counterpart():
    from lmlab.interop.configs import NoCounterpartError, hf_architecture

    config = load_config(preset_path("bert/tiny"), SHAPE + ["model.encoder.heads_per_layer=[1,4,0]"])
    with pytest.raises(NoCounterpartError, match="structurally pruned"):
        hf_architecture(config.model)
