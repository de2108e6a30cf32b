"""torch.distributions, the remaining families: log_prob/entropy/moments against closed forms (math/numpy)
or PyTorch 2.15 literals, sample moments under a fixed seed, gradients of log_prob and rsample against
finite differences, the KL pairs PyTorch registers among them, constraint_registry, the structural
transforms, and PyTorch's validation errors."""

from __future__ import annotations

import math
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck
from ferrotorch.distributions import (
    Categorical,
    Cauchy,
    Chi2,
    ContinuousBernoulli,
    Exponential,
    FisherSnedecor,
    Gamma,
    GeneralizedPareto,
    Geometric,
    Gumbel,
    HalfCauchy,
    HalfNormal,
    InverseGamma,
    Kumaraswamy,
    LKJCholesky,
    LogisticNormal,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    Multinomial,
    MultivariateNormal,
    NegativeBinomial,
    Normal,
    Pareto,
    RelaxedBernoulli,
    RelaxedOneHotCategorical,
    StudentT,
    Uniform,
    VonMises,
    Weibull,
    Wishart,
    biject_to,
    constraint_registry,
    constraints,
    kl_divergence,
    transform_to,
)
from ferrotorch.distributions.beta import Beta
from ferrotorch.distributions.relaxed_bernoulli import LogitRelaxedBernoulli
from ferrotorch.distributions.transforms import (
    AbsTransform,
    AffineTransform,
    CatTransform,
    ComposeTransform,
    CorrCholeskyTransform,
    CumulativeDistributionTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    PowerTransform,
    ReshapeTransform,
    SigmoidTransform,
    SoftmaxTransform,
    SoftplusTransform,
    StackTransform,
    StickBreakingTransform,
)

F64 = torch.float64
EULER = 0.57721566490153286060


def t(*values) -> torch.Tensor:
    return torch.tensor(values[0] if len(values) == 1 else list(values), dtype=F64)


def leaf(*values) -> torch.Tensor:
    return t(*values).requires_grad_()


def close(actual, expected, tol: float = 1e-9) -> None:
    a = actual.detach().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    np.testing.assert_allclose(a, np.asarray(expected, dtype=np.float64), rtol=tol, atol=tol)


lgamma = np.vectorize(math.lgamma)
gamma_fn = np.vectorize(math.gamma)


# ----------------------------------------------------------------------------- closed forms


def test_cauchy_and_half_cauchy():
    loc, scale, x = np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([0.3, -1.5])
    d = Cauchy(t(*loc), t(*scale))
    z = (x - loc) / scale
    close(d.log_prob(t(*x)), -math.log(math.pi) - np.log(scale) - np.log1p(z**2))
    close(d.entropy(), np.log(4 * math.pi * scale))
    close(d.cdf(t(*x)), np.arctan(z) / math.pi + 0.5)
    close(d.icdf(d.cdf(t(*x))), x, 1e-8)
    assert np.isnan(d.mean.numpy()).all() and np.isinf(d.variance.numpy()).all()
    close(d.mode, loc)
    h = HalfCauchy(t(*scale))
    xp = np.abs(x)
    close(h.log_prob(t(*xp)), math.log(2 / math.pi) - np.log(scale) - np.log1p((xp / scale) ** 2))
    close(h.entropy(), np.log(2 * math.pi * scale))
    close(h.cdf(t(*xp)), 2 / math.pi * np.arctan(xp / scale))
    close(h.icdf(h.cdf(t(*xp))), xp, 1e-8)
    close(h.mean, [math.inf, math.inf])


def test_half_normal():
    s, x = np.array([1.0, 2.0]), np.array([0.3, 1.5])
    d = HalfNormal(t(*s))
    close(d.log_prob(t(*x)), 0.5 * math.log(2 / math.pi) - np.log(s) - x**2 / (2 * s**2))
    close(d.mean, s * math.sqrt(2 / math.pi))
    close(d.variance, s**2 * (1 - 2 / math.pi))
    close(d.entropy(), 0.5 * np.log(math.pi * s**2 / 2) + 0.5)
    close(d.cdf(t(*x)), [math.erf(xi / (si * math.sqrt(2))) for xi, si in zip(x, s)])
    close(d.icdf(d.cdf(t(*x))), x, 1e-8)


def test_student_t():
    df, loc, scale, x = np.array([3.0, 5.0]), np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([0.3, -1.5])
    d = StudentT(t(*df), t(*loc), t(*scale))
    z = (x - loc) / scale
    expected = (lgamma((df + 1) / 2) - lgamma(df / 2) - 0.5 * np.log(df * math.pi) - np.log(scale)
                - (df + 1) / 2 * np.log1p(z**2 / df))
    close(d.log_prob(t(*x)), expected)
    close(d.mean, loc)
    close(d.variance, scale**2 * df / (df - 2))
    close(d.entropy(), [1.7734775718632918, 2.3206498529743413])  # PyTorch's values
    # PyTorch's conventions: mean undefined for df <= 1, variance infinite for 1 < df <= 2
    low = StudentT(t(1.0, 1.5))
    assert np.isnan(low.mean.numpy()[0]) and low.mean.numpy()[1] == 0.0
    assert np.isnan(low.variance.numpy()[0]) and np.isinf(low.variance.numpy()[1])


