"""Lazy modules (LazyLinear, LazyConv*, LazyConvTranspose*, LazyBatchNorm*, LazyInstanceNorm*), the
uninitialized parameter/buffer classes, nn.init.dirac_ and nn.utils.skip_init.

Reference values: numpy and hand-computed; repr strings and error messages are PyTorch's.
"""

import copy

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.nn.modules.lazy import LazyModuleMixin
from ferrotorch.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

UNINIT_OP = "Attempted to use an uninitialized parameter in <method '{}' of 'torch._C.TensorBase' objects>"
NO_SHAPE = "Can't access the shape of an uninitialized parameter or buffer."


# ---------------------------------------------------------------- uninitialized tensors


def test_uninitialized_parameter_behaviour():
    p = UninitializedParameter()
    assert isinstance(p, nn.Parameter) and is_lazy(p) and not is_lazy(torch.ones(1))
    assert repr(p) == "<UninitializedParameter>"
    assert p.requires_grad and p.dtype == torch.float32 and p.grad is None and p.is_leaf
    assert UninitializedParameter.cls_to_become is nn.Parameter
    with pytest.raises(RuntimeError, match=NO_SHAPE):
        p.shape  # noqa: B018
    for name, op in [("detach", p.detach), ("numel", p.numel), ("dim", p.dim), ("__eq__", lambda: p == 1),
                     ("requires_grad_", p.requires_grad_)]:
        with pytest.raises(ValueError, match=UNINIT_OP.format(name)):
            op()
    for op in [lambda: p + 1, lambda: len(p), lambda: p @ p, lambda: p.sum(), lambda: p[0]]:
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in "):
            op()
    with pytest.raises(RuntimeError, match="Can't share memory on an uninitialized parameter or buffer."):
        p.share_memory_()
    # dtype conversions are allowed: a parameter converts to a plain tensor, a buffer stays uninitialized
    d = p.double()
    assert type(d) is torch.Tensor and d.dtype == torch.float64
    b = UninitializedBuffer().to(torch.float64)
    assert type(b) is UninitializedBuffer and b.dtype == torch.float64
    c = copy.deepcopy(UninitializedParameter(requires_grad=False, dtype=torch.float64))
    assert type(c) is UninitializedParameter and c.dtype == torch.float64 and not c.requires_grad


def test_materialize():
    p = UninitializedParameter(dtype=torch.float64)
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and tuple(p.shape) == (2, 3) and p.dtype == torch.float64 and p.requires_grad
    q = UninitializedParameter(requires_grad=False)
    q.materialize(4, dtype=torch.float64)
    assert tuple(q.shape) == (4,) and q.dtype == torch.float64 and not q.requires_grad
    b = UninitializedBuffer()
    assert isinstance(b, nn.Buffer) and b.persistent and not b.requires_grad
    assert repr(b) == "<UninitializedBuffer>"
    assert not UninitializedBuffer(persistent=False).persistent
    b.materialize([3])
    assert type(b) is torch.Tensor and tuple(b.shape) == (3,)


# ---------------------------------------------------------------- LazyLinear


def test_lazy_linear_infers_in_features_and_becomes_linear():
    m = nn.LazyLinear(4)
    assert isinstance(m, LazyModuleMixin) and m.has_uninitialized_params()
    assert repr(m) == "LazyLinear(in_features=0, out_features=4, bias=True)"
    assert list(m.state_dict().keys()) == ["weight", "bias"]
    assert all(is_lazy(v) for v in m.state_dict().values())
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    y = m(x)
    assert type(m) is nn.Linear and m.in_features == 3
    assert repr(m) == "Linear(in_features=3, out_features=4, bias=True)"
    assert type(m.weight) is nn.Parameter and tuple(m.weight.shape) == (4, 3) and tuple(m.bias.shape) == (4,)
    assert not hasattr(m, "_initialize_hook") and len(m._forward_pre_hooks) == 0
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), x.numpy() @ w.T + b, rtol=1e-6)
    # Linear's default init: U(-1/sqrt(3), 1/sqrt(3)) for both
    bound = 1 / np.sqrt(3)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound and np.abs(w).max() > 0
    m(torch.randn(5, 3))  # the ordinary Linear from now on


