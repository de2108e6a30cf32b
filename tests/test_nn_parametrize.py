"""nn.utils.parametrize and nn.utils.parametrizations (orthogonal, weight_norm, spectral_norm).

Reference values: numpy, hand-computed gradients, and values computed once with PyTorch 2.x (pasted as literals).
"""

import copy
import pickle

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.nn.utils import parametrizations as PZ
from ferrotorch.nn.utils import parametrize as P
from ferrotorch.nn.utils.parametrizations import _geqrf, _householder_product


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).mT

    def right_inverse(self, A):
        return A.triu()


class Scale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, X):
        return X * self.c

    def right_inverse(self, A):
        return A / self.c


class NoInverse(nn.Module):
    def forward(self, X):
        return X * 2


class Split(nn.Module):
    """``(a, b) -> a + b``; right_inverse returns a tuple (original0, original1)."""

    def forward(self, a, b):
        return a + b

    def right_inverse(self, X):
        return X * 0.25, X * 0.75


def _linear(w, b=None):
    m = nn.Linear(w.shape[1], w.shape[0], bias=b is not None).double()
    with torch.no_grad():
        m.weight.copy_(torch.tensor(w))
        if b is not None:
            m.bias.copy_(torch.tensor(b))
    return m


W3 = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4], [-0.6, 0.9, 1.1]])


# ---------------------------------------------------------------- parametrize


def test_register_swaps_class_and_state_dict_keys():
    m = _linear(W3, np.zeros(3))
    P.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear"
    assert isinstance(m, nn.Linear)
    assert P.type_before_parametrizations(m) is nn.Linear
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight") and not P.is_parametrized(m, "bias")
    assert list(m.state_dict().keys()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    # right_inverse ran at registration: original = triu(W)
    np.testing.assert_allclose(m.parametrizations.weight.original.detach().numpy(), np.triu(W3))
    expected = np.triu(W3) + np.triu(W3, 1).T
    np.testing.assert_allclose(m.weight.detach().numpy(), expected)
    x = np.array([[1.0, 2.0, -1.0]])
    np.testing.assert_allclose(m(torch.tensor(x)).detach().numpy(), x @ expected.T)
    assert "weight" not in m._parameters


def test_gradient_reaches_original():
    m = _linear(W3)
    P.register_parametrization(m, "weight", Symmetric())
    m.weight.sum().backward()
    # d/dX sum(triu(X) + triu(X, 1)^T): 2 above the diagonal, 1 on it, 0 below
    expected = np.array([[1.0, 2.0, 2.0], [0.0, 1.0, 2.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(m.parametrizations.weight.original.grad.numpy(), expected)


def test_assignment_uses_right_inverse_and_keeps_original_identity():
    m = _linear(W3)
    P.register_parametrization(m, "weight", Symmetric())
    original = m.parametrizations.weight.original
    S = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]])
    m.weight = torch.tensor(S)
    assert m.parametrizations.weight.original is original
    np.testing.assert_allclose(original.detach().numpy(), np.triu(S))
    np.testing.assert_allclose(m.weight.detach().numpy(), S)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        m.weight = nn.Parameter(torch.tensor(S))


def test_chained_parametrizations_apply_in_order():
    m = _linear(W3)
    P.register_parametrization(m, "weight", Symmetric())
    P.register_parametrization(m, "weight", Scale(3.0))
    assert len(m.parametrizations.weight) == 2
    assert list(m.state_dict().keys()) == ["parametrizations.weight.original"]
    np.testing.assert_allclose(m.weight.detach().numpy(), 3.0 * (np.triu(W3) + np.triu(W3, 1).T))
    S = np.array([[3.0, 6.0], [6.0, 9.0]])
    m2 = _linear(np.eye(2))
    P.register_parametrization(m2, "weight", Symmetric())
    P.register_parametrization(m2, "weight", Scale(3.0))
    m2.weight = torch.tensor(S)  # inverses run last-to-first: Scale then Symmetric
    np.testing.assert_allclose(m2.parametrizations.weight.original.detach().numpy(), np.triu(S / 3.0))
    np.testing.assert_allclose(m2.weight.detach().numpy(), S)


def test_tuple_right_inverse_gives_original0_original1():
    m = _linear(W3)
    P.register_parametrization(m, "weight", Split())
    assert list(m.state_dict().keys()) == ["parametrizations.weight.original0", "parametrizations.weight.original1"]
    pl = m.parametrizations.weight
    assert not pl.is_tensor and pl.ntensors == 2
    assert isinstance(pl.original0, nn.Parameter) and pl.original0.requires_grad
    np.testing.assert_allclose(pl.original0.detach().numpy(), 0.25 * W3)
    np.testing.assert_allclose(pl.original1.detach().numpy(), 0.75 * W3)
    np.testing.assert_allclose(m.weight.detach().numpy(), W3)
    m.weight.sum().backward()
    np.testing.assert_allclose(pl.original0.grad.numpy(), np.ones((3, 3)))
    np.testing.assert_allclose(pl.original1.grad.numpy(), np.ones((3, 3)))
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.detach().numpy(), W3)
    assert list(m.state_dict().keys()) == ["weight"]


