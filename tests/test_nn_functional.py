"""nn.functional against numpy references, with float64 finite-difference gradient checks."""

import itertools
import math

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck

RNG = np.random.default_rng(0)


def t64(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def randn(*shape, requires_grad=False):
    return t64(RNG.standard_normal(shape), requires_grad)


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(a.detach().numpy() if isinstance(a, torch.Tensor) else a, b, rtol=tol, atol=tol)


# ---------------------------------------------------------------------------- numpy references


def np_conv2d(x, w, b, stride, padding, dilation, groups):
    x = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(ho):
            for j in range(wo):
                for ci in range(cg):
                    for a in range(kh):
                        for bb in range(kw):
                            out[:, oc, i, j] += (x[:, g * cg + ci, i * stride[0] + a * dilation[0],
                                                   j * stride[1] + bb * dilation[1]] * w[oc, ci, a, bb])
    if b is not None:
        out += b[None, :, None, None]
    return out


def np_conv_transpose2d(x, w, stride, padding, output_padding):
    n, _, h, wd = x.shape
    _, o, kh, kw = w.shape
    full = np.zeros((n, o, (h - 1) * stride + kh + output_padding, (wd - 1) * stride + kw + output_padding))
    for i in range(h):
        for j in range(wd):
            full[:, :, i * stride: i * stride + kh, j * stride: j * stride + kw] += np.einsum(
                "nc,cokl->nokl", x[:, :, i, j], w)
    ho = (h - 1) * stride - 2 * padding + kh + output_padding
    wo = (wd - 1) * stride - 2 * padding + kw + output_padding
    return full[:, :, padding: padding + ho, padding: padding + wo]


def np_windows(x, k, s, p, pad_value):
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
    ho = (x.shape[2] - k) // s + 1
    wo = (x.shape[3] - k) // s + 1
    out = np.zeros(x.shape[:2] + (ho, wo, k * k))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * s: i * s + k, j * s: j * s + k].reshape(x.shape[:2] + (-1,))
    return out


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


# ---------------------------------------------------------------------------- linear


def test_linear_and_bilinear_values():
    x, w, b = randn(4, 3), randn(5, 3), randn(5)
    close(F.linear(x, w, b), x.numpy() @ w.numpy().T + b.numpy())
    close(F.linear(x, w), x.numpy() @ w.numpy().T)
    x2, wb = randn(4, 2), randn(5, 3, 2)
    close(F.bilinear(x, x2, wb, b), np.einsum("ni,kij,nj->nk", x.numpy(), wb.numpy(), x2.numpy()) + b.numpy())


def test_linear_gradcheck():
    assert gradcheck(F.linear, (randn(3, 4, requires_grad=True), randn(2, 4, requires_grad=True),
                                randn(2, requires_grad=True)))
    assert gradcheck(F.bilinear, (randn(2, 3, requires_grad=True), randn(2, 2, requires_grad=True),
                                  randn(4, 3, 2, requires_grad=True)))


# ---------------------------------------------------------------------------- activations

