"""``affine_grid`` (sampling grids from affine matrices) and ``grid_sample`` (reading an input at grid points).

``grid_sample`` is composed of ``gather`` and elementwise ops, so it runs on every device and autograd
differentiates it with respect to both the input and the grid.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence

import ferrotorch as torch

Tensor = torch.Tensor


def _base_coords(steps: int, align_corners: bool, theta: Tensor) -> Tensor:
    # pixel centres in [-1, 1]; without align_corners the extremes sit half a pixel inside
    lin = torch.linspace(-1.0, 1.0, steps, dtype=theta.dtype, device=theta.device)
    if not align_corners:
        lin = lin * ((steps - 1) / steps)
    return lin


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """Grid ``(N, H, W, 2)`` (or ``(N, D, H, W, 3)``) of ``theta @ [x, y, (z,) 1]`` over the normalised output.

    ``theta`` is ``(N, 2, 3)`` for a 4-D ``size`` ``(N, C, H, W)`` or ``(N, 3, 4)`` for a 5-D ``size``.
    """
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", stacklevel=2)
        align_corners = False
    given = size
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = list(size)
    if len(size) == 4:
        if theta.dim() != 3 or tuple(theta.shape[1:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {given}. "
                             f"Got {theta.shape}.")
        spatial = size[2:]
    elif len(size) == 5:
        if theta.dim() != 3 or tuple(theta.shape[1:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {given}. "
                             f"Got {theta.shape}.")
        spatial = size[2:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {given}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {given}")
    n = size[0]
    # coordinates are ordered (x, y[, z]) = last spatial dim first
    axes = [_base_coords(s, align_corners, theta) for s in spatial]
    mesh = torch.meshgrid(*axes, indexing="ij")
    cols = [m.reshape(-1) for m in reversed(mesh)]
    cols.append(torch.ones_like(cols[0]))
    base = torch.stack(cols, -1)  # (P, nd + 1)
    grid = base.unsqueeze(0).matmul(theta.transpose(1, 2))  # (N, P, nd)
    return grid.reshape(n, *spatial, len(spatial))


GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}

_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution constant


def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    # [-1, 1] -> pixel units: corner pixel centres (align_corners) or the image's outer edges
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Fold ``coord`` back and forth into ``[twice_low / 2, twice_high / 2]``."""
    if twice_low == twice_high:
        return coord * 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    dist = (coord - low).abs()
    flips = torch.floor(dist.detach() / span)
    extra = dist - flips * span
    even = torch.remainder(flips, 2) == 0
    return torch.where(even, extra + low, span - extra + low)


def _pad_coord(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    """Map pixel coordinates for ``border`` / ``reflection`` padding (``zeros`` leaves them as they are)."""
    if padding_mode == "zeros":
        return coord
    if padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align_corners else _reflect(coord, -1, 2 * size - 1)
    return coord.clamp(0, size - 1)


def _cubic_coeffs(t: Tensor) -> list[Tensor]:
    """Weights of the taps at offsets -1, 0, 1, 2 for fractional position ``t`` (cubic convolution)."""
    a = _CUBIC_A

    def near(x: Tensor) -> Tensor:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Tensor) -> Tensor:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


class _Gatherer:
    """Reads ``input`` ``(N, C, *S)`` at integer (float-valued) coordinates ``(N, *O)``, zero outside."""

    def __init__(self, input: Tensor, out_shape: tuple[int, ...]) -> None:
        self.n, self.c = input.shape[0], input.shape[1]
        self.spatial = tuple(input.shape[2:])
        self.flat = input.reshape(self.n, self.c, -1)
        self.q = math.prod(out_shape)

    def __call__(self, coords: list[Tensor]) -> Tensor:
        """``coords`` in input-dim order (``D, H, W``); returns ``(N, C, Q)``."""
        valid = None
        linear = None
        for coord, size in zip(coords, self.spatial):
            inside = (coord >= 0) & (coord <= size - 1)
            valid = inside if valid is None else valid & inside
            # outside taps (nan included) read pixel 0 and are zeroed below
            index = torch.where(inside, coord, torch.zeros_like(coord)).long()
            linear = index if linear is None else linear * size + index
        index = linear.reshape(self.n, 1, self.q).expand(self.n, self.c, self.q)
        values = self.flat.gather(2, index)
        # where, not a product with the mask: an out-of-range tap must give 0 even if the clamped pixel is inf
        return torch.where(valid.reshape(self.n, 1, self.q), values, torch.zeros_like(values))


