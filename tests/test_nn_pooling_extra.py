"""3-D adaptive pooling, *_with_indices, LPPool1d/3d, 3-D padding modules and InstanceNorm3d."""

import itertools

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn


def _vol(shape=(1, 2, 4, 5, 6)):
    return np.sin(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape)


def _adaptive_ref(a, out, red):
    n, c = a.shape[:2]
    res = np.zeros((n, c, *out))
    for pos in itertools.product(*(range(o) for o in out)):
        sl = tuple(slice((i * s) // o, -((-(i + 1) * s) // o)) for i, s, o in zip(pos, a.shape[2:], out))
        res[(slice(None), slice(None), *pos)] = red(a[(slice(None), slice(None), *sl)].reshape(n, c, -1), -1)
    return res


def test_adaptive_avg_pool3d_matches_numpy():
    a = _vol()
    y = F.adaptive_avg_pool3d(torch.tensor(a), (3, 2, 4))
    assert tuple(y.shape) == (1, 2, 3, 2, 4)
    np.testing.assert_allclose(y.numpy(), _adaptive_ref(a, (3, 2, 4), np.mean), atol=1e-12)
    m = nn.AdaptiveAvgPool3d((3, None, 4))
    assert repr(m) == "AdaptiveAvgPool3d(output_size=(3, None, 4))"
    assert tuple(m(torch.tensor(a[0])).shape) == (2, 3, 5, 4)


def test_adaptive_max_pool3d_indices():
    a = _vol()
    v, i = F.adaptive_max_pool3d_with_indices(torch.tensor(a), (3, 2, 4))
    np.testing.assert_allclose(v.numpy(), _adaptive_ref(a, (3, 2, 4), np.max), atol=1e-12)
    # flat indices over D*H*W point at the max values
    flat = a.reshape(1, 2, -1)
    np.testing.assert_allclose(np.take_along_axis(flat, i.numpy().reshape(1, 2, -1), -1).reshape(v.shape), v.numpy())
    m = nn.AdaptiveMaxPool3d(2, return_indices=True)
    assert repr(m) == "AdaptiveMaxPool3d(output_size=2)"
    assert len(m(torch.tensor(a))) == 2
    assert tuple(nn.AdaptiveMaxPool3d(2)(torch.tensor(a)).shape) == (1, 2, 2, 2, 2)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_with_indices_always_returns_pair(nd):
    a = _vol((1, 2, 4, 5, 6)[: 2 + nd] if nd < 3 else (1, 2, 4, 5, 6))
    fn = getattr(F, f"max_pool{nd}d_with_indices")
    v, i = fn(torch.tensor(a), 2)
    v2, i2 = getattr(F, f"max_pool{nd}d")(torch.tensor(a), 2, return_indices=True)
    np.testing.assert_array_equal(v.numpy(), v2.numpy())
    np.testing.assert_array_equal(i.numpy(), i2.numpy())
    flat = a.reshape(1, 2, -1)
    np.testing.assert_allclose(np.take_along_axis(flat, i.numpy().reshape(1, 2, -1), -1).reshape(v.shape), v.numpy())
    va, ia = getattr(F, f"adaptive_max_pool{nd}d_with_indices")(torch.tensor(a), 2)
    assert va.shape == ia.shape


def test_lp_pool1d_values_and_grad():
    a = np.arange(1, 43, dtype=np.float64).reshape(2, 3, 7) * 0.1
    y = F.lp_pool1d(torch.tensor(a), 2, 3, 2)
    # literal from PyTorch: F.lp_pool1d(x, 2, 3, 2)[0, 0]
    np.testing.assert_allclose(y.numpy()[0, 0], [0.37416573867739417, 0.7071067811865475, 1.0488088481701516])
    ref = np.sqrt(np.stack([(a[..., s:s + 3] ** 2).sum(-1) for s in (0, 2, 4)], -1))
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)
    m = nn.LPPool1d(2, 3)
    assert repr(m) == "LPPool1d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    x = torch.tensor(a[:1, :1], requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: F.lp_pool1d(t, 2, 3, 2), (x,))


def test_lp_pool3d_values_and_grad():
    a = np.abs(_vol()) + 0.1
    y = nn.LPPool3d(3, 2)(torch.tensor(a))
    ref = (a[:, :, :4, :4, :6] ** 3).reshape(1, 2, 2, 2, 2, 2, 3, 2).sum((3, 5, 7)) ** (1 / 3)
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)
    x = torch.tensor(a[:1, :1, :2, :2, :4], requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: F.lp_pool3d(t, 2, 2), (x,))


@pytest.mark.parametrize(("cls", "mode"), [
    (nn.ReflectionPad3d, "reflect"), (nn.ReplicationPad3d, "edge"), (nn.CircularPad3d, "wrap"),
])
def test_pad3d_modules(cls, mode):
    a = _vol((2, 2, 3, 3, 3))
    m = cls((1, 2, 2, 1, 1, 0))
    assert repr(m) == f"{cls.__name__}((1, 2, 2, 1, 1, 0))"
    y = m(torch.tensor(a))
    np.testing.assert_allclose(y.numpy(), np.pad(a, ((0, 0), (0, 0), (1, 0), (2, 1), (1, 2)), mode=mode))