ACTIVATIONS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (F.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    "selu": (F.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1))),
    "celu": (lambda x: F.celu(x, 2.0), lambda x: np.maximum(x, 0) + np.minimum(0, 2 * (np.exp(x / 2) - 1))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    "silu": (F.silu, lambda x: x / (1 + np.exp(-x))),
    "mish": (F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "softplus": (lambda x: F.softplus(x, beta=2, threshold=3),
                 lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (F.tanh, np.tanh),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "logsigmoid": (F.logsigmoid, lambda x: -np.log1p(np.exp(-x))),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x)),
    "softshrink": (F.softshrink, lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
    "hardshrink": (F.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values_and_grad(name):
    fn, ref = ACTIVATIONS[name]
    # keep points away from kinks so finite differences are well defined
    raw = RNG.uniform(-4, 4, size=(3, 7))
    raw = np.where(np.abs(raw) < 0.1, raw + 0.3, raw)
    for kink in (0.5, -0.5, 1.5, 3.0, -3.0, 6.0, 1.5):
        raw = np.where(np.abs(raw - kink) < 0.05, raw + 0.2, raw)
    x = t64(raw, requires_grad=True)
    close(fn(x), ref(raw), 1e-6)
    assert gradcheck(fn, (x,))


def test_prelu_and_glu():
    x = randn(2, 3, 4, requires_grad=True)
    w = t64([0.1, 0.2, 0.3], requires_grad=True)
    close(F.prelu(x, w), np.where(x.detach().numpy() > 0, x.detach().numpy(), x.detach().numpy() * np.array(
        [0.1, 0.2, 0.3])[None, :, None]))
    assert gradcheck(F.prelu, (x, w))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        F.prelu(x, t64([0.1, 0.2]))
    a = x.detach().numpy()
    close(F.glu(x, 2), a[..., :2] / (1 + np.exp(-a[..., 2:])))


def test_inplace_activations_modify_input():
    x = t64([-1.0, 2.0])
    out = F.relu(x, inplace=True)
    assert x.tolist() == [0.0, 2.0] and out.tolist() == [0.0, 2.0]
    y = t64([-1.0, 2.0])
    F.leaky_relu(y, 0.5, inplace=True)
    assert y.tolist() == [-0.5, 2.0]


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family(dim):
    x = randn(3, 4, 5, requires_grad=True)
    a = x.detach().numpy()
    ls = np_log_softmax(a, dim)
    close(F.log_softmax(x, dim), ls)
    close(F.softmax(x, dim), np.exp(ls))
    close(F.softmin(x, dim), np.exp(np_log_softmax(-a, dim)))
    assert gradcheck(lambda t: F.log_softmax(t, dim), (x,))
    assert gradcheck(lambda t: F.softmax(t, dim), (x,))


def test_softmax_dtype_and_large_values():
    x = torch.tensor([[1000.0, 1000.0], [-1000.0, 0.0]])
    close(F.softmax(x, 1), [[0.5, 0.5], [0.0, 1.0]])
    assert F.log_softmax(x, 1, dtype=torch.float64).dtype == torch.float64
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        F.softmax(torch.ones(2, 3))


# ---------------------------------------------------------------------------- dropout


def test_dropout_statistics_and_eval():
    torch.manual_seed(0)
    x = torch.ones(200, 100)
    y = F.dropout(x, 0.3, training=True)
    vals = np.unique(y.numpy())
    assert len(vals) == 2 and vals[0] == 0.0 and vals[1] == pytest.approx(1 / 0.7, rel=1e-6)
    assert abs((y == 0).float().mean().item() - 0.3) < 0.02
    assert F.dropout(x, 0.3, training=False) is x
    assert F.dropout(x, 1.0).sum().item() == 0.0
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout2d_zeroes_whole_channels():
    torch.manual_seed(1)
    y = F.dropout2d(torch.ones(8, 16, 3, 3), 0.5, training=True).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0 < (per_channel == 0).all(-1).sum() < 128


# ---------------------------------------------------------------------------- convolution


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 1), 1), ((1, 2), (1, 0), (2, 1), 1), ((1, 1), (1, 1), (1, 1), 2),
])
def test_conv2d_matches_direct_convolution(stride, padding, dilation, groups):
    x, w, b = randn(2, 4, 7, 6), randn(6, 4 // groups, 3, 2), randn(6)
    out = F.conv2d(x, w, b, stride, padding, dilation, groups)
    close(out, np_conv2d(x.numpy(), w.numpy(), b.numpy(), stride, padding, dilation, groups), 1e-9)


def test_conv2d_same_valid_and_unbatched():
    x, w = randn(1, 2, 6, 5), randn(3, 2, 3, 4)
    same = F.conv2d(x, w, padding="same")
    assert tuple(same.shape) == (1, 3, 6, 5)
    # 'same' with an even kernel pads (1, 2) on the last dim, as PyTorch does
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 2)))
    close(same, np_conv2d(xp, w.numpy(), None, (1, 1), (0, 0), (1, 1), 1), 1e-9)
    close(F.conv2d(x, w, padding="valid"), np_conv2d(x.numpy(), w.numpy(), None, (1, 1), (0, 0), (1, 1), 1), 1e-9)
    close(F.conv2d(x[0], w), F.conv2d(x, w)[0].detach().numpy(), 1e-12)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(x, w, stride=2, padding="same")


