"""torch.distributions: log_prob/entropy/moments against closed forms (math/numpy), cdf/icdf against
literals, sample moments under a fixed seed, gradients of log_prob and rsample against finite differences,
kl_divergence, transforms, and PyTorch's validation errors."""

from __future__ import annotations

import math

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck
from ferrotorch.distributions import (
    Bernoulli,
    Beta,
    Binomial,
    Categorical,
    Dirichlet,
    Distribution,
    Exponential,
    Gamma,
    Independent,
    Laplace,
    LogNormal,
    MultivariateNormal,
    Normal,
    OneHotCategorical,
    Poisson,
    TransformedDistribution,
    Uniform,
    constraints,
    kl_divergence,
    register_kl,
)
from ferrotorch.distributions.gamma import _gammainc, _standard_gamma_grad
from ferrotorch.distributions.transforms import (
    AffineTransform,
    ComposeTransform,
    ExpTransform,
    SigmoidTransform,
    TanhTransform,
)

F64 = torch.float64


def t(*values) -> torch.Tensor:
    return torch.tensor(values[0] if len(values) == 1 else list(values), dtype=F64)


def close(actual, expected, tol: float = 1e-9) -> None:
    a = actual.detach().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    np.testing.assert_allclose(a, np.asarray(expected, dtype=np.float64), rtol=tol, atol=tol)


def lgamma(x):
    return np.vectorize(math.lgamma)(np.asarray(x, dtype=np.float64))


def digamma(x: float, h: float = 1e-5) -> float:
    return (math.lgamma(x + h) - math.lgamma(x - h)) / (2 * h)


# ----------------------------------------------------------------------------- closed forms


def test_normal_closed_forms():
    loc, scale, x = np.array([0.5, -1.0]), np.array([2.0, 0.5]), np.array([0.3, 1.2])
    d = Normal(t(*loc), t(*scale))
    assert d.batch_shape == torch.Size([2]) and d.event_shape == torch.Size([])
    close(d.log_prob(t(*x)), -((x - loc) ** 2) / (2 * scale**2) - np.log(scale) - 0.5 * math.log(2 * math.pi))
    close(d.entropy(), 0.5 + 0.5 * math.log(2 * math.pi) + np.log(scale))
    close(d.mean, loc)
    close(d.mode, loc)
    close(d.variance, scale**2)
    close(d.stddev, scale)
    cdf = [0.5 * (1 + math.erf((xi - m) / (s * math.sqrt(2)))) for xi, m, s in zip(x, loc, scale)]
    close(d.cdf(t(*x)), cdf)
    close(d.icdf(d.cdf(t(*x))), x, 1e-7)
    close(Normal(0.0, 1.0).icdf(torch.tensor(0.3)), -0.5244004726409912, 1e-6)  # PyTorch's value


def test_discrete_closed_forms():
    p = np.array([0.3, 0.9])
    b = Bernoulli(probs=t(*p))
    close(b.log_prob(t(1.0, 0.0)), [math.log(0.3), math.log(0.1)])
    close(b.entropy(), -(p * np.log(p) + (1 - p) * np.log(1 - p)))
    close(b.mean, p)
    close(b.variance, p * (1 - p))
    close(b.logits, np.log(p / (1 - p)))
    close(Bernoulli(logits=t(0.3)).probs, 1 / (1 + math.exp(-0.3)))
    close(b.enumerate_support(), [[0.0, 0.0], [1.0, 1.0]])

    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
    c = Categorical(probs=t(*probs.tolist()))
    assert c.batch_shape == torch.Size([2]) and c.event_shape == torch.Size([])
    close(c.log_prob(torch.tensor([2, 0])), np.log([0.5, 0.6]))
    close(c.entropy(), -(probs * np.log(probs)).sum(-1))
    close(c.logits, np.log(probs))
    assert c.mode.tolist() == [2, 0]
    close(Categorical(logits=t(0.0, math.log(3.0))).probs, [0.25, 0.75])  # softmax of unnormalised logits

    oh = OneHotCategorical(probs=t(0.2, 0.3, 0.5))
    assert oh.event_shape == torch.Size([3]) and oh.batch_shape == torch.Size([])
    close(oh.log_prob(t(0.0, 0.0, 1.0)), math.log(0.5))
    close(oh.mean, [0.2, 0.3, 0.5])
    close(oh.variance, [0.16, 0.21, 0.25])
    close(oh.mode, [0.0, 0.0, 1.0])

    rate, k = np.array([3.0, 0.5]), np.array([2.0, 0.0])
    po = Poisson(t(*rate))
    close(po.log_prob(t(*k)), k * np.log(rate) - rate - lgamma(k + 1))
    close(po.mean, rate)
    close(po.variance, rate)
    close(po.mode, np.floor(rate))

    n, q, k = np.array([5.0, 10.0]), np.array([0.3, 0.8]), np.array([2.0, 10.0])
    bi = Binomial(t(*n), probs=t(*q))
    expected = lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k * np.log(q) + (n - k) * np.log1p(-q)
    close(bi.log_prob(t(*k)), expected, 1e-8)
    close(bi.mean, n * q)
    close(bi.variance, n * q * (1 - q))
    close(bi.mode, np.floor((n + 1) * q))
    pmf = [math.comb(4, i) * 0.25**i * 0.75 ** (4 - i) for i in range(5)]
    close(Binomial(4, t(0.25)).entropy(), -sum(v * math.log(v) for v in pmf))


