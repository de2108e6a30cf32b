"""In-place activations, gumbel_softmax, pdist, channel_shuffle, upsample aliases, multilabel margin and
triplet-with-distance losses, nn.Buffer."""

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.autograd import gradcheck

X = [-2.0, -0.5, 0.0, 0.3, 1.5, 3.0]

INPLACE = [
    (F.elu_, F.elu, (0.7,)),
    (F.leaky_relu_, F.leaky_relu, (0.2,)),
    (F.hardtanh_, F.hardtanh, (-0.4, 1.0)),
    (F.threshold_, F.threshold, (0.2, -7.0)),
    (F.selu_, F.selu, ()),
    (F.celu_, F.celu, (0.5,)),
    (F.rrelu_, F.rrelu, (0.1, 0.3, False)),
]


@pytest.mark.parametrize("inplace_fn,fn,args", INPLACE)
def test_inplace_activation_writes_input_and_grads(inplace_fn, fn, args):
    expected = fn(torch.tensor(X, dtype=torch.float64), *args)
    x = torch.tensor(X, dtype=torch.float64)
    out = inplace_fn(x, *args)
    assert out is x
    np.testing.assert_allclose(x.numpy(), expected.numpy(), rtol=1e-12)
    # gradients through the overwritten tensor match the out-of-place op
    a = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = a * 1
    inplace_fn(y, *args)
    (y * torch.arange(6.0, dtype=torch.float64)).sum().backward()
    b = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    (fn(b, *args) * torch.arange(6.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_inplace_values_literal():
    x = torch.tensor([-1.0, 2.0])
    F.elu_(x)
    np.testing.assert_allclose(x.numpy(), [np.exp(-1.0) - 1, 2.0], rtol=1e-6)
    x = torch.tensor([-1.0, 2.0])
    F.leaky_relu_(x, 0.1)
    np.testing.assert_allclose(x.numpy(), [-0.1, 2.0], rtol=1e-6)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh_(torch.zeros(2), 1.0, 0.0)


def test_gumbel_softmax_soft_and_hard():
    torch.manual_seed(0)
    logits = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.sum(-1).detach().numpy(), np.ones(4), rtol=1e-12)
    assert (soft.detach().numpy() > 0).all()
    torch.manual_seed(1)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True, dim=0)
    h = hard.detach().numpy()
    assert set(np.unique(h)) <= {0.0, 1.0}
    np.testing.assert_array_equal(h.sum(0), np.ones(5))
    # straight-through: the gradient is the soft sample's
    w = torch.arange(20.0, dtype=torch.float64).reshape(4, 5)
    (hard * w).sum().backward()
    g_hard = logits.grad.clone()
    logits.grad = None
    torch.manual_seed(1)
    (F.gumbel_softmax(logits, tau=0.5, dim=0) * w).sum().backward()
    np.testing.assert_allclose(g_hard.numpy(), logits.grad.numpy(), rtol=1e-12)
    assert np.abs(g_hard.numpy()).sum() > 0


def test_pdist_values_and_grad():
    x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0], [2.0, 2.0, 2.0], [0.5, 0.0, 1.0]])
    i, j = np.triu_indices(4, 1)
    for p in (1.0, 2.0, 3.0):
        expected = (np.abs(x[i] - x[j]) ** p).sum(-1) ** (1 / p)
        np.testing.assert_allclose(F.pdist(torch.tensor(x), p).numpy(), expected, rtol=1e-12)
    # PyTorch literal
    np.testing.assert_allclose(F.pdist(torch.tensor(x[:2])).numpy(), [5.315072906367325], rtol=1e-12)
    t = torch.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: F.pdist(a), (t,))
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 1D"):
        F.pdist(torch.zeros(3))


def test_channel_shuffle():
    x = torch.arange(12.0).reshape(1, 6, 2)
    out = F.channel_shuffle(x, 3)
    np.testing.assert_array_equal(out[0, :, 0].numpy(), [0.0, 4.0, 8.0, 2.0, 6.0, 10.0])
    m = nn.ChannelShuffle(2)
    assert repr(m) == "ChannelShuffle(groups=2)"
    np.testing.assert_array_equal(m(x)[0, :, 1].numpy(), [1.0, 7.0, 3.0, 9.0, 5.0, 11.0])
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups. Got 5 channels and 2"):
        F.channel_shuffle(torch.zeros(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match="channel_shuffle expects input with > 2 dims"):
        F.channel_shuffle(torch.zeros(5), 2)


def test_upsample_aliases_warn():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        out = F.upsample_nearest(x, scale_factor=2)
    np.testing.assert_array_equal(out.numpy(), F.interpolate(x, scale_factor=2).numpy())
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        out = F.upsample_bilinear(x, size=3)
    np.testing.assert_allclose(out[0, 0].numpy(), [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]], rtol=1e-6)