def test_remove_parametrizations_leave_parametrized():
    m = _linear(W3, np.ones(3))
    P.register_parametrization(m, "weight", Symmetric())
    original = m.parametrizations.weight.original
    P.remove_parametrizations(m, "weight", leave_parametrized=True)
    assert type(m) is nn.Linear
    assert not hasattr(m, "parametrizations")
    assert m.weight is original  # the same Parameter, now holding the parametrized value
    np.testing.assert_allclose(m.weight.detach().numpy(), np.triu(W3) + np.triu(W3, 1).T)
    assert list(m.state_dict().keys()) == ["bias", "weight"]  # re-registered last, as in PyTorch

    m = _linear(W3)
    P.register_parametrization(m, "weight", Symmetric())
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    np.testing.assert_allclose(m.weight.detach().numpy(), np.triu(W3))
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(m, "weight")


def test_class_restored_only_when_last_parametrization_removed():
    m = _linear(W3, np.ones(3))
    P.register_parametrization(m, "weight", Scale(2.0))
    P.register_parametrization(m, "bias", Scale(2.0))
    cls = type(m)
    P.remove_parametrizations(m, "weight")
    assert type(m) is cls and P.is_parametrized(m, "bias")
    np.testing.assert_allclose(m.bias.detach().numpy(), np.ones(3))
    P.remove_parametrizations(m, "bias")
    assert type(m) is nn.Linear
    # a fresh registration on another instance does not leak the property onto nn.Linear
    assert "weight" not in vars(nn.Linear)


def test_buffer_parametrization_stays_buffer():
    m = nn.BatchNorm1d(3)
    with torch.no_grad():
        m.running_var.copy_(torch.tensor([1.0, 2.0, 3.0]))
    P.register_parametrization(m, "running_var", Scale(2.0))
    assert "parametrizations.running_var.original" in m.state_dict()
    assert "running_var" not in m.state_dict()
    # right_inverse made original = value / 2, so the value is unchanged
    np.testing.assert_allclose(m.parametrizations.running_var.original.numpy(), [0.5, 1.0, 1.5])
    np.testing.assert_allclose(m.running_var.numpy(), [1.0, 2.0, 3.0])
    assert not isinstance(m.parametrizations.running_var.original, nn.Parameter)
    with torch.no_grad():
        m.parametrizations.running_var.original.fill_(2.0)
    np.testing.assert_allclose(m.running_var.numpy(), [4.0, 4.0, 4.0])
    P.remove_parametrizations(m, "running_var")
    assert "running_var" in m._buffers
    np.testing.assert_allclose(m.running_var.numpy(), [4.0, 4.0, 4.0])


def test_cached_context():
    m = _linear(W3)
    P.register_parametrization(m, "weight", Symmetric())
    assert m.weight is not m.weight
    with P.cached():
        a = m.weight
        assert m.weight is a
        with P.cached():
            assert m.weight is a
        assert m.weight is a  # the outer context still holds the cache
    assert m.weight is not a