def test_conv_errors():
    with pytest.raises(RuntimeError, match="expected input.* to have 4 channels, but got 3 channels instead"):
        F.conv2d(randn(1, 3, 5, 5), randn(2, 4, 3, 3))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(randn(1, 1, 2, 2), randn(1, 1, 3, 3))


def test_conv1d_matches_direct():
    x, w, b = randn(2, 3, 9), randn(4, 3, 3), randn(4)
    out = F.conv1d(x, w, b, stride=2, padding=1, dilation=2)
    ref = np_conv2d(x.numpy()[:, :, None], w.numpy()[:, :, None], b.numpy(), (1, 2), (0, 1), (1, 2), 1)[:, :, 0]
    close(out, ref, 1e-9)


def test_conv_gradcheck():
    x, w, b = randn(1, 2, 5, 4, requires_grad=True), randn(2, 1, 2, 3, requires_grad=True), randn(2, requires_grad=True)
    assert gradcheck(lambda a, c, d: F.conv2d(a, c, d, stride=(2, 1), padding=1, groups=2), (x, w, b))
    assert gradcheck(lambda a, c: F.conv1d(a, c, padding=2, dilation=2),
                     (randn(2, 2, 6, requires_grad=True), randn(3, 2, 2, requires_grad=True)))


@pytest.mark.parametrize("stride,padding,output_padding", [(1, 0, 0), (2, 0, 1), (2, 1, 0), (3, 1, 2)])
def test_conv_transpose2d_matches_scatter_reference(stride, padding, output_padding):
    x, w = randn(2, 3, 4, 3), randn(3, 2, 3, 3)
    out = F.conv_transpose2d(x, w, None, stride, padding, output_padding)
    close(out, np_conv_transpose2d(x.numpy(), w.numpy(), stride, padding, output_padding), 1e-9)


def test_conv_transpose_is_adjoint_of_conv():
    # <conv(x, w), y> == <x, conv_transpose(y, w)>
    x, w = randn(1, 3, 7, 7), randn(4, 3, 3, 3)
    y = randn(1, 4, 3, 3)
    lhs = (F.conv2d(x, w, stride=2) * y).sum().item()
    rhs = (x * F.conv_transpose2d(y, w, stride=2)).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-10)
    x1, w1, y1 = randn(2, 4, 10), randn(6, 2, 3), randn(2, 6, 4)
    lhs = (F.conv1d(x1, w1, stride=2, padding=1, groups=2, dilation=2) * y1).sum().item()
    rhs = (x1 * F.conv_transpose1d(y1, w1, stride=2, padding=1, groups=2, dilation=2,
                                   output_padding=1)).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_conv_transpose_gradcheck():
    assert gradcheck(lambda a, c, d: F.conv_transpose2d(a, c, d, stride=2, padding=1, output_padding=1),
                     (randn(1, 2, 3, 3, requires_grad=True), randn(2, 2, 3, 3, requires_grad=True),
                      randn(2, requires_grad=True)))


def test_unfold_fold():
    x = randn(2, 3, 5, 4)
    cols = F.unfold(x, (2, 3), padding=1, stride=(2, 1))
    win = []
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(0, xp.shape[2] - 1, 2):
        for j in range(xp.shape[3] - 2):
            win.append(xp[:, :, i: i + 2, j: j + 3].reshape(2, -1))
    close(cols, np.stack(win, -1), 1e-12)
    # fold(unfold(x)) multiplies each pixel by the number of windows covering it
    ones = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    counts = F.fold(F.unfold(ones, 2), (4, 4), 2)
    close(counts, np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])[None, None], 1e-12)
    assert gradcheck(lambda c: F.fold(c, (4, 5), (2, 2), stride=2, padding=1), (randn(1, 8, 9, requires_grad=True),))


