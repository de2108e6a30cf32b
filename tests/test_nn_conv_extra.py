"""conv_transpose3d / ConvTranspose3d, fractional max pooling, feature alpha dropout, CrossMapLRN2d and
AdaptiveLogSoftmaxWithLoss: numpy references, PyTorch literals, gradcheck and PyTorch's errors."""

import itertools
import math

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.autograd import gradcheck

_RNG = np.random.default_rng(3)

# ============================================================================ conv_transpose3d


def _conv_t_ref(x, w, b, stride, padding, output_padding, groups, dilation):
    """Scatter every input voxel times the kernel into the (cropped) output."""
    n, c_in = x.shape[:2]
    c_out_g, kernel = w.shape[1], w.shape[2:]
    spatial = x.shape[2:]
    full = [(i - 1) * s + d * (k - 1) + 1 + op
            for i, s, d, k, op in zip(spatial, stride, dilation, kernel, output_padding)]
    out = np.zeros((n, c_out_g * groups, *full))
    cin_g = c_in // groups
    for bi, ci in itertools.product(range(n), range(c_in)):
        g = ci // cin_g
        for pos in itertools.product(*(range(s) for s in spatial)):
            for off in itertools.product(*(range(k) for k in kernel)):
                tgt = tuple(p * s + o * d for p, s, o, d in zip(pos, stride, off, dilation))
                for co in range(c_out_g):
                    out[(bi, g * c_out_g + co, *tgt)] += x[(bi, ci, *pos)] * w[(ci, co, *off)]
    crop = tuple(slice(p, f - p) for p, f in zip(padding, full))
    out = out[(slice(None), slice(None), *crop)]
    if b is not None:
        out = out + b.reshape(-1, 1, 1, 1)
    return out


@pytest.mark.parametrize("kw", [
    {"stride": (1, 1, 1), "padding": (0, 0, 0), "output_padding": (0, 0, 0), "groups": 1, "dilation": (1, 1, 1)},
    {"stride": (2, 1, 2), "padding": (1, 0, 1), "output_padding": (1, 0, 0), "groups": 1, "dilation": (1, 1, 1)},
    {"stride": (1, 2, 1), "padding": (0, 1, 0), "output_padding": (0, 1, 0), "groups": 2, "dilation": (2, 1, 1)},
])
def test_conv_transpose3d_matches_reference(kw):
    x = _RNG.standard_normal((2, 4, 2, 3, 2))
    w = _RNG.standard_normal((4, 3, 2, 2, 3))
    b = _RNG.standard_normal(3 * kw["groups"])
    y = F.conv_transpose3d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw)
    np.testing.assert_allclose(y.numpy(), _conv_t_ref(x, w, b, **kw), atol=1e-12)


def test_conv_transpose3d_unbatched_and_gradcheck():
    x = _RNG.standard_normal((2, 2, 2, 2))
    w = _RNG.standard_normal((2, 1, 2, 1, 2))
    y = F.conv_transpose3d(torch.tensor(x), torch.tensor(w), stride=2)
    ref = _conv_t_ref(x[None], w, None, (2, 2, 2), (0, 0, 0), (0, 0, 0), 1, (1, 1, 1))[0]
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)
    xt = torch.tensor(x[None], requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a, b, c: F.conv_transpose3d(a, b, c, stride=(2, 1, 1), padding=(0, 0, 1)), (xt, wt, bt))


