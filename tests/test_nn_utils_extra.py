"""nn.utils.fusion, nn.utils.stateless / torch.func.functional_call, hook-based weight_norm and spectral_norm."""

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.nn.utils import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
    remove_spectral_norm,
    remove_weight_norm,
    spectral_norm,
    weight_norm,
)
from ferrotorch.nn.utils.stateless import functional_call


def _np(t):
    return t.detach().numpy()


def _randomise_bn(bn):
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(bn.num_features))
        bn.running_var.copy_(torch.rand(bn.num_features) + 0.5)
        bn.weight.copy_(torch.randn(bn.num_features))
        bn.bias.copy_(torch.randn(bn.num_features))


# ---------------------------------------------------------------- fusion

@pytest.mark.parametrize("bias", [True, False])
def test_fuse_conv_bn_eval_matches_conv_then_bn(bias):
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3, bias=bias).eval(), nn.BatchNorm2d(3).eval()
    _randomise_bn(bn)
    fused = fuse_conv_bn_eval(conv, bn)
    x = torch.randn(2, 2, 5, 5)
    np.testing.assert_allclose(_np(fused(x)), _np(bn(conv(x))), rtol=1e-5, atol=1e-5)
    assert isinstance(fused.weight, nn.Parameter) and isinstance(fused.bias, nn.Parameter)
    assert fused is not conv
    assert (conv.bias is None) == (not bias)  # the original module is left untouched


def test_fuse_conv_transpose_bn():
    torch.manual_seed(1)
    conv, bn = nn.ConvTranspose2d(2, 3, 3).eval(), nn.BatchNorm2d(3).eval()
    _randomise_bn(bn)
    fused = fuse_conv_bn_eval(conv, bn, transpose=True)
    x = torch.randn(1, 2, 4, 4)
    np.testing.assert_allclose(_np(fused(x)), _np(bn(conv(x))), rtol=1e-5, atol=1e-5)