def grid_sample(
    input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample ``input`` at the normalised locations in ``grid``.

    ``input`` ``(N, C, H_in, W_in)`` with ``grid`` ``(N, H_out, W_out, 2)`` gives ``(N, C, H_out, W_out)``;
    ``input`` ``(N, C, D_in, H_in, W_in)`` with ``grid`` ``(N, D_out, H_out, W_out, 3)`` gives
    ``(N, C, D_out, H_out, W_out)``. ``grid[..., 0]`` is x (width), ``grid[..., 1]`` y, ``grid[..., 2]`` z, each in
    ``[-1, 1]``. ``mode`` is ``'bilinear'`` (trilinear for 5-D), ``'nearest'`` or ``'bicubic'`` (4-D only);
    ``padding_mode`` (``'zeros'``, ``'border'``, ``'reflection'``) decides what lies outside the input.
    """
    if mode not in GRID_SAMPLE_INTERPOLATION_MODES:
        raise ValueError(
            f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: '{mode}'"
        )
    if padding_mode not in GRID_SAMPLE_PADDING_MODES:
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', "
            f"but got: '{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", stacklevel=2)
        align_corners = False
    _check_grid_sample(input, grid, mode)
    nd = input.dim() - 2
    out_shape = tuple(grid.shape[1:-1])
    sizes = tuple(input.shape[2:])
    # grid's last axis is (x, y[, z]): reverse it to the input's dim order (D, H, W)
    coords = [_unnormalize(grid.select(-1, nd - 1 - i), sizes[i], align_corners) for i in range(nd)]
    gather = _Gatherer(input, out_shape)
    if mode == "bicubic":
        out = _bicubic(coords, sizes, gather, padding_mode, align_corners)
    else:
        coords = [_pad_coord(c, s, padding_mode, align_corners) for c, s in zip(coords, sizes)]
        if mode == "nearest":
            out = _nearest(coords, gather)
        else:
            out = _linear(coords, gather)
    return out.reshape(gather.n, gather.c, *out_shape)


def _check_grid_sample(input: Tensor, grid: Tensor, mode: str) -> None:
    # the checks (and their order) of ATen's grid_sampler
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in last dimension, but got "
                           f"grid with sizes {list(grid.shape)}")
    for i in range(2, input.dim()):
        if input.shape[i] <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {list(input.shape)} with dimension {i} being empty")
    nd = 2 if input.dim() == 4 else 3
    if input.dim() != nd + 2 or grid.dim() != input.dim():
        raise RuntimeError(f"grid_sampler(): expected {nd + 2}D input and grid with same number of dimensions, but "
                           f"got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if mode == "bicubic" and nd == 3:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input.dtype.is_floating_point:
        kernel = "grid_sampler_2d_cpu_kernel_impl" if nd == 2 else "grid_sampler3d_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_scalar_name(input.dtype)}\'')
    if grid.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(input.dtype)} but found {_scalar_name(grid.dtype)}")


def _scalar_name(dtype: object) -> str:
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
             "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
    key = str(dtype).removeprefix("torch.")
    return names.get(key, key)


def _nearest(coords: list[Tensor], gather: _Gatherer) -> Tensor:
    """Nearest pixel, rounding half to even (as ``nearbyint``)."""
    out = gather([torch.round(c.detach()) for c in coords])
    # a zero-valued term keeps the grid in the graph, so grid.grad is zeros (as PyTorch) rather than None
    for c in coords:
        finite = torch.isfinite(c.detach())
        zero = torch.where(finite, c - c.detach(), torch.zeros_like(c)) * 0
        out = out + zero.reshape(gather.n, 1, gather.q)
    return out


def _linear(coords: list[Tensor], gather: _Gatherer) -> Tensor:
    """(Bi/tri)linear: weighted sum over the 2**nd corners around each point."""
    lows = [torch.floor(c.detach()) for c in coords]
    fracs = [c - low for c, low in zip(coords, lows)]  # carries the gradient w.r.t. the grid
    out = None
    for corner in itertools.product((0, 1), repeat=len(coords)):
        weight = None
        for bit, frac in zip(corner, fracs):
            w = frac if bit else 1 - frac
            weight = w if weight is None else weight * w
        values = gather([low + bit for low, bit in zip(lows, corner)])
        term = values * weight.reshape(gather.n, 1, gather.q)
        out = term if out is None else out + term
    return out


def _bicubic(
    coords: list[Tensor], sizes: tuple[int, ...], gather: _Gatherer, padding_mode: str, align_corners: bool
) -> Tensor:
    """Bicubic: 4 x 4 taps per point; padding maps each tap's (integer) position, not the sample point."""
    iy, ix = coords
    y0, x0 = torch.floor(iy.detach()), torch.floor(ix.detach())
    wy = [w.reshape(gather.n, 1, gather.q) for w in _cubic_coeffs(iy - y0)]
    wx = [w.reshape(gather.n, 1, gather.q) for w in _cubic_coeffs(ix - x0)]
    ys = [_pad_coord(y0 + (i - 1), sizes[0], padding_mode, align_corners) for i in range(4)]
    xs = [_pad_coord(x0 + (j - 1), sizes[1], padding_mode, align_corners) for j in range(4)]
    out = None
    for i in range(4):
        row = None
        for j in range(4):
            term = gather([ys[i], xs[j]]) * wx[j]
            row = term if row is None else row + term
        term = row * wy[i]
        out = term if out is None else out + term
    return out
