"""``torch.autograd.functional`` (jacobian, hessian, vjp, jvp, hvp, vhp) against analytic formulas, and
anomaly detection's NaN check."""

from __future__ import annotations

import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

X = np.array([0.5, -1.0, 2.0])


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a.tolist(), dtype=torch.float64)


def _np(t: torch.Tensor) -> np.ndarray:
    return np.array(t.tolist())


def test_jacobian_of_cube_is_diagonal_3x2() -> None:
    j = jacobian(lambda x: x ** 3, _t(X))
    np.testing.assert_allclose(_np(j), np.diag(3 * X ** 2))
    assert not j.requires_grad


def test_jacobian_of_matrix_product_has_shape_out_plus_in() -> None:
    a = np.arange(6.0).reshape(2, 3) / 3
    b = np.array([[1.0, -2.0], [0.5, 1.5], [2.0, 0.0]])
    ja, jb = jacobian(lambda p, q: p @ q, (_t(a), _t(b)))
    assert tuple(ja.shape) == (2, 2, 2, 3) and tuple(jb.shape) == (2, 2, 3, 2)
    # d(AB)_ij / dA_kl = delta_ik B_lj ; d(AB)_ij / dB_kl = A_ik delta_jl
    ea = np.einsum("ik,lj->ijkl", np.eye(2), b)
    eb = np.einsum("ik,jl->ijkl", a, np.eye(2))
    np.testing.assert_allclose(_np(ja), ea)
    np.testing.assert_allclose(_np(jb), eb)


def test_jacobian_tuple_outputs_give_nested_tuples() -> None:
    x, y = _t(X), _t(X[::-1].copy())
    jac = jacobian(lambda a, b: (a * b, a.sum()), (x, y))
    assert isinstance(jac, tuple) and len(jac) == 2 and all(len(r) == 2 for r in jac)
    np.testing.assert_allclose(_np(jac[0][0]), np.diag(X[::-1]))
    np.testing.assert_allclose(_np(jac[0][1]), np.diag(X))
    np.testing.assert_allclose(_np(jac[1][0]), np.ones(3))
    np.testing.assert_allclose(_np(jac[1][1]), np.zeros(3))
    single = jacobian(lambda a: (a * 2,), x)
    assert isinstance(single, tuple) and len(single) == 1
    np.testing.assert_allclose(_np(single[0]), 2 * np.eye(3))


def test_jacobian_strict_and_strategy_errors() -> None:
    x = _t(X)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not require gradients"):
        jacobian(lambda a: torch.ones(2, dtype=torch.float64), x, strict=True)
    np.testing.assert_allclose(_np(jacobian(lambda a: torch.ones(2, dtype=torch.float64), x)), np.zeros((2, 3)))
    with pytest.raises(AssertionError, match="Expected strategy to be either"):
        jacobian(lambda a: a, x, strategy="sideways")
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        jacobian(lambda a: a, [1.0, 2.0])


def test_jacobian_create_graph_allows_second_derivatives() -> None:
    x = _t(X).requires_grad_(True)
    j = jacobian(lambda a: a ** 3, x, create_graph=True)
    assert j.requires_grad
    (g,) = torch.autograd.grad(j.sum(), x)
    np.testing.assert_allclose(_np(g), 6 * X)


def test_hessian_matches_analytic() -> None:
    h = hessian(lambda x: (x ** 3).sum() + x[0] * x[1], _t(X))
    want = np.diag(6 * X)
    want[0, 1] = want[1, 0] = 1.0
    np.testing.assert_allclose(_np(h), want)
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    hq = hessian(lambda x: x @ _t(a) @ x, _t(np.array([0.3, -0.7])))
    np.testing.assert_allclose(_np(hq), a + a.T)
    hh = hessian(lambda x, y: (x * x * y).sum(), (_t(X), _t(X)))
    np.testing.assert_allclose(_np(hh[0][0]), np.diag(2 * X))
    np.testing.assert_allclose(_np(hh[0][1]), np.diag(2 * X))
    np.testing.assert_allclose(_np(hh[1][1]), np.zeros((3, 3)))
    with pytest.raises(RuntimeError, match="should contain a single element"):
        hessian(lambda x: x * 2, _t(X))