def test_conv_transpose3d_errors():
    x, w = torch.randn(1, 2, 2, 2, 2), torch.randn(3, 1, 2, 2, 2)
    with pytest.raises(RuntimeError, match=r"expected input\[1, 2, 2, 2, 2\] to have 3 channels, but got 2"):
        F.conv_transpose3d(x, w)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose3d(x, torch.randn(2, 1, 2, 2, 2), output_padding=1)
    with pytest.raises(RuntimeError, match=r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv_transpose3d"):
        F.conv_transpose3d(torch.randn(2, 2, 2), torch.randn(2, 1, 2, 2, 2))


def test_conv_transpose3d_module():
    m = nn.ConvTranspose3d(2, 4, (2, 3, 2), stride=2, padding=1, groups=2, bias=True)
    assert tuple(m.weight.shape) == (2, 2, 2, 3, 2) and tuple(m.bias.shape) == (4,)
    assert repr(m) == "ConvTranspose3d(2, 4, kernel_size=(2, 3, 2), stride=(2, 2, 2), padding=(1, 1, 1), groups=2)"
    x = torch.tensor(_RNG.standard_normal((1, 2, 3, 2, 3)).astype(np.float32))
    y = m(x)
    assert tuple(y.shape) == (1, 4, 4, 3, 4)
    ref = _conv_t_ref(x.numpy().astype(np.float64), m.weight.detach().numpy().astype(np.float64),
                      m.bias.detach().numpy().astype(np.float64), (2, 2, 2), (1, 1, 1), (0, 0, 0), 2, (1, 1, 1))
    np.testing.assert_allclose(y.detach().numpy(), ref, atol=1e-5)
    assert tuple(m(x, output_size=(5, 4, 5)).shape) == (1, 4, 5, 4, 5)
    with pytest.raises(ValueError, match="requested an output size of"):
        m(x, output_size=(7, 4, 5))
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose3d'):
        nn.ConvTranspose3d(2, 2, 2, padding_mode="reflect")


# ============================================================================ fractional max pooling


def _starts(u, size, out, k):
    if out == 1:
        return [size - k]
    alpha = (size - k) / (out - 1)
    return [int((i + u) * alpha) - int(u * alpha) for i in range(out - 1)] + [size - k]


def _frac_ref(x, samples, kernel, out):
    """samples[..., 0] is width (2-D) / time (3-D), as ATen's kernels read them."""
    nd = len(kernel)
    n, c = x.shape[:2]
    vals = np.zeros((n, c, *out))
    idx = np.zeros((n, c, *out), dtype=np.int64)
    order = (1, 0) if nd == 2 else (0, 1, 2)
    for b, ch in itertools.product(range(n), range(c)):
        starts = [_starts(samples[b, ch, order[i]], x.shape[2 + i], out[i], kernel[i]) for i in range(nd)]
        for pos in itertools.product(*(range(o) for o in out)):
            lo = [starts[i][pos[i]] for i in range(nd)]
            win = x[(b, ch, *(slice(s, s + k) for s, k in zip(lo, kernel)))]
            arg = np.unravel_index(np.argmax(win), win.shape)
            vals[(b, ch, *pos)] = win[arg]
            idx[(b, ch, *pos)] = np.ravel_multi_index(tuple(s + a for s, a in zip(lo, arg)), x.shape[2:])
    return vals, idx


@pytest.mark.parametrize("nd,shape,kernel,out", [
    (2, (2, 3, 7, 8), (2, 3), (4, 3)),
    (2, (1, 2, 5, 6), (3, 2), (1, 5)),
    (3, (1, 2, 5, 6, 4), (2, 2, 2), (3, 4, 2)),
])
def test_fractional_max_pool_matches_reference(nd, shape, kernel, out):
    x = _RNG.standard_normal(shape)
    samples = _RNG.uniform(0, 1, (shape[0], shape[1], nd))
    fn = F.fractional_max_pool2d if nd == 2 else F.fractional_max_pool3d
    v, i = fn(torch.tensor(x), kernel, output_size=out, return_indices=True, _random_samples=torch.tensor(samples))
    rv, ri = _frac_ref(x, samples, kernel, out)
    np.testing.assert_allclose(v.numpy(), rv, atol=0)
    np.testing.assert_array_equal(i.numpy(), ri)
    assert i.dtype == torch.int64
    with_idx = F.fractional_max_pool2d_with_indices if nd == 2 else F.fractional_max_pool3d_with_indices
    _, i2 = with_idx(torch.tensor(x), kernel, output_size=out, _random_samples=torch.tensor(samples))
    np.testing.assert_array_equal(i2.numpy(), ri)


def test_fractional_max_pool2d_pytorch_literal_float32():
    x = torch.sin(torch.arange(63, dtype=torch.float32)).reshape(1, 1, 7, 9)
    s = torch.tensor([[[0.37, 0.81]]])
    v, i = F.fractional_max_pool2d(x, 2, output_size=(3, 4), return_indices=True, _random_samples=s)
    assert i.tolist() == [[[[1, 13, 14, 8], [27, 21, 33, 26], [46, 58, 51, 52]]]]
    np.testing.assert_allclose(v.numpy().ravel()[:4], [0.8414709568, 0.4201670289, 0.9906073809, 0.9893582463],
                               rtol=1e-6)


def test_fractional_max_pool_ratio_unbatched_random_and_grad():
    x = torch.tensor(_RNG.standard_normal((3, 10, 9)), requires_grad=True)
    v, i = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.7), return_indices=True)
    assert tuple(v.shape) == (3, 5, 6)
    # whatever windows were drawn, each value is the input at its index
    flat = x.detach().numpy().reshape(3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, i.numpy().reshape(3, -1), 1), v.detach().numpy().reshape(3, -1))
    w = _RNG.standard_normal(v.shape)
    (v * torch.tensor(w)).sum().backward()
    expect = np.zeros(flat.shape)
    np.add.at(expect, (np.arange(3)[:, None], i.numpy().reshape(3, -1)), w.reshape(3, -1))
    np.testing.assert_allclose(x.grad.numpy().reshape(3, -1), expect, atol=1e-12)
    v3 = F.fractional_max_pool3d(torch.randn(2, 1, 6, 5, 4), (2, 1, 2), output_ratio=0.5)
    assert tuple(v3.shape) == (2, 1, 3, 2, 2)