def test_fuse_conv_bn_weights_numpy():
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((3, 2, 1)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    rm, rv = rng.standard_normal(3).astype(np.float32), rng.random(3).astype(np.float32) + 0.5
    gw, gb = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    fw, fb = fuse_conv_bn_weights(*(torch.tensor(a) for a in (w, b, rm, rv)), 1e-5, torch.tensor(gw), torch.tensor(gb))
    scale = gw / np.sqrt(rv + 1e-5)
    np.testing.assert_allclose(_np(fw), w * scale[:, None, None], rtol=1e-5)
    np.testing.assert_allclose(_np(fb), (b - rm) * scale + gb, rtol=1e-5, atol=1e-6)
    # missing conv bias / affine parameters act as 0 / 1 / 0
    fw, fb = fuse_conv_bn_weights(torch.tensor(w), None, torch.tensor(rm), torch.tensor(rv), 1e-5, None, None)
    np.testing.assert_allclose(_np(fb), -rm / np.sqrt(rv + 1e-5), rtol=1e-5)


def test_fuse_linear_bn():
    torch.manual_seed(2)
    lin, bn = nn.Linear(4, 3).eval(), nn.BatchNorm1d(3).eval()
    _randomise_bn(bn)
    fused = fuse_linear_bn_eval(lin, bn)
    x = torch.randn(5, 4)
    np.testing.assert_allclose(_np(fused(x)), _np(bn(lin(x))), rtol=1e-5, atol=1e-5)
    w, b = fuse_linear_bn_weights(lin.weight, lin.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    np.testing.assert_allclose(_np(w), _np(fused.weight))
    np.testing.assert_allclose(_np(b), _np(fused.bias))


def test_fusion_requires_eval():
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fuse_conv_bn_eval(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fuse_linear_bn_eval(nn.Linear(2, 2), nn.BatchNorm1d(2).eval())


# ---------------------------------------------------------------- functional_call

def test_functional_call_substitutes_and_restores():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    own_w, own_b = model[0].weight, model[0].bias
    w = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.0
    x = np.array([[1.0, -1.0, 0.5]], dtype=np.float32)
    out = functional_call(model, {"0.weight": torch.tensor(w)}, (torch.tensor(x),))
    np.testing.assert_allclose(_np(out), np.maximum(x @ w.T + _np(own_b), 0), rtol=1e-6)
    assert model[0].weight is own_w and model[0].bias is own_b
    assert isinstance(model[0].weight, nn.Parameter)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_functional_call_tuple_of_dicts_kwargs_and_buffers():
    bn = nn.BatchNorm1d(2).eval()
    params = {"weight": torch.tensor([2.0, 3.0]), "bias": torch.tensor([1.0, 0.0])}
    buffers = {"running_mean": torch.tensor([1.0, -1.0]), "running_var": torch.tensor([4.0, 1.0])}
    out = torch.func.functional_call(bn, (params, buffers), kwargs={"input": torch.tensor([[3.0, 1.0]])})
    expected = (np.array([3.0, 1.0]) - [1.0, -1.0]) / np.sqrt(np.array([4.0, 1.0]) + bn.eps) * [2.0, 3.0] + [1.0, 0.0]
    np.testing.assert_allclose(_np(out)[0], expected, rtol=1e-5)
    np.testing.assert_allclose(_np(bn.running_mean), [0.0, 0.0])


def test_functional_call_restores_after_exception():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            self.lin(x)
            raise RuntimeError("boom")

    m = Boom()
    own = m.lin.weight
    with pytest.raises(RuntimeError, match="boom"):
        functional_call(m, {"lin.weight": torch.zeros(2, 2)}, torch.ones(1, 2))
    assert m.lin.weight is own


def test_functional_call_gradient_flows_to_substitutes():
    m = nn.Linear(2, 1, bias=False)
    w = torch.tensor([[1.0, 2.0]], requires_grad=True)
    functional_call(m, {"weight": w}, torch.tensor([[3.0, 4.0]])).sum().backward()
    np.testing.assert_allclose(_np(w.grad), [[3.0, 4.0]])
    assert m.weight.grad is None


def test_functional_call_tie_weights():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    m = Tied()
    eye2 = torch.eye(2) * 2
    out = functional_call(m, {"a.weight": eye2}, torch.ones(1, 2))
    np.testing.assert_allclose(_np(out), [[4.0, 4.0]])  # both layers used the new weight
    out = functional_call(m, {"a.weight": eye2}, torch.ones(1, 2), tie_weights=False)
    np.testing.assert_allclose(_np(out), _np(m.b(torch.ones(1, 2) * 2)), rtol=1e-6)
    with pytest.raises(ValueError, match="which are tied"):
        functional_call(m, {"a.weight": eye2, "b.weight": torch.eye(2)}, torch.ones(1, 2))


def test_functional_call_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(RuntimeError) as e:
        functional_call(m, {"weight": torch.ones(2, 2), "x": torch.ones(1)}, torch.ones(1, 2), strict=True)
    # message pasted from torch 2.x
    assert str(e.value) == "Error(s) in reparametrizing for Linear:\n\tUnexpected key(s): 'x'.\n\tMissing key(s): 'bias'."
    with pytest.raises(ValueError, match=r"\['weight'\] appeared in multiple dictionaries"):
        functional_call(m, ({"weight": torch.ones(2, 2)}, {"weight": torch.ones(1)}), torch.ones(1, 2))
    with pytest.raises(ValueError, match="Expected parameter_and_buffer_dicts to be a dict"):
        functional_call(m, 3, torch.ones(1, 2))


# ---------------------------------------------------------------- weight_norm

def test_weight_norm_forward_and_state_dict():
    torch.manual_seed(4)
    m = weight_norm(nn.Linear(3, 2))
    # keys/shapes pasted from torch: ['bias', 'weight_g', 'weight_v'], g (2, 1), v (2, 3)
    assert list(m.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert tuple(m.weight_g.shape) == (2, 1) and tuple(m.weight_v.shape) == (2, 3)
    with torch.no_grad():
        m.weight_g.copy_(torch.tensor([[2.0], [0.5]]))
    v = _np(m.weight_v)
    w = np.array([[2.0], [0.5]]) * v / np.linalg.norm(v, axis=1, keepdims=True)
    x = np.array([[1.0, 2.0, -1.0]], dtype=np.float32)
    np.testing.assert_allclose(_np(m(torch.tensor(x))), x @ w.T + _np(m.bias), rtol=1e-5)
    np.testing.assert_allclose(_np(m.weight), w, rtol=1e-5)


def test_weight_norm_dims_and_grad():
    conv = weight_norm(nn.Conv2d(2, 3, 3), dim=None)
    assert tuple(conv.weight_g.shape) == ()
    np.testing.assert_allclose(_np(conv.weight_g), np.linalg.norm(_np(conv.weight_v)), rtol=1e-5)
    conv = weight_norm(nn.Conv2d(2, 3, 3), dim=1)
    assert tuple(conv.weight_g.shape) == (1, 2, 1, 1)
    lin = weight_norm(nn.Linear(3, 2))
    lin(torch.randn(1, 3))
    lin.weight.sum().backward()
    # W = g * v / ||v|| row-wise, so d(sum W)/dg_i = sum(v_i) / ||v_i||
    v = _np(lin.weight_v)
    np.testing.assert_allclose(_np(lin.weight_g.grad), v.sum(1, keepdims=True) / np.linalg.norm(v, axis=1, keepdims=True),
                               rtol=1e-5)
    assert lin.weight_v.grad is not None


def test_remove_weight_norm():
    m = weight_norm(nn.Linear(3, 2))
    w = _np(m.weight).copy()
    remove_weight_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    assert isinstance(m.weight, nn.Parameter) and len(m._forward_pre_hooks) == 0
    np.testing.assert_allclose(_np(m.weight), w, rtol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Linear"):
        remove_weight_norm(m)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
        weight_norm(weight_norm(nn.Linear(3, 2)))


# ---------------------------------------------------------------- spectral_norm

def test_spectral_norm_sigma_and_state_dict():
    torch.manual_seed(5)
    m = spectral_norm(nn.Linear(4, 3), n_power_iterations=30)
    # pasted from torch: state_dict ['bias', 'weight_orig', 'weight_u', 'weight_v']; u (3,), v (4,)
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_orig"]
    assert [n for n, _ in m.named_buffers()] == ["weight_u", "weight_v"]
    assert tuple(m.weight_u.shape) == (3,) and tuple(m.weight_v.shape) == (4,)
    m(torch.randn(2, 4))
    w_orig = _np(m.weight_orig)
    sigma = np.linalg.svd(w_orig, compute_uv=False)[0]
    np.testing.assert_allclose(_np(m.weight), w_orig / sigma, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.svd(_np(m.weight), compute_uv=False)[0], 1.0, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(_np(m.weight_u)), 1.0, rtol=1e-5)


def test_spectral_norm_eval_does_not_iterate():
    m = spectral_norm(nn.Linear(4, 3))
    m(torch.randn(1, 4))
    u = _np(m.weight_u).copy()
    m.eval()
    m(torch.randn(1, 4))
    np.testing.assert_array_equal(_np(m.weight_u), u)
    m.train()
    m(torch.randn(1, 4))
    assert not np.array_equal(_np(m.weight_u), u)


def test_spectral_norm_conv_transpose_dim_and_grad():
    m = spectral_norm(nn.ConvTranspose2d(3, 2, 3), n_power_iterations=20)
    # pasted from torch: dim defaults to 1 for ConvTranspose, u (2,), v (27,)
    assert tuple(m.weight_u.shape) == (2,) and tuple(m.weight_v.shape) == (27,)
    m(torch.randn(1, 3, 4, 4)).sum().backward()
    assert m.weight_orig.grad is not None
    mat = np.transpose(_np(m.weight_orig), (1, 0, 2, 3)).reshape(2, -1)
    np.testing.assert_allclose(_np(m.weight), _np(m.weight_orig) / np.linalg.svd(mat, compute_uv=False)[0], rtol=1e-4)


def test_remove_spectral_norm_and_errors():
    m = spectral_norm(nn.Linear(3, 2))
    m(torch.randn(1, 3))
    remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    assert isinstance(m.weight, nn.Parameter) and len(m._forward_pre_hooks) == 0
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found in Linear"):
        remove_spectral_norm(m)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks on the same parameter weight"):
        spectral_norm(spectral_norm(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got n_power_iterations=0"):
        spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
