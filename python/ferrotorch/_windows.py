"""Window functions: ``torch.hann_window``, ``hamming_window``, ``blackman_window``, ``bartlett_window``,
``kaiser_window``. All are periodic by default (a length-N periodic window is the first N points of the
symmetric window of length N + 1, which is what spectral analysis with ``stft`` wants)."""

from __future__ import annotations

import math
from typing import Any

from . import _C
from ._C import Tensor


def _grid(window_length: int, periodic: bool, dtype: Any, device: Any, fn: str) -> tuple[Tensor | None, int]:
    """``n = 0..N-1`` as a float tensor and the denominator ``N`` (periodic) or ``N - 1`` (symmetric); None
    for the trivial lengths 0 and 1."""
    if window_length < 0:
        raise RuntimeError(f"{fn} requires non-negative window_length, got window_length={window_length}")
    dtype = dtype or _C.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"{fn} expects floating point dtypes, got: {dtype}")
    if window_length <= 1:
        return None, window_length
    return _C.arange(window_length, dtype=_C.float64, device=device), window_length if periodic else \
        window_length - 1


def _finish(w: Tensor | None, n: int, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    dtype = dtype or _C.get_default_dtype()
    if w is None:
        w = _C.ones(n, dtype=dtype, device=device)
    return w.to(dtype).requires_grad_(requires_grad)


def _cosine_sum(window_length: int, periodic: bool, coeffs: tuple, dtype: Any, device: Any,
                requires_grad: bool, fn: str) -> Tensor:
    """``sum_k (-1)^k a_k cos(2 pi k n / M)``: the generalised cosine window."""
    n, m = _grid(window_length, periodic, dtype, device, fn)
    if n is None:
        return _finish(None, m, dtype, device, requires_grad)
    w = _C.zeros(window_length, dtype=_C.float64, device=device)
    for k, a in enumerate(coeffs):
        # tensor-first: a reflected ``scalar * tensor`` would round the scalar to float32
        w = w + (n * (2 * math.pi * k / m)).cos() * (((-1) ** k) * a)
    return _finish(w, m, dtype, device, requires_grad)


def hann_window(window_length: int, periodic: bool = True, *, dtype: Any = None, layout: Any = None,
                device: Any = None, requires_grad: bool = False) -> Tensor:
    """``0.5 - 0.5 cos(2 pi n / M)``, shape ``(window_length,)``."""
    return _cosine_sum(window_length, periodic, (0.5, 0.5), dtype, device, requires_grad, "hann_window")


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype: Any = None, layout: Any = None, device: Any = None,
                   requires_grad: bool = False) -> Tensor:
    """``alpha - beta cos(2 pi n / M)``, shape ``(window_length,)``."""
    return _cosine_sum(window_length, periodic, (alpha, beta), dtype, device, requires_grad, "hamming_window")


def blackman_window(window_length: int, periodic: bool = True, *, dtype: Any = None, layout: Any = None,
                    device: Any = None, requires_grad: bool = False) -> Tensor:
    """``0.42 - 0.5 cos(2 pi n / M) + 0.08 cos(4 pi n / M)``, shape ``(window_length,)``."""
    return _cosine_sum(window_length, periodic, (0.42, 0.5, 0.08), dtype, device, requires_grad,
                       "blackman_window")


def bartlett_window(window_length: int, periodic: bool = True, *, dtype: Any = None, layout: Any = None,
                    device: Any = None, requires_grad: bool = False) -> Tensor:
    """The triangle ``1 - |2n / M - 1|``, shape ``(window_length,)``."""
    n, m = _grid(window_length, periodic, dtype, device, "bartlett_window")
    if n is None:
        return _finish(None, m, dtype, device, requires_grad)
    return _finish((n * (2.0 / m) - 1).abs().neg() + 1, m, dtype, device, requires_grad)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype: Any = None,
                  layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """``I0(beta sqrt(1 - (2n / M - 1)^2)) / I0(beta)``, shape ``(window_length,)``."""
    from ._torch_aliases import _i0

    n, m = _grid(window_length, periodic, dtype, device, "kaiser_window")
    if n is None:
        return _finish(None, m, dtype, device, requires_grad)
    r = ((n * (2.0 / m) - 1) ** 2).neg().add(1).clamp(min=0).sqrt()
    beta_t = _C.tensor(float(beta), dtype=_C.float64, device=device)
    return _finish(_i0(r * beta) / _i0(beta_t), m, dtype, device, requires_grad)


WINDOWS = {"hann_window": hann_window, "hamming_window": hamming_window, "blackman_window": blackman_window,
           "bartlett_window": bartlett_window, "kaiser_window": kaiser_window}