# ---------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_max_and_avg_pool2d(k, s, p):
    x = randn(2, 3, 7, 6)
    win = np_windows(x.numpy(), k, s, p, -np.inf)
    out, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    close(out, win.max(-1), 1e-12)
    flat = x.numpy().reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(2, 3, -1), -1),
                                  out.numpy().reshape(2, 3, -1))
    zwin = np_windows(x.numpy(), k, s, p, 0.0)
    close(F.avg_pool2d(x, k, s, p), zwin.mean(-1), 1e-12)
    ones = np_windows(np.ones_like(x.numpy()), k, s, p, 0.0).sum(-1)
    close(F.avg_pool2d(x, k, s, p, count_include_pad=False), zwin.sum(-1) / ones, 1e-12)


def test_max_pool_seed_002_shapes_and_ceil_mode():
    x = randn(1, 6, 30, 30)
    assert tuple(F.max_pool2d(x, (2, 2)).shape) == (1, 6, 15, 15)
    assert tuple(F.max_pool2d(randn(1, 1, 5, 5), 2, ceil_mode=True).shape) == (1, 1, 3, 3)
    y = F.max_pool2d(t64(np.arange(25.0).reshape(1, 1, 5, 5)), 2, ceil_mode=True)
    close(y, [[[[6, 8, 9], [16, 18, 19], [21, 23, 24]]]])
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(x, 2, padding=2)


def test_pool1d_and_gradients():
    x = randn(2, 3, 9, requires_grad=True)
    a = x.detach().numpy()
    close(F.max_pool1d(x, 3), a.reshape(2, 3, 3, 3).max(-1))
    close(F.avg_pool1d(x, 3), a.reshape(2, 3, 3, 3).mean(-1))
    assert gradcheck(lambda t: F.max_pool2d(t, 2, 1), (randn(1, 2, 4, 4, requires_grad=True),))
    assert gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True), (randn(1, 2, 5, 5, requires_grad=True),))


def test_adaptive_pools():
    x = randn(2, 3, 7, 5)
    a = x.numpy()
    out = F.adaptive_avg_pool2d(x, (3, 2))
    ref = np.zeros((2, 3, 3, 2))
    mx = np.zeros((2, 3, 3, 2))
    for i, j in itertools.product(range(3), range(2)):
        hs, he = (i * 7) // 3, -(-(i + 1) * 7 // 3)
        ws, we = (j * 5) // 2, -(-(j + 1) * 5 // 2)
        ref[:, :, i, j] = a[:, :, hs:he, ws:we].mean((2, 3))
        mx[:, :, i, j] = a[:, :, hs:he, ws:we].max((2, 3))
    close(out, ref, 1e-12)
    vals, idx = F.adaptive_max_pool2d(x, (3, 2), return_indices=True)
    close(vals, mx, 1e-12)
    np.testing.assert_array_equal(np.take_along_axis(a.reshape(2, 3, -1), idx.numpy().reshape(2, 3, -1), -1),
                                  vals.numpy().reshape(2, 3, -1))
    close(F.adaptive_avg_pool2d(x, 1), a.mean((2, 3), keepdims=True), 1e-12)
    close(F.adaptive_avg_pool1d(x[:, :, :, 0], 7), a[:, :, :, 0], 1e-12)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, (2, 3)), (randn(1, 1, 5, 4, requires_grad=True),))


# ---------------------------------------------------------------------------- shapes, padding, misc


@pytest.mark.parametrize("mode,np_mode", [("constant", "constant"), ("reflect", "reflect"), ("replicate", "edge"),
                                          ("circular", "wrap")])
def test_pad_modes(mode, np_mode):
    x = randn(1, 2, 4, 5)
    out = F.pad(x, (2, 1, 1, 3), mode=mode)
    close(out, np.pad(x.numpy(), ((0, 0), (0, 0), (1, 3), (2, 1)), mode=np_mode), 1e-12)


