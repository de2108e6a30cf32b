"""``Gamma(concentration, rate)``, with the Marsaglia-Tsang sampler and its implicit reparameterised gradient."""

from typing import ClassVar

import ferrotorch as torch
from ferrotorch import Tensor
from ferrotorch.autograd import Function
from ferrotorch.autograd.function import once_differentiable

from . import constraints
from .exp_family import ExponentialFamily
from .utils import _EMPTY_SIZE, _Number, _size, broadcast_all

__all__ = ["Gamma"]


def _sample_standard_gamma(alpha: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Draws Gamma(alpha, 1) samples (same shape as ``alpha``) by Marsaglia-Tsang.

    Rejection runs as a vectorised loop: every round proposes for all entries and keeps the first
    accepted proposal of each (acceptance is > 95% for alpha >= 1, so only a few rounds run).
    alpha < 1 is boosted to alpha + 1 and scaled by ``U ** (1 / alpha)``.
    """
    with torch.no_grad():
        alpha = alpha.detach()
        boosted = alpha < 1
        a = torch.where(boosted, alpha + 1, alpha)
        d = a - 1.0 / 3.0
        c = 1.0 / torch.sqrt(9.0 * d)
        out = torch.zeros_like(a)
        done = torch.zeros_like(a, dtype=torch.bool)
        while not bool(done.all()):
            z = torch.randn(a.shape, dtype=a.dtype, device=a.device, generator=generator)
            u = torch.rand(a.shape, dtype=a.dtype, device=a.device, generator=generator)
            v = (1 + c * z) ** 3
            # log v is only evaluated where v > 0; elsewhere the proposal is rejected anyway
            log_v = torch.log(v.clamp(min=torch.finfo(a.dtype).tiny))
            accept = (v > 0) & (torch.log(u) < 0.5 * z * z + d - d * v + d * log_v) & ~done
            out = torch.where(accept, d * v, out)
            done = done | accept
        u = torch.rand(a.shape, dtype=a.dtype, device=a.device, generator=generator)
        scale = torch.where(boosted, u ** (1.0 / alpha), torch.ones_like(u))
        return out * scale


def _standard_gamma_grad(x: Tensor, alpha: Tensor) -> Tensor:
    """d x / d alpha of a Gamma(alpha, 1) sample ``x`` at fixed CDF value (the implicit gradient).

    The same approximation as PyTorch's ``_standard_gamma_grad``: a Taylor series of the CDF for
    x < 0.8, a Rice saddle-point expansion for alpha > 8, a bivariate rational fit elsewhere.
    """
    tiny = torch.finfo(x.dtype).tiny
    x = x.clamp(min=tiny)
    # Taylor series of the regularised lower incomplete gamma function and of its alpha-derivative
    numer = torch.ones_like(x)
    denom = alpha.clone()
    series1 = numer / denom
    series2 = numer / (denom * denom)
    for i in range(1, 6):
        numer = numer * (-x / i)
        denom = denom + 1
        series1 = series1 + numer / denom
        series2 = series2 + numer / (denom * denom)
    pow_x_alpha = x**alpha
    gamma_pdf = x ** (alpha - 1) * torch.exp(-x)
    gamma_cdf = pow_x_alpha * series1
    gamma_cdf_alpha = (torch.log(x) - torch.digamma(alpha)) * gamma_cdf - pow_x_alpha * series2
    small_x = -gamma_cdf_alpha / gamma_pdf
    small_x = torch.where(torch.isnan(small_x), torch.zeros_like(small_x), small_x)

    # Rice saddle point expansion, with its own form near the mode
    near = ((1 + 24 * alpha * (1 + 12 * alpha))
            * (1440 * alpha * alpha + 6 * x * (53 - 120 * x) - 65 * x * x / alpha + alpha * (107 + 3600 * x))
            / (1244160 * alpha**4))
    gap = torch.where((alpha - x).abs() < tiny, torch.full_like(x, tiny), alpha - x)
    sq = torch.sqrt(8 * alpha)
    term2 = sq / gap
    term3 = (x - alpha - alpha * torch.log(x / alpha)).clamp(min=tiny) ** -1.5
    term23 = torch.where(x < alpha, term2 - term3, term2 + term3)
    term1 = torch.log(x / alpha) * term23 - torch.sqrt(2 / alpha) * (alpha + x) / (gap * gap)
    stirling = 1 + 1 / (12 * alpha) * (1 + 1 / (24 * alpha))
    far = -stirling * x * term1 / sq
    large_alpha = torch.where((0.9 * alpha <= x) & (x <= 1.1 * alpha), near, far)

    # bivariate rational approximation in u = log(x / alpha), v = log(alpha)
    u = torch.log(x / alpha)
    v = torch.log(alpha)
    coef = [
        (0.16009398, 0.53487893, 0.040121004),
        (-0.094634809, 0.1298071, -0.0065914022),
        (0.025146376, 0.065735949, -0.0026286047),
        (-0.0030648343, -0.0015649758, -0.0013441777),
        (1.0, 0.16639465, 0.017050642),
        (0.32668115, 0.020070113, -0.0021309326),
        (0.10406089, -0.0035938915, 0.00085092367),
        (0.0014179084, -0.00058392623, -1.5247877e-07),
    ]
    cv = [c0 + u * (c1 + u * c2) for c0, c1, c2 in coef]
    p = cv[0] + v * (cv[1] + v * (cv[2] + v * cv[3]))
    q = cv[4] + v * (cv[5] + v * (cv[6] + v * cv[7]))
    rational = torch.exp(p / q)

    return torch.where(x < 0.8, small_x, torch.where(alpha > 8.0, large_alpha, rational))


def _gammainc(a: Tensor, x: Tensor, iters: int = 64) -> Tensor:
    """The regularised lower incomplete gamma function P(a, x) (``torch.special.gammainc``).

    Its power series where x < a + 1 and the Lentz continued fraction of 1 - P elsewhere, each a
    fixed number of vectorised steps (both converge geometrically in their regions), so autograd
    differentiates it in both arguments.
    """
    a, x = torch.broadcast_tensors(a, x)
    tiny = torch.finfo(x.dtype).tiny
    pos = x > 0
    use_series = x < a + 1
    log_prefix = a * torch.log(torch.where(pos, x, torch.ones_like(x))) - x - torch.lgamma(a)
    # each branch gets inputs from its own region, so the unused one stays finite (and so its grad)
    xs = torch.where(use_series & pos, x, torch.zeros_like(x))
    term = 1.0 / a
    total = term
    eps = torch.finfo(x.dtype).eps
    for n in range(1, 8 * iters):
        term = term * xs / (a + n)
        total = total + term
        # near x ~ a the series needs ~sqrt(a) terms: run until every term is negligible
        if n % 16 == 0 and bool((term.detach() <= eps * total.detach()).all()):
            break
    series = torch.exp(log_prefix) * total
    xc = torch.where(use_series, a + 1, x)
    b = xc + 1 - a
    c = torch.full_like(x, 1.0 / tiny)
    d = 1.0 / b
    h = d
    for i in range(1, iters):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = torch.where(d.abs() < tiny, torch.full_like(d, tiny), d)
        c = b + an / c
        c = torch.where(c.abs() < tiny, torch.full_like(c, tiny), c)
        d = 1.0 / d
        h = h * (d * c)
    log_prefix_c = a * torch.log(xc) - xc - torch.lgamma(a)
    cfrac = 1 - torch.exp(log_prefix_c) * h
    out = torch.where(use_series, series, cfrac)
    return torch.where(pos, out, torch.zeros_like(out))


class _StandardGamma(Function):
    """Gamma(alpha, 1) sampling with the implicit reparameterisation gradient in alpha."""

    @staticmethod
    def forward(ctx, alpha, generator):
        x = _sample_standard_gamma(alpha, generator)
        ctx.save_for_backward(x, alpha)
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        x, alpha = ctx.saved_tensors
        return grad_output * _standard_gamma_grad(x, alpha), None


def _standard_gamma(concentration: Tensor, generator: torch.Generator | None = None) -> Tensor:
    return _StandardGamma.apply(concentration, generator)


class Gamma(ExponentialFamily):
    r"""
    Creates a Gamma distribution parameterized by shape :attr:`concentration` and :attr:`rate`.

    Example::

        >>> m = Gamma(torch.tensor([1.0]), torch.tensor([1.0]))
        >>> m.sample()  # Gamma distributed with concentration=1 and rate=1
        tensor([ 0.1046])

    Args:
        concentration (float or Tensor): shape parameter of the distribution
            (often referred to as alpha)
        rate (float or Tensor): rate parameter of the distribution
            (often referred to as beta), rate = 1 / scale
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def __init__(
        self,
        concentration: Tensor | float,
        rate: Tensor | float,
        validate_args: bool | None = None,
    ) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        if isinstance(concentration, _Number) and isinstance(rate, _Number):
            batch_shape = torch.Size()
        else:
            batch_shape = self.concentration.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = torch.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        super(Gamma, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(
        self,
        sample_shape: _size = _EMPTY_SIZE,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator)

    def rsample(
        self,
        sample_shape: _size = _EMPTY_SIZE,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        shape = self._extended_shape(sample_shape)
        value = _standard_gamma(
            self.concentration.expand(shape), generator=generator
        ) / self.rate.expand(shape)
        value.detach().clamp_(
            min=torch.finfo(value.dtype).tiny
        )  # do not record in autograd graph
        return value

    def log_prob(self, value):
        value = torch.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        return (
            torch.xlogy(self.concentration, self.rate)
            + torch.xlogy(self.concentration - 1, value)
            - self.rate * value
            - torch.lgamma(self.concentration)
        )

    def entropy(self):
        return (
            self.concentration
            - torch.log(self.rate)
            + torch.lgamma(self.concentration)
            + (1.0 - self.concentration) * torch.digamma(self.concentration)
        )

    @property
    def _natural_params(self) -> tuple[Tensor, Tensor]:
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return torch.lgamma(x + 1) + (x + 1) * torch.log(-y.reciprocal())

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return _gammainc(self.concentration, self.rate * value)