def test_state_dict_round_trip():
    a = _linear(W3)
    P.register_parametrization(a, "weight", Symmetric())
    b = _linear(np.zeros((3, 3)))
    P.register_parametrization(b, "weight", Symmetric())
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(b.weight.detach().numpy(), a.weight.detach().numpy())


def test_deepcopy_and_pickle():
    m = _linear(W3)
    P.register_parametrization(m, "weight", Symmetric())
    c = copy.deepcopy(m)
    assert type(c).__name__ == "ParametrizedLinear"
    np.testing.assert_allclose(c.weight.detach().numpy(), m.weight.detach().numpy())
    with torch.no_grad():
        c.parametrizations.weight.original.zero_()
    assert m.weight.abs().sum().item() > 0
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only supported through"):
        pickle.dumps(m)


def test_register_errors():
    m = _linear(W3)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element with name 'w'"):
        P.register_parametrization(m, "w", Symmetric())

    class Shrink(nn.Module):
        def forward(self, X):
            return X[:2]

    with pytest.raises(ValueError, match="may not change the shape of the tensor"):
        P.register_parametrization(_linear(W3), "weight", Shrink())
    m = _linear(W3)
    P.register_parametrization(m, "weight", Shrink(), unsafe=True)
    assert tuple(m.weight.shape) == (2, 3)

    class ToFloat(nn.Module):
        def forward(self, X):
            return X.float()

    with pytest.raises(ValueError, match="may not change the dtype of the tensor"):
        P.register_parametrization(_linear(W3), "weight", ToFloat())

    m = _linear(W3)
    P.register_parametrization(m, "weight", NoInverse())
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * W3)
    with pytest.raises(RuntimeError, match="parametrization NoInverse does not implement right_inverse."):
        m.weight = torch.tensor(W3)
    with pytest.raises(ValueError, match="ParametrizationList requires one or more modules."):
        P.ParametrizationList([], torch.zeros(2))


def test_parametrization_follows_training_mode():
    m = _linear(W3).eval()
    s = Scale(1.0)
    P.register_parametrization(m, "weight", s)
    assert s.training is False


def test_transfer_parametrizations_and_params():
    a = _linear(W3)
    P.register_parametrization(a, "weight", Symmetric())
    b = _linear(np.zeros((3, 3)))
    P.transfer_parametrizations_and_params(a, b)
    assert b.parametrizations.weight.original is a.parametrizations.weight.original
    np.testing.assert_allclose(b.weight.detach().numpy(), a.weight.detach().numpy())


# ---------------------------------------------------------------- orthogonal


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_is_orthogonal_and_differentiable(orthogonal_map, shape, use_trivialization):
    torch.manual_seed(0)
    m = nn.Linear(shape[1], shape[0]).double()
    PZ.orthogonal(m, orthogonal_map=orthogonal_map, use_trivialization=use_trivialization)
    # off the diagonal: householder keeps the ±1 signs on original's diagonal fixed (it casts them to int)
    off_diagonal = 1 - torch.eye(*shape, dtype=torch.float64)
    with torch.no_grad():
        m.parametrizations.weight.original.add_(0.1 * torch.randn(*shape, dtype=torch.float64) * off_diagonal)
    Q = m.weight.detach().numpy()
    G = Q.T @ Q if shape[0] >= shape[1] else Q @ Q.T
    np.testing.assert_allclose(G, np.eye(min(shape)), atol=1e-12)
    (m.weight * torch.arange(shape[0] * shape[1], dtype=torch.float64).reshape(shape)).sum().backward()
    grad = m.parametrizations.weight.original.grad
    assert grad is not None and grad.abs().sum().item() > 0
    keys = ["bias", "parametrizations.weight.original"]
    if use_trivialization:
        keys.append("parametrizations.weight.0.base")
    assert list(m.state_dict().keys()) == keys