def test_constant_and_zero_pad3d():
    a = _vol((1, 2, 2, 2))
    m = nn.ConstantPad3d(1, 2.5)
    assert repr(m) == "ConstantPad3d(padding=(1, 1, 1, 1, 1, 1), value=2.5)"
    np.testing.assert_allclose(m(torch.tensor(a)).numpy(), np.pad(a, ((0, 0), (1, 1), (1, 1), (1, 1)),
                                                                  constant_values=2.5))
    z = nn.ZeroPad3d((0, 1, 0, 0, 2, 0))
    assert repr(z) == "ZeroPad3d((0, 1, 0, 0, 2, 0))"
    np.testing.assert_allclose(z(torch.tensor(a)).numpy(), np.pad(a, ((0, 0), (2, 0), (0, 0), (0, 1))))


def test_instance_norm3d():
    a = np.random.RandomState(0).randn(2, 3, 2, 3, 4)
    m = nn.InstanceNorm3d(3)
    assert repr(m) == ("InstanceNorm3d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, "
                       "track_running_stats=False)")
    mu = a.mean((2, 3, 4), keepdims=True)
    var = a.var((2, 3, 4), keepdims=True)
    np.testing.assert_allclose(m(torch.tensor(a)).numpy(), (a - mu) / np.sqrt(var + 1e-5), atol=1e-10)
    assert tuple(m(torch.tensor(a[0])).shape) == (3, 2, 3, 4)
    with pytest.raises(ValueError, match=r"expected 4D or 5D input \(got 2D input\)"):
        m(torch.zeros(2, 3))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool_round_trip(nd):
    shape = (1, 2, 4, 4, 4)[: 2 + nd]
    a = np.abs(_vol(shape)) + 0.1  # positive, so zeros left by unpooling never win a re-pool
    x = torch.tensor(a)
    v, i = getattr(F, f"max_pool{nd}d")(x, 2, return_indices=True)
    m = getattr(nn, f"MaxUnpool{nd}d")(2)
    y = m(v, i)
    assert tuple(y.shape) == shape
    # only the window maxima survive, in their original places
    ref = np.zeros(a.size).reshape(1, 2, -1)
    np.put_along_axis(ref, i.numpy().reshape(1, 2, -1), v.numpy().reshape(1, 2, -1), -1)
    np.testing.assert_allclose(y.numpy(), ref.reshape(shape))
    # pooling the unpooled tensor gives the same values back
    np.testing.assert_allclose(getattr(F, f"max_pool{nd}d")(y, 2).numpy(), v.numpy())


def test_max_unpool_output_size_grad_and_errors():
    a = _vol((1, 1, 5, 5))
    v, i = F.max_pool2d(torch.tensor(a), 2, return_indices=True)
    y = F.max_unpool2d(v, i, 2, output_size=(1, 1, 5, 5))
    assert tuple(y.shape) == (1, 1, 5, 5)
    assert tuple(nn.MaxUnpool2d(2)(v, i, output_size=(5, 5)).shape) == (1, 1, 5, 5)
    assert repr(nn.MaxUnpool1d(2, stride=1, padding=1)) == "MaxUnpool1d(kernel_size=(2,), stride=(1,), padding=(1,))"
    vg = torch.tensor(v.numpy(), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: F.max_unpool2d(t, i, 2), (vg,))
    with pytest.raises(ValueError, match=r'invalid output_size "\(9, 9\)" \(dim 0 must be between 2 and 6\)'):
        F.max_unpool2d(v, i, 2, output_size=(1, 1, 9, 9))
    with pytest.raises(ValueError, match="sequence containing 2 or 4 elements, but it has a length of '3'"):
        F.max_unpool2d(v, i, 2, output_size=(3, 3, 3))
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: 99 \(output volumes are of size 4x4\)"):
        F.max_unpool2d(v, i * 0 + 99, 2)


def _affine_ref(theta, size, align_corners):
    spatial = size[2:]
    lins = [np.linspace(-1, 1, s) * (1 if align_corners else (s - 1) / s) for s in spatial]
    mesh = np.meshgrid(*lins, indexing="ij")
    base = np.stack([m for m in reversed(mesh)] + [np.ones_like(mesh[0])], -1)
    return np.einsum("...k,njk->n...j", base, theta)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_2d_3d(align_corners):
    th = np.random.RandomState(0).randn(2, 2, 3)
    th3 = np.random.RandomState(1).randn(2, 3, 4)
    g = F.affine_grid(torch.tensor(th), (2, 1, 3, 4), align_corners)
    assert tuple(g.shape) == (2, 3, 4, 2)
    np.testing.assert_allclose(g.numpy(), _affine_ref(th, (2, 1, 3, 4), align_corners), atol=1e-12)
    g3 = F.affine_grid(torch.tensor(th3), (2, 1, 2, 3, 4), align_corners)
    np.testing.assert_allclose(g3.numpy(), _affine_ref(th3, (2, 1, 2, 3, 4), align_corners), atol=1e-12)
    t = torch.tensor(th[:1], requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: F.affine_grid(x, (1, 1, 2, 3), align_corners), (t,))


def test_affine_grid_errors():
    with pytest.raises(ValueError, match=r"Expected a batch of 2D affine matrices of shape Nx2x3 for size \(2, 1, 3, 4\)"):
        F.affine_grid(torch.zeros(2, 3, 4), (2, 1, 3, 4), False)
    with pytest.raises(ValueError, match="Expected theta to have floating point type"):
        F.affine_grid(torch.zeros(2, 2, 3, dtype=torch.int64), (2, 1, 3, 4), False)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(torch.zeros(1, 2, 3), (1, 1, 2, 2))