def test_multilabel_margin_loss_literals_and_grad():
    inp = torch.tensor([[0.1, 0.2, 0.4, 0.8], [0.3, -0.2, 1.0, 0.5]])
    tg = torch.tensor([[3, 0, -1, 1], [1, 2, 3, -1]])
    # PyTorch values
    np.testing.assert_allclose(F.multilabel_margin_loss(inp, tg).item(), 0.75, rtol=1e-6)
    np.testing.assert_allclose(F.multilabel_margin_loss(inp, tg, reduction="none").numpy(), [0.85, 0.65], rtol=1e-6)
    np.testing.assert_allclose(nn.MultiLabelMarginLoss()(inp[0], tg[0]).item(), 0.85, rtol=1e-6)
    np.testing.assert_allclose(nn.MultiLabelMarginLoss(reduction="sum")(inp, tg).item(), 1.5, rtol=1e-6)
    x = torch.tensor([[0.1, 0.7, -0.3, 0.2], [0.9, -0.4, 0.05, 0.6]], dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a: F.multilabel_margin_loss(a, tg), (x,))
    with pytest.raises(RuntimeError, match=r"inconsistent target size: \[3\] for input of size: \[2, 3\]"):
        F.multilabel_margin_loss(torch.zeros(2, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        F.multilabel_margin_loss(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="argument #2 'target' is out of range"):
        F.multilabel_margin_loss(torch.zeros(2, 3), torch.full((2, 3), 5, dtype=torch.int64))
    with pytest.raises(RuntimeError, match=r"Expected non-empty vector or matrix .* but got: \[2, 3, 2\]"):
        F.multilabel_margin_loss(torch.zeros(2, 3, 2), torch.zeros(2, 3, 2, dtype=torch.int64))
    # 0-dim input is one class; PyTorch gives 0 for target 0
    assert F.multilabel_margin_loss(torch.tensor(0.5), torch.tensor(0)).item() == 0.0


def test_triplet_margin_with_distance_loss():
    rng = np.random.default_rng(0)
    a, p, n = (rng.standard_normal((3, 4)) for _ in range(3))
    ta, tp, tn = (torch.tensor(v, requires_grad=True) for v in (a, p, n))

    def d(u, v):
        return np.sqrt(((u - v + 1e-6) ** 2).sum(-1))

    expected = np.maximum(d(a, p) - d(a, n) + 1.0, 0).mean()
    np.testing.assert_allclose(F.triplet_margin_with_distance_loss(ta, tp, tn).item(), expected, rtol=1e-10)
    np.testing.assert_allclose(
        F.triplet_margin_with_distance_loss(ta, tp, tn).item(), F.triplet_margin_loss(ta, tp, tn).item(), rtol=1e-12
    )

    def cos_dist(u, v):
        return 1 - F.cosine_similarity(u, v)

    m = nn.TripletMarginWithDistanceLoss(distance_function=cos_dist, margin=0.5, swap=True, reduction="none")
    cd = 1 - F.cosine_similarity(torch.tensor(a), torch.tensor(p)).numpy()
    cn = np.minimum(1 - F.cosine_similarity(torch.tensor(a), torch.tensor(n)).numpy(),
                    1 - F.cosine_similarity(torch.tensor(p), torch.tensor(n)).numpy())
    np.testing.assert_allclose(m(ta, tp, tn).detach().numpy(), np.maximum(cd - cn + 0.5, 0), rtol=1e-10)
    assert gradcheck(lambda x, y, z: F.triplet_margin_with_distance_loss(x, y, z, margin=2.0), (ta, tp, tn))
    assert "(distance_function): PairwiseDistance()" in repr(nn.TripletMarginWithDistanceLoss())
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        F.triplet_margin_with_distance_loss(ta, tp, tn, margin=0)
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: expected margin to be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)


def test_buffer_registration():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Buffer(torch.ones(2))
            self.b = nn.Buffer(torch.zeros(1), persistent=False)
            self.c = torch.ones(3)

    m = M()
    assert [n for n, _ in m.named_buffers()] == ["a", "b"]
    assert list(m.state_dict()) == ["a"]
    assert isinstance(m.a, nn.Buffer) and not isinstance(m.c, nn.Buffer)
    assert not m.a.requires_grad and list(m.parameters()) == []
    np.testing.assert_array_equal(m.a.numpy(), [1.0, 1.0])
    m.b = nn.Buffer(torch.ones(1))  # reassigning with a persistent Buffer makes it persistent
    assert list(m.state_dict()) == ["a", "b"]
    with pytest.raises(AttributeError, match="cannot assign buffer before Module.__init__"):
        class Bad(nn.Module):
            def __init__(self):
                self.x = nn.Buffer(torch.ones(1))
        Bad()


@pytest.mark.parametrize("name", ["silu", "mish", "hardswish", "elu", "selu", "celu", "leaky_relu", "rrelu"])
def test_inplace_flag_keeps_gradients(name):
    # ``inplace=True`` overwrites a tensor whose old value autograd still needs
    fn = getattr(F, name)
    w = torch.arange(6.0, dtype=torch.float64)
    a = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = a * 1
    assert fn(y, inplace=True) is y
    (y * w).sum().backward()
    b = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    (fn(b) * w).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), fn(torch.tensor(X, dtype=torch.float64)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_inplace_module():
    a = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = a * 1
    out = nn.ELU(alpha=0.5, inplace=True)(y)
    assert out is y
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.where(np.array(X) > 0, 1.0, 0.5 * np.exp(X)), rtol=1e-12)


def test_pdist_special_p_and_errors():
    x = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0], [2.0, 2.0, 2.0]], dtype=torch.float64)
    # PyTorch values
    np.testing.assert_allclose(F.pdist(x, float("inf")).numpy(), [5.0, 4.0, 3.0])
    np.testing.assert_allclose(F.pdist(x, 0).numpy(), [3.0, 3.0, 3.0])
    assert tuple(F.pdist(torch.zeros(1, 3)).shape) == (0,)
    with pytest.raises(RuntimeError, match="pdist only supports non-negative p values"):
        F.pdist(x, -1)
    with pytest.raises(RuntimeError, match="Number of groups to divide channels in must be positive"):
        F.channel_shuffle(torch.zeros(1, 4, 2), 0)


def test_gumbel_softmax_eps_deprecated():
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(torch.zeros(2, 3), eps=1e-5)