def test_chi2_and_fisher_snedecor():
    k, x = np.array([3.0, 5.0]), np.array([0.3, 1.5])
    d = Chi2(t(*k))
    close(d.df, k)
    close(d.log_prob(t(*x)), (k / 2 - 1) * np.log(x) - x / 2 - k / 2 * math.log(2) - lgamma(k / 2))
    close(d.mean, k)
    close(d.variance, 2 * k)
    d1, d2 = np.array([3.0, 5.0]), np.array([6.0, 7.0])
    f = FisherSnedecor(t(*d1), t(*d2))
    close(f.log_prob(t(*x)), [-0.3892642857733577, -1.3005786616560266])  # PyTorch's values
    close(f.mean, d2 / (d2 - 2))
    close(f.variance, 2 * d2**2 * (d1 + d2 - 2) / (d1 * (d2 - 2) ** 2 * (d2 - 4)))


def test_gumbel():
    loc, scale, x = np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([0.3, -1.5])
    d = Gumbel(t(*loc), t(*scale))
    z = (x - loc) / scale
    close(d.log_prob(t(*x)), -(z + np.exp(-z)) - np.log(scale))
    close(d.mean, loc + scale * EULER)
    close(d.variance, math.pi**2 / 6 * scale**2)
    close(d.entropy(), np.log(scale) + EULER + 1)
    close(d.cdf(t(*x)), np.exp(-np.exp(-z)))
    close(d.mode, loc)


def test_weibull():
    lam, k, x = np.array([1.0, 2.0]), np.array([1.5, 3.0]), np.array([0.3, 1.5])
    d = Weibull(t(*lam), t(*k))
    close(d.log_prob(t(*x)), np.log(k / lam) + (k - 1) * np.log(x / lam) - (x / lam) ** k)
    close(d.mean, lam * gamma_fn(1 + 1 / k))
    close(d.variance, lam**2 * (gamma_fn(1 + 2 / k) - gamma_fn(1 + 1 / k) ** 2))
    close(d.entropy(), EULER * (1 - 1 / k) + np.log(lam / k) + 1)
    close(d.cdf(t(*x)), 1 - np.exp(-((x / lam) ** k)))
    close(d.mode, lam * ((k - 1) / k) ** (1 / k))


def test_pareto():
    xm, a, x = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([1.3, 2.5])
    d = Pareto(t(*xm), t(*a))
    close(d.log_prob(t(*x)), np.log(a) + a * np.log(xm) - (a + 1) * np.log(x))
    close(d.mean, a * xm / (a - 1))
    close(d.variance, xm**2 * a / ((a - 1) ** 2 * (a - 2)))
    close(d.entropy(), np.log(xm / a) + 1 / a + 1)
    close(d.cdf(t(*x)), 1 - (xm / x) ** a)
    close(d.icdf(d.cdf(t(*x))), x, 1e-8)
    close(d.support.lower_bound, xm)


def test_generalized_pareto_and_inverse_gamma():
    d = GeneralizedPareto(t(0.0, 1.0), t(1.0, 2.0), t(0.2, -0.1))
    # PyTorch's values (float32 there, its float64 isclose fails)
    close(d.log_prob(t(0.3, 1.5)), [-0.3496134877204895, -0.9210074543952942], 1e-6)
    close(d.cdf(t(0.3, 1.5)), [0.25274181365966797, 0.2236703485250473], 1e-6)
    close(d.entropy(), [1.2000000476837158, 1.5931471586227417], 1e-6)
    close(d.mean, [1.25, 2.8181817531585693], 1e-6)
    close(d.variance, [2.6041665077209473, 2.7548205852508545], 1e-6)
    close(d.icdf(d.cdf(t(0.3, 1.5))), [0.3, 1.5], 1e-8)
    a, b, x = np.array([3.0, 4.0]), np.array([1.0, 2.0]), np.array([0.3, 1.5])
    ig = InverseGamma(t(*a), t(*b))
    close(ig.log_prob(t(*x)), a * np.log(b) - lgamma(a) - (a + 1) * np.log(x) - b / x)
    close(ig.mean, b / (a - 1))
    close(ig.variance, b**2 / ((a - 1) ** 2 * (a - 2)))
    close(ig.mode, b / (a + 1))


def test_kumaraswamy_and_von_mises():
    k = Kumaraswamy(t(1.5, 2.0), t(2.0, 3.0))
    a, b, x = np.array([1.5, 2.0]), np.array([2.0, 3.0]), np.array([0.3, 0.6])
    close(k.log_prob(t(*x)), np.log(a * b) + (a - 1) * np.log(x) + (b - 1) * np.log1p(-(x**a)), 1e-8)
    close(k.mean, [0.45, 0.457142857142857], 1e-8)
    close(k.variance, [0.054642857142857215, 0.04102040816326541], 1e-8)
    close(k.entropy(), [-0.09861228866810967, -0.2084261358947218], 1e-8)  # PyTorch's values
    v = VonMises(t(0.0, 1.0), t(1.0, 4.0))
    close(v.log_prob(t(0.3, -1.5)), [-1.1184549123184044, -7.4674243434068925], 1e-7)
    close(v.variance, [0.5536100286889264, 0.13647740531006647], 1e-7)  # circular variance 1 - I1/I0
    close(v.mean, [0.0, 1.0])
    i0 = float(np.i0(1.0))  # numpy's modified Bessel I0 gives the normaliser
    close(v.log_prob(t(0.3))[0], math.cos(0.3) - math.log(2 * math.pi * i0), 1e-7)


def test_geometric_and_negative_binomial():
    p, x = np.array([0.3, 0.6]), np.array([0.0, 3.0])
    g = Geometric(t(*p))
    close(g.log_prob(t(*x)), x * np.log1p(-p) + np.log(p))
    close(g.mean, (1 - p) / p)
    close(g.variance, (1 - p) / p**2)
    close(g.entropy(), -((1 - p) * np.log(1 - p) + p * np.log(p)) / p)
    close(Geometric(logits=t(*np.log(p / (1 - p)))).probs, p)
    r = np.array([3.0, 5.0])
    nb = NegativeBinomial(t(*r), t(*p))
    expected = lgamma(x + r) - lgamma(x + 1) - lgamma(r) + r * np.log1p(-p) + x * np.log(p)
    close(nb.log_prob(t(*x)), expected)
    close(nb.mean, r * p / (1 - p))
    close(nb.variance, r * p / (1 - p) ** 2)
    close(nb.mode, np.floor((r - 1) * p / (1 - p)).clip(min=0))