def test_orthogonal_starts_at_the_qr_of_the_weight():
    W = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4], [-0.6, 0.9, 1.1], [0.2, 0.4, -0.7], [1.0, -0.3, 0.2]])
    q, r = np.linalg.qr(W)
    expected = q * np.sign(np.diag(r))
    for orthogonal_map in ["matrix_exp", "cayley", "householder"]:
        m = _linear(W)
        PZ.orthogonal(m, orthogonal_map=orthogonal_map)
        np.testing.assert_allclose(m.weight.detach().numpy(), expected, atol=1e-12)
        assert m.parametrizations.weight[0].base.shape == (5, 5)


def test_orthogonal_matches_pytorch_values():
    # PyTorch: orthogonal(Linear(3, 3).double() with weight W3, map), then original += D
    D = np.array([[0.0, 0.2, -0.1], [0.3, 0.0, 0.4], [-0.5, 0.1, 0.0]])
    expected = {
        "matrix_exp": [[-0.2597263, -0.70006963, 0.66516521], [0.6542958, 0.37902613, 0.65439759],
                       [-0.71023888, 0.60517906, 0.35960956]],
        "cayley": [[-0.24465511, -0.70401364, 0.66671483], [0.66014391, 0.3826895, 0.64634261],
                   [-0.71017878, 0.59825876, 0.37112337]],
        "householder": [[-0.63376072, -0.56205523, 0.53145204], [0.37163635, 0.38131673, 0.84645376],
                        [-0.67840532, 0.73395604, -0.03278342]],
    }
    for orthogonal_map, values in expected.items():
        m = _linear(W3)
        PZ.orthogonal(m, orthogonal_map=orthogonal_map)
        with torch.no_grad():
            m.parametrizations.weight.original.add_(torch.tensor(D))
        np.testing.assert_allclose(m.weight.detach().numpy(), values, atol=1e-7)
    # without trivialization the map is applied to original directly
    expected_notriv = {
        "matrix_exp": [[0.57101068, -0.34793515, 0.74356435], [0.81124362, 0.37796548, -0.44612318],
                       [-0.12581972, 0.85795293, 0.49808249]],
        "cayley": [[0.65576592, -0.36488812, 0.66092943], [0.73666093, 0.50086059, -0.45438898],
                   [-0.16523236, 0.7848537, 0.59724613]],
    }
    for orthogonal_map, values in expected_notriv.items():
        m = nn.Linear(3, 3).double()
        PZ.orthogonal(m, orthogonal_map=orthogonal_map, use_trivialization=False)
        with torch.no_grad():
            m.parametrizations.weight.original.copy_(torch.tensor(W3))
        np.testing.assert_allclose(m.weight.detach().numpy(), values, atol=1e-7)


def test_householder_without_trivialization():
    W = np.array([[1.0, -1.2, 0.5], [0.8, -1.0, -0.4], [-0.6, 0.9, 1.0], [0.2, 0.4, -0.7]])
    m = nn.Linear(3, 4).double()
    PZ.orthogonal(m, orthogonal_map="householder", use_trivialization=False)
    assert list(m.state_dict().keys()) == ["bias", "parametrizations.weight.original"]
    with torch.no_grad():
        m.parametrizations.weight.original.copy_(torch.tensor(W))
    expected = [[0.01960784, 0.44590425, -0.36263788], [-0.78431373, 0.37195183, -0.3589278],
                [0.58823529, 0.64616303, -0.1866349], [-0.19607843, 0.49527222, 0.83954274]]  # PyTorch
    np.testing.assert_allclose(m.weight.detach().numpy(), expected, atol=1e-7)
    # assigning an orthogonal matrix goes through right_inverse (a QR) and comes back unchanged
    Q = np.linalg.qr(W)[0]
    m.weight = torch.tensor(Q)
    np.testing.assert_allclose(m.weight.detach().numpy(), Q, atol=1e-12)


def test_geqrf_and_householder_product_match_lapack():
    W = np.array([[1.0, -1.2, 0.5], [0.8, -1.0, -0.4], [-0.6, 0.9, 1.0], [0.2, 0.4, -0.7]])
    h, tau = np.linalg.qr(W, mode="raw")  # LAPACK geqrf, column-major
    A, t = _geqrf(torch.tensor(W))
    np.testing.assert_allclose(A.numpy(), h.T, atol=1e-12)
    np.testing.assert_allclose(t.numpy(), tau, atol=1e-12)
    np.testing.assert_allclose(_householder_product(A, t).numpy(), np.linalg.qr(W)[0], atol=1e-12)
    # batched
    Wb = np.stack([W, W[::-1].copy()])
    Ab, tb = _geqrf(torch.tensor(Wb))
    np.testing.assert_allclose(_householder_product(Ab, tb).numpy(), np.linalg.qr(Wb)[0], atol=1e-12)