def test_continuous_closed_forms():
    u = Uniform(t(0.0, -1.0), t(2.0, 3.0))
    close(u.log_prob(t(0.5, 2.0)), [-math.log(2.0), -math.log(4.0)])
    close(u.entropy(), [math.log(2.0), math.log(4.0)])
    close(u.mean, [1.0, 1.0])
    close(u.variance, [4 / 12, 16 / 12])
    close(u.cdf(t(0.5, 2.0)), [0.25, 0.75])
    close(u.icdf(t(0.25, 0.75)), [0.5, 2.0])

    e = Exponential(t(2.0, 0.5))
    close(e.log_prob(t(0.4, 3.0)), [math.log(2) - 0.8, math.log(0.5) - 1.5])
    close(e.entropy(), [1 - math.log(2.0), 1 - math.log(0.5)])
    close(e.mean, [0.5, 2.0])
    close(e.variance, [0.25, 4.0])
    close(e.cdf(t(0.4, 3.0)), [1 - math.exp(-0.8), 1 - math.exp(-1.5)])
    close(e.icdf(t(0.3)), -math.log(0.7) / np.array([2.0, 0.5]))

    la = Laplace(t(0.0, 1.0), t(2.0, 0.3))
    close(la.log_prob(t(0.4, 3.0)), [-math.log(4.0) - 0.2, -math.log(0.6) - 2 / 0.3])
    close(la.entropy(), [1 + math.log(4.0), 1 + math.log(0.6)])
    close(la.variance, [8.0, 2 * 0.09])
    close(la.cdf(t(0.4, 0.0)), [1 - 0.5 * math.exp(-0.2), 0.5 * math.exp(-1 / 0.3)])
    close(la.icdf(la.cdf(t(0.4, 0.0))), [0.4, 0.0], 1e-8)

    a, r, x = np.array([2.5, 0.5]), np.array([1.5, 3.0]), np.array([0.4, 0.2])
    g = Gamma(t(*a), t(*r))
    close(g.log_prob(t(*x)), a * np.log(r) + (a - 1) * np.log(x) - r * x - lgamma(a))
    close(g.mean, a / r)
    close(g.variance, a / r**2)
    close(g.mode, [1.0, 0.0])
    close(g.entropy(), [a[i] - math.log(r[i]) + math.lgamma(a[i]) + (1 - a[i]) * digamma(a[i]) for i in range(2)],
          1e-8)

    a, b, x = np.array([2.0, 0.5]), np.array([3.0, 1.5]), np.array([0.4, 0.2])
    be = Beta(t(*a), t(*b))
    lbeta = lgamma(a) + lgamma(b) - lgamma(a + b)
    close(be.log_prob(t(*x)), (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - lbeta)
    close(be.mean, a / (a + b))
    close(be.variance, a * b / ((a + b) ** 2 * (a + b + 1)))
    close(be.concentration1, a)
    close(be.concentration0, b)

    alpha, x = np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.3, 0.5])
    di = Dirichlet(t(*alpha))
    assert di.event_shape == torch.Size([3]) and di.batch_shape == torch.Size([])
    close(di.log_prob(t(*x)), ((alpha - 1) * np.log(x)).sum() + math.lgamma(6.0) - lgamma(alpha).sum())
    close(di.mean, alpha / 6)
    close(di.variance, alpha * (6 - alpha) / (36 * 7))
    close(di.mode, (alpha - 1) / 3)

    mu, z = np.array([1.0, 2.0]), np.array([0.3, 1.0])
    lognorm = LogNormal(t(0.0, 1.0), t(1.0, 0.5))
    close(lognorm.log_prob(t(*z)), [
        -(math.log(zi) - m) ** 2 / (2 * s * s) - math.log(s * zi) - 0.5 * math.log(2 * math.pi)
        for zi, m, s in zip(z, [0.0, 1.0], [1.0, 0.5])
    ])
    close(lognorm.mean, np.exp(np.array([0.0, 1.0]) + np.array([1.0, 0.25]) / 2))
    close(lognorm.entropy(), 0.5 + 0.5 * math.log(2 * math.pi) + np.log([1.0, 0.5]) + np.array([0.0, 1.0]))
    del mu