def test_pad_constant_value_negative_and_grad():
    x = randn(2, 3, requires_grad=True)
    close(F.pad(x, (1, -1), value=9.0), np.concatenate([np.full((2, 1), 9.0), x.detach().numpy()[:, :2]], 1))
    assert gradcheck(lambda t: F.pad(t, (1, 2)), (x,))
    assert gradcheck(lambda t: F.pad(t.unsqueeze(0), (2, 1), mode="reflect"), (x,))
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1,))


def test_one_hot():
    out = F.one_hot(torch.tensor([0, 2, 1]), 4)
    assert out.dtype == torch.int64
    assert out.tolist() == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]]
    assert tuple(F.one_hot(torch.tensor([[1], [3]])).shape) == (2, 1, 4)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(torch.tensor([3]), 3)


def test_normalize_seed_000():
    x = randn(2, 3, 4, requires_grad=True)
    a = x.detach().numpy()
    close(F.normalize(x, dim=2), a / np.linalg.norm(a, axis=2, keepdims=True))
    close(F.normalize(x, p=1, dim=1), a / np.abs(a).sum(1, keepdims=True))
    close(F.normalize(torch.zeros(1, 3)), np.zeros((1, 3)))
    assert gradcheck(lambda t: F.normalize(t, dim=2), (x,))


def test_cosine_similarity_and_pairwise_distance():
    x1, x2 = randn(4, 5, requires_grad=True), randn(4, 5, requires_grad=True)
    a, b = x1.detach().numpy(), x2.detach().numpy()
    close(F.cosine_similarity(x1, x2), (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))
    close(F.pairwise_distance(x1, x2), np.linalg.norm(a - b + 1e-6, axis=1))
    close(F.pairwise_distance(x1, x2, p=1.0, keepdim=True), np.abs(a - b + 1e-6).sum(1, keepdims=True))
    assert gradcheck(F.cosine_similarity, (x1, x2))


def test_interpolate_nearest_and_bilinear():
    x = t64(np.arange(12.0).reshape(1, 1, 3, 4))
    near = F.interpolate(x, scale_factor=2)
    close(near, np.repeat(np.repeat(x.numpy(), 2, 2), 2, 3))
    ac = F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True)
    # the input is linear in both coordinates, so align_corners bilinear reproduces the plane exactly
    ii, jj = np.meshgrid(np.linspace(0, 2, 5), np.linspace(0, 3, 7), indexing="ij")
    close(ac, (ii * 4 + jj)[None, None], 1e-12)
    half = F.interpolate(x, size=(6, 8), mode="bilinear", align_corners=False)
    src_i = np.clip((np.arange(6) + 0.5) / 2 - 0.5, 0, None)
    src_j = np.clip((np.arange(8) + 0.5) / 2 - 0.5, 0, None)
    ii, jj = np.meshgrid(np.minimum(src_i, 2), np.minimum(src_j, 3), indexing="ij")
    close(half, (ii * 4 + jj)[None, None], 1e-12)
    assert gradcheck(lambda t: F.interpolate(t, scale_factor=1.5, mode="bilinear"), (randn(1, 1, 3, 3,
                                                                                           requires_grad=True),))
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)


def test_scaled_dot_product_attention():
    q, k, v = randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 6)
    scores = q.numpy() @ k.numpy().transpose(0, 2, 1) / 2.0
    w = np.exp(np_log_softmax(scores, -1))
    close(F.scaled_dot_product_attention(q, k, v), w @ v.numpy())
    mask = np.tril(np.ones((3, 5), dtype=bool))
    masked = np.where(mask, scores, -np.inf)
    close(F.scaled_dot_product_attention(q, k, v, is_causal=True), np.exp(np_log_softmax(masked, -1)) @ v.numpy())
    close(F.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(mask)),
          np.exp(np_log_softmax(masked, -1)) @ v.numpy())
    qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))
    assert gradcheck(F.scaled_dot_product_attention, (qg, kg, vg))


# ---------------------------------------------------------------------------- normalization


