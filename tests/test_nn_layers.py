"""Layers: constructor arguments, default initialisation, reprs, state_dict keys and values against numpy."""

import math

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.autograd import gradcheck

RNG = np.random.default_rng(2)


def t64(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(a.detach().numpy(), b, rtol=tol, atol=tol)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------------------- linear & conv


def test_linear_default_init_bounds_and_repr():
    torch.manual_seed(0)
    m = nn.Linear(20, 30)
    assert repr(m) == "Linear(in_features=20, out_features=30, bias=True)"
    bound = 1 / math.sqrt(20)  # kaiming_uniform_(a=sqrt(5)) gives the same bound as the bias
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(b).max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)
    assert m.weight.dtype == torch.float32 and tuple(m.weight.shape) == (30, 20)
    assert nn.Linear(2, 3, bias=False).bias is None
    x = t64(RNG.standard_normal((4, 20)))
    m.double()
    close(m(x), x.numpy() @ m.weight.detach().numpy().T + m.bias.detach().numpy())


def test_linear_dtype_argument_and_seed_001_data_replacement():
    m = nn.Linear(3, 2, dtype=torch.float64)
    assert m.weight.dtype == torch.float64
    net1 = nn.Sequential(nn.Linear(30, 40), nn.ReLU(), nn.Linear(40, 50), nn.ReLU(), nn.Linear(50, 10))
    net1[0].weight.data = torch.from_numpy(np.random.uniform(3, 5, size=(40, 30)))
    assert net1[0].weight.dtype == torch.float64 and float(net1[0].weight.min()) >= 3
    for layer in net1:
        if isinstance(layer, nn.Linear):
            layer.weight.data = torch.from_numpy(np.random.normal(0, 0.5, size=layer.weight.shape))
    assert all(isinstance(p, nn.Parameter) for p in net1.parameters())


def test_conv_layers_repr_shapes_and_init():
    c = nn.Conv2d(1, 6, 3)
    assert repr(c) == "Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))"
    assert tuple(c.weight.shape) == (6, 1, 3, 3) and tuple(c.bias.shape) == (6,)
    bound = 1 / math.sqrt(9)
    assert float(c.weight.abs().max()) <= bound and float(c.bias.abs().max()) <= bound
    c2 = nn.Conv2d(4, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=2, bias=False, padding_mode="reflect")
    assert repr(c2) == ("Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), dilation=(2, 2), groups=2, "
                        "bias=False, padding_mode=reflect)")
    assert tuple(c2.weight.shape) == (8, 2, 3, 5)
    assert repr(nn.Conv1d(3, 32, kernel_size=1)) == "Conv1d(3, 32, kernel_size=(1,), stride=(1,))"
    assert repr(nn.Conv2d(2, 2, 3, padding="same")) == "Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), padding=same)"
    t = nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1, groups=2)
    assert tuple(t.weight.shape) == (4, 3, 3, 3)
    assert repr(t) == "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1), groups=2)"
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="bogus")


def test_conv_layer_forward_and_padding_mode():
    c = nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular").double()
    x = t64(RNG.standard_normal((2, 2, 5)))
    xp = np.concatenate([x.numpy()[..., -1:], x.numpy(), x.numpy()[..., :1]], -1)
    w, b = c.weight.detach().numpy(), c.bias.detach().numpy()
    ref = np.stack([np.einsum("nck,ock->no", xp[..., i: i + 3], w) for i in range(5)], -1) + b[None, :, None]
    close(c(x), ref)
    ct = nn.ConvTranspose2d(2, 3, 3, stride=2).double()
    y = ct(t64(RNG.standard_normal((1, 2, 4, 4))), output_size=(10, 10))
    assert tuple(y.shape) == (1, 3, 10, 10)


def test_seed_000_user_model_runs():
    class UserModel(nn.Module):
        def __init__(self):
            super(UserModel, self).__init__()  # noqa: UP008 - the seed's spelling
            self.emb0 = nn.Embedding(100, embedding_dim=100)
            self.emb1 = nn.Embedding(100, embedding_dim=100)
            self.seq = nn.Sequential(nn.Conv1d(3, 32, kernel_size=1), nn.LeakyReLU(),
                                     nn.Conv1d(32, 8, kernel_size=1), nn.LeakyReLU(),
                                     nn.Conv1d(8, 1, kernel_size=1))

        def forward(self, inputs):
            t0, t1 = inputs[0], inputs[1]
            x0 = self.emb0(t0)
            x1 = self.emb1(t1)
            x = torch.concat([x0, x1])
            x = F.normalize(x, dim=2)
            return self.seq(x).squeeze(1)

    model = UserModel()
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    model.to(device)
    t0 = torch.randint(0, 100, (2, 3), device=device)
    t1 = torch.randint(0, 100, (2, 3), device=device)
    out = model((t0, t1))
    assert tuple(out.shape) == (4, 100)
    assert list(model.state_dict())[:3] == ["emb0.weight", "emb1.weight", "seq.0.weight"]


