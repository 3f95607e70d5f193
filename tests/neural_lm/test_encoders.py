"""Unit tests of the window-MLP (Bengio 2003), Elman (review eqs. 17–19) and attention-RNN
(eqs. 20–24) encoders: hand-computed values, causality, state carried across segments."""

import math

import torch

from lmlab.encoders.attention_rnn import AttentionRNNConfig, AttentionRNNEncoder
from lmlab.encoders.elman import ElmanConfig, ElmanEncoder
from lmlab.encoders.window_mlp import WindowMLPConfig, WindowMLPEncoder


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def test_elman_cell_matches_equations_17_to_19_by_hand():
    # D = 2 hidden units, vocabulary of 3 words; U's word columns are the embeddings.
    U_words = [[0.5, -1.0], [0.2, 0.3], [-0.4, 0.8]]  # e(w) = U w for one-hot w, per word
    W = [[0.1, -0.2], [0.3, 0.4]]  # recurrent part of U, acting on s(t-1)
    V = [[1.0, 0.0], [0.5, -0.5], [-1.0, 2.0]]  # output weights v_kj
    words = [2, 0, 1]
    encoder = ElmanEncoder(2, ElmanConfig(initial_state=1.0)).double()
    with torch.no_grad():
        encoder.recurrence.weight.copy_(torch.tensor(W, dtype=torch.float64))
    x = torch.tensor([[U_words[w] for w in words]], dtype=torch.float64)  # (1, 3, 2)
    hidden = encoder(x).hidden[0]  # (3, 2)

    s = [1.0, 1.0]  # s(0)
    for t, word in enumerate(words):
        # (17) x(t) = [w(t); s(t-1)]; (18) s_j(t) = f(sum_i x_i(t) u_ji)
        s = [_sigmoid(U_words[word][j] + sum(W[j][i] * s[i] for i in range(2))) for j in range(2)]
        assert torch.allclose(hidden[t], torch.tensor(s, dtype=torch.float64), atol=1e-12)
        # (19) y_k(t) = g(sum_j s_j(t) v_kj), g = softmax
        net = [sum(s[j] * V[k][j] for j in range(2)) for k in range(3)]
        y = [math.exp(n) / sum(math.exp(m) for m in net) for n in net]
        got = torch.softmax(hidden[t] @ torch.tensor(V, dtype=torch.float64).t(), -1)
        assert torch.allclose(got, torch.tensor(y, dtype=torch.float64), atol=1e-12)


def test_elman_segments_carry_state():
    torch.manual_seed(0)
    encoder = ElmanEncoder(4, ElmanConfig())
    x = torch.randn(2, 6, 4)
    whole = encoder(x).hidden
    first = encoder(x[:, :4])
    second = encoder(x[:, 4:], memory=first.memory)
    torch.testing.assert_close(torch.cat([first.hidden, second.hidden], 1), whole)


def test_window_mlp_is_bengio_equation_with_direct_connections():
    torch.manual_seed(0)
    D, n = 3, 4
    encoder = WindowMLPEncoder(D, WindowMLPConfig(order=n, hidden_units=5, direct=True)).double()
    x = torch.randn(1, 6, D, dtype=torch.float64)
    features = encoder(x).hidden[0]  # (6, 5 + 3D)
    assert features.shape == (6, encoder.output_size) and encoder.output_size == 5 + (n - 1) * D
    padded = torch.cat([torch.zeros(n - 2, D, dtype=torch.float64), x[0]])
    for t in range(6):
        window = padded[t: t + n - 1].reshape(-1)  # C(w_{t-n+2}) … C(w_t)
        hidden = torch.tanh(encoder.hidden(window))
        torch.testing.assert_close(features[t], torch.cat([hidden, window]))


def test_window_mlp_segments_carry_context():
    torch.manual_seed(0)
    encoder = WindowMLPEncoder(4, WindowMLPConfig(order=5))
    x = torch.randn(2, 7, 4)
    whole = encoder(x).hidden
    first = encoder(x[:, :2])  # shorter than the window: memory must still hold n-2 states
    second = encoder(x[:, 2:], memory=first.memory)
    torch.testing.assert_close(torch.cat([first.hidden, second.hidden], 1), whole)


def test_attention_rnn_is_causal_and_carries_its_window():
    torch.manual_seed(0)
    encoder = AttentionRNNEncoder(4, AttentionRNNConfig(span=8)).eval()
    x = torch.randn(2, 6, 4)
    whole = encoder(x).hidden
    changed = x.clone()
    changed[:, 4:] += 1.0
    torch.testing.assert_close(encoder(changed).hidden[:, :4], whole[:, :4])  # future unseen
    first = encoder(x[:, :3])
    second = encoder(x[:, 3:], memory=first.memory)
    torch.testing.assert_close(torch.cat([first.hidden, second.hidden], 1), whole)


def test_attention_rnn_with_span_one_attends_to_itself_only():
    torch.manual_seed(0)
    encoder = AttentionRNNEncoder(4, AttentionRNNConfig(span=1)).eval()
    x = torch.randn(1, 5, 4)
    hidden, _ = encoder.rnn(x)  # (1, 5, 4)
    expected = torch.tanh(encoder.combine(torch.cat([hidden, hidden], -1)))  # c_t = h_t
    torch.testing.assert_close(encoder(x).hidden, expected)