def test_orthogonal_gradcheck():
    for orthogonal_map in ["matrix_exp", "cayley", "householder"]:
        orth = PZ._Orthogonal(torch.zeros(3, 2), PZ._OrthMaps[orthogonal_map], use_trivialization=False)
        # diagonal ±1.5: householder reads the signs through int(), which finite differences must not cross
        X = torch.tensor([[1.5, 0.3], [0.2, -1.5], [-0.4, 0.5]], dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(orth, (X,))


def test_orthogonal_batched_and_defaults():
    m = nn.Module()
    m.weight = nn.Parameter(torch.randn(2, 4, 3, dtype=torch.float64))
    PZ.orthogonal(m)
    assert m.parametrizations.weight[0].orthogonal_map.name == "householder"
    Q = m.weight.detach().numpy()
    np.testing.assert_allclose(np.swapaxes(Q, -1, -2) @ Q, np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-12)
    assert _linear(W3) is not None
    sq = _linear(W3)
    PZ.orthogonal(sq)
    assert sq.parametrizations.weight[0].orthogonal_map.name == "matrix_exp"


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a tensor of 1 dimensions."):
        PZ.orthogonal(nn.Linear(3, 3), "bias")
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'nope'"):
        PZ.orthogonal(nn.Linear(3, 3), "nope")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                                         "Got: svd"):
        PZ.orthogonal(nn.Linear(3, 3), orthogonal_map="svd")
    m = nn.Linear(3, 3)
    PZ.orthogonal(m, orthogonal_map="cayley", use_trivialization=False)
    with pytest.raises(NotImplementedError, match="It is not possible to assign to the matrix exponential"):
        m.weight = torch.eye(3)
    m = nn.Linear(3, 3)
    PZ.orthogonal(m)
    with pytest.raises(ValueError, match=r"Expected a matrix or batch of matrices of shape"):
        m.parametrizations.weight[0].right_inverse(torch.eye(2))


# ---------------------------------------------------------------- weight_norm


def test_weight_norm_keys_and_values():
    W = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4], [-0.6, 0.9, 1.1], [0.2, 0.4, -0.7]])
    m = _linear(W, np.zeros(4))
    PZ.weight_norm(m)
    assert type(m).__name__ == "ParametrizedLinear"
    assert list(m.state_dict().keys()) == [
        "bias", "parametrizations.weight.original0", "parametrizations.weight.original1",
    ]
    g = m.parametrizations.weight.original0.detach().numpy()
    np.testing.assert_allclose(g, np.linalg.norm(W, axis=1, keepdims=True))
    np.testing.assert_allclose(m.parametrizations.weight.original1.detach().numpy(), W)
    np.testing.assert_allclose(m.weight.detach().numpy(), W)
    with torch.no_grad():
        m.parametrizations.weight.original0.mul_(2.0)
    np.testing.assert_allclose(m.weight.detach().numpy(), 2.0 * W)

    m1 = _linear(W)
    PZ.weight_norm(m1, dim=1)
    assert tuple(m1.parametrizations.weight.original0.shape) == (1, 3)
    m2 = _linear(W)
    PZ.weight_norm(m2, dim=None)
    assert tuple(m2.parametrizations.weight.original0.shape) == ()
    np.testing.assert_allclose(m2.parametrizations.weight.original0.item(), np.linalg.norm(W))