def test_multinomial():
    p, x = np.array([0.2, 0.3, 0.5]), np.array([1.0, 2.0, 2.0])
    d = Multinomial(5, t(*p))
    assert d.event_shape == torch.Size([3]) and d.batch_shape == torch.Size([])
    close(d.log_prob(t(*x)), math.lgamma(6) - lgamma(x + 1).sum() + (x * np.log(p)).sum())
    close(d.mean, 5 * p)
    close(d.variance, 5 * p * (1 - p))
    # entropy sums over every outcome: check it against the enumerated pmf
    outcomes = [(i, j, 5 - i - j) for i in range(6) for j in range(6 - i)]
    logp = [math.lgamma(6) - sum(math.lgamma(c + 1) for c in o) + sum(c * math.log(q) for c, q in zip(o, p))
            for o in outcomes]
    close(d.entropy(), -sum(math.exp(lp) * lp for lp in logp))
    torch.manual_seed(0)
    s = d.sample((500,))
    assert s.shape == (500, 3)
    np.testing.assert_array_equal(s.sum(-1).numpy(), 5.0)
    np.testing.assert_allclose(s.mean(0).numpy(), 5 * p, atol=0.15)


def test_continuous_bernoulli():
    d = ContinuousBernoulli(t(0.3, 0.5, 0.8))
    x = t(0.2, 0.5, 0.9)
    # PyTorch's values (0.5 takes the Taylor branch)
    close(d.log_prob(x), [0.2244532348642858, 0.0, 0.4756868963180728])
    close(d.entropy(), [-0.02938620223212912, 0.0, -0.07641445280335879])
    close(d.mean, [0.43022250114382865, 0.5, 0.6119858128888517])
    close(d.variance, [0.08042515220619428, 0.08333333333333333, 0.07589780080695757])
    close(d.cdf(x), [0.27278846027280756, 0.5, 0.8274007510614991])
    close(d.icdf(x), [0.14323281419453507, 0.5, 0.9437626353707939])
    lam, xv = 0.3, 0.2
    c = 2 * math.atanh(1 - 2 * lam) / (1 - 2 * lam)
    close(d.log_prob(x)[0], math.log(c) + xv * math.log(lam) + (1 - xv) * math.log(1 - lam))


def test_relaxed_families():
    rb = RelaxedBernoulli(t(0.5), t(0.3, 0.8))
    close(rb.log_prob(t(0.2, 0.9)), [-0.25279481345134047, 0.30788477976930073])  # PyTorch's values
    lrb = LogitRelaxedBernoulli(t(0.5), t(0.3, 0.8))
    close(lrb.log_prob(t(-0.4, 1.2)), [-2.1824109694383007, -2.2301813205226573])
    rc = RelaxedOneHotCategorical(t(0.7), t(0.2, 0.3, 0.5))
    close(rc.log_prob(t(0.1, 0.3, 0.6)), 0.6587486500684911)
    assert rc.event_shape == torch.Size([3])
    torch.manual_seed(1)
    s = rc.rsample((200,))
    np.testing.assert_allclose(s.sum(-1).numpy(), 1.0, atol=1e-12)
    assert bool(constraints.simplex.check(s).all())
    sb = rb.rsample((200,))
    assert bool(((sb > 0) & (sb < 1)).all())


def _lowrank():
    w = np.array([[1.0, 0.0], [0.5, 1.0], [0.2, 0.3]])
    diag = np.array([1.0, 2.0, 0.5])
    return LowRankMultivariateNormal(t(0.0, 1.0, 2.0), t(w.tolist()), t(*diag)), w @ w.T + np.diag(diag)


def test_lowrank_multivariate_normal_matches_full():
    d, cov = _lowrank()
    full = MultivariateNormal(t(0.0, 1.0, 2.0), t(cov.tolist()))
    x = t([[0.3, 0.2, 1.0], [-1.0, 2.0, 0.5]])
    close(d.log_prob(x), full.log_prob(x), 1e-10)
    close(d.log_prob(x[0]), -4.298631106066841)  # PyTorch's value
    close(d.entropy(), 4.892748134798445)
    close(d.covariance_matrix, cov)
    close(d.precision_matrix, np.linalg.inv(cov))
    close(d.scale_tril, np.linalg.cholesky(cov))
    close(d.variance, np.diag(cov))
    close(d.mean, [0.0, 1.0, 2.0])
    torch.manual_seed(2)
    s = d.sample((4000,)).numpy()
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.25)


def test_mixture_same_family():
    w, mu, sd = np.array([0.3, 0.7]), np.array([0.0, 2.0]), np.array([1.0, 0.5])
    d = MixtureSameFamily(Categorical(t(*w)), Normal(t(*mu), t(*sd)))
    x = np.array([0.3, 1.5])
    dens = (w * np.exp(-((x[:, None] - mu) ** 2) / (2 * sd**2)) / (sd * math.sqrt(2 * math.pi))).sum(-1)
    close(d.log_prob(t(*x)), np.log(dens))
    mean = (w * mu).sum()
    close(d.mean, mean)
    close(d.variance, (w * (sd**2 + mu**2)).sum() - mean**2)
    cdf = (w * np.array([[0.5 * (1 + math.erf((xi - m) / (s * math.sqrt(2)))) for m, s in zip(mu, sd)]
                         for xi in x])).sum(-1)
    close(d.cdf(t(*x)), cdf)
    torch.manual_seed(3)
    s = d.sample((4000,)).numpy()
    assert abs(s.mean() - mean) < 0.08
    assert d.mixture_distribution.probs.shape == (2,) and d.component_distribution.batch_shape == (2,)