def test_fractional_max_pool_modules():
    samples = torch.tensor(_RNG.uniform(0, 1, (1, 2, 2)))
    m = nn.FractionalMaxPool2d(3, output_size=(2, 3), return_indices=True, _random_samples=samples)
    assert m.kernel_size == (3, 3) and m.output_size == (2, 3) and m.output_ratio is None
    assert "_random_samples" in dict(m.named_buffers())
    x = _RNG.standard_normal((1, 2, 6, 7))
    v, i = m(torch.tensor(x))
    rv, ri = _frac_ref(x, samples.numpy(), (3, 3), (2, 3))
    np.testing.assert_allclose(v.numpy(), rv)
    np.testing.assert_array_equal(i.numpy(), ri)
    m3 = nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5, 0.5))
    assert m3.output_ratio == (0.5, 0.5, 0.5) and m3.kernel_size == (2, 2, 2)
    assert tuple(m3(torch.randn(1, 1, 4, 6, 8)).shape) == (1, 1, 2, 3, 4)
    assert repr(m3) == "FractionalMaxPool3d()"
    with pytest.raises(ValueError, match="FractionalMaxPool2d requires specifying either an output size, or a "
                                         "pooling ratio"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="only one of output_size and output_ratio may be specified"):
        nn.FractionalMaxPool2d(2, output_size=2, output_ratio=0.5)
    with pytest.raises(ValueError, match=r"output_ratio must be between 0 and 1 \(got 1.5\)"):
        nn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="kernel_size must be greater than 0, but got 0"):
        nn.FractionalMaxPool3d(0, output_size=2)


def test_fractional_max_pool_errors():
    x = torch.randn(1, 2, 5, 6)
    with pytest.raises(ValueError, match="fractional_max_pool2d requires specifying either an output_size or an "
                                         "output_ratio"):
        F.fractional_max_pool2d(x, 2)
    with pytest.raises(RuntimeError, match=r"fractional_max_pool2d\(\): pool height 3 too large relative to input "
                                           r"height 5"):
        F.fractional_max_pool2d(x, 3, output_size=4)
    with pytest.raises(RuntimeError, match=r"fractional_max_pool3d_out\(\): pool width 2 too large relative to input "
                                           r"width 7"):
        F.fractional_max_pool3d(torch.randn(1, 2, 5, 6, 7), 2, output_size=(2, 2, 7))
    with pytest.raises(RuntimeError, match="kernel size should be greater than zero, but got 0x0"):
        F.fractional_max_pool2d(x, 0, output_size=2)
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D tensor, but got: \[1, 2, 5, 6, 7\]"):
        F.fractional_max_pool2d(torch.randn(1, 2, 5, 6, 7), 2, output_size=2)
    with pytest.raises(RuntimeError, match=r"Expect _random_samples.size\(2\) equals to 2; got 3."):
        F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=torch.rand(1, 2, 3))
    with pytest.raises(RuntimeError, match="Expect _random_samples to have the same dtype as input"):
        F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=torch.rand(1, 2, 2).double())
    with pytest.raises(RuntimeError, match="Expect _random_samples.size\\(0\\) no less then input batch size."):
        F.fractional_max_pool2d(torch.randn(2, 2, 5, 6), 2, output_size=2, _random_samples=torch.rand(1, 2, 2))