def test_lazy_linear_no_bias_dtype_and_conversion():
    m = nn.LazyLinear(2, bias=False, dtype=torch.float64)
    assert m.bias is None and list(m.state_dict().keys()) == ["weight"]
    m.float()  # module conversions work before the first call and keep it lazy
    assert is_lazy(m.weight) and m.weight.dtype == torch.float32
    m(torch.ones(1, 5))
    assert tuple(m.weight.shape) == (2, 5) and m.weight.dtype == torch.float32


def test_optimizer_built_before_first_call():
    torch.manual_seed(0)
    m = nn.LazyLinear(1)
    opt = torch.optim.SGD(m.parameters(), lr=0.5)  # allowed, as in PyTorch
    params = list(m.parameters())
    x = torch.tensor([[1.0, 2.0]])
    loss = m(x).sum()
    # materialize keeps the Parameter objects, so the optimizer updates the real weights
    assert [p is q for p, q in zip(params, m.parameters())] == [True, True]
    w0, b0 = m.weight.detach().clone(), m.bias.detach().clone()
    loss.backward()
    opt.step()
    np.testing.assert_allclose(m.weight.detach().numpy(), (w0 - 0.5 * x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.bias.detach().numpy(), (b0 - 0.5).numpy(), rtol=1e-6)


def test_lazy_load_state_dict():
    src = nn.Linear(3, 4)
    m = nn.LazyLinear(4)
    assert repr(m.load_state_dict(src.state_dict())) == "<All keys matched successfully>"
    # loading materializes the parameters; in_features is set by the first call
    assert type(m) is nn.LazyLinear and not m.has_uninitialized_params() and m.in_features == 0
    np.testing.assert_array_equal(m.weight.detach().numpy(), src.weight.detach().numpy())
    x = torch.randn(2, 3)
    np.testing.assert_allclose(m(x).detach().numpy(), src(x).detach().numpy(), rtol=1e-6)
    assert type(m) is nn.Linear and m.in_features == 3

    # uninitialized into uninitialized: nothing to copy, still lazy
    m2 = nn.LazyLinear(4)
    assert repr(m2.load_state_dict(nn.LazyLinear(4).state_dict())) == "<All keys matched successfully>"
    assert m2.has_uninitialized_params()
    # uninitialized into an initialized module: its shape cannot be read
    with pytest.raises(RuntimeError, match=NO_SHAPE):
        nn.Linear(3, 4).load_state_dict(nn.LazyLinear(4).state_dict())
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "bias"'):
        nn.LazyLinear(4).load_state_dict({"weight": torch.zeros(4, 3)})


def test_lazy_linear_state_dict_input_mismatch():
    m = nn.LazyLinear(2)
    m.load_state_dict(nn.Linear(3, 2).state_dict())
    with pytest.raises(AssertionError, match="The in_features inferred from input: 5 is not equal to in_features "
                                             "from self.weight: 3"):
        m(torch.ones(1, 5))


# ---------------------------------------------------------------- conv


@pytest.mark.parametrize(
    ("lazy", "full", "x", "weight_shape"),
    [
        (lambda: nn.LazyConv1d(4, 3), nn.Conv1d, (2, 5, 7), (4, 5, 3)),
        (lambda: nn.LazyConv2d(4, 3, padding=1, groups=2), nn.Conv2d, (2, 6, 5, 5), (4, 3, 3, 3)),
        (lambda: nn.LazyConv3d(2, 2, bias=False), nn.Conv3d, (1, 3, 3, 3, 3), (2, 3, 2, 2, 2)),
        (lambda: nn.LazyConvTranspose1d(4, 3, stride=2), nn.ConvTranspose1d, (2, 5, 4), (5, 4, 3)),
        (lambda: nn.LazyConvTranspose2d(4, 3, groups=2), nn.ConvTranspose2d, (6, 3, 3), (6, 2, 3, 3)),
    ],
)
def test_lazy_conv(lazy, full, x, weight_shape):
    m = lazy()
    assert m.in_channels == 0 and is_lazy(m.weight)
    inp = torch.randn(*x)
    out = m(inp)
    assert type(m) is full and tuple(m.weight.shape) == weight_shape
    assert m.in_channels == (x[1] if len(x) == len(weight_shape) else x[0])
    ref = type(m).forward(m, inp)  # the ordinary layer's forward with the same weights
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())