def test_multivariate_normal_and_independent():
    loc, cov, x = np.array([1.0, 2.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([0.3, 1.0])
    diff = x - loc
    expected = -0.5 * (diff @ np.linalg.solve(cov, diff) + math.log(np.linalg.det(cov)) + 2 * math.log(2 * math.pi))
    ent = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * cov))
    for kwargs in (
        {"covariance_matrix": torch.tensor(cov)},
        {"precision_matrix": torch.tensor(np.linalg.inv(cov))},
        {"scale_tril": torch.tensor(np.linalg.cholesky(cov))},
    ):
        m = MultivariateNormal(torch.tensor(loc), **kwargs)
        assert m.event_shape == torch.Size([2]) and m.batch_shape == torch.Size([])
        close(m.log_prob(torch.tensor(x)), expected, 1e-8)
        close(m.entropy(), ent, 1e-8)
        close(m.covariance_matrix, cov, 1e-8)
        close(m.variance, np.diag(cov), 1e-8)
        close(m.mean, loc)
    batched = MultivariateNormal(torch.zeros(3, 2, dtype=F64), torch.tensor(cov))
    assert batched.batch_shape == torch.Size([3]) and batched.sample((4,)).shape == torch.Size([4, 3, 2])

    base = Normal(torch.zeros(3, 2, dtype=F64), t(1.0, 2.0))
    ind = Independent(base, 1)
    assert ind.batch_shape == torch.Size([3]) and ind.event_shape == torch.Size([2])
    v = torch.ones(3, 2, dtype=F64)
    close(ind.log_prob(v), base.log_prob(v).sum(-1))
    close(ind.entropy(), base.entropy().sum(-1))
    assert ind.sample((5,)).shape == torch.Size([5, 3, 2])


def test_gamma_cdf_and_gammainc():
    # regularised lower incomplete gamma against mpmath's gammainc(a, 0, x, regularized=True)
    a = t(0.1, 0.5, 1.0, 2.0, 20.0, 20.0, 100.0)
    x = t(0.1, 1.2, 0.5, 3.0, 10.0, 30.0, 90.0)
    expected = [0.8275517595858504, 0.8786647496415179, 0.3934693402873665, 0.8008517265285442,
                0.0034543419758568334, 0.9781265315586091, 0.15822098918643]
    close(_gammainc(a, x), expected, 1e-9)
    g = Gamma(t(2.5), t(1.5))
    close(g.cdf(t(0.4, 2.0, 5.0)), [0.055122634997878096, 0.6937810815867212, 0.9896376620842136], 1e-9)


# ----------------------------------------------------------------------------- sampling


