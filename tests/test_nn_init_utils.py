"""nn.init initialisers and nn.utils (gradient clipping, vector conversion, packed sequences)."""

import math
import os
import tempfile

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.nn import init


def test_calculate_gain_and_fans():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("bogus")
    assert init._calculate_fan_in_and_fan_out(torch.empty(8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(torch.empty(3))


def test_uniform_normal_constant_fills():
    torch.manual_seed(0)
    t = torch.empty(200, 200)
    init.uniform_(t, -2, 3)
    a = t.numpy()
    assert a.min() >= -2 and a.max() <= 3 and a.mean() == pytest.approx(0.5, abs=0.05)
    init.normal_(t, 1.0, 0.5)
    assert t.numpy().mean() == pytest.approx(1.0, abs=0.02) and t.numpy().std() == pytest.approx(0.5, rel=0.03)
    init.constant_(t, 0.3)
    assert np.all(t.numpy() == np.float32(0.3))
    init.zeros_(t)
    assert float(t.abs().sum()) == 0
    init.ones_(t)
    assert float(t.sum()) == 200 * 200
    e = torch.empty(3, 4)
    init.eye_(e)
    np.testing.assert_array_equal(e.numpy(), np.eye(3, 4))


def test_xavier_and_kaiming_scales():
    torch.manual_seed(1)
    w = torch.empty(300, 200)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.95 * bound
    init.xavier_normal_(w)
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 500), rel=0.03)
    init.kaiming_uniform_(w, a=0, nonlinearity="relu")
    kb = math.sqrt(2) * math.sqrt(3 / 200)
    assert float(w.abs().max()) <= kb and float(w.abs().max()) > 0.95 * kb
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 300), rel=0.03)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(w, mode="fan_avg")


def test_orthogonal():
    torch.manual_seed(2)
    w = torch.empty(4, 6)
    init.orthogonal_(w, gain=2.0)
    np.testing.assert_allclose(w.numpy() @ w.numpy().T, 4 * np.eye(4), atol=1e-5)
    tall = torch.empty(6, 3)
    init.orthogonal_(tall)
    np.testing.assert_allclose(tall.numpy().T @ tall.numpy(), np.eye(3), atol=1e-5)


@pytest.mark.skipif(not hasattr(torch.Tensor, "erfinv_"), reason="core lacks Tensor.erfinv_")
def test_trunc_normal():
    torch.manual_seed(3)
    t = torch.empty(10000)
    init.trunc_normal_(t, mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = t.numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5 and a.std() > 0.5


def test_deprecated_aliases_warn_seed_001():
    net1 = nn.Sequential(nn.Linear(30, 40))
    with pytest.warns(FutureWarning, match="nn.init.xavier_uniform` is now deprecated"):
        init.xavier_uniform(net1[0].weight)
    bound = math.sqrt(6 / 70)
    assert float(net1[0].weight.abs().max()) <= bound
    assert net1[0].weight.requires_grad and net1[0].weight.grad_fn is None


def test_clip_grad_norm_and_value():
    p1 = nn.Parameter(torch.zeros(3))
    p2 = nn.Parameter(torch.zeros(4))
    p1.grad = torch.tensor([3.0, 0.0, 0.0])
    p2.grad = torch.tensor([0.0, 4.0, 0.0, 0.0])
    total = nn.utils.clip_grad_norm_([p1, p2], max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p1.grad.numpy(), [0.6, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(p2.grad.numpy(), [0, 0.8, 0, 0], rtol=1e-5)
    total_inf = nn.utils.clip_grad_norm_([p1, p2], max_norm=10.0, norm_type="inf")
    assert total_inf.item() == pytest.approx(0.8, rel=1e-5)
    np.testing.assert_allclose(p2.grad.numpy(), [0, 0.8, 0, 0], rtol=1e-5)
    p1.grad = torch.tensor([3.0, -5.0, 0.5])
    nn.utils.clip_grad_value_(p1, 1.0)
    assert p1.grad.tolist() == [1.0, -1.0, 0.5]
    p1.grad = torch.tensor([float("inf"), 0.0, 0.0])
    with pytest.raises(RuntimeError, match="is non-finite"):
        nn.utils.clip_grad_norm_(p1, 1.0, error_if_nonfinite=True)


def test_parameters_to_vector_roundtrip():
    m = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert tuple(vec.shape) == (8,)
    np.testing.assert_allclose(vec.detach().numpy()[:6], m.weight.detach().numpy().ravel())
    nn.utils.vector_to_parameters(torch.arange(8.0), m.parameters())
    assert m.weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and m.bias.tolist() == [6.0, 7.0]
    assert isinstance(m.weight, nn.Parameter)


def test_pack_pad_roundtrip():
    rnn_utils = nn.utils.rnn
    seqs = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0]), torch.tensor([5.0, 6.0])]
    padded = rnn_utils.pad_sequence(seqs, batch_first=True, padding_value=-1.0)
    assert padded.tolist() == [[1.0, 2.0, 3.0], [4.0, -1.0, -1.0], [5.0, 6.0, -1.0]]
    assert rnn_utils.pad_sequence(seqs, padding_side="left").tolist() == [[1.0, 0.0, 0.0], [2.0, 0.0, 5.0],
                                                                          [3.0, 4.0, 6.0]]
    packed = rnn_utils.pack_padded_sequence(padded, [3, 1, 2], batch_first=True, enforce_sorted=False)
    assert packed.data.tolist() == [1.0, 5.0, 4.0, 2.0, 6.0, 3.0]
    assert packed.batch_sizes.tolist() == [3, 2, 1]
    assert packed.sorted_indices.tolist() == [0, 2, 1] and packed.unsorted_indices.tolist() == [0, 2, 1]
    out, lengths = rnn_utils.pad_packed_sequence(packed, batch_first=True, padding_value=-1.0)
    assert out.tolist() == padded.tolist() and lengths.tolist() == [3, 1, 2]
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(padded, [3, 1, 2], batch_first=True)
    unpacked = rnn_utils.unpack_sequence(rnn_utils.pack_sequence(seqs, enforce_sorted=False))
    assert [s.tolist() for s in unpacked] == [s.tolist() for s in seqs]


def test_state_dict_save_load_seeds_000_001():
    seq_net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "save_seq_net_params.pth")
        torch.save(seq_net.state_dict(), path)
        seq_net2 = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
        seq_net2.load_state_dict(torch.load(path))
    for a, b in zip(seq_net.parameters(), seq_net2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