def test_lazy_conv_values_and_repr():
    m = nn.LazyConv1d(1, 2, bias=False)
    assert repr(m) == "LazyConv1d(0, 1, kernel_size=(2,), stride=(1,), bias=False)"
    assert repr(nn.LazyConvTranspose2d(4, 3, stride=2)) == "LazyConvTranspose2d(0, 4, kernel_size=(3, 3), stride=(2, 2))"
    x = torch.tensor([[[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]]])
    y = m(x)
    w = m.weight.detach().numpy()[0]  # (2 in-channels, 2 taps)
    expected = [sum(w[c, k] * x.numpy()[0, c, t + k] for c in range(2) for k in range(2)) for t in range(2)]
    np.testing.assert_allclose(y.detach().numpy()[0, 0], expected, rtol=1e-6)
    assert repr(m) == "Conv1d(2, 1, kernel_size=(2,), stride=(1,), bias=False)"


def test_lazy_conv_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(6, 3, groups=4)(torch.randn(1, 6, 5, 5))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d, but got "
                                           r"input of size: torch.Size\(\[6, 5\]\)"):
        nn.LazyConv2d(6, 3)(torch.randn(6, 5))


# ---------------------------------------------------------------- norm


def test_lazy_batchnorm():
    m = nn.LazyBatchNorm1d()
    assert repr(m) == (
        "LazyBatchNorm1d(0, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )
    assert list(m.state_dict().keys()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert is_lazy(m.running_mean) and m.num_batches_tracked.item() == 0
    x = np.array([[1.0, 2.0, 0.0], [3.0, -2.0, 1.0], [2.0, 0.0, 5.0], [-2.0, 4.0, 2.0]], dtype=np.float32)
    y = m(torch.tensor(x))
    assert type(m) is nn.BatchNorm1d and m.num_features == 3
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y.detach().numpy(), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.running_mean.numpy(), 0.1 * mean, rtol=1e-6)
    np.testing.assert_allclose(m.running_var.numpy(), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-6)
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.ones(3))
    assert m.num_batches_tracked.item() == 1


@pytest.mark.parametrize(
    ("lazy", "full", "shape"),
    [
        (nn.LazyBatchNorm2d, nn.BatchNorm2d, (2, 3, 4, 4)),
        (nn.LazyBatchNorm3d, nn.BatchNorm3d, (2, 3, 2, 2, 2)),
        (nn.LazyInstanceNorm1d, nn.InstanceNorm1d, (2, 3, 5)),
        (nn.LazyInstanceNorm2d, nn.InstanceNorm2d, (2, 3, 4, 4)),
        (nn.LazyInstanceNorm3d, nn.InstanceNorm3d, (2, 3, 2, 2, 2)),
    ],
)
def test_lazy_norms(lazy, full, shape):
    m = lazy()
    # the lazy instance norms default to affine=True, track_running_stats=True, as PyTorch's
    assert m.affine and m.track_running_stats
    x = torch.randn(*shape)
    y = m(x)
    assert type(m) is full and m.num_features == 3 and tuple(m.running_mean.shape) == (3,)
    axes = (0, *range(2, len(shape))) if full.__name__.startswith("Batch") else tuple(range(2, len(shape)))
    xn = x.numpy()
    mean = xn.mean(axis=axes, keepdims=True)
    np.testing.assert_allclose(y.detach().numpy(), (xn - mean) / np.sqrt(xn.var(axis=axes, keepdims=True) + 1e-5),
                               rtol=1e-4, atol=1e-5)