def test_batch_norm_training_updates_running_stats():
    x = randn(4, 3, 2, 2, requires_grad=True)
    a = x.detach().numpy()
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    w, b = t64([1.0, 2.0, 3.0]), t64([0.0, 1.0, -1.0])
    out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
    mean, var = a.mean((0, 2, 3)), a.var((0, 2, 3))
    ref = (a - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    close(out, ref * w.numpy()[None, :, None, None] + b.numpy()[None, :, None, None])
    close(rm, 0.1 * mean)
    close(rv, 0.9 + 0.1 * a.var((0, 2, 3), ddof=1))
    eval_out = F.batch_norm(x, rm, rv, training=False)
    close(eval_out, (a - rm.numpy()[None, :, None, None]) / np.sqrt(rv.numpy()[None, :, None, None] + 1e-5))
    assert gradcheck(lambda t, ww, bb: F.batch_norm(t, None, None, ww, bb, training=True),
                     (x, w.clone().requires_grad_(True), b.clone().requires_grad_(True)))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(randn(1, 3), None, None, training=True)


def test_layer_and_group_norm():
    x = randn(2, 4, 3, requires_grad=True)
    a = x.detach().numpy()
    w, b = randn(3, requires_grad=True), randn(3, requires_grad=True)
    ref = (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5)
    close(F.layer_norm(x, (3,), w, b), ref * w.detach().numpy() + b.detach().numpy())
    assert gradcheck(lambda t, ww, bb: F.layer_norm(t, (3,), ww, bb), (x, w, b))
    g = a.reshape(2, 2, -1)
    gref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(a.shape)
    close(F.group_norm(x, 2), gref)
    assert gradcheck(lambda t: F.group_norm(t, 2), (x,))
    with pytest.raises(RuntimeError, match="Given normalized_shape=\\[4\\]"):
        F.layer_norm(x, (4,))


# ---------------------------------------------------------------------------- embeddings


def test_embedding_padding_idx_gets_no_gradient():
    w = randn(5, 3, requires_grad=True)
    idx = torch.tensor([[0, 2, 2], [4, 0, 1]])
    out = F.embedding(idx, w, padding_idx=2)
    close(out, w.detach().numpy()[idx.numpy()])
    out.sum().backward()
    expected = np.zeros((5, 3))
    for i in idx.numpy().ravel():
        if i != 2:
            expected[i] += 1
    close(w.grad, expected)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(torch.tensor([5]), w)


def test_embedding_max_norm_renormalizes_rows_in_place():
    w = t64(np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]]))
    out = F.embedding(torch.tensor([0, 1]), w, max_norm=1.0)
    close(out, [[0.6, 0.8], [0.3, 0.4]], 1e-6)
    close(w, [[0.6, 0.8], [0.3, 0.4], [6.0, 8.0]], 1e-6)


def test_embedding_bag_modes():
    w = randn(6, 2)
    a = w.numpy()
    inp, offsets = torch.tensor([1, 2, 4, 5, 4, 3]), torch.tensor([0, 2, 2])
    close(F.embedding_bag(inp, w, offsets, mode="sum"), [a[[1, 2]].sum(0), np.zeros(2), a[[4, 5, 4, 3]].sum(0)])
    close(F.embedding_bag(inp, w, offsets, mode="mean"), [a[[1, 2]].mean(0), np.zeros(2), a[[4, 5, 4, 3]].mean(0)])
    close(F.embedding_bag(inp, w, offsets, mode="max"), [a[[1, 2]].max(0), np.zeros(2), a[[4, 5, 4, 3]].max(0)])
    two_d = torch.tensor([[0, 1], [2, 0]])
    close(F.embedding_bag(two_d, w, mode="mean", padding_idx=0), [a[1], a[2]])
    psw = t64([1.0, 2.0, 0.5, 1.0, 1.0, 1.0])
    close(F.embedding_bag(inp, w, offsets, mode="sum", per_sample_weights=psw),
          [a[1] + 2 * a[2], np.zeros(2), 0.5 * a[4] + a[5] + a[4] + a[3]])
