"""Special functions (erfc, erfinv, lgamma, digamma, polygamma, mvlgamma, torch.special) against math and
known identities; gradients by finite differences."""

from __future__ import annotations

import math

import ferrotorch as torch
import numpy as np
import pytest

EULER = 0.5772156649015329
XS = [-7.3, -2.5, -0.5, 0.1, 0.5, 1.0, 1.5, 2.0, 3.7, 10.0, 55.5, 1e3]


def _f64(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_lgamma_and_erfc_match_math() -> None:
    got = torch.lgamma(_f64(XS)).tolist()
    np.testing.assert_allclose(got, [math.lgamma(x) for x in XS], rtol=1e-14, atol=1e-14)
    assert torch.lgamma(_f64([1.0, 2.0])).tolist() == [0.0, 0.0]
    assert torch.lgamma(_f64([0.0, -3.0, math.inf])).tolist() == [math.inf] * 3
    zs = [-3.0, -0.7, -0.2, 0.0, 0.3, 0.5, 2.0, 5.0, 9.0, 27.0]
    np.testing.assert_allclose(torch.erfc(_f64(zs)).tolist(), [math.erfc(z) for z in zs], rtol=1e-14, atol=0)


def test_erfinv_inverts_erf_and_has_pytorchs_edges() -> None:
    ys = [-0.999999, -0.9, -0.5, -1e-9, 0.0, 0.25, 0.7, 0.99, 0.9999999999]
    xs = torch.erfinv(_f64(ys)).tolist()
    np.testing.assert_allclose([math.erf(x) for x in xs], ys, rtol=1e-14, atol=1e-16)
    edge = torch.erfinv(_f64([1.0, -1.0, 1.5, math.nan])).tolist()
    assert edge[:2] == [math.inf, -math.inf] and all(math.isnan(v) for v in edge[2:])
    f32 = torch.erfinv(torch.tensor([0.5]))
    assert f32.dtype == torch.float32 and abs(f32.item() - 0.4769362762044699) < 1e-6


def test_digamma_and_polygamma_satisfy_known_identities() -> None:
    n = _f64([1.0, 2.0, 5.0])
    np.testing.assert_allclose(torch.digamma(n).tolist(), [-EULER, 1 - EULER, 1 + 1 / 2 + 1 / 3 + 1 / 4 - EULER],
                               rtol=1e-14)
    assert abs(torch.digamma(_f64([0.5])).item() + EULER + 2 * math.log(2)) < 1e-14
    x = _f64([0.3, 0.77, 2.4])  # reflection: psi(1 - x) - psi(x) = pi cot(pi x)
    lhs = (torch.digamma(1 - x) - torch.digamma(x)).tolist()
    np.testing.assert_allclose(lhs, [math.pi / math.tan(math.pi * v) for v in x.tolist()], rtol=1e-12)
    assert torch.digamma(_f64([0.0])).item() == -math.inf and math.isnan(torch.digamma(_f64([-2.0])).item())
    zeta3 = 1.2020569031595942
    one = _f64([1.0])
    np.testing.assert_allclose(
        [torch.polygamma(k, one).item() for k in range(4)],
        [-EULER, math.pi**2 / 6, -2 * zeta3, math.pi**4 / 15],
        rtol=1e-13,
    )
    np.testing.assert_allclose(torch.polygamma(1, _f64([3.0])).item(), math.pi**2 / 6 - 1 - 1 / 4, rtol=1e-13)
    assert torch.special.psi is torch.digamma and torch.special.gammaln is torch.lgamma
    with pytest.raises(RuntimeError, match="negative n"):
        torch.polygamma(-1, one)


def test_integer_inputs_promote_and_inplace_forms_write_through() -> None:
    r = torch.lgamma(torch.tensor([1, 2, 4]))
    assert r.dtype == torch.float32 and r.tolist() == pytest.approx([0.0, 0.0, math.log(6)])
    x = _f64([0.5, 2.0])
    assert x.digamma_() is x
    assert x.tolist() == pytest.approx([-EULER - 2 * math.log(2), 1 - EULER], rel=1e-14)
    y = _f64([1.0])
    y.polygamma_(1)
    assert y.item() == pytest.approx(math.pi**2 / 6, rel=1e-14)


def test_mvlgamma_is_the_sum_of_shifted_lgammas() -> None:
    x = _f64([2.5, 3.0, 7.25])
    want = [3 * 2 / 4 * math.log(math.pi) + sum(math.lgamma(v - i / 2) for i in range(3)) for v in x.tolist()]
    np.testing.assert_allclose(torch.mvlgamma(x, 3).tolist(), want, rtol=1e-14)
    np.testing.assert_allclose(torch.special.multigammaln(x, 3).tolist(), want, rtol=1e-14)
    with pytest.raises(RuntimeError, match=r"All elements must be greater than \(p-1\)/2"):
        torch.mvlgamma(_f64([0.9]), 3)


def test_special_namespace_compositions() -> None:
    z = _f64([-2.0, 0.0, 1.0])
    np.testing.assert_allclose(torch.special.ndtr(z).tolist(), [0.5 * math.erfc(-v / math.sqrt(2)) for v in z.tolist()],
                               rtol=1e-14)
    p = _f64([0.025, 0.5, 0.975])
    np.testing.assert_allclose(torch.special.ndtri(p).tolist(), [-1.959963984540054, 0.0, 1.959963984540054],
                               atol=1e-12)
    np.testing.assert_allclose(torch.special.entr(_f64([0.0, 0.5, -1.0])).tolist(), [0.0, 0.5 * math.log(2), -math.inf])
    np.testing.assert_allclose(torch.special.xlog1py(_f64([0.0, 2.0]), _f64([-1.0, 1.0])).tolist(),
                               [0.0, 2 * math.log(2)])


@pytest.mark.parametrize(
    "fn, x",
    [
        (torch.lgamma, [0.7, 2.3, -1.4, 6.0]),
        (torch.digamma, [0.7, 2.3, -1.4, 6.0]),
        (lambda t: torch.polygamma(1, t), [0.7, 2.3, -1.4]),
        (lambda t: torch.polygamma(2, t), [0.7, 2.3]),
        (torch.erfc, [-1.2, 0.1, 0.8, 2.5]),
        (torch.erfinv, [-0.9, -0.2, 0.3, 0.95]),
        (lambda t: torch.mvlgamma(t, 2), [1.2, 3.4]),
    ],
)
def test_gradients_match_finite_differences(fn, x) -> None:
    t = _f64(x).requires_grad_()
    assert torch.autograd.gradcheck(fn, (t,), eps=1e-6, atol=1e-6, rtol=1e-5)
    assert torch.autograd.gradgradcheck(fn, (t,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_grad_fn_names() -> None:
    t = _f64([1.5]).requires_grad_()
    assert torch.lgamma(t).grad_fn.name() == "LgammaBackward0"
    assert torch.digamma(t).grad_fn.name() == "DigammaBackward0"
    assert torch.polygamma(2, t).grad_fn.name() == "PolygammaBackward0"
    assert torch.erfinv(t * 0.1).grad_fn.name() == "ErfinvBackward0"