def test_sample_shapes_dtypes_and_expand():
    assert Normal(t(0.0, 1.0), 1.0).sample((3,)).shape == torch.Size([3, 2])
    assert Normal(t(0.0, 1.0), 1.0).rsample().dtype == F64
    assert Categorical(torch.tensor([0.2, 0.8])).sample((3, 2)).dtype == torch.int64
    assert Poisson(torch.tensor([2.0])).sample((4,)).shape == torch.Size([4, 1])
    assert OneHotCategorical(torch.tensor([0.2, 0.8])).sample((5,)).shape == torch.Size([5, 2])
    assert Dirichlet(torch.ones(3, 4)).sample((2,)).shape == torch.Size([2, 3, 4])
    d = Normal(t(0.0, 1.0), t(1.0, 2.0)).expand((4, 2))
    assert d.batch_shape == torch.Size([4, 2]) and d.sample().shape == torch.Size([4, 2])
    close(d.log_prob(torch.zeros(4, 2, dtype=F64))[3], Normal(t(0.0, 1.0), t(1.0, 2.0)).log_prob(t(0.0, 0.0)))
    g = Gamma(t(2.0), t(1.0)).expand((3,))
    assert g.batch_shape == torch.Size([3]) and g.rsample((2,)).shape == torch.Size([2, 3])
    with pytest.raises(RuntimeError):
        Normal(t(0.0, 1.0), 1.0).expand((3,))


def test_sampling_is_reproducible_under_manual_seed():
    def draw():
        torch.manual_seed(11)
        return [Gamma(t(0.5, 2.0), 1.0).sample((3,)), Normal(0.0, 1.0).sample((2,)),
                Poisson(torch.tensor(3.0)).sample((3,)), Categorical(torch.tensor([0.2, 0.8])).sample((4,))]

    for a, b in zip(draw(), draw()):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("dist", "mean", "var"),
    [
        (lambda: Normal(t(1.0), t(2.0)), 1.0, 4.0),
        (lambda: Laplace(t(1.0), t(0.5)), 1.0, 0.5),
        (lambda: Uniform(t(-1.0), t(3.0)), 1.0, 16 / 12),
        (lambda: Exponential(t(2.0)), 0.5, 0.25),
        (lambda: Gamma(t(0.4), t(2.0)), 0.2, 0.1),  # alpha < 1 goes through the boosted branch
        (lambda: Gamma(t(6.0), t(0.5)), 12.0, 24.0),
        (lambda: Beta(t(2.0), t(3.0)), 0.4, 0.04),
        (lambda: Poisson(t(3.0)), 3.0, 3.0),
        (lambda: Binomial(10, t(0.3)), 3.0, 2.1),
        (lambda: Bernoulli(t(0.3)), 0.3, 0.21),
        (lambda: Categorical(t(0.2, 0.3, 0.5)), 1.3, 0.61),
        (lambda: LogNormal(t(0.0), t(0.5)), math.exp(0.125), (math.exp(0.25) - 1) * math.exp(0.25)),
    ],
)
def test_sample_moments(dist, mean, var):
    torch.manual_seed(0)
    s = dist().sample((8000,)).to(F64)
    assert abs(s.mean().item() - mean) < 0.06 * math.sqrt(var) + 1e-3
    assert abs(s.var().item() - var) < 0.1 * var


def test_multivariate_sample_moments():
    torch.manual_seed(0)
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    s = MultivariateNormal(t(1.0, -1.0), torch.tensor(cov)).sample((8000,)).numpy()
    np.testing.assert_allclose(s.mean(0), [1.0, -1.0], atol=0.07)
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.1)
    s = Dirichlet(t(1.0, 2.0, 3.0)).sample((8000,)).numpy()
    np.testing.assert_allclose(s.sum(-1), 1.0, atol=1e-9)
    np.testing.assert_allclose(s.mean(0), [1 / 6, 2 / 6, 3 / 6], atol=0.01)


# ----------------------------------------------------------------------------- gradients


def leaf(*values) -> torch.Tensor:
    return t(*values).requires_grad_()