# ============================================================================ FeatureAlphaDropout


def test_feature_alpha_dropout():
    torch.manual_seed(0)
    x = torch.randn(64, 32, 3, 3)
    assert F.feature_alpha_dropout(x, 0.3) is x  # training defaults to False
    assert nn.FeatureAlphaDropout(0.3).eval()(x) is x
    p = 0.3
    y = nn.FeatureAlphaDropout(p)(x).numpy()
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha ** 2 * p + 1) * (1 - p))
    kept = np.isclose(y, x.numpy() * a + alpha * a * p, atol=1e-5)
    dropped = np.isclose(y, -alpha * a + alpha * a * p, atol=1e-5)
    # one draw per (n, c) feature map, each either kept (affine of x) or set to the constant
    per_map_kept = kept.reshape(64, 32, -1).all(-1)
    per_map_dropped = dropped.reshape(64, 32, -1).all(-1)
    assert (per_map_kept | per_map_dropped).all()
    assert abs(per_map_dropped.mean() - p) < 0.06
    # SELU's self-normalising property: mean ~0, variance ~1 for standard-normal input
    big = F.feature_alpha_dropout(torch.randn(400, 400, 4), p, training=True).numpy()
    assert abs(big.mean()) < 0.05 and abs(big.var() - 1) < 0.05
    np.testing.assert_array_equal(F.feature_alpha_dropout(x, 1.0, training=True).numpy(), np.zeros(x.shape))
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions in the input"):
        F.feature_alpha_dropout(torch.randn(5), 0.5, training=True)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.FeatureAlphaDropout(1.5)


def test_feature_alpha_dropout_inplace_and_grad():
    torch.manual_seed(1)
    x = torch.randn(4, 6, 2, requires_grad=True)
    y = F.feature_alpha_dropout(x, 0.5, training=True)
    y.sum().backward()
    g = x.grad.numpy()
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha ** 2 * 0.5 + 1) * 0.5)
    assert np.all(np.isclose(g, 0.0) | np.isclose(g, a, rtol=1e-6))
    assert np.isclose(g, 0.0).any() and np.isclose(g, a).any()
    np.testing.assert_array_equal(g[..., 0], g[..., 1])  # constant along the feature map
    z = torch.randn(3, 4, 5)
    out = F.feature_alpha_dropout(z, 0.4, training=True, inplace=True)
    assert out is z


# ============================================================================ CrossMapLRN2d


def _cross_map_ref(x, size, alpha, beta, k):
    """Direct port of PyTorch's running-sum forward."""
    sq = x ** 2
    channels = x.shape[1]
    pre_pad = int((size - 1) / 2 + 1)
    scale = np.zeros_like(x)
    for c in range(min(pre_pad, channels)):
        scale[:, 0] += sq[:, c]
    for c in range(1, channels):
        scale[:, c] = scale[:, c - 1]
        if c < channels - pre_pad + 1:
            scale[:, c] += sq[:, c + pre_pad - 1]
        if c > pre_pad:
            scale[:, c] -= sq[:, c - pre_pad]
    return x * (scale * alpha / size + k) ** -beta


@pytest.mark.parametrize("size,channels", [(3, 6), (5, 7), (4, 5), (1, 3), (7, 3)])
def test_cross_map_lrn2d_matches_reference(size, channels):
    x = _RNG.standard_normal((2, channels, 2, 3))
    y = nn.CrossMapLRN2d(size, alpha=0.3, beta=0.75, k=1.5)(torch.tensor(x))
    np.testing.assert_allclose(y.numpy(), _cross_map_ref(x, size, 0.3, 0.75, 1.5), atol=1e-12)