def test_lkj_cholesky_and_wishart():
    corr = t([[1.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 1.0]])
    close(LKJCholesky(3, t(2.0)).log_prob(torch.linalg.cholesky(corr)), -0.799604532935907)  # PyTorch's values
    close(LKJCholesky(2, t(0.5)).log_prob(torch.linalg.cholesky(t([[1.0, 0.4], [0.4, 1.0]]))), -1.0575531922770112)
    torch.manual_seed(4)
    s = LKJCholesky(3, t(2.0)).sample((50,))
    assert s.shape == (50, 3, 3) and bool(constraints.corr_cholesky.check(s).all())
    w = Wishart(t(5.0), t([[2.0, 0.3], [0.3, 1.0]]))
    close(w.log_prob(t([[3.0, 0.5], [0.5, 2.0]])), -5.945268668105113)
    close(w.entropy(), 7.781203242421553)
    close(w.mean, [[10.0, 1.5], [1.5, 5.0]])
    close(w.variance, [[40.0, 10.45], [10.45, 10.0]])
    close(w.mode, [[4.0, 0.6], [0.6, 2.0]])
    with warnings.catch_warnings():
        # PyTorch 2.15's rsample flags every sample as singular (it checks the support without negating)
        warnings.simplefilter("ignore", UserWarning)
        torch.manual_seed(5)
        ws = w.sample((2000,))
    assert bool(constraints.positive_definite.check(ws).all())
    np.testing.assert_allclose(ws.mean(0).numpy(), [[10.0, 1.5], [1.5, 5.0]], atol=0.4)


def test_logistic_normal():
    d = LogisticNormal(t(0.0, 1.0), t(1.0, 2.0))
    assert d.event_shape == torch.Size([3])
    y = t(0.2, 0.3, 0.5)
    # StickBreaking inverse: z = logit(y_k / (1 - cumsum)) + log(K - k), then the Normal density and log|J|
    z = np.array([math.log(0.2 / 0.8) + math.log(2), math.log(0.3 / 0.5) + math.log(1)])
    base = (-((z - np.array([0.0, 1.0])) ** 2) / (2 * np.array([1.0, 4.0])) - np.log([1.0, 2.0])
            - 0.5 * math.log(2 * math.pi)).sum()
    close(d.log_prob(y), base - StickBreakingTransform().log_abs_det_jacobian(t(*z), y).item(), 1e-9)


# ----------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("make, mean, var", [
    (lambda: HalfNormal(t(1.0, 2.0)), [0.7978845608, 1.5957691216], [0.3633802276, 1.4535209105]),
    (lambda: Chi2(t(3.0, 5.0)), [3.0, 5.0], [6.0, 10.0]),
    (lambda: Gumbel(t(0.0, 1.0), t(1.0, 2.0)), [EULER, 1 + 2 * EULER], [1.6449340668, 6.5797362674]),
    (lambda: Weibull(t(1.0, 2.0), t(1.5, 3.0)), None, None),
    (lambda: Kumaraswamy(t(1.5, 2.0), t(2.0, 3.0)), None, None),
    (lambda: Geometric(t(0.3, 0.6)), None, None),
    (lambda: NegativeBinomial(t(3.0, 5.0), t(0.3, 0.6)), None, None),
    (lambda: ContinuousBernoulli(t(0.3, 0.8)), None, None),
    (lambda: GeneralizedPareto(t(0.0, 1.0), t(1.0, 2.0), t(0.1, -0.1)), None, None),
    (lambda: FisherSnedecor(t(5.0, 8.0), t(12.0, 14.0)), None, None),
    (lambda: StudentT(t(6.0, 8.0), t(0.0, 1.0), t(1.0, 2.0)), None, None),
])
def test_sample_moments(make, mean, var):
    d = make()
    torch.manual_seed(0)
    s = d.sample((4000,)).numpy()
    assert s.shape == (4000, 2)
    mean = d.mean.numpy() if mean is None else np.asarray(mean)
    var = d.variance.numpy() if var is None else np.asarray(var)
    # four standard errors of the sample mean; the sample variance within 25%
    assert (np.abs(s.mean(0) - mean) <= 4 * np.sqrt(var / 4000) + 1e-3).all(), (s.mean(0), mean)
    np.testing.assert_allclose(s.var(0), var, rtol=0.25)
    assert bool(d.support.check(torch.tensor(s)).all())


def test_von_mises_sample():
    d = VonMises(t(0.5, -2.0), t(1.0, 4.0))
    torch.manual_seed(1)
    s = d.sample((4000,)).numpy()
    assert ((s >= -math.pi) & (s <= math.pi)).all()
    # circular mean direction and 1 - mean resultant length (the circular variance)
    np.testing.assert_allclose(np.arctan2(np.sin(s).mean(0), np.cos(s).mean(0)), [0.5, -2.0], atol=0.06)
    np.testing.assert_allclose(1 - np.hypot(np.sin(s).mean(0), np.cos(s).mean(0)), d.variance.numpy(), atol=0.03)


