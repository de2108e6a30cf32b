"""F.grid_sample against a scalar numpy port of ATen's CPU kernel, gradcheck, and PyTorch's errors."""

import itertools
import math
import warnings

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck

# ----------------------------------------------------------------------------- scalar numpy reference


def _unnorm(c, size, ac):
    return (c + 1) / 2 * (size - 1) if ac else ((c + 1) * size - 1) / 2


def _reflect(c, lo2, hi2):
    if lo2 == hi2:
        return 0.0
    lo, span = lo2 / 2, (hi2 - lo2) / 2
    c = abs(c - lo)
    extra, flips = math.fmod(c, span), math.floor(c / span)
    return extra + lo if flips % 2 == 0 else span - extra + lo


def _pad(c, size, pm, ac):
    if pm == "zeros":
        return c
    if pm == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if ac else _reflect(c, -1, 2 * size - 1)
    return min(size - 1, max(c, 0))


def _read(plane, idx):
    if all(0 <= i < s for i, s in zip(idx, plane.shape)):
        return plane[tuple(idx)]
    return 0.0


def _cubic(t, a=-0.75):
    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _ref_point(plane, pt, mode, pm, ac):
    """``plane`` ``(*S)``, ``pt`` in input-dim order (z, y, x), normalised."""
    sizes = plane.shape
    raw = [_unnorm(c, s, ac) for c, s in zip(pt, sizes)]
    if mode == "bicubic":
        (iy, ix), (h, w) = raw, sizes
        y0, x0 = math.floor(iy), math.floor(ix)
        cy, cx = _cubic(iy - y0), _cubic(ix - x0)
        total = 0.0
        for i, j in itertools.product(range(4), range(4)):
            yy = int(_pad(y0 - 1 + i, h, pm, ac))
            xx = int(_pad(x0 - 1 + j, w, pm, ac))
            total += cy[i] * cx[j] * _read(plane, (yy, xx))
        return total
    coords = [_pad(c, s, pm, ac) for c, s in zip(raw, sizes)]
    if mode == "nearest":
        return _read(plane, [int(np.rint(c)) for c in coords])
    lows = [math.floor(c) for c in coords]
    total = 0.0
    for corner in itertools.product((0, 1), repeat=len(coords)):
        wgt = 1.0
        for bit, c, lo in zip(corner, coords, lows):
            wgt *= (c - lo) if bit else 1 - (c - lo)
        total += wgt * _read(plane, [lo + b for lo, b in zip(lows, corner)])
    return total


def _ref(x, g, mode, pm, ac):
    n, c = x.shape[:2]
    out_shape = g.shape[1:-1]
    out = np.zeros((n, c, *out_shape))
    for b in range(n):
        for pos in itertools.product(*(range(o) for o in out_shape)):
            pt = g[(b, *pos)][::-1]  # grid is (x, y[, z])
            for ch in range(c):
                out[(b, ch, *pos)] = _ref_point(x[b, ch], pt, mode, pm, ac)
    return out


# ----------------------------------------------------------------------------- values

_RNG = np.random.default_rng(7)
_X2 = _RNG.standard_normal((2, 2, 3, 4))
_G2 = _RNG.uniform(-1.7, 1.7, (2, 3, 2, 2))
_X3 = _RNG.standard_normal((1, 2, 2, 3, 4))
_G3 = _RNG.uniform(-1.7, 1.7, (1, 2, 2, 2, 3))


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_4d_matches_reference(mode, padding_mode, align_corners):
    y = F.grid_sample(torch.tensor(_X2), torch.tensor(_G2), mode=mode, padding_mode=padding_mode,
                      align_corners=align_corners)
    assert tuple(y.shape) == (2, 2, 3, 2)
    assert y.dtype == torch.float64
    np.testing.assert_allclose(y.numpy(), _ref(_X2, _G2, mode, padding_mode, align_corners), atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_5d_matches_reference(mode, padding_mode, align_corners):
    y = F.grid_sample(torch.tensor(_X3), torch.tensor(_G3), mode=mode, padding_mode=padding_mode,
                      align_corners=align_corners)
    assert tuple(y.shape) == (1, 2, 2, 2, 2)
    np.testing.assert_allclose(y.numpy(), _ref(_X3, _G3, mode, padding_mode, align_corners), atol=1e-12)


def test_grid_sample_pytorch_literals():
    # torch.nn.functional.grid_sample on x = arange(12).reshape(1, 1, 3, 4) (PyTorch 2.x)
    x = torch.arange(12, dtype=torch.float32).reshape(1, 1, 3, 4)
    g = torch.tensor([[[[-1.0, -1.0], [0.3, -0.2], [1.2, 0.9]]]])
    y = F.grid_sample(x, g, align_corners=False)
    np.testing.assert_allclose(y.numpy().ravel(), [0.0, 4.90000057220459, 0.7149993777275085], atol=1e-5)
    y = F.grid_sample(x, g, mode="bicubic", padding_mode="border", align_corners=True)
    np.testing.assert_allclose(y.numpy().ravel(), [0.0, 4.840624809265137, 10.809253692626953], atol=1e-5)


def test_grid_sample_identity_affine_grid_and_float32():
    x = torch.tensor(_X2.astype(np.float32))
    theta = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]] * 2)
    for ac in (False, True):
        grid = F.affine_grid(theta, [2, 2, 3, 4], align_corners=ac)
        y = F.grid_sample(x, grid, align_corners=ac)
        assert y.dtype == torch.float32
        np.testing.assert_allclose(y.numpy(), _X2.astype(np.float32), atol=1e-6)


