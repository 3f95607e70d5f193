"""Softmax approximations (review §3.1): sampled gradients point where the full-softmax
gradient points; hierarchical and class-factorised distributions are normalised."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmlab.heads.lm_head import LMHead, LMHeadConfig
from lmlab.objectives.softmax import (AdaptiveProposal, ClassSoftmaxHead, HierarchicalSoftmaxHead,
                                      UnigramProposal, frequency_classes, huffman_tree,
                                      importance_sampling_loss, nce_loss)
from lmlab.objectives.softmax.proposal import step_generator

V, D, N = 50, 8, 16


def _toy(seed=0):
    torch.manual_seed(seed)
    features = torch.randn(N, D, dtype=torch.float64)
    weight = (0.3 * torch.randn(V, D, dtype=torch.float64)).requires_grad_()
    # Bias -log V: the model is (nearly) self-normalised, as NCE assumes (Mnih & Teh §3).
    bias = torch.full((V,), -float(np.log(V)), dtype=torch.float64).requires_grad_()
    targets = torch.randint(0, V, (N,))
    counts = torch.from_numpy(np.random.default_rng(seed).zipf(1.5, V).astype(np.float64))
    return features, weight, bias, targets, counts


def _full_gradient(features, weight, bias, targets):
    loss = F.cross_entropy(features @ weight.t() + bias, targets)
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, [weight, bias])])


def _correlation(a, b):
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


@pytest.mark.parametrize("kind", ["importance", "adaptive_importance", "nce"])
def test_sampled_gradient_correlates_with_full_softmax(kind):
    features, weight, bias, targets, counts = _toy()
    full = _full_gradient(features, weight, bias, targets)
    proposal = (AdaptiveProposal(counts, 1.0, 0.5, 0.1) if kind == "adaptive_importance"
                else UnigramProposal(counts))
    if kind == "adaptive_importance":  # let the proposal adapt on a few batches first
        for step in range(5):
            samples = proposal.sample(2000, step_generator(0, step))
            _, ratios = importance_sampling_loss(features, weight, bias, targets, samples,
                                                 proposal.log_prob(samples).double(),
                                                 proposal.log_prob(targets).double())
            proposal.update(samples, ratios)
    samples = proposal.sample(20000, step_generator(0, 99))
    log_q = proposal.log_prob(samples).double()
    if kind == "nce":
        loss = nce_loss(features, weight, bias, targets, samples, log_q,
                        proposal.log_prob(targets).double())
    else:
        loss, _ = importance_sampling_loss(features, weight, bias, targets, samples, log_q,
                                           proposal.log_prob(targets).double())
    sampled = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, [weight, bias])])
    assert _correlation(sampled, full) > 0.9


def test_importance_sampling_with_exact_proposal_has_uniform_weights():
    features, weight, bias, targets, counts = _toy(1)
    # With q = the model's own distribution for a single context, the weights are uniform
    # over the samples, except the accidental hit (the target itself), which is removed.
    probs = torch.softmax(features[0] @ weight.detach().t() + bias.detach(), -1)
    samples = torch.arange(V)
    loss, ratios = importance_sampling_loss(features[:1], weight, bias, targets[:1], samples,
                                            probs.log(), probs.log()[targets[:1]])
    expected = torch.full((1, V), 1.0 / (V - 1), dtype=torch.float64)
    expected[0, targets[0]] = 0.0
    torch.testing.assert_close(ratios, expected)
    # Every candidate then has the same corrected score log Z - log V, so the loss is log V.
    torch.testing.assert_close(loss, torch.tensor(np.log(V), dtype=torch.float64))


def test_importance_sampling_loss_is_bounded_below():
    """The target sits inside the normaliser: raising s_y alone cannot drive the loss
    below 0 (the negative-phase-only surrogate went to -inf and ruined the model)."""
    features, weight, bias, targets, counts = _toy(2)
    proposal = UnigramProposal(counts)
    samples = proposal.sample(64, step_generator(0, 0))
    row, target = features[:1], targets[:1]
    with torch.no_grad():
        bias[target] += 1e4
    loss, _ = importance_sampling_loss(row, weight, bias, target, samples,
                                       proposal.log_prob(samples).double(),
                                       proposal.log_prob(target).double())
    assert 0.0 <= float(loss.detach()) < 1e-6


def _head(kind, counts, bias=True):
    torch.manual_seed(0)
    base = LMHead(D, V, LMHeadConfig(tie_weights=False, bias=bias), None).double()
    torch.nn.init.normal_(base.decoder.weight, 0, 1.0)
    if bias:
        torch.nn.init.normal_(base.decoder.bias, 0, 1.0)
    head = (HierarchicalSoftmaxHead(base, V) if kind == "hierarchical"
            else ClassSoftmaxHead(base, D, V, 7)).double()
    head.set_counts(counts)
    return head


@pytest.mark.parametrize("kind", ["hierarchical", "class"])
@pytest.mark.parametrize("bias", [True, False])
def test_factorised_probabilities_sum_to_one_and_loss_matches(kind, bias):
    features, _, _, targets, counts = _toy(2)
    head = _head(kind, counts, bias)
    log_prob = head(features)  # (N, V)
    torch.testing.assert_close(log_prob.exp().sum(-1), torch.ones(N, dtype=torch.float64),
                               atol=1e-5, rtol=0)
    targets[3] = -100
    expected = -log_prob[targets != -100].gather(1, targets[targets != -100, None]).mean()
    torch.testing.assert_close(head.loss(features, targets), expected)
    # Evaluation reads the head's output as logits: cross-entropy gives the same NLL.
    torch.testing.assert_close(F.cross_entropy(log_prob, targets), expected)


def test_factorised_structure_survives_a_state_dict_round_trip():
    _, _, _, _, counts = _toy(3)
    for kind in ("hierarchical", "class"):
        trained = _head(kind, counts)
        fresh = _head(kind, torch.ones(V))
        fresh.load_state_dict(trained.state_dict())
        features = torch.randn(4, D, dtype=torch.float64)
        torch.testing.assert_close(fresh(features), trained(features))


def test_huffman_tree_gives_frequent_words_short_codes():
    counts = np.array([100, 50, 20, 10, 5, 1, 1], dtype=np.float64)
    parent, right = huffman_tree(counts)
    assert (parent == -1).sum() == 1 and parent[-1] == -1  # one root, created last
    def depth(node):
        return 0 if parent[node] < 0 else 1 + depth(parent[node])
    depths = [depth(w) for w in range(len(counts))]
    assert depths == sorted(depths) and depths[0] == 1
    # Kraft equality: a full binary tree over the leaves.
    assert abs(sum(2.0 ** -d for d in depths) - 1.0) < 1e-12


def test_frequency_classes_are_non_empty_and_ordered():
    counts = np.random.default_rng(0).zipf(1.3, 500).astype(np.float64)
    classes = frequency_classes(counts, 20)
    assert set(classes.tolist()) == set(range(20))
    order = np.argsort(-counts, kind="stable")
    assert (np.diff(classes[order]) >= 0).all()  # frequent words in the early classes


@pytest.mark.parametrize("bias", [True, False])
def test_fused_class_loss_gradients_equal_the_plain_path(bias):
    features, _, _, targets, counts = _toy(4)
    head = _head("class", counts, bias)
    features.requires_grad_()
    params = [features] + [p for p in head.parameters()]
    fused = torch.autograd.grad(head.loss(features, targets) * 2.0, params)
    plain = torch.autograd.grad(head.reference_loss(features, targets) * 2.0, params)
    for got, expected in zip(fused, plain):
        torch.testing.assert_close(got, expected)


def test_nce_starts_self_normalised():
    """NCE fixes the normaliser to 1, so the head starts with sum_w exp(s_w) = 1."""
    from lmlab.objectives.softmax.config import OutputConfig
    from lmlab.objectives.softmax.output import SampledSoftmax
    torch.manual_seed(0)
    base = LMHead(D, V, LMHeadConfig(tie_weights=False, bias=True), None)
    torch.nn.init.zeros_(base.decoder.weight)
    SampledSoftmax(OutputConfig(kind="nce")).initialise(base)
    torch.testing.assert_close(base.decoder.bias.exp().sum(), torch.tensor(1.0))
    importance = LMHead(D, V, LMHeadConfig(tie_weights=False, bias=True), None)
    before = importance.decoder.bias.detach().clone()
    SampledSoftmax(OutputConfig(kind="importance")).initialise(importance)
    torch.testing.assert_close(importance.decoder.bias.detach(), before)  # IS is left alone


def test_adaptive_proposal_starts_at_the_unigram_and_tempers_what_it_learns():
    counts = torch.tensor([99.0, 9.0, 0.0, 39.0])  # +1 smoothing: 100, 10, 1, 40
    power, rate, floor = 0.75, 0.5, 0.1
    adaptive = AdaptiveProposal(counts, power, rate, floor)
    unigram = UnigramProposal(counts, power)
    assert torch.allclose(adaptive.probs, unigram.probs)
    samples = torch.tensor([0, 2, 2])
    weights = torch.tensor([[0.2, 0.3, 0.5], [0.4, 0.4, 0.2]])  # (N=2, K=3)
    adaptive.update(samples, weights)
    plain = torch.tensor([100.0, 10.0, 1.0, 40.0]) / 151.0
    estimate = torch.tensor([0.3, 0.0, 0.35 + 0.35, 0.0])  # row-mean weights, summed per word
    adapted = (1 - rate) * plain + rate * estimate
    tempered = adapted ** power / (adapted ** power).sum()
    expected = floor * unigram.probs + (1 - floor) * tempered
    assert torch.allclose(adaptive.probs, expected, atol=1e-6)
    assert abs(float(adaptive.probs.sum()) - 1.0) < 1e-6