def test_vjp_and_jvp_match_jacobian_and_finite_differences() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[0] * x[1], x.sin().sum(), x[2] ** 2])

    x, v3 = _t(X), _t(np.array([1.0, -2.0, 0.5]))
    j = _np(jacobian(f, x))
    out, vj = vjp(f, x, v3)
    np.testing.assert_allclose(_np(vj), v3.tolist() @ j)
    np.testing.assert_allclose(_np(out), _np(f(x)))
    out, jv = jvp(f, x, v3)
    eps = 1e-6
    fd = (_np(f(_t(X + eps * np.array(v3.tolist())))) - _np(f(_t(X - eps * np.array(v3.tolist()))))) / (2 * eps)
    np.testing.assert_allclose(_np(jv), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(_np(jv), j @ np.array(v3.tolist()))
    with pytest.raises(RuntimeError, match="v has invalid size: should be \\(3,\\) but got \\(2,\\)"):
        jvp(f, x, _t(np.ones(2)))
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        vjp(f, x)


def test_jvp_tuple_inputs_and_create_graph() -> None:
    x, y = _t(X).requires_grad_(True), _t(X[::-1].copy())
    _, jv = jvp(lambda a, b: a * b, (x, y), (torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)),
                  create_graph=True)
    np.testing.assert_allclose(_np(jv), X[::-1])
    (g,) = torch.autograd.grad((jv * x).sum(), x)
    np.testing.assert_allclose(_np(g), X[::-1])


def test_hvp_and_vhp_match_hessian_times_v() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:  # Hessian diag(6x) + the anti-diagonal ones
        return (x ** 3).sum() + (x * x.flip(0)).sum() / 2

    x, v = _t(X), _t(np.array([1.0, 0.5, -1.0]))
    h = _np(hessian(f, x))
    np.testing.assert_allclose(h, np.diag(6 * X) + np.eye(3)[::-1])
    val, hv = hvp(f, x, v)
    np.testing.assert_allclose(float(val), float(f(x)))
    np.testing.assert_allclose(_np(hv), h @ np.array(v.tolist()))
    _, vh = vhp(f, x, v)
    np.testing.assert_allclose(_np(vh), np.array(v.tolist()) @ h)
    with pytest.raises(RuntimeError, match="The function given to hvp should return a single Tensor"):
        hvp(lambda a: (a, a), x, v)


def test_anomaly_flags_and_context_manager() -> None:
    assert not torch.is_anomaly_enabled() and torch.is_anomaly_check_nan_enabled()
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"), torch.autograd.detect_anomaly():
        assert torch.is_anomaly_enabled()
    assert not torch.is_anomaly_enabled()
    with torch.autograd.set_detect_anomaly(True, check_nan=False):
        assert torch.is_anomaly_enabled() and not torch.is_anomaly_check_nan_enabled()
    assert not torch.is_anomaly_enabled() and torch.is_anomaly_check_nan_enabled()
    torch.set_anomaly_enabled(True)
    assert torch.is_anomaly_enabled()
    torch.set_anomaly_enabled(False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        @torch.autograd.detect_anomaly()
        def inside() -> bool:
            return torch.is_anomaly_enabled()

    assert inside() and not torch.is_anomaly_enabled()


def _nan_graph() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # sqrt'(0) = inf, times the incoming 0: SqrtBackward0 produces NaN
    x = torch.zeros(2, requires_grad=True)
    w = torch.ones(2, requires_grad=True)
    return x, w, (w * x.sqrt() * 0).sum()


def test_anomaly_nan_check_raises_only_when_enabled() -> None:
    x, w, z = _nan_graph()
    (g,) = torch.autograd.grad(z, [x])
    assert np.isnan(_np(g)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            x, w, z = _nan_graph()
            with pytest.raises(RuntimeError, match="^Function 'SqrtBackward0' returned nan values in its 0th output.$"):
                torch.autograd.grad(z, [x])
            x, w, z = _nan_graph()
            with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output."):
                z.backward(inputs=[w, x])
            x, w, z = _nan_graph()
            with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output."):
                z.backward()  # the plain loss.backward() is checked too, node by node in the engine
            x = torch.zeros(2, requires_grad=True)
            with pytest.raises(RuntimeError, match="Function 'DivBackward0' returned nan values in its 1th output."):
                (torch.ones(2) / x * 0).sum().backward()  # d(1/x)/dx * 0 = -inf * 0: the divisor's slot
            x, w, z = _nan_graph()
            (gw,) = torch.autograd.grad(z, [w])  # w's gradient is finite
            assert _np(gw).tolist() == [0.0, 0.0]
        with torch.autograd.detect_anomaly(check_nan=False):
            x, w, z = _nan_graph()
            torch.autograd.grad(z, [x])
    assert torch.autograd.functional is not None and torch.autograd.functional.jacobian is jacobian