def test_cross_map_lrn2d_pytorch_literal_repr_grad_errors():
    x = torch.linspace(-1, 1, 12).reshape(1, 4, 3, 1)
    m = nn.CrossMapLRN2d(3, alpha=0.5, beta=0.75, k=1.0)
    want = [-0.8715957403, -0.7495225072, -0.6053569317, -0.3958394527, -0.2477938533, -0.0844472051,
            0.0759908780, 0.2309855819, 0.3799544871, 0.5430170894, 0.6981648207, 0.8365805149]
    np.testing.assert_allclose(m(x).numpy().ravel(), want, rtol=1e-5)
    assert repr(m) == "CrossMapLRN2d(3, alpha=0.5, beta=0.75, k=1.0)"
    xt = torch.tensor(_RNG.standard_normal((1, 5, 2, 1)), requires_grad=True)
    assert gradcheck(lambda t: nn.CrossMapLRN2d(3, 0.5, 0.75, 1.0)(t), (xt,))
    with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 3D instead."):
        m(torch.randn(4, 3, 1))


# ============================================================================ AdaptiveLogSoftmaxWithLoss


def _asm_ref_log_prob(m, x):
    def lin(layer, v):
        out = v @ layer.weight.detach().numpy().T
        return out + layer.bias.detach().numpy() if layer.bias is not None else out

    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    head = log_softmax(lin(m.head, x))
    parts = [head[:, : m.shortlist_size]]
    for i, (i2h, h2o) in enumerate(m.tail):
        parts.append(log_softmax(lin(h2o, lin(i2h, x))) + head[:, m.shortlist_size + i: m.shortlist_size + i + 1])
    return np.concatenate(parts, 1)


def test_adaptive_log_softmax_values_and_grad():
    torch.manual_seed(0)
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15], div_value=2.0, head_bias=True).double()
    x = _RNG.standard_normal((7, 8))
    target = np.array([0, 5, 19, 3, 12, 10, 14])
    ref = _asm_ref_log_prob(m, x)
    lp = m.log_prob(torch.tensor(x))
    np.testing.assert_allclose(lp.detach().numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(np.exp(ref).sum(1), 1.0, atol=1e-12)
    out = m(torch.tensor(x), torch.tensor(target))
    assert out._fields == ("output", "loss")
    output, loss = out
    np.testing.assert_allclose(output.detach().numpy(), ref[np.arange(7), target], atol=1e-12)
    np.testing.assert_allclose(loss.item(), -ref[np.arange(7), target].mean(), atol=1e-12)
    np.testing.assert_array_equal(m.predict(torch.tensor(x)).numpy(), ref.argmax(1))
    xt = torch.tensor(x, requires_grad=True)
    assert gradcheck(lambda t: m(t, torch.tensor(target)).loss, (xt,))
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    single = m(torch.tensor(x[2]), torch.tensor(target[2]))
    assert tuple(single.output.shape) == ()
    np.testing.assert_allclose(single.output.item(), ref[2, target[2]], atol=1e-12)


def test_adaptive_log_softmax_structure_and_errors():
    m = nn.AdaptiveLogSoftmaxWithLoss(16, 30, [5, 12], div_value=4.0)
    assert list(m.state_dict()) == ["head.weight", "tail.0.0.weight", "tail.0.1.weight", "tail.1.0.weight",
                                    "tail.1.1.weight"]
    assert tuple(m.head.weight.shape) == (7, 16)
    assert tuple(m.tail[0][0].weight.shape) == (4, 16) and tuple(m.tail[0][1].weight.shape) == (7, 4)
    assert tuple(m.tail[1][0].weight.shape) == (1, 16) and tuple(m.tail[1][1].weight.shape) == (18, 1)
    assert m.cutoffs == [5, 12, 30] and m.shortlist_size == 5 and m.n_clusters == 2 and m.head_size == 7
    with pytest.raises(ValueError, match="cutoffs should be a sequence of length larger than 0"):
        nn.AdaptiveLogSoftmaxWithLoss(4, 10, [])
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique, positive integers sorted"):
        nn.AdaptiveLogSoftmaxWithLoss(4, 10, [5, 3])
    with pytest.raises(ValueError, match="each value is between 1 and n_classes-1"):
        nn.AdaptiveLogSoftmaxWithLoss(4, 10, [10])
    x = torch.randn(3, 16)
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 29\], but values in range \[0, 30\] "
                                           r"were found."):
        m(x, torch.tensor([0, 30, 2]))
    with pytest.raises(RuntimeError, match="Input and target should have the same size in the batch dimension."):
        m(x, torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        m(x, torch.tensor([[0, 1, 2]]))
    with pytest.raises(RuntimeError, match="0D target tensor expects 1D input tensors"):
        m(x, torch.tensor(1))