def test_grid_sample_out_of_range_and_nonfinite_as_pytorch():
    # an inf pixel next to out-of-range taps must not leak in as inf * 0; values from PyTorch
    x = torch.tensor([[[[1.0, float("inf")], [3.0, 4.0]]]])
    g = torch.tensor([[[[5.0, 5.0], [float("nan"), 0.0], [-3.0, 0.5]]]])
    expected = {("bilinear", "zeros"): [0.0, np.nan, 0.0], ("nearest", "zeros"): [0.0, 0.0, 0.0],
                ("bilinear", "border"): [4.0, np.nan, 3.0], ("bicubic", "zeros"): [0.0, np.nan, 0.0],
                ("bilinear", "reflection"): [4.0, np.nan, 4.0]}
    for (mode, pm), want in expected.items():
        y = F.grid_sample(x, g, mode=mode, padding_mode=pm, align_corners=False)
        np.testing.assert_array_equal(y.numpy().ravel(), want)


def test_grid_sample_default_align_corners_warns():
    x, g = torch.tensor(_X2), torch.tensor(_G2)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        y = F.grid_sample(x, g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(y.numpy(), F.grid_sample(x, g, align_corners=False).numpy())


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("mode,padding_mode,align_corners", [
    ("bilinear", "zeros", False), ("bilinear", "border", True), ("bilinear", "reflection", False),
    ("bicubic", "zeros", True), ("bicubic", "reflection", False),
])
def test_grid_sample_gradcheck_4d(mode, padding_mode, align_corners):
    x = torch.tensor(_X2[:1, :1], requires_grad=True)
    # keep points off the pixel grid, the clamp edges and the reflection folds (kinks)
    g = torch.tensor(np.array([[[[0.13, -0.37], [-0.58, 0.41]], [[0.77, 0.29], [-0.21, -0.66]]]]),
                     requires_grad=True)
    assert gradcheck(lambda a, b: F.grid_sample(a, b, mode=mode, padding_mode=padding_mode,
                                                align_corners=align_corners), (x, g))


def test_grid_sample_gradcheck_5d_trilinear():
    x = torch.tensor(_X3[:, :1], requires_grad=True)
    g = torch.tensor(np.array([[[[[0.13, -0.37, 0.21], [-0.58, 0.41, -0.33]]]]]), requires_grad=True)
    assert gradcheck(lambda a, b: F.grid_sample(a, b, padding_mode="border", align_corners=False), (x, g))


def test_grid_sample_nearest_grid_grad_is_zero():
    x = torch.tensor(_X2, requires_grad=True)
    g = torch.tensor(_G2, requires_grad=True)
    F.grid_sample(x, g, mode="nearest", align_corners=False).sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), np.zeros_like(_G2))
    assert x.grad.numpy().sum() > 0  # every sample that lands inside adds 1 to one pixel
    assert float(x.grad.numpy().sum()).is_integer()


# ----------------------------------------------------------------------------- errors


def test_grid_sample_constants():
    assert F.GRID_SAMPLE_INTERPOLATION_MODES == {"bilinear": 0, "nearest": 1, "bicubic": 2}
    assert F.GRID_SAMPLE_PADDING_MODES == {"zeros": 0, "border": 1, "reflection": 2}


def test_grid_sample_errors():
    x, g = torch.randn(1, 2, 3, 4), torch.rand(1, 2, 2, 2)
    with pytest.raises(ValueError, match=r"expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'foo'"):
        F.grid_sample(x, g, mode="foo", align_corners=False)
    with pytest.raises(ValueError, match=r"expected padding_mode to be 'zeros', 'border', or 'reflection', but got: "
                                         r"'wrap'"):
        F.grid_sample(x, g, padding_mode="wrap", align_corners=False)
    with pytest.raises(RuntimeError, match=r"grid_sampler\(\): expected grid and input to have same batch size, but "
                                           r"got input with sizes \[1, 2, 3, 4\] and grid with sizes \[2, 2, 2, 2\]"):
        F.grid_sample(x, torch.rand(2, 2, 2, 2), align_corners=False)
    with pytest.raises(RuntimeError, match=r"expected grid to have size 2 in last dimension, but got grid with sizes "
                                           r"\[1, 2, 2, 3\]"):
        F.grid_sample(x, torch.rand(1, 2, 2, 3), align_corners=False)
    with pytest.raises(RuntimeError, match=r"expected input to have non-empty spatial dimensions, but input has sizes "
                                           r"\[1, 2, 0, 4\] with dimension 2 being empty"):
        F.grid_sample(torch.randn(1, 2, 0, 4), g, align_corners=False)
    with pytest.raises(RuntimeError, match=r"expected 5D input and grid with same number of dimensions, but got input "
                                           r"with sizes \[2, 3, 4\] and grid with sizes \[2, 3, 1\]"):
        F.grid_sample(torch.randn(2, 3, 4), torch.rand(2, 3, 1), align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D input"):
        F.grid_sample(torch.randn(1, 1, 2, 2, 2), torch.rand(1, 1, 1, 1, 3), mode="bicubic", align_corners=False)
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        F.grid_sample(x, g.double(), align_corners=False)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.grid_sample(x.long(), g.long(), align_corners=False)
