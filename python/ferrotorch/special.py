"""``torch.special``: the special functions, under SciPy's names (most are the tensor ops themselves)."""

from __future__ import annotations

import math
from typing import Any

import ferrotorch as torch

Tensor = torch.Tensor

erf = torch.erf
erfc = torch.erfc
erfinv = torch.erfinv
gammaln = torch.lgamma
digamma = psi = torch.digamma
multigammaln = torch.mvlgamma
expit = torch.sigmoid
exp2 = torch.exp2
expm1 = torch.expm1
log1p = torch.log1p
round = torch.round
xlogy = torch.xlogy
logit = torch.logit
sinc = torch.sinc
softmax = torch.softmax
log_softmax = torch.log_softmax
logsumexp = torch.logsumexp


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else torch.tensor(x)


def _out(r: Tensor, out: Tensor | None) -> Tensor:
    return r if out is None else out.copy_(r)


def polygamma(n: int, input: Any, *, out: Tensor | None = None) -> Tensor:
    """The ``n``-th derivative of digamma: ``(-1)^(n+1) n! zeta(n+1, x)`` for n >= 1."""
    return _out(_tensor(input).polygamma(n), out)


def ndtr(input: Any, *, out: Tensor | None = None) -> Tensor:
    """The standard normal CDF, ``erfc(-x / sqrt(2)) / 2``."""
    return _out(_tensor(input).mul(-math.sqrt(0.5)).erfc() * 0.5, out)


def log_ndtr(input: Any, *, out: Tensor | None = None) -> Tensor:
    """``log(ndtr(x))`` (through erfc, so it stays exact in the right tail)."""
    return _out(ndtr(input).log(), out)


def ndtri(input: Any, *, out: Tensor | None = None) -> Tensor:
    """The standard normal quantile, ``sqrt(2) erfinv(2p - 1)``."""
    return _out((_tensor(input) * 2 - 1).erfinv() * math.sqrt(2), out)


def entr(input: Any, *, out: Tensor | None = None) -> Tensor:
    """``-x ln x`` for x > 0, 0 at 0 and -inf below (NaN stays NaN)."""
    x = _tensor(input)
    x = x if x.is_floating_point() else x.to(torch.get_default_dtype())
    r = torch.where(x > 0, -x * x.clamp_min(torch.finfo(x.dtype).tiny).log(), torch.zeros_like(x))
    return _out(torch.where(x < 0, torch.full_like(x, -math.inf), r), out)


def xlog1py(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``x * log1p(y)``, 0 where x == 0 (unless y is NaN)."""
    x, y = _tensor(input), _tensor(other)
    r = x * y.log1p()
    return _out(torch.where((x == 0) & ~y.isnan(), torch.zeros_like(r), r), out)
