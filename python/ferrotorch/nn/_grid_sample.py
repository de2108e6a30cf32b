"""``affine_grid``: sampling grids from batches of affine matrices (``grid_sample`` is not built yet)."""

from __future__ import annotations

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