def test_log_prob_gradcheck():
    x = t(0.3, 0.8)
    assert gradcheck(lambda m, s: Normal(m, s).log_prob(x), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(lambda m, s: Laplace(m, s).log_prob(x), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(lambda a, b: Gamma(a, b).log_prob(x), (leaf(2.0, 0.6), leaf(1.5, 3.0)))
    assert gradcheck(lambda a, b: Beta(a, b).log_prob(x), (leaf(2.0, 0.6), leaf(1.5, 3.0)))
    assert gradcheck(lambda a: Dirichlet(a).log_prob(t(0.2, 0.3, 0.5)), (leaf(1.5, 2.0, 3.0),))
    assert gradcheck(lambda r: Exponential(r).log_prob(x), (leaf(2.0, 0.5),))
    assert gradcheck(lambda r: Poisson(r).log_prob(t(2.0, 0.0)), (leaf(3.0, 0.5),))
    assert gradcheck(lambda lg: Bernoulli(logits=lg).log_prob(t(1.0, 0.0)), (leaf(0.3, -2.0),))
    assert gradcheck(lambda lg: Categorical(logits=lg).log_prob(torch.tensor(1)), (leaf(0.1, 0.5, -0.3),))
    assert gradcheck(lambda p: Binomial(5, p).log_prob(t(2.0, 4.0)), (leaf(0.3, 0.6),))

    def mvn(loc, tril):
        return MultivariateNormal(loc, scale_tril=tril.tril()).log_prob(t(0.3, 1.0))

    assert gradcheck(mvn, (leaf(1.0, 2.0), leaf([1.4, 0.0], [0.3, 0.9])))


def reseeded(make, shape=(3,)):
    """rsample with the noise fixed, so finite differences see only the reparameterisation."""

    def f(*params):
        torch.manual_seed(5)
        return make(*params).rsample(shape)

    return f


def test_rsample_gradcheck():
    assert gradcheck(reseeded(lambda m, s: Normal(m, s)), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(reseeded(lambda m, s: Laplace(m, s)), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(reseeded(lambda lo, hi: Uniform(lo, hi)), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(reseeded(lambda r: Exponential(r)), (leaf(2.0, 0.5),))
    assert gradcheck(reseeded(lambda m, s: LogNormal(m, s)), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(reseeded(lambda m, c: MultivariateNormal(m, scale_tril=c.tril())),
                     (leaf(1.0, 2.0), leaf([1.4, 0.0], [0.3, 0.9])))
    for d in (Normal(0.0, 1.0), Gamma(2.0, 1.0), Beta(2.0, 2.0), Dirichlet(torch.ones(2)), MultivariateNormal(
            torch.zeros(2), torch.eye(2))):
        assert d.has_rsample
    for d in (Bernoulli(0.5), Categorical(torch.ones(2)), Poisson(1.0), Binomial(2, torch.tensor(0.5))):
        assert not d.has_rsample


def test_standard_gamma_grad_matches_pytorch():
    # PyTorch's torch._standard_gamma_grad(alpha, x) at these points (all three approximation regimes)
    alpha = t(0.3, 0.5, 1.0, 2.0, 5.0, 9.0, 20.0, 20.0, 20.0)
    x = t(0.1, 1.2, 0.5, 3.0, 4.0, 9.5, 10.0, 20.5, 30.0)
    expected = [0.7894044031433252, 2.037140969426036, 0.8069784920049818, 1.3217135522829573,
                0.9227530487303212, 1.0464304218725455, 0.6988779184588811, 1.0208611545299011,
                1.2265978621587852]
    close(_standard_gamma_grad(x, alpha), expected, 1e-9)


def test_gamma_rsample_gradient_is_the_implicit_cdf_gradient():
    torch.manual_seed(1)
    alpha = leaf(0.7, 2.5, 12.0)
    rate = t(1.0, 2.0, 0.5)
    x = Gamma(alpha, rate).rsample()
    x.sum().backward()
    # at fixed u = P(alpha, rate * x): dx/dalpha = -(dP/dalpha) / (dP/dx), both by central differences
    a, z, h = alpha.detach(), (rate * x).detach(), 1e-5
    dp_da = (_gammainc(a + h, z) - _gammainc(a - h, z)) / (2 * h)
    dp_dz = (_gammainc(a, z + h) - _gammainc(a, z - h)) / (2 * h)
    close(alpha.grad, -(dp_da / dp_dz) / rate, 1e-4)


def test_pathwise_gradients_of_gamma_beta_dirichlet_means():
    torch.manual_seed(2)
    n = 4000
    a, r = leaf(1.5), t(2.0)
    Gamma(a, r).rsample((n,)).mean().backward()
    assert abs(a.grad.item() - 0.5) < 0.03  # d(a / r) / da
    a, b = leaf(2.0), leaf(3.0)
    Beta(a, b).rsample((n,)).mean().backward()
    assert abs(a.grad.item() - 3 / 25) < 0.015 and abs(b.grad.item() + 2 / 25) < 0.015
    c = leaf(1.0, 2.0, 3.0)
    Dirichlet(c).rsample((n,))[:, 0].mean().backward()
    close(c.grad, [5 / 36, -1 / 36, -1 / 36], 0.015)


# ----------------------------------------------------------------------------- KL


def test_kl_closed_forms():
    p, q = Normal(t(0.5, -1.0), t(2.0, 0.5)), Normal(t(0.0, 1.0), t(1.0, 1.5))
    m1, s1, m2, s2 = np.array([0.5, -1.0]), np.array([2.0, 0.5]), np.array([0.0, 1.0]), np.array([1.0, 1.5])
    close(kl_divergence(p, q), np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5)

    pa, qa = np.array([0.2, 0.3, 0.5]), np.array([0.4, 0.4, 0.2])
    close(kl_divergence(Categorical(t(*pa)), Categorical(t(*qa))), (pa * np.log(pa / qa)).sum())
    close(kl_divergence(OneHotCategorical(t(*pa)), OneHotCategorical(t(*qa))), (pa * np.log(pa / qa)).sum())
    close(kl_divergence(Bernoulli(t(0.3)), Bernoulli(t(0.6))),
          0.3 * math.log(0.3 / 0.6) + 0.7 * math.log(0.7 / 0.4))
    close(kl_divergence(Exponential(t(2.0)), Exponential(t(0.5))), math.log(2.0 / 0.5) + 0.5 / 2.0 - 1)
    close(kl_divergence(Poisson(t(3.0)), Poisson(t(1.5))), 3.0 * math.log(2.0) - 1.5)
    close(kl_divergence(Uniform(t(0.0), t(1.0)), Uniform(t(-1.0), t(2.0))), math.log(3.0))
    assert kl_divergence(Uniform(t(0.0), t(3.0)), Uniform(t(-1.0), t(2.0))).item() == math.inf
    ap, bp, aq, bq = 2.0, 3.0, 1.5, 0.5
    close(kl_divergence(Gamma(t(ap), t(bp)), Gamma(t(aq), t(bq))),
          (ap - aq) * digamma(ap) - math.lgamma(ap) + math.lgamma(aq) + aq * (math.log(bp) - math.log(bq))
          + ap * (bq - bp) / bp, 1e-8)
    a1, b1, a2, b2 = 2.0, 3.0, 1.5, 0.5
    lb = (lambda a, b: math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    close(kl_divergence(Beta(t(a1), t(b1)), Beta(t(a2), t(b2))),
          lb(a2, b2) - lb(a1, b1) + (a1 - a2) * digamma(a1) + (b1 - b2) * digamma(b1)
          + (a2 - a1 + b2 - b1) * digamma(a1 + b1), 1e-8)

    c1, c2 = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[1.0, -0.2], [-0.2, 0.5]])
    mu1, mu2 = np.array([1.0, 2.0]), np.array([0.0, 0.5])
    inv2 = np.linalg.inv(c2)
    expected = 0.5 * (np.trace(inv2 @ c1) + (mu2 - mu1) @ inv2 @ (mu2 - mu1) - 2
                      + math.log(np.linalg.det(c2) / np.linalg.det(c1)))
    close(kl_divergence(MultivariateNormal(torch.tensor(mu1), torch.tensor(c1)),
                        MultivariateNormal(torch.tensor(mu2), torch.tensor(c2))), expected, 1e-8)
    ind = kl_divergence(Independent(p, 1), Independent(q, 1))
    close(ind, kl_divergence(p, q).sum())


def test_kl_cross_families_and_monte_carlo():
    # Normal || Laplace has a closed form; check it (and Dirichlet's) against a Monte Carlo estimate
    torch.manual_seed(3)
    for p, q in ((Normal(t(0.3), t(1.2)), Laplace(t(0.0), t(1.0))),
                 (Dirichlet(t(2.0, 1.0, 3.0)), Dirichlet(t(1.0, 1.0, 1.0))),
                 (Gamma(t(2.0), t(1.0)), Exponential(t(0.7)))):
        x = p.sample((20000,))
        mc = (p.log_prob(x) - q.log_prob(x)).mean().item()
        assert abs(kl_divergence(p, q).item() - mc) < 0.03
    assert kl_divergence(Normal(t(0.0), t(1.0)), Uniform(t(0.0), t(1.0))).item() == math.inf


def test_register_kl_and_missing_pair():
    class MyNormal(Normal):
        pass

    @register_kl(MyNormal, MyNormal)
    def _kl_mine(p, q):
        return torch.zeros_like(p.loc) + 42.0

    assert kl_divergence(MyNormal(t(0.0), t(1.0)), MyNormal(t(1.0), t(1.0))).item() == 42.0
    # a subclass paired with its base still uses the Normal rule
    close(kl_divergence(MyNormal(t(0.0), t(1.0)), Normal(t(0.0), t(1.0))), 0.0)
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q "
                       "type Categorical"):
        kl_divergence(Normal(0.0, 1.0), Categorical(torch.tensor([0.5, 0.5])))


# ----------------------------------------------------------------------------- transforms


def test_transforms():
    x = t(0.3, -1.2, 2.0)
    xn = x.numpy()
    cases = [
        (ExpTransform(), np.exp(xn), xn),
        (AffineTransform(1.0, 2.0), 1 + 2 * xn, np.full(3, math.log(2.0))),
        (SigmoidTransform(), 1 / (1 + np.exp(-xn)), -np.log1p(np.exp(-xn)) - np.log1p(np.exp(xn))),
        (TanhTransform(), np.tanh(xn), np.log(1 - np.tanh(xn) ** 2)),
        (ComposeTransform([ExpTransform(), AffineTransform(1.0, 2.0)]), 1 + 2 * np.exp(xn), xn + math.log(2.0)),
    ]
    for tr, y, ladj in cases:
        out = tr(x)
        close(out, y, 1e-12)
        close(tr.inv(out), xn, 1e-9)
        close(tr.log_abs_det_jacobian(x, out), ladj, 1e-9)
        assert tr.bijective
    assert ExpTransform().inv.inv == ExpTransform()
    assert ExpTransform().domain is constraints.real and ExpTransform().codomain is constraints.positive
    assert SigmoidTransform().codomain is constraints.unit_interval
    assert TanhTransform().sign == 1 and AffineTransform(0.0, -2.0).sign == -1
    # the log-det-Jacobian agrees with autograd's derivative
    xx = x.clone().requires_grad_()
    y = TanhTransform()(xx)
    (g,) = torch.autograd.grad(y.sum(), xx)
    close(TanhTransform().log_abs_det_jacobian(x, y.detach()), np.log(np.abs(g.numpy())), 1e-9)


def test_transformed_distribution():
    base = Normal(t(0.0, 1.0), t(1.0, 0.5))
    td = TransformedDistribution(base, [ExpTransform()])
    ln = LogNormal(t(0.0, 1.0), t(1.0, 0.5))
    v = t(0.3, 2.0)
    close(td.log_prob(v), ln.log_prob(v))
    assert td.support.lower_bound == 0.0 and td.has_rsample
    # sigmoid(a + b N): log_prob by change of variables
    td = TransformedDistribution(Normal(t(0.0), t(1.0)), [AffineTransform(1.0, 2.0), SigmoidTransform()])
    y = 0.7
    z = (math.log(y / (1 - y)) - 1.0) / 2.0
    close(td.log_prob(t(y)), -z * z / 2 - 0.5 * math.log(2 * math.pi) - math.log(2.0) - math.log(y * (1 - y)))
    close(td.cdf(t(y)), 0.5 * (1 + math.erf(z / math.sqrt(2))))
    torch.manual_seed(0)
    s = td.sample((1000,))
    assert bool(((s > 0) & (s < 1)).all())


# ----------------------------------------------------------------------------- validation


def test_validate_args_errors():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(1,\)\) of distribution "
                       r"Normal\(loc: tensor\(\[0\.\]\), scale: tensor\(\[-1\.\]\)\) to satisfy the constraint "
                       r"GreaterThan\(lower_bound=0\.0\), but found invalid values:\ntensor\(\[-1\.\]\)"):
        Normal(torch.tensor([0.0]), torch.tensor([-1.0]))
    with pytest.raises(ValueError, match=r"Expected value argument \(Tensor of shape \(\)\) to be within the support "
                       r"\(Interval\(lower_bound=0\.0, upper_bound=1\.0\)\) of the distribution Uniform\(low: 0\.0, "
                       r"high: 1\.0\), but found invalid values:\n2\.0"):
        Uniform(0.0, 1.0).log_prob(torch.tensor(2.0))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        Bernoulli(probs=torch.tensor(0.3), logits=torch.tensor(0.1))
    with pytest.raises(ValueError, match="constraint Simplex()"):
        Categorical(torch.tensor([-0.1, 1.1]))
    with pytest.raises(ValueError, match="constraint PositiveDefinite()"):
        MultivariateNormal(torch.zeros(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        MultivariateNormal(torch.zeros(2))
    with pytest.raises(ValueError, match="support \\(IntegerGreaterThan\\(lower_bound=0\\)\\)"):
        Poisson(2.0).log_prob(torch.tensor(0.5))
    with pytest.raises(ValueError, match="support \\(Simplex\\(\\)\\)"):
        Dirichlet(torch.ones(2)).log_prob(torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match=r"Value is not broadcastable with batch_shape\+event_shape: "
                       r"torch.Size\(\[3\]\) vs torch.Size\(\[2\]\)."):
        Normal(torch.zeros(2), 1.0).log_prob(torch.ones(3))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        Normal(0.0, 1.0).log_prob(1.0)
    with pytest.raises(ValueError, match="Expected reinterpreted_batch_ndims <= len\\(base_distribution.batch_shape"):
        Independent(Normal(torch.zeros(1), 1.0), 2)
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional."):
        Categorical(torch.tensor(0.5))
    with pytest.raises(ValueError, match="Input arguments must all be instances of Number"):
        Normal([0.0], 1.0)


def test_validate_args_switches():
    assert math.isnan(Normal(0.0, 1.0, validate_args=False).log_prob(torch.tensor(math.nan)).item())
    assert Uniform(0.0, 1.0, validate_args=False).log_prob(torch.tensor(2.0)).item() == -math.inf
    Normal(0.0, -1.0, validate_args=False)  # no check when switched off per instance
    Distribution.set_default_validate_args(False)
    try:
        assert Gamma(-1.0, 1.0).concentration.item() == -1.0
    finally:
        Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        Gamma(-1.0, 1.0)
    with pytest.raises(ValueError):
        Distribution.set_default_validate_args(3)


def test_constraints_and_supports():
    assert Normal(0.0, 1.0).support is constraints.real
    assert Gamma(1.0, 1.0).support is constraints.nonnegative
    assert Beta(1.0, 1.0).support is constraints.unit_interval
    assert Dirichlet(torch.ones(3)).support is constraints.simplex
    assert set(Normal.arg_constraints) == {"loc", "scale"}
    assert set(Binomial.arg_constraints) == {"total_count", "probs", "logits"}
    assert constraints.positive.check(torch.tensor([1.0, -1.0])).tolist() == [True, False]
    assert constraints.simplex.check(torch.tensor([0.3, 0.7])).item()
    assert Binomial(torch.tensor(3.0), torch.tensor(0.5)).support.upper_bound.item() == 3.0


def test_float32_gamma_family_stays_positive_and_finite():
    torch.manual_seed(4)
    for d in (Gamma(torch.tensor([0.01, 0.5, 50.0]), 1.0), Beta(torch.tensor(0.05), torch.tensor(0.05)),
              Dirichlet(torch.tensor([0.02, 0.02, 5.0]))):
        s = d.rsample((200,))
        assert s.dtype == torch.float32
        assert bool((s > 0).all()) and bool(torch.isfinite(s).all())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (set FERROTORCH_EMULATE_CUDA=1)")
def test_distributions_on_cuda():
    dev = "cuda"
    for d in (Normal(torch.zeros(2, device=dev), 1.0), Gamma(torch.tensor([0.5, 3.0], device=dev), 1.0),
              Dirichlet(torch.ones(3, device=dev)), Categorical(torch.ones(3, device=dev)),
              Poisson(torch.ones(2, device=dev)), MultivariateNormal(torch.zeros(2, device=dev),
                                                                     torch.eye(2, device=dev))):
        s = d.sample((3,))
        assert s.device.type == "cuda" and d.log_prob(s).device.type == "cuda"
    g = Gamma(torch.tensor(2.5, device=dev), 1.5)
    assert abs(g.cdf(torch.tensor(2.0, device=dev)).item() - 0.6937810815867212) < 1e-5