def test_has_rsample_flags():
    for d in (Cauchy(0.0, 1.0), HalfNormal(1.0), Gumbel(0.0, 1.0), Weibull(1.0, 2.0), Pareto(1.0, 2.0),
              StudentT(3.0), Chi2(t(2.0)), Kumaraswamy(t(1.0), t(2.0)), RelaxedBernoulli(t(0.5), t(0.5)),
              _lowrank()[0], Wishart(t(3.0), torch.eye(2, dtype=F64)), GeneralizedPareto(0.0, 1.0, 0.1)):
        assert d.has_rsample
    for d in (Geometric(t(0.5)), NegativeBinomial(t(2.0), t(0.5)), VonMises(t(0.0), t(1.0)),
              Multinomial(2, t(0.5, 0.5)), LKJCholesky(2, 1.0)):
        assert not d.has_rsample
    with pytest.raises(NotImplementedError):
        VonMises(t(0.0), t(1.0)).rsample()


# ----------------------------------------------------------------------------- gradients


def reseeded(make, shape=(3,)):
    """rsample with the noise fixed, so finite differences see only the reparameterisation."""

    def f(*params):
        torch.manual_seed(5)
        return make(*params).rsample(shape)

    return f


def test_log_prob_gradcheck():
    x = t(0.3, 0.8)
    assert gradcheck(lambda m, s: Cauchy(m, s).log_prob(x), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(lambda df, m, s: StudentT(df, m, s).log_prob(x), (leaf(3.0, 5.0), leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(lambda m, s: Gumbel(m, s).log_prob(x), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(lambda s, k: Weibull(s, k).log_prob(x), (leaf(1.0, 2.0), leaf(1.5, 3.0)))
    assert gradcheck(lambda a, b: Kumaraswamy(a, b).log_prob(x), (leaf(1.5, 2.0), leaf(2.0, 3.0)))
    assert gradcheck(lambda m, k: VonMises(m, k).log_prob(x), (leaf(0.1, -0.5), leaf(1.2, 4.0)))
    assert gradcheck(lambda s, a: Pareto(s, a).log_prob(t(1.3, 2.5)), (leaf(1.0, 2.0), leaf(3.0, 4.0)))
    assert gradcheck(lambda lg: Geometric(logits=lg).log_prob(t(0.0, 3.0)), (leaf(0.3, -1.0),))
    assert gradcheck(lambda r, lg: NegativeBinomial(r, logits=lg).log_prob(t(0.0, 3.0)), (leaf(3.0, 5.0), leaf(0.3, -1.0)))
    assert gradcheck(lambda lg: ContinuousBernoulli(logits=lg).log_prob(x), (leaf(0.3, -1.0),))
    assert gradcheck(lambda lg: Multinomial(4, logits=lg).log_prob(t(1.0, 0.0, 3.0)), (leaf(0.3, -1.0, 0.5),))
    assert gradcheck(lambda c: LKJCholesky(2, c).log_prob(torch.linalg.cholesky(t([[1.0, 0.4], [0.4, 1.0]]))),
                     (leaf(1.5),))
    assert gradcheck(lambda df, m, s: FisherSnedecor(df, m).log_prob(x) * s, (leaf(3.0, 5.0), leaf(6.0, 7.0), leaf(1.0)))

    def lowrank(loc, w, diag):
        return LowRankMultivariateNormal(loc, w, diag).log_prob(t(0.3, 1.0))

    assert gradcheck(lowrank, (leaf(1.0, 2.0), leaf([1.0], [0.5]), leaf(0.7, 1.3)))

    def wishart(df, tril):
        return Wishart(df, scale_tril=tril.tril()).log_prob(t([[3.0, 0.5], [0.5, 2.0]]))

    assert gradcheck(wishart, (leaf(4.0), leaf([1.4, 0.0], [0.3, 0.9])))

    def mixture(logits, mu):
        return MixtureSameFamily(Categorical(logits=logits), Normal(mu, t(1.0, 0.5))).log_prob(x)

    assert gradcheck(mixture, (leaf(0.3, -0.2), leaf(0.0, 2.0)))


def test_rsample_gradcheck():
    assert gradcheck(reseeded(lambda m, s: Cauchy(m, s)), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(reseeded(lambda s: HalfNormal(s)), (leaf(1.2, 0.7),))
    assert gradcheck(reseeded(lambda s: HalfCauchy(s)), (leaf(1.2, 0.7),))
    assert gradcheck(reseeded(lambda m, s: Gumbel(m, s)), (leaf(0.1, -0.5), leaf(1.2, 0.7)))
    assert gradcheck(reseeded(lambda s, k: Weibull(s, k)), (leaf(1.0, 2.0), leaf(1.5, 3.0)))
    assert gradcheck(reseeded(lambda s, a: Pareto(s, a)), (leaf(1.0, 2.0), leaf(3.0, 4.0)))
    assert gradcheck(reseeded(lambda a, b: Kumaraswamy(a, b)), (leaf(1.5, 2.0), leaf(2.0, 3.0)))
    assert gradcheck(reseeded(lambda m, s, c: GeneralizedPareto(m, s, c)), (leaf(0.1, 1.0), leaf(1.2, 0.7), leaf(0.2, -0.1)))
    assert gradcheck(reseeded(lambda lg: RelaxedBernoulli(t(0.5), logits=lg)), (leaf(0.3, -1.0),))
    assert gradcheck(reseeded(lambda lg: RelaxedOneHotCategorical(t(0.7), logits=lg)), (leaf(0.3, -1.0, 0.2),))
    assert gradcheck(reseeded(lambda loc, w, diag: LowRankMultivariateNormal(loc, w, diag)),
                     (leaf(1.0, 2.0), leaf([1.0], [0.5]), leaf(0.7, 1.3)))
    # the Gamma-based ones use PyTorch's approximate implicit gradient: finite and nonzero is the contract
    df = leaf(4.0, 6.0)
    torch.manual_seed(6)
    StudentT(df).rsample((5,)).sum().backward()
    assert np.isfinite(df.grad.numpy()).all() and (df.grad.numpy() != 0).all()


# ----------------------------------------------------------------------------- KL divergence


def test_kl_new_pairs_match_pytorch():
    n = Normal(t(0.0, 1.0), t(1.0, 2.0))
    g, g2 = Gumbel(t(0.5, 1.0), t(1.0, 2.0)), Gumbel(t(-0.5, 2.0), t(2.0, 1.0))
    e, ga = Exponential(t(1.5, 2.0)), Gamma(t(1.5, 2.0), t(2.0, 3.0))
    p1, p2 = Pareto(t(1.0, 2.0), t(3.0, 4.0)), Pareto(t(0.5, 1.5), t(2.0, 5.0))
    c1, c2 = ContinuousBernoulli(t(0.3, 0.7)), ContinuousBernoulli(t(0.6, 0.2))
    u, b = Uniform(t(0.1, 0.2), t(0.5, 0.9)), Beta(t(1.5, 2.0), t(2.0, 3.0))
    expected = {  # PyTorch's values
        (g, g2): [0.4420631498591394, 3.3206321412596784],
        (p1, p2): [1.4584261358947215, 1.4652668109446942],
        (Geometric(t(0.3, 0.6)), Geometric(t(0.5, 0.2))): [0.27427626168350594, 0.6365141682948129],
        (HalfNormal(t(1.0, 2.0)), HalfNormal(t(1.5, 0.5))): [0.1276873303303866, 6.113705638880109],
        (c1, c2): [0.06451926445321665, 0.2049492035593723],
        (Cauchy(t(0.0, 1.0), t(1.0, 2.0)), Cauchy(t(1.0, -1.0), t(2.0, 0.5))): [0.22314355131421015, 0.9409833444645266],
        (n, g): [0.7993432952543724, 0.22978273749545552],
        (e, g): [0.561364537194908, 1.455271377679993],
        (ga, g): [0.479624592137459, 1.259182561031378],
        (u, g): [1.945852475977331, 2.0835466995422385],
        (g, n): [0.7443866960818788, 0.3307788636311124],
        (b, c1): [0.07726504861214212, 0.3493725590785961],
        (u, c1): [0.7765672830485897, 0.3440461741712475],
        (c1, n): [1.081083011785125, 1.6746614850838277],
        (c1, e): [0.26925484583970766, 0.47579401938452615],
        (p1, e): [1.609813847226612, 4.083333333333333],
        (p1, ga): [1.438109280192947, 4.30277542266378],
        (p1, n): [2.184217488539449, 1.513566227657897],
        (Uniform(t(1.1, 2.5), t(3.0, 4.0)), p1): [0.9774194424638574, 1.2838205245127456],
        (b, p1): [math.inf, math.inf],
        (n, p1): [math.inf, math.inf],
    }
    for (p, q), value in expected.items():
        close(kl_divergence(p, q), value, 1e-8)
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Cauchy and q type Normal"):
        kl_divergence(Cauchy(0.0, 1.0), Normal(0.0, 1.0))


def test_kl_lowrank_pairs():
    lr, cov = _lowrank()
    lr2 = LowRankMultivariateNormal(t(1.0, 0.0, 2.0), t([[0.3], [0.5], [1.0]]), t(0.5, 1.0, 2.0))
    mvn = MultivariateNormal(t(0.5, 1.0, 1.0), t([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 1.5]]))
    close(kl_divergence(lr, lr2), 2.8742911968439184)  # PyTorch's values
    close(kl_divergence(lr, mvn), 1.1418535324633967)
    close(kl_divergence(mvn, lr), 1.5710144822379548)
    # the low-rank formulas agree with the full-covariance one
    full = MultivariateNormal(lr.loc, t(cov.tolist()))
    close(kl_divergence(lr, mvn), kl_divergence(full, mvn), 1e-10)
    close(kl_divergence(lr, lr), 0.0, 1e-10)


# ----------------------------------------------------------------------------- constraint registry


def test_biject_to_and_transform_to():
    # as in PyTorch, positive is a GreaterThan(0), so it maps through exp and a zero shift
    positive = biject_to(constraints.positive)
    assert isinstance(positive, ComposeTransform) and isinstance(positive.parts[0], ExpTransform)
    assert isinstance(biject_to(constraints.simplex), StickBreakingTransform)
    assert isinstance(transform_to(constraints.simplex), SoftmaxTransform)
    assert isinstance(biject_to(constraints.unit_interval), SigmoidTransform)
    assert isinstance(biject_to(constraints.corr_cholesky), CorrCholeskyTransform)
    assert isinstance(transform_to(constraints.lower_cholesky), LowerCholeskyTransform)
    assert isinstance(transform_to(constraints.positive_definite), PositiveDefiniteTransform)
    assert biject_to(constraints.real) == biject_to(constraints.real_vector).base_transform
    assert isinstance(biject_to(constraints.interval(-1.0, 2.0)), ComposeTransform)
    x = t(0.3, -0.5, 1.2, 2.0, -3.0, 0.1)
    for c in (constraints.real, constraints.positive, constraints.nonnegative, constraints.unit_interval,
              constraints.greater_than(1.5), constraints.less_than(-1.0), constraints.interval(-1.0, 2.0),
              constraints.half_open_interval(0.0, 2.0), constraints.simplex):
        for registry in (biject_to, transform_to):
            tr = registry(c)
            y = tr(x)
            assert bool(c.check(y).all()), (c, registry)
            if registry is biject_to:  # bijections invert exactly (softmax onto the simplex does not)
                close(tr.inv(y), x, 1e-8)
    close(biject_to(constraints.interval(-1.0, 2.0))(t(0.0)), 0.5)
    close(biject_to(constraints.greater_than(1.5))(t(0.0)), 2.5)
    close(biject_to(constraints.less_than(1.5))(t(0.0)), 0.5)
    m = t([[0.5, 0.2], [-0.3, 0.8]])
    assert bool(constraints.lower_cholesky.check(transform_to(constraints.lower_cholesky)(m)))
    assert bool(constraints.positive_definite.check(transform_to(constraints.positive_definite)(m)))
    assert bool(constraints.corr_cholesky.check(biject_to(constraints.corr_cholesky)(t(0.3, -0.5, 1.2))))
    ind = biject_to(constraints.independent(constraints.positive, 1))
    assert isinstance(ind, IndependentTransform)
    close(ind.log_abs_det_jacobian(x, ind(x)), x.sum().item())
    cat = transform_to(constraints.cat([constraints.positive, constraints.real], dim=0, lengths=[2, 4]))
    assert isinstance(cat, CatTransform)
    close(cat(x)[:2], np.exp([0.3, -0.5]))
    with pytest.raises(NotImplementedError, match="Cannot transform _IntegerInterval constraints"):
        biject_to(constraints.integer_interval(0, 3))
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
        transform_to(constraints.boolean)


def test_register_custom_constraint():
    registry = constraint_registry.ConstraintRegistry()

    class _Odd(constraints.Constraint):
        pass

    @registry.register(_Odd)
    def _odd_factory(constraint):
        return AffineTransform(1.0, 2.0)

    tr = registry(_Odd())
    assert isinstance(tr, AffineTransform)
    close(tr(t(1.0)), 3.0)
    with pytest.raises(TypeError, match="Expected constraint to be either a Constraint subclass or instance"):
        registry.register(3, _odd_factory)


# ----------------------------------------------------------------------------- transforms


def test_structural_transforms_match_pytorch():
    x = t(0.3, -0.5, 1.2)
    sb = StickBreakingTransform()
    y = sb(x)
    close(y, [0.31032244201237, 0.160485579817179, 0.406697150452863, 0.122494827717588], 1e-12)  # PyTorch's values
    close(sb.log_abs_det_jacobian(x, y), -5.999067517574202, 1e-10)
    close(sb.inv(y), x, 1e-10)
    sp = SoftplusTransform()
    close(sp(x), np.log1p(np.exp(x.numpy())))
    close(sp.log_abs_det_jacobian(x, sp(x)), -np.log1p(np.exp(-x.numpy())))
    close(sp.inv(sp(x)), x, 1e-10)
    cc = CorrCholeskyTransform()
    lc = cc(x)
    close(lc, [[1.0, 0.0, 0.0], [0.291312612451591, 0.956627911900248, 0.0],
               [-0.46211715726001, 0.73930064820703, 0.489777790969122]], 1e-12)
    close(cc.log_abs_det_jacobian(x, lc), -1.636403003914722, 1e-10)
    close(cc.inv(lc), x, 1e-10)
    m = t([[0.5, 0.2], [-0.3, 0.8]])
    close(LowerCholeskyTransform()(m), [[1.648721270700128, 0.0], [-0.3, 2.225540928492468]], 1e-12)
    pd = PositiveDefiniteTransform()
    close(pd(m), [[2.718281828459046, -0.494616381210038], [-0.494616381210038, 5.043032424395116]], 1e-12)
    close(pd.inv(pd(m)), LowerCholeskyTransform().inv(LowerCholeskyTransform()(m)), 1e-10)
    cdt = CumulativeDistributionTransform(Normal(t(0.5), t(2.0)))
    close(cdt(x), [0.460172162722971, 0.308537538725987, 0.636830651175619], 1e-12)
    close(cdt.log_abs_det_jacobian(x, cdt(x)), [-1.617085713764618, -1.737085713764618, -1.673335713764618], 1e-10)
    close(cdt.inv(cdt(x)), x, 1e-8)
    sm = SoftmaxTransform()
    e = np.exp(x.numpy())
    close(sm(x), e / e.sum())
    close(sm(sm.inv(sm(x))), e / e.sum())


def test_elementwise_and_shape_transforms():
    x = t(0.3, 0.5, 1.2)
    pw = PowerTransform(t(2.5))
    close(pw(x), x.numpy() ** 2.5)
    close(pw.log_abs_det_jacobian(x, pw(x)), [-0.889668474614749, -0.123430038965763, 1.189773067065087], 1e-10)
    close(pw.inv(pw(x)), x, 1e-10)
    ab = AbsTransform()
    close(ab(t(-1.5, 2.0)), [1.5, 2.0])
    assert ab == AbsTransform()
    rs = ReshapeTransform((6,), (2, 3))
    v = t(*range(6))
    assert rs(v).shape == (2, 3) and rs.inv(rs(v)).shape == (6,)
    close(rs.log_abs_det_jacobian(v, rs(v)), 0.0)
    assert rs.forward_shape((4, 6)) == (4, 2, 3) and rs.inverse_shape((4, 2, 3)) == (4, 6)
    with pytest.raises(ValueError, match="in_shape, out_shape have different numbers of elements"):
        ReshapeTransform((6,), (4,))
    ind = IndependentTransform(ExpTransform(), 1)
    m = t([[0.1, 0.2], [0.3, 0.4]])
    close(ind.log_abs_det_jacobian(m, ind(m)), [0.3, 0.7])
    cat = CatTransform([ExpTransform(), AffineTransform(1.0, 3.0)], dim=0, lengths=[1, 2])
    close(cat(x), [math.exp(0.3), 2.5, 4.6])
    close(cat.log_abs_det_jacobian(x, cat(x)), [0.3, math.log(3), math.log(3)])
    close(cat.inv(cat(x)), x, 1e-12)
    st = StackTransform([ExpTransform(), AffineTransform(1.0, 3.0)], dim=0)
    s2 = t([[0.3, 0.5], [1.0, 2.0]])
    close(st(s2), [[math.exp(0.3), math.exp(0.5)], [4.0, 7.0]])
    close(st.inv(st(s2)), s2, 1e-12)
    close(st.log_abs_det_jacobian(s2, st(s2)), [[0.3, 0.5], [math.log(3), math.log(3)]])


# ----------------------------------------------------------------------------- validation errors


def test_validation_errors():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(1,\)\) of distribution "
                       r"Cauchy\(loc: tensor\(\[0\.\]\), scale: tensor\(\[-1\.\]\)\) to satisfy the constraint "
                       r"GreaterThan\(lower_bound=0\.0\)"):
        Cauchy(torch.tensor([0.0]), torch.tensor([-1.0]))
    with pytest.raises(ValueError, match=r"Expected parameter df \(Tensor of shape \(1,\)\) of distribution Chi2\(\)"):
        StudentT(torch.tensor([0.0]))
    with pytest.raises(ValueError, match=r"to be within the support \(GreaterThanEq\(lower_bound=1\.0\)\) of the "
                       r"distribution Pareto\(alpha: 2\.0, scale: 1\.0\)"):
        Pareto(torch.tensor(1.0), torch.tensor(2.0)).log_prob(torch.tensor(0.5))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        Geometric(probs=torch.tensor(0.5), logits=torch.tensor(0.1))
    with pytest.raises(ValueError, match=r"support \(IntegerGreaterThan\(lower_bound=0\)\)"):
        Geometric(torch.tensor(0.5)).log_prob(torch.tensor(1.5))
    with pytest.raises(NotImplementedError, match="inhomogeneous total_count is not supported"):
        Multinomial(torch.tensor([3, 4]), torch.tensor([0.2, 0.8]))
    with pytest.raises(ValueError, match="Expected dim to be an integer greater than or equal to 2. Found dim=1."):
        LKJCholesky(1, 1.0)
    with pytest.raises(ValueError, match="The Mixture distribution needs to be an  instance of torch.distributions.Categorical"):
        MixtureSameFamily(Normal(0.0, 1.0), Normal(torch.zeros(2), torch.ones(2)))
    with pytest.raises(ValueError, match=r"`mixture_distribution component` \(3\) does not equal "
                       r"`component_distribution.batch_shape\[-1\]` \(2\)"):
        MixtureSameFamily(Categorical(torch.ones(3)), Normal(torch.zeros(2), torch.ones(2)))
    with pytest.raises(ValueError, match="The Component distribution needs to be an instance of torch.distributions.Distribution"):
        MixtureSameFamily(Categorical(torch.ones(2)), 3)
    with pytest.raises(ValueError, match="cov_factor must be at least two-dimensional"):
        LowRankMultivariateNormal(torch.zeros(3), torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match=r"cov_diag must be a batch of vectors with shape torch.Size\(\[3\]\)"):
        LowRankMultivariateNormal(torch.zeros(3), torch.ones(3, 1), torch.ones(2))
    with pytest.raises(AssertionError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        Wishart(torch.tensor(5.0))
    with pytest.raises(ValueError, match="Value of df=0.5 expected to be greater than ndim - 1 = 1."):
        Wishart(torch.tensor(0.5), torch.eye(2))
    with pytest.raises(ValueError, match=r"support \(Interval\(lower_bound=0\.0, upper_bound=1\.0\)\)"):
        Kumaraswamy(torch.tensor(1.0), torch.tensor(1.0)).log_prob(torch.tensor(1.5))
    with pytest.raises(ValueError, match=r"Expected parameter total_count .* GreaterThanEq\(lower_bound=0\)"):
        NegativeBinomial(torch.tensor(-1.0), torch.tensor(0.5))
    with pytest.raises(ValueError, match=r"Expected parameter concentration .* GreaterThan\(lower_bound=0\.0\)"):
        VonMises(torch.tensor(0.0), torch.tensor(-1.0))
    with pytest.raises(ValueError, match=r"support \(GreaterThanEq\(lower_bound=0\.0\)\) of the distribution HalfNormal\(\)"):
        HalfNormal(torch.tensor(1.0)).log_prob(torch.tensor(-1.0))


def test_expand_and_shapes():
    for d in (Cauchy(t(0.0), t(1.0)), Gumbel(t(0.0), t(1.0)), StudentT(t(3.0)), Weibull(t(1.0), t(2.0)),
              Geometric(t(0.5)), NegativeBinomial(t(2.0), t(0.5)), ContinuousBernoulli(t(0.3)),
              Kumaraswamy(t(1.0), t(2.0)), VonMises(t(0.0), t(1.0)), HalfNormal(t(1.0)), Chi2(t(2.0))):
        e = d.expand((4, 1))
        assert e.batch_shape == (4, 1) and type(e) is type(d)
        assert e.log_prob(d.sample((1,))).shape == (4, 1)
    mv = Multinomial(3, t([[0.2, 0.8], [0.5, 0.5]])).expand((3, 2))
    assert mv.batch_shape == (3, 2) and mv.event_shape == (2,) and mv.sample().shape == (3, 2, 2)
    lr = _lowrank()[0].expand((2,))
    assert lr.batch_shape == (2,) and lr.rsample((5,)).shape == (5, 2, 3)