# ---------------------------------------------------------------------------- embeddings


def test_embedding_padding_idx_seed_000():
    embedding = nn.Embedding(3, 4, padding_idx=0)
    assert embedding.weight[0].tolist() == [0.0] * 4
    assert float(embedding.weight[1:].abs().sum()) > 0
    assert repr(embedding) == "Embedding(3, 4, padding_idx=0)"
    with torch.no_grad():
        embedding.weight[1:] = torch.tensor([[1.6259, 1.2915, 3.1323, -1.1606], [-0.8106, 1.3287, 0.4649, -0.5580]])
    assert str(embedding.weight) == (
        "Parameter containing:\n"
        "tensor([[ 0.0000,  0.0000,  0.0000,  0.0000],\n"
        "        [ 1.6259,  1.2915,  3.1323, -1.1606],\n"
        "        [-0.8106,  1.3287,  0.4649, -0.5580]], requires_grad=True)"
    )
    out = embedding(torch.tensor([[0, 1], [2, 0]]))
    out.sum().backward()
    assert embedding.weight.grad[0].tolist() == [0.0] * 4
    assert embedding.weight.grad[1].tolist() == [1.0] * 4
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


def test_embedding_from_pretrained():
    weight = torch.tensor([[1.0, 2.3, 3.0], [4.0, 5.1, 6.3]])
    emb = nn.Embedding.from_pretrained(weight)
    assert not emb.weight.requires_grad
    assert emb(torch.tensor([1])).tolist() == [[4.0, 5.1, 6.3]] or np.allclose(
        emb(torch.tensor([1])).numpy(), [[4.0, 5.1, 6.3]])
    assert nn.Embedding.from_pretrained(weight, freeze=False).weight.requires_grad
    bag = nn.EmbeddingBag.from_pretrained(weight, mode="sum")
    close(bag(torch.tensor([[0, 1]])), [[5.0, 7.4, 9.3]])
    assert repr(bag) == "EmbeddingBag(2, 3, mode='sum')"


# ---------------------------------------------------------------------------- recurrent


def np_lstm_layer(x, h, c, wih, whh, bih, bhh):
    outs = []
    for t in range(x.shape[0]):
        g = x[t] @ wih.T + bih + h @ whh.T + bhh
        i, f, gg, o = np.split(g, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs), h, c


def np_gru_layer(x, h, wih, whh, bih, bhh):
    outs = []
    for t in range(x.shape[0]):
        gi, gh = x[t] @ wih.T + bih, h @ whh.T + bhh
        r = sigmoid(gi[:, :h.shape[1]] + gh[:, :h.shape[1]])
        z = sigmoid(gi[:, h.shape[1]: 2 * h.shape[1]] + gh[:, h.shape[1]: 2 * h.shape[1]])
        n = np.tanh(gi[:, 2 * h.shape[1]:] + r * gh[:, 2 * h.shape[1]:])
        h = (1 - z) * n + z * h
        outs.append(h)
    return np.stack(outs), h


def params(m, name):
    return getattr(m, name).detach().numpy()