def test_lazy_norm_module_conversion():
    m = nn.LazyBatchNorm1d().double()
    assert type(m.running_mean) is UninitializedBuffer and type(m.weight) is UninitializedParameter
    assert m.running_mean.dtype == torch.float64 and m.weight.dtype == torch.float64
    m(torch.randn(4, 3, dtype=torch.float64))
    assert type(m) is nn.BatchNorm1d and m.running_mean.dtype == torch.float64 and m.weight.dtype == torch.float64


def test_lazy_norm_options_and_load():
    m = nn.LazyBatchNorm3d(affine=False, track_running_stats=False)
    assert list(m.state_dict().keys()) == [] and not m.has_uninitialized_params()
    b = nn.LazyBatchNorm2d(momentum=0.5, bias=False)
    assert b.bias is None and list(b.state_dict().keys()) == [
        "weight", "running_mean", "running_var", "num_batches_tracked",
    ]
    src = nn.BatchNorm2d(5)
    with torch.no_grad():
        src.running_mean.copy_(torch.arange(5.0))
    n = nn.LazyBatchNorm2d()
    n.load_state_dict(src.state_dict())
    assert type(n) is nn.LazyBatchNorm2d and n.num_features == 0
    np.testing.assert_array_equal(n.running_mean.numpy(), np.arange(5.0))
    n.eval()
    y = n(torch.zeros(1, 5, 2, 2))
    # eval mode normalises with the loaded running stats; num_features stays 0, as in PyTorch
    assert type(n) is nn.BatchNorm2d and n.num_features == 0
    np.testing.assert_allclose(y.detach().numpy()[0, :, 0, 0], -np.arange(5.0) / np.sqrt(1 + 1e-5), rtol=1e-6)


# ---------------------------------------------------------------- dirac_ and skip_init


def test_dirac_groups():
    # flat indices of the ones, as computed by PyTorch
    w = torch.empty(4, 2, 3)
    nn.init.dirac_(w, 2)
    assert np.flatnonzero(w.numpy()).tolist() == [1, 10, 13, 22]
    w = torch.empty(6, 2, 3, 3)
    nn.init.dirac_(w, 3)
    assert np.flatnonzero(w.numpy()).tolist() == [4, 31, 40, 67, 76, 103]
    w = torch.empty(2, 3, 3, 3, 3)
    nn.init.dirac_(w)
    assert np.flatnonzero(w.numpy()).tolist() == [13, 121]
    # a dirac-initialised conv is the identity
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    nn.init.dirac_(conv.weight)
    x = torch.randn(1, 3, 4, 4)
    np.testing.assert_allclose(conv(x).detach().numpy(), x.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        nn.init.dirac_(torch.empty(3, 3))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        nn.init.dirac_(torch.empty(5, 2, 3), 2)


def test_skip_init():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    m = nn.utils.skip_init(nn.Linear, 5, 2)
    # no random numbers were drawn for the initialisation
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
    assert type(m) is nn.Linear and tuple(m.weight.shape) == (2, 5) and m.weight.requires_grad
    m2 = nn.utils.skip_init(nn.Conv2d, in_channels=3, out_channels=4, kernel_size=3, device="cpu")
    assert tuple(m2.weight.shape) == (4, 3, 3, 3)
    # initialisation works again afterwards
    assert nn.init.constant_(torch.zeros(2), 3.0).tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        nn.utils.skip_init(nn.ReLU)
    with pytest.raises(RuntimeError, match="Expected a Module; got <class 'int'>"):
        nn.utils.skip_init(int)
