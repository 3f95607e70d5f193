"""context2vec (Melamud et al. 2016): slot contexts from the bilstm's neighbouring states,
negative sampling against target embeddings (eq. 1), fill-the-slot accuracy, and a run
whose heads survive saving and loading."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lmlab.config import load_config, load_raw
from lmlab.data.lm_data import token_store
from lmlab.errors import ConfigError, LmlabError
from lmlab.evaluation.perplexity import evaluate_perplexity
from lmlab.objectives.base import IGNORE
from lmlab.objectives.context2vec import (Context2VecConfig, Context2VecObjective,
                                          context_vectors, held_out_sentences,
                                          negative_sampling_loss, nearest_targets, noise_ids,
                                          slot_contexts)
from lmlab.presets import preset_path
from lmlab.registry import build_model
from lmlab.training.checkpoint import load_run
from lmlab.training.trainer import train

V, D, C = 12, 6, 4
PAD, UNK, EOS, CLS, SEP, MASK = range(6)
TOKENIZER = SimpleNamespace(pad_id=PAD, unk_id=UNK, eos_id=EOS, cls_id=CLS, sep_id=SEP,
                            mask_id=MASK, num_special=6, vocab_size=V,
                            token_to_id={".": 11}.get)


def _model(seed=3):
    config = load_config(preset_path("context2vec/tiny"), [
        f"model.embedding.hidden_size={D}", f"objectives.0.context_size={C}",
        "objectives.0.mlp_hidden_size=5", "objectives.0.num_negatives=3"])
    objective = Context2VecObjective(config.objectives[0], TOKENIZER, seed=seed)
    model = build_model(config.model, vocab_size=V, seed=0, objectives=[objective]).double().eval()
    objective.prepare(model, np.array([6, 6, 6, 6, 7, 8, 9, 10, 11, UNK, EOS]))
    return model, objective


def test_a_slot_context_reads_its_neighbours_never_its_own_word():
    model, _ = _model()
    ids = torch.tensor([[CLS, 6, 7, 8, 9, 10, SEP]])
    x = model.embedding(ids).detach().requires_grad_()  # (1, 7, D)
    contexts = slot_contexts(model.heads["context2vec"], model.encoder(x).hidden,
                             torch.tensor([7]))  # (1, 7, C)
    for slot in range(7):
        (grad,) = torch.autograd.grad(contexts[0, slot].sum(), x, retain_graph=True)
        moved = grad[0].abs().sum(-1)  # (7,): how much each input moves the context
        assert moved[slot] == 0  # exactly: the word at the slot is never read
        for neighbour in (slot - 1, slot + 1):
            if 0 <= neighbour < 7:
                assert moved[neighbour] > 0


def test_context_vectors_wrap_each_row_and_ignore_its_padding():
    model, _ = _model()
    alone = context_vectors(model, torch.tensor([[6, 7, 8]]))  # (1, 3, C)
    padded = context_vectors(model, torch.tensor([[6, 7, 8, 0, 0], [9, 9, 9, 9, 9]]),
                             torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]))
    assert alone.shape == (1, 3, C) and padded.shape == (2, 5, C)
    torch.testing.assert_close(padded[:1, :3], alone, rtol=0, atol=1e-12)
    # As trained: [CLS] row [SEP], so the first slot reads the [CLS] state, not zeros.
    wrapped = torch.tensor([[CLS, 6, 7, 8, SEP]])
    head = model.heads["context2vec"]
    direct = slot_contexts(head, model(wrapped).hidden, torch.tensor([5]))[:, 1:-1]
    torch.testing.assert_close(alone, direct, rtol=0, atol=0)


def test_context_vectors_need_a_context2vec_run():
    model, _ = _model()
    del model.heads["context2vec"]
    with pytest.raises(LmlabError, match="no context2vec head"):
        context_vectors(model, torch.tensor([[6, 7]]))


def test_negative_sampling_loss_by_hand():
    """c = (1, 0), t = (2, 0): t·c = 2; negatives (0, 1) and (-1, 0): n·c = 0 and -1.
    Loss = -[log σ(2) + log σ(-0) + log σ(1)]."""
    contexts = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    targets = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    negatives = torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]], dtype=torch.float64)
    expected = math.log1p(math.exp(-2)) + math.log(2) + math.log1p(math.exp(-1))  # 1.1333...
    got = negative_sampling_loss(contexts, targets, negatives)
    assert got.shape == (1,) and abs(got.item() - expected) < 1e-12  # float64 kept
    assert abs(expected - 1.1333370) < 1e-6


def test_the_objective_loss_is_eq_1_over_its_slots():
    """The training loss recomputed slot by slot from the model's contexts, the labels and
    the negatives its uniforms select."""
    model, objective = _model()
    batch = objective.corrupt({"input_ids": torch.tensor([[CLS, 6, UNK, EOS, 7, SEP]]),
                               "step": 5, "example_ids": torch.tensor([2])})
    assert batch["c2v_labels"].tolist() == [[IGNORE, 6, UNK, IGNORE, 7, IGNORE]]
    head = model.heads["context2vec"]
    contexts = slot_contexts(head, model(batch["input_ids"]).hidden, torch.tensor([6]))[0]
    terms = []
    for slot in (1, 2, 4):
        c = contexts[slot]
        target = head.targets.weight[batch["input_ids"][0, slot]]
        negatives = noise_ids(head.noise, batch["c2v_uniforms"][0, slot])
        terms.append(-torch.log(torch.sigmoid(c @ target)) - sum(
            torch.log(torch.sigmoid(-(c @ head.targets.weight[n]))) for n in negatives))
    got = objective.loss(model, dict(batch)).loss
    torch.testing.assert_close(got, torch.stack(terms).mean(), rtol=0, atol=1e-12)


def test_noise_is_unigram_to_the_075_over_target_words():
    model, _ = _model()
    noise = model.heads["context2vec"].noise  # counts: 6 x4; 7..11 and <unk> x1; <eos> x1
    total = 4 ** 0.75 + 6
    expected = [0, 1 / total, 0, 0, 0, 0, 4 ** 0.75 / total] + [1 / total] * 5
    torch.testing.assert_close(noise.float(), torch.tensor(expected), rtol=0, atol=1e-7)
    # Inverse CDF: zero-probability ids are never drawn.
    cdf_noise = torch.tensor([0.0, 0.5, 0.0, 0.5])
    assert noise_ids(cdf_noise, torch.tensor([0.0, 0.49, 0.5, 0.99])).tolist() == [1, 1, 3, 3]


def test_negatives_are_a_function_of_seed_step_and_example():
    _, objective = _model(seed=3)
    batch = {"input_ids": torch.full((3, 5), 6), "step": 7, "example_ids": torch.tensor([4, 9, 1])}
    first, again = objective.corrupt(batch), _model(seed=3)[1].corrupt(batch)
    assert first["c2v_uniforms"].shape == (3, 5, 3)
    assert torch.equal(first["c2v_uniforms"], again["c2v_uniforms"])
    # A row's draws do not depend on its neighbours (a sharded batch draws the same).
    alone = objective.corrupt({**batch, "input_ids": batch["input_ids"][1:2],
                               "example_ids": torch.tensor([9])})
    assert torch.equal(alone["c2v_uniforms"][0], first["c2v_uniforms"][1])
    later = objective.corrupt({**batch, "step": 8})
    other_seed = _model(seed=4)[1].corrupt(batch)
    assert not torch.equal(later["c2v_uniforms"], first["c2v_uniforms"])
    assert not torch.equal(other_seed["c2v_uniforms"], first["c2v_uniforms"])


def test_nearest_targets_by_cosine_among_the_candidates():
    targets = torch.tensor([[1.0, 0.0],    # 0: a special, identical to context 0
                            [10.0, 1.0],   # 1: largest dot product with context 0
                            [1.0, 0.01],   # 2: nearest by cosine to context 0
                            [0.0, 1.0],    # 3
                            [-1.0, 0.0]])  # 4
    candidates = torch.tensor([False, True, True, True, True])
    contexts = torch.tensor([[1.0, 0.0], [0.1, 1.0], [-3.0, -0.5]])
    best = nearest_targets(contexts, targets, candidates, k=10)  # k cut to the 4 candidates
    assert best.tolist() == [[2, 1, 3, 4], [3, 1, 2, 4], [4, 3, 2, 1]]


def test_fill_slot_accuracy_on_a_hand_built_case():
    """A model whose target table is set by hand: the MLP's last layer maps every context
    to the same vector, so the predicted word is the target nearest to it (word 8), and
    the accuracy is the share of scored slots whose word is 8; <unk> slots are left out."""
    model, objective = _model()
    head = model.heads["context2vec"]
    with torch.no_grad():
        head.mlp[2].weight.zero_()
        head.mlp[2].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        head.targets.weight.copy_(torch.eye(V, C).roll(1, dims=0) * 0.5)  # id i -> e_(i-1)
        head.targets.weight[1] = torch.tensor([1.0, 0.0, 0.0, 0.0])  # <unk>: a perfect match
        head.targets.weight[8] = torch.tensor([0.9, 0.1, 0.0, 0.0])  # the best real word
    ids = np.array([8, 6, 8, UNK, 11, EOS, 8, 7, 11, EOS])
    sentences = held_out_sentences(ids, TOKENIZER, max_length=3)
    assert [s.tolist() for s in sentences] == [[8, 6, 8], [UNK, 11], [8, 7, 11]]
    settings = SimpleNamespace(seq_len=5, batch_size=2, max_tokens=0)
    totals = {}
    with torch.no_grad():
        for batch in objective.evaluation_batches(model, ids, settings):
            for key, value in objective.evaluate(model, batch).items():
                totals[key] = totals.get(key, 0) + value
    result = objective.summarize(totals)
    # Scored: 8 6 8 | 11 | 8 7 11 (the <unk> slot left out) = 7 slots, three of them 8.
    # <unk>, identical to the context, is not a candidate: word 8 is predicted everywhere.
    assert result["tokens"] == 7 and result["kind"] == "fill-slot"
    assert result["accuracy"] == pytest.approx(3 / 7)
    assert result["top10_accuracy"] == 1.0  # the 6 candidates (words 6..11) are the top 10
    # The most frequent train word (6, counted 4 times) fills 1 of the 7 slots.
    assert result["most_frequent_accuracy"] == pytest.approx(1 / 7)


def _raw_with(**changes):
    raw = load_raw(preset_path("context2vec/tiny"))
    for section, value in changes.items():
        raw[section] = {**raw[section], **value}
    return raw


def test_a_transformer_encoder_is_refused():
    raw = _raw_with(model={"encoder": {"name": "transformer", "num_layers": 1, "num_heads": 2}})
    with pytest.raises(ConfigError, match="objectives\\[0\\]: context2vec reads separate "
                                          "forward and backward LSTM states; set "
                                          "model.encoder.name: bilstm, not transformer"):
        load_config(raw=raw)


def test_stream_batching_and_bad_values_are_refused():
    with pytest.raises(ConfigError, match="data.batching: context2vec trains on"):
        load_config(raw=_raw_with(data={"batching": "stream"}))
    with pytest.raises(ConfigError, match="objectives\\[0\\].num_negatives: must be >= 1"):
        load_config(preset_path("context2vec/tiny"), ["objectives.0.num_negatives=0"])
    assert Context2VecConfig().describe() == "context2vec (K=10, α=0.75)"


def test_a_trained_run_keeps_its_heads_and_measures_alike_when_loaded(tiny_corpus, tmp_path):
    config = load_config(preset_path("context2vec/tiny"), [
        f"data.dataset={tiny_corpus}", "train.max_steps=4", "train.eval_every=4",
        "train.checkpoint_every=4", "train.eval_batches=2", "train.progress=false",
        "data.seq_len=16", "data.batch_size=4", "data.eval_batch_size=4"])
    result = train(config, tmp_path / "run", log=lambda *_: None)
    weights = load_file(str(tmp_path / "run" / "checkpoint" / "model.safetensors"))
    assert {"heads.context2vec.targets.weight", "heads.context2vec.noise",
            "heads.context2vec.mlp.0.weight"} <= set(weights)
    loaded_config, tokenizer, model = load_run(tmp_path / "run")
    assert "context2vec" in model.heads and model.heads["context2vec"].noise.sum() > 0
    store_ids = token_store(loaded_config.data, tokenizer, "valid").ids
    again = evaluate_perplexity(model, loaded_config, tokenizer, store_ids,
                                max_tokens=2 * 4 * 16)  # the trainer's eval_batches x 4 x 16
    assert again.keys() == result.valid.keys() and again["kind"] == "fill-slot"
    for key in ("loss", "accuracy", "top10_accuracy", "most_frequent_accuracy", "tokens"):
        assert again[key] == pytest.approx(result.valid[key], rel=1e-6), key
    with torch.no_grad():
        vectors = context_vectors(model, torch.tensor([tokenizer.encode("the company said")]))
    assert vectors.shape == (1, 3, 128)