def test_lstm_state_dict_keys_and_gate_order():
    lstm = nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True)
    keys = list(lstm.state_dict())
    assert keys[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert keys[4:8] == ["weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                         "bias_hh_l0_reverse"]
    assert tuple(lstm.weight_ih_l1.shape) == (20, 10) and tuple(lstm.weight_hh_l0.shape) == (20, 5)
    assert repr(lstm) == "LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True)"
    bound = 1 / math.sqrt(5)
    assert all(float(p.abs().max()) <= bound for p in lstm.parameters())


def test_lstm_matches_numpy_with_initial_state_bidirectional():
    lstm = nn.LSTM(3, 4, bidirectional=True).double()
    x = RNG.standard_normal((6, 2, 3))
    h0, c0 = RNG.standard_normal((2, 2, 4)), RNG.standard_normal((2, 2, 4))
    out, (hn, cn) = lstm(t64(x), (t64(h0), t64(c0)))
    f_out, f_h, f_c = np_lstm_layer(x, h0[0], c0[0], *(params(lstm, n) for n in
                                    ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]))
    r_out, r_h, r_c = np_lstm_layer(x[::-1], h0[1], c0[1], *(params(lstm, n) for n in
                                    ["weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                     "bias_hh_l0_reverse"]))
    close(out, np.concatenate([f_out, r_out[::-1]], -1))
    close(hn, np.stack([f_h, r_h]))
    close(cn, np.stack([f_c, r_c]))


def test_gru_two_layers_batch_first_matches_numpy():
    gru = nn.GRU(3, 4, num_layers=2, batch_first=True).double()
    x = RNG.standard_normal((2, 5, 3))
    out, hn = gru(t64(x))
    names = ["weight_ih_l{}", "weight_hh_l{}", "bias_ih_l{}", "bias_hh_l{}"]
    o1, h1 = np_gru_layer(x.transpose(1, 0, 2), np.zeros((2, 4)), *(params(gru, n.format(0)) for n in names))
    o2, h2 = np_gru_layer(o1, np.zeros((2, 4)), *(params(gru, n.format(1)) for n in names))
    close(out, o2.transpose(1, 0, 2))
    close(hn, np.stack([h1, h2]))


def test_rnn_relu_and_cells():
    rnn = nn.RNN(3, 4, nonlinearity="relu", bias=False).double()
    assert list(rnn.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert repr(rnn) == "RNN(3, 4, bias=False)"
    x = RNG.standard_normal((4, 3))  # unbatched
    out, hn = rnn(t64(x))
    h = np.zeros(4)
    ref = []
    for t in range(4):
        h = np.maximum(0, params(rnn, "weight_ih_l0") @ x[t] + params(rnn, "weight_hh_l0") @ h)
        ref.append(h)
    close(out, np.stack(ref))
    close(hn, h[None])
    cell = nn.LSTMCell(3, 4).double()
    hx, cx = cell(t64(x[:2]))
    _, h_ref, c_ref = np_lstm_layer(x[None, :2], np.zeros((2, 4)), np.zeros((2, 4)),
                                    *(params(cell, n) for n in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]))
    close(hx, h_ref)
    close(cx, c_ref)
    gcell = nn.GRUCell(3, 4).double()
    h0 = RNG.standard_normal((2, 4))
    _, g_ref = np_gru_layer(x[None, :2], h0, *(params(gcell, n) for n in
                                               ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]))
    close(gcell(t64(x[:2]), t64(h0)), g_ref)
    assert repr(nn.RNNCell(2, 3, nonlinearity="relu")) == "RNNCell(2, 3, nonlinearity=relu)"


def test_lstm_gradcheck_and_seed_004_constructor():
    lstm = nn.LSTM(2, 3).double()
    x = t64(RNG.standard_normal((3, 1, 2)), True)
    assert gradcheck(lambda t: lstm(t)[0], (x,))
    model = nn.LSTM(4, 5, 3)
    assert len(list(model.parameters())) == 12


def test_lstm_on_packed_sequences_matches_per_sequence_runs():
    torch.manual_seed(0)
    lstm = nn.LSTM(2, 3, bidirectional=True).double()
    lengths = [2, 4, 3]
    x = RNG.standard_normal((4, 3, 2))
    packed = nn.utils.rnn.pack_padded_sequence(t64(x), lengths, enforce_sorted=False)
    out, (hn, _) = lstm(packed)
    padded, out_lens = nn.utils.rnn.pad_packed_sequence(out)
    assert out_lens.tolist() == lengths
    for b, n in enumerate(lengths):
        single, (h_single, _) = lstm(t64(x[:n, b: b + 1]))
        close(padded[:n, b], single[:, 0].detach().numpy())
        close(padded[n:, b], np.zeros((4 - n, 6)))
        close(hn[:, b], h_single[:, 0].detach().numpy())


# ---------------------------------------------------------------------------- normalization, dropout, misc


def test_batchnorm_module_running_stats_and_eval():
    bn = nn.BatchNorm1d(3, momentum=0.5).double()
    x = RNG.standard_normal((8, 3)) * 2 + 1
    out = bn(t64(x))
    close(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
    close(bn.running_mean, 0.5 * x.mean(0))
    close(bn.running_var, 0.5 + 0.5 * x.var(0, ddof=1))
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    close(bn(t64(x)), (x - 0.5 * x.mean(0)) / np.sqrt(0.5 + 0.5 * x.var(0, ddof=1) + 1e-5))
    assert repr(nn.BatchNorm2d(4)) == (
        "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)")
    cma = nn.BatchNorm1d(2, momentum=None).double()
    a, b = RNG.standard_normal((4, 2)), RNG.standard_normal((4, 2))
    cma(t64(a))
    cma(t64(b))
    close(cma.running_mean, (a.mean(0) + b.mean(0)) / 2)
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(torch.ones(2, 3))


def test_layernorm_groupnorm_modules():
    ln = nn.LayerNorm(4)
    assert repr(ln) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert ln.weight.tolist() == [1.0] * 4 and ln.bias.tolist() == [0.0] * 4
    x = RNG.standard_normal((2, 4))
    close(ln.double()(t64(x)), (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5))
    gn = nn.GroupNorm(2, 4)
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert list(gn.state_dict()) == ["weight", "bias"]
    with pytest.raises(ValueError, match="must be divisible by num_groups"):
        nn.GroupNorm(3, 4)


def test_dropout_module_train_eval():
    d = nn.Dropout(0.5)
    assert repr(d) == "Dropout(p=0.5, inplace=False)"
    x = torch.ones(1000)
    assert 0 < float((d(x) == 0).sum()) < 1000
    d.eval()
    assert d(x).tolist() == x.tolist()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(-0.1)


def test_activation_module_reprs():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.Tanh()) == "Tanh()"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.ELU(alpha=0.5)) == "ELU(alpha=0.5)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(3, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert nn.PReLU(3).weight.tolist() == pytest.approx([0.25] * 3)


def test_flatten_unflatten_identity():
    x = torch.randn(2, 3, 4)
    assert tuple(nn.Flatten()(x).shape) == (2, 12)
    assert tuple(nn.Flatten(0, 1)(x).shape) == (6, 4)
    assert tuple(nn.Unflatten(1, (12, 1))(nn.Flatten()(x)).shape) == (2, 12, 1)
    assert nn.Identity(54, unused="x")(x) is x


def test_multihead_attention_matches_reference():
    mha = nn.MultiheadAttention(4, 2, batch_first=True).double()
    assert [n for n, _ in mha.named_parameters()] == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                     "out_proj.bias"]
    q = RNG.standard_normal((2, 3, 4))
    kv = RNG.standard_normal((2, 5, 4))
    out, weights = mha(t64(q), t64(kv), t64(kv))
    w_in, b_in = params(mha, "in_proj_weight"), params(mha, "in_proj_bias")
    qp, kp, vp = q @ w_in[:4].T + b_in[:4], kv @ w_in[4:8].T + b_in[4:8], kv @ w_in[8:].T + b_in[8:]
    heads = []
    att = []
    for h in range(2):
        s = qp[..., 2 * h: 2 * h + 2] @ kp[..., 2 * h: 2 * h + 2].transpose(0, 2, 1) / math.sqrt(2)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        att.append(a)
        heads.append(a @ vp[..., 2 * h: 2 * h + 2])
    ref = np.concatenate(heads, -1) @ params(mha.out_proj, "weight").T + params(mha.out_proj, "bias")
    close(out, ref)
    close(weights, (att[0] + att[1]) / 2)


def test_transformer_encoder_layer_shapes_and_keys():
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    keys = list(layer.state_dict())
    assert keys[:6] == ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                        "self_attn.out_proj.bias", "linear1.weight", "linear1.bias"]
    assert keys[-4:] == ["norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
    layer.eval()
    x = torch.randn(3, 5, 8)
    assert tuple(layer(x).shape) == (3, 5, 8)
    enc = nn.TransformerEncoder(layer, num_layers=2)
    assert next(iter(enc.state_dict())) == "layers.0.self_attn.in_proj_weight"
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    assert tuple(enc(x).shape) == (3, 5, 8)


def test_loss_in_graph_seed_002_backward():
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 3)
            self.fc1 = nn.Linear(1350, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(F.max_pool2d(x, (2, 2)))
            return self.fc1(x.view(x.size()[0], -1))

    net = Net()
    out = net(torch.randn(1, 1, 32, 32))
    assert tuple(out.size()) == (1, 10)
    net.zero_grad()
    out.backward(torch.ones(1, 10))
    assert all(p.grad is not None and tuple(p.grad.shape) == tuple(p.shape) for p in net.parameters())
    y = torch.arange(0, 10).view(1, 10).float()
    loss = nn.MSELoss()(net(torch.randn(1, 1, 32, 32)), y)
    assert loss.item() > 0