def test_weight_norm_gradcheck():
    wn = PZ._WeightNorm(0)
    g = torch.tensor([[1.5], [0.5]], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(wn, (g, v))


def test_weight_norm_loads_old_hook_checkpoint():
    W = np.array([[3.0, 4.0], [0.0, 2.0]])
    old = _linear(W)
    nn.utils.weight_norm(old)  # hook-based: weight_g / weight_v
    assert {"weight_g", "weight_v"} <= set(old.state_dict())
    new = _linear(np.zeros((2, 2)))
    PZ.weight_norm(new)
    new.load_state_dict(old.state_dict())
    np.testing.assert_allclose(new.parametrizations.weight.original0.detach().numpy(), [[5.0], [2.0]])
    np.testing.assert_allclose(new.weight.detach().numpy(), W)


# ---------------------------------------------------------------- spectral_norm


def test_spectral_norm_keys_and_sigma():
    torch.manual_seed(0)
    W = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4], [-0.6, 0.9, 1.1], [0.2, 0.4, -0.7]])
    m = _linear(W)
    PZ.spectral_norm(m)
    assert list(m.state_dict().keys()) == [
        "parametrizations.weight.original", "parametrizations.weight.0._u",
        "parametrizations.weight.0._v",
    ]
    sn = m.parametrizations.weight[0]
    assert tuple(sn._u.shape) == (4,) and tuple(sn._v.shape) == (3,)
    for _ in range(30):  # power iteration steps
        w = m.weight
    sigma = np.linalg.svd(W, compute_uv=False)[0]
    np.testing.assert_allclose(w.detach().numpy(), W / sigma, rtol=1e-7)
    np.testing.assert_allclose(np.linalg.svd(w.detach().numpy(), compute_uv=False)[0], 1.0, rtol=1e-7)
    # eval: no power iteration, the buffers stay put
    m.eval()
    u = sn._u.clone()
    m.weight.sum().backward()
    np.testing.assert_allclose(sn._u.numpy(), u.numpy())
    assert m.parametrizations.weight.original.grad is not None


def test_spectral_norm_conv_transpose_dim_and_vector():
    m = nn.ConvTranspose2d(2, 3, 2)
    PZ.spectral_norm(m)
    sn = m.parametrizations.weight[0]
    assert sn.dim == 1 and tuple(sn._u.shape) == (3,) and tuple(sn._v.shape) == (8,)
    v = nn.Module()
    v.w = nn.Parameter(torch.tensor([3.0, 4.0], dtype=torch.float64))
    PZ.spectral_norm(v, "w")
    np.testing.assert_allclose(v.w.detach().numpy(), [0.6, 0.8])
    assert list(v.state_dict().keys()) == ["parametrizations.w.original"]


def test_spectral_norm_errors():
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got n_power_iterations=0"):
        PZ.spectral_norm(nn.Linear(3, 3), n_power_iterations=0)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\] but got 2\)"):
        PZ.spectral_norm(nn.Linear(3, 3), dim=2)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'nope'"):
        PZ.spectral_norm(nn.Linear(3, 3), "nope")


def test_householder_fallback_without_linalg_helpers(monkeypatch):
    # the parametrization falls back to its own geqrf/householder_product where ferrotorch lacks them
    monkeypatch.delattr(torch.linalg, "householder_product", raising=False)
    monkeypatch.delattr(torch, "geqrf", raising=False)
    W = np.array([[1.0, -1.2, 0.5], [0.8, -1.0, -0.4], [-0.6, 0.9, 1.0], [0.2, 0.4, -0.7]])
    m = nn.Linear(3, 4).double()
    PZ.orthogonal(m, orthogonal_map="householder", use_trivialization=False)
    with torch.no_grad():
        m.parametrizations.weight.original.copy_(torch.tensor(W))
    expected = [[0.01960784, 0.44590425, -0.36263788], [-0.78431373, 0.37195183, -0.3589278],
                [0.58823529, 0.64616303, -0.1866349], [-0.19607843, 0.49527222, 0.83954274]]  # PyTorch
    np.testing.assert_allclose(m.weight.detach().numpy(), expected, atol=1e-7)
    Q = np.linalg.qr(W)[0]
    m.weight = torch.tensor(Q)
    np.testing.assert_allclose(m.weight.detach().numpy(), Q, atol=1e-12)
    m.weight.sum().backward()
    assert m.parametrizations.weight.original.grad.abs().sum().item() > 0
