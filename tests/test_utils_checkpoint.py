"""torch.utils.checkpoint: gradients equal the un-checkpointed ones exactly (dropout included), the function
runs again in backward, both variants, checkpoint_sequential, PyTorch's warnings and errors."""

import functools
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

VARIANTS = [True, False]


class Block(nn.Module):
    """Linear -> dropout -> tanh, counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 5)
        self.drop = nn.Dropout(0.5)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return torch.tanh(self.drop(self.lin(x))) * 3


def _grads(model, x):
    return [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in model.parameters()]


def _reference(model, x, seed):
    """Gradients and output of the plain (not checkpointed) run from ``seed``."""
    model.zero_grad()
    x.grad = None
    torch.manual_seed(seed)
    out = model(x)
    (out * out).sum().backward()
    return out.detach().numpy().copy(), _grads(model, x)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return Block()


@pytest.mark.parametrize("use_reentrant", VARIANTS)
def test_gradients_equal_exactly_with_dropout(model, use_reentrant):
    x = torch.randn(6, 4, requires_grad=True)
    ref_out, ref_grads = _reference(model, x, seed=3)
    model.zero_grad()
    x.grad = None
    model.calls = 0
    torch.manual_seed(3)
    out = checkpoint(model, x, use_reentrant=use_reentrant)
    assert model.calls == 1
    np.testing.assert_array_equal(out.detach().numpy(), ref_out)
    (out * out).sum().backward()
    assert model.calls == 2  # recomputed once in backward
    for got, want in zip(_grads(model, x), ref_grads, strict=True):
        np.testing.assert_array_equal(got, want)
    # dropout really dropped something: otherwise this test could not tell the RNG replay from luck
    assert (ref_out == 0).any()


@pytest.mark.parametrize("use_reentrant", VARIANTS)
def test_without_preserved_rng_state_dropout_differs(model, use_reentrant):
    x = torch.randn(6, 4, requires_grad=True)
    _, ref_grads = _reference(model, x, seed=3)
    model.zero_grad()
    x.grad = None
    torch.manual_seed(3)
    out = checkpoint(model, x, use_reentrant=use_reentrant, preserve_rng_state=False)
    (out * out).sum().backward()  # the recompute draws a fresh mask: gradients of a different network
    assert not np.array_equal(_grads(model, x)[0], ref_grads[0])


@pytest.mark.parametrize("use_reentrant", VARIANTS)
def test_backward_leaves_the_rng_stream_where_it_was(model, use_reentrant):
    x = torch.randn(6, 4, requires_grad=True)
    torch.manual_seed(11)
    out = model(x)
    out.sum().backward()
    after_plain = torch.rand(4).numpy()
    torch.manual_seed(11)
    out = checkpoint(model, x, use_reentrant=use_reentrant)
    out.sum().backward()
    np.testing.assert_array_equal(torch.rand(4).numpy(), after_plain)


def test_non_reentrant_parameters_get_gradients_when_no_input_requires_grad(model):
    model.eval()
    x = torch.randn(3, 4)
    model.zero_grad()
    (model(x) ** 2).sum().backward()
    want = model.lin.weight.grad.numpy().copy()
    model.zero_grad()
    out = checkpoint(model, x, use_reentrant=False)
    assert out.requires_grad
    (out ** 2).sum().backward()
    np.testing.assert_array_equal(model.lin.weight.grad.numpy(), want)


def test_non_reentrant_finds_parameters_through_closures_partials_and_methods(model):
    model.eval()
    x = torch.randn(3, 4)
    w = torch.randn(5, requires_grad=True)
    model.zero_grad()
    (model(x) * w).sum().backward()
    want_lin, want_w = model.lin.weight.grad.numpy().copy(), w.grad.numpy().copy()
    for fn in (lambda t: model(t) * w, functools.partial(lambda m, v, t: m(t) * v, model, w)):
        model.zero_grad()
        w.grad = None
        checkpoint(fn, x, use_reentrant=False).sum().backward()
        np.testing.assert_array_equal(model.lin.weight.grad.numpy(), want_lin)
        np.testing.assert_array_equal(w.grad.numpy(), want_w)
    model.zero_grad()
    checkpoint(model.forward, x, use_reentrant=False).sum().backward()  # a bound method
    assert model.lin.weight.grad is not None


def test_non_reentrant_works_with_autograd_grad_and_kwargs():
    x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, dtype=torch.float64, requires_grad=True)

    def f(a, *, b, scale):
        return (a.sin() * b).sum() * scale

    gx, gy = torch.autograd.grad(checkpoint(f, x, b=y, scale=2.0, use_reentrant=False), [x, y])
    np.testing.assert_allclose(gx.numpy(), 2 * np.cos(x.detach().numpy()) * y.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gy.numpy(), 2 * np.sin(x.detach().numpy()), rtol=1e-12)


def test_gradcheck_through_checkpoint():
    w = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)

    def f(a):
        return torch.tanh(a @ w).exp()

    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: checkpoint(f, a, use_reentrant=False), (x,))
    assert torch.autograd.gradcheck(lambda a: checkpoint(f, a, use_reentrant=True), (x,))


@pytest.mark.parametrize("use_reentrant", VARIANTS)
def test_tuple_outputs_and_non_tensor_arguments(use_reentrant):
    x = torch.randn(3, requires_grad=True)

    def f(a, k, flag):
        return a * k, (a * a).sum() if flag else None

    p, q = checkpoint(f, x, 3.0, True, use_reentrant=use_reentrant)
    (p.sum() + q).backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0 + 2 * x.detach().numpy(), rtol=1e-6)


def test_reentrant_with_no_input_requiring_grad_warns_and_gives_none(model):
    x = torch.randn(2, 4)
    with pytest.warns(UserWarning, match="^None of the inputs have requires_grad=True. Gradients will be None$"):
        out = checkpoint(model, x, use_reentrant=True)
    assert not out.requires_grad


def test_use_reentrant_must_be_passed_explicitly(model):
    x = torch.randn(2, 4, requires_grad=True)
    with pytest.warns(UserWarning, match=r"^torch.utils.checkpoint: the use_reentrant parameter should be passed "
                                         r"explicitly\. In a future release, calling checkpoint without use_reentrant "
                                         r"will raise an exception\."):
        out = checkpoint(model, x)
    assert out.grad_fn is not None  # the reentrant default
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(model, x, use_reentrant=False)
    with pytest.warns(UserWarning, match="checkpoint_sequential: the use_reentrant parameter should be passed"):
        checkpoint_sequential([model], 1, x)


def test_errors(model):
    x = torch.randn(2, 4, requires_grad=True)
    with pytest.raises(ValueError, match="^Unexpected keyword arguments: a,b$"):
        checkpoint(model, x, use_reentrant=True, a=1, b=2)
    with pytest.raises(ValueError, match=r"^Passing `context_fn`, `debug`, or `respect_saved_tensors_hooks` is only "
                                         r"supported when use_reentrant=False\.$"):
        checkpoint(model, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match=r"^determinism_check should be one of \['default', 'none'\], but got bad$"):
        checkpoint(model, x, use_reentrant=False, determinism_check="bad")
    with pytest.raises(ValueError, match="^Unexpected keyword arguments: foo$"):
        checkpoint_sequential([model], 1, x, use_reentrant=False, foo=1)
    with pytest.raises(ValueError, match="^Unexpected keyword arguments: foo$"):
        checkpoint(use_reentrant=False, foo=1)


def test_reentrant_output_that_does_not_need_grad_in_the_recompute():
    x = torch.randn(3, requires_grad=True)
    out = checkpoint(lambda a: a.detach() * 2, x, use_reentrant=True)
    with pytest.raises(RuntimeError, match="^none of output has requires_grad=True, this checkpoint"
                                           r"\(\) is not necessary$"):
        out.sum().backward()


def test_determinism_check_catches_a_changed_recomputation():
    calls = []

    def f(a):
        calls.append(1)
        return a.sin() if len(calls) == 1 else a[:2].sin()  # sin saves its input: PyTorch checks it too

    x = torch.randn(3, requires_grad=True)
    out = checkpoint(f, x, use_reentrant=False)
    with pytest.raises(CheckpointError, match=r"^torch.utils.checkpoint: Recomputed values for the following tensors "
                                              r"have different metadata than during the forward pass\.\n"
                                              r"tensor at position 0:\nsaved metadata: \{'shape': torch.Size\(\[3\]\)"):
        out.sum().backward()
    calls.clear()
    out = checkpoint(f, x, use_reentrant=False, determinism_check="none")
    with pytest.raises(RuntimeError):  # unchecked, the mismatched gradient fails further down instead
        out.sum().backward()


def test_context_fn_wraps_forward_and_recompute():
    log = []

    class Ctx:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            log.append(self.name)

        def __exit__(self, *exc):
            return False

    x = torch.randn(3, requires_grad=True)
    out = checkpoint(lambda a: a.exp(), x, use_reentrant=False, context_fn=lambda: (Ctx("fwd"), Ctx("re")))
    assert log == ["fwd"]
    out.sum().backward()
    assert log == ["fwd", "re"]
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.detach().numpy()), rtol=1e-6)


def test_decorator_form():
    calls = []

    @checkpoint(use_reentrant=False)
    def f(a):
        calls.append(1)
        return a.sin()

    x = torch.randn(3, requires_grad=True)
    f(x).sum().backward()
    assert len(calls) == 2
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.detach().numpy()), rtol=1e-6)


@pytest.mark.parametrize("use_reentrant", VARIANTS)
def test_checkpoint_sequential_matches_the_plain_run(use_reentrant):
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.3), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 2))
    x = torch.randn(5, 4, requires_grad=True)
    torch.manual_seed(9)
    seq(x).pow(2).sum().backward()
    want = [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in seq.parameters()]
    seq.zero_grad()
    x.grad = None
    torch.manual_seed(9)
    out = checkpoint_sequential(seq, 3, x, use_reentrant=use_reentrant)
    out.pow(2).sum().backward()
    got = [x.grad.numpy()] + [p.grad.numpy() for p in seq.parameters()]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_registered_in_torch_utils():
    assert torch.utils.checkpoint.checkpoint is checkpoint
