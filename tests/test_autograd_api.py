"""PyTorch's autograd API as users touch it: requires_grad, grad_fn, .grad, backward/grad, grad modes,
detach/.data, in-place safety, hooks, and the autograd snippets of seeds 003 and 004."""

import re
import threading
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import Variable

NONLEAF_WARNING = "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed"
SECOND_BACKWARD = "Trying to backward through the graph a second time"


# ---- requires_grad, is_leaf, grad_fn ----
def test_requires_grad_constructor_and_setter():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    assert a.requires_grad and a.is_leaf and a.grad_fn is None and a.grad is None
    b = torch.zeros(3)
    assert not b.requires_grad and b.is_leaf
    assert b.requires_grad_() is b and b.requires_grad
    b.requires_grad_(False)
    assert not b.requires_grad
    b.requires_grad = True
    assert b.requires_grad
    for ctor in (torch.ones, torch.zeros, torch.randn, torch.rand, torch.empty):
        assert ctor(2, 3, requires_grad=True).requires_grad


def test_requires_grad_only_for_floating_point():
    with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype can require gradients"):
        torch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        torch.zeros(2, dtype=torch.int64, requires_grad=True)


def test_requires_grad_flag_of_non_leaf():
    a = torch.ones(2, requires_grad=True)
    y = a * 2
    assert y.requires_grad and not y.is_leaf
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


def test_result_requires_grad_if_any_input_does():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2)
    assert (a + b).requires_grad and (b + a).requires_grad and (b * 3 + a).requires_grad
    assert not (b + b).requires_grad
    assert (b + b).grad_fn is None


@pytest.mark.parametrize("expr,expected", [
    (lambda a, b: a + b, "AddBackward0"),
    (lambda a, b: a - b, "SubBackward0"),
    (lambda a, b: a * b, "MulBackward0"),
    (lambda a, b: a / b, "DivBackward0"),
    (lambda a, b: a ** 2, "PowBackward0"),
    (lambda a, b: a ** b, "PowBackward1"),
    (lambda a, b: a.exp(), "ExpBackward0"),
    (lambda a, b: a.sum(), "SumBackward0"),
    (lambda a, b: a.sum(0), "SumBackward1"),
    (lambda a, b: a.mean(), "MeanBackward0"),
    (lambda a, b: a.mean(0), "MeanBackward1"),
    (lambda a, b: torch.dot(a, b), "DotBackward0"),
    (lambda a, b: a.view(3, 1), "ViewBackward0"),
    (lambda a, b: a.unsqueeze(0).t(), "TransposeBackward0"),
    (lambda a, b: a[1:], "SliceBackward0"),
    (lambda a, b: a.relu(), "ReluBackward0"),
    (lambda a, b: a.sigmoid(), "SigmoidBackward0"),
    (lambda a, b: a.tanh(), "TanhBackward0"),
    (lambda a, b: torch.cat([a, b]), "CatBackward0"),
    (lambda a, b: a.clone(), "CloneBackward0"),
    (lambda a, b: a.unsqueeze(0) @ b.unsqueeze(1), "MmBackward0"),
])
def test_grad_fn_names(expr, expected):
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = torch.tensor([2.0, 3.0, 4.0], requires_grad=True)
    y = expr(a, b)
    assert y.grad_fn.name() == expected
    assert re.fullmatch(rf"<{expected} object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert f"grad_fn=<{expected}>" in repr(y)


def test_next_functions_link_to_accumulate_grad():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2)
    y = a * b
    (fn0, i0), (fn1, _) = y.grad_fn.next_functions
    assert fn0.name() == "AccumulateGrad" and i0 == 0
    assert fn1 is None
    z = y.exp()
    assert z.grad_fn.next_functions[0][0] == y.grad_fn


# ---- .grad ----
def test_grad_accumulates_across_backward_calls():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    x.grad.zero_()
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_grad_has_no_history_and_matches_shape():
    x = torch.randn(2, 3, requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.shape == (2, 3) and not x.grad.requires_grad and x.grad.grad_fn is None
    with pytest.raises(RuntimeError, match="assigned grad has data of a different size"):
        x.grad = torch.zeros(3)


def test_grad_of_non_leaf_is_none_with_warning():
    a = torch.ones(2, requires_grad=True)
    y = a * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match=re.escape(NONLEAF_WARNING)):
        assert y.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert a.grad is not None  # leaves do not warn


def test_retain_grad():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    y = a * 3
    y.retain_grad()
    assert y.retains_grad and not a.retains_grad
    z = (y * y).sum()
    z.backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert a.grad.tolist() == [18.0, 36.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y.grad  # noqa: B018 (no warning once retained)
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        torch.ones(2).retain_grad()


def test_grad_dtype_follows_leaf():
    x = torch.ones(3, dtype=torch.float64, requires_grad=True)
    (x.float() * 2).sum().backward()
    assert x.grad.dtype == torch.float64 and x.grad.tolist() == [2.0, 2.0, 2.0]


def test_broadcast_gradients_reduce_to_input_shape():
    a = torch.ones(3, 1, requires_grad=True)
    b = torch.ones(4, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and a.grad.tolist() == [[4.0]] * 3
    assert b.grad.shape == (4,) and b.grad.tolist() == [3.0] * 4


# ---- backward(gradient, retain_graph, create_graph, inputs) ----
def test_backward_non_scalar_needs_gradient():
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(torch.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    y2 = x * 2
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        y2.backward(torch.ones(4))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        torch.ones(2).sum().backward()


def test_second_backward_raises_with_hint():
    x = torch.tensor(2.0, requires_grad=True)
    y = x.exp() * x
    y.backward()
    with pytest.raises(RuntimeError) as e:
        y.backward()
    msg = str(e.value)
    assert SECOND_BACKWARD in msg and "retain_graph=True" in msg


def test_retain_graph_allows_repeated_backward():
    x = torch.tensor(3.0, requires_grad=True)
    y = x.exp()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    assert abs(x.grad.item() - 3 * np.exp(3.0)) < 1e-4
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        y.backward()


def test_backward_inputs_limits_accumulation():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    (a * b * 3).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0, 3.0] and b.grad is None
    (a * b * 3).sum().backward(inputs=b)
    assert b.grad.tolist() == [3.0, 3.0] and a.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (a * b).sum().backward(inputs=[])


def test_backward_create_graph_gives_differentiable_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.tolist() == [3.0, 12.0]
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0]  # d/dx of 3x^2


def test_autograd_backward_function_multiple_roots():
    x = torch.ones(2, requires_grad=True)
    torch.autograd.backward([(x * 2).sum(), (x * x)], [None, torch.tensor([1.0, 10.0])])
    assert x.grad.tolist() == [4.0, 22.0]


# ---- torch.autograd.grad ----
def test_autograd_grad_basic_and_no_accumulation():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad((x * x).sum(), x)
    assert g.tolist() == [2.0, 4.0] and x.grad is None
    (g,) = torch.autograd.grad(x * x, [x], grad_outputs=torch.tensor([1.0, 0.5]))
    assert g.tolist() == [2.0, 2.0]


def test_autograd_grad_allow_unused():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph. Set allow_unused=True"):
        torch.autograd.grad((a * 2).sum(), [a, b])
    ga, gb = torch.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    assert ga.tolist() == [2.0, 2.0] and gb is None
    ga, gb = torch.autograd.grad((a * 2).sum(), [a, b], materialize_grads=True)
    assert gb.tolist() == [0.0, 0.0]


def test_autograd_grad_frees_graph_unless_retained():
    x = torch.tensor(1.5, requires_grad=True)
    y = x.sin()
    torch.autograd.grad(y, x, retain_graph=True)
    torch.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        torch.autograd.grad(y, x)


def test_second_derivative_of_cube():
    x = torch.tensor(2.0, requires_grad=True)
    y = x ** 3
    (dy,) = torch.autograd.grad(y, x, create_graph=True)
    assert dy.item() == 12.0 and dy.requires_grad
    (d2y,) = torch.autograd.grad(dy, x, create_graph=True)
    assert d2y.item() == 12.0  # 6x
    (d3y,) = torch.autograd.grad(d2y, x)
    assert d3y.item() == 6.0


@pytest.mark.parametrize("fn,d2", [
    (lambda x: x.exp(), lambda v: np.exp(v)),
    (lambda x: x.tanh(), lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
    (lambda x: x.sigmoid(), lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s)),
    (lambda x: x.sqrt(), lambda v: -0.25 * v ** -1.5),
    (lambda x: x.log(), lambda v: -1 / v ** 2),
    (lambda x: x.sin() * x, lambda v: 2 * np.cos(v) - v * np.sin(v)),
])
def test_second_derivatives_elementwise(fn, d2):
    v = np.array([0.3, 0.9, 1.7])
    x = torch.tensor(v, requires_grad=True)
    (g,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), d2(v), rtol=1e-10, atol=1e-12)


def test_gradient_penalty_pattern():
    # WGAN-GP style: the norm of a gradient, differentiated with respect to the weights
    w = torch.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    out = (x @ w).tanh().sum()
    (gx,) = torch.autograd.grad(out, x, create_graph=True)
    penalty = (gx.norm() - 1) ** 2
    penalty.backward()
    assert w.grad is not None and w.grad.shape == (2, 2)

    def penalty_of(wv):
        xv = np.array([[1.0, 2.0]])
        t = np.tanh(xv @ wv)
        g = (1 - t ** 2) @ wv.T
        return (np.linalg.norm(g) - 1) ** 2

    wv = w.detach().numpy().copy()
    num = np.zeros_like(wv)
    for i in range(2):
        for j in range(2):
            e = np.zeros_like(wv)
            e[i, j] = 1e-6
            num[i, j] = (penalty_of(wv + e) - penalty_of(wv - e)) / 2e-6
    np.testing.assert_allclose(w.grad.numpy(), num, rtol=1e-5, atol=1e-8)


# ---- grad modes ----
def test_no_grad_context_and_nesting():
    x = torch.ones(2, requires_grad=True)
    assert torch.is_grad_enabled()
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        y = x * 2
        assert not y.requires_grad and y.grad_fn is None
        with torch.enable_grad():
            assert (x * 2).requires_grad
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled() and (x * 2).requires_grad


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError), torch.no_grad():
        raise ValueError
    assert torch.is_grad_enabled()


def test_grad_mode_decorators():
    x = torch.ones(2, requires_grad=True)

    @torch.no_grad()
    def f():
        return (x * 2).requires_grad

    @torch.no_grad
    def f_bare():
        return (x * 2).requires_grad

    @torch.enable_grad()
    def g():
        return (x * 2).requires_grad

    @torch.set_grad_enabled(False)
    def h():
        return (x * 2).requires_grad

    @torch.inference_mode()
    def k():
        return (x * 2).requires_grad

    assert f() is False and f_bare() is False and h() is False and k() is False
    assert f.__name__ == "f" and f_bare.__name__ == "f_bare"
    with torch.no_grad():
        assert g() is True
    assert torch.is_grad_enabled()


def test_set_grad_enabled_function_and_context():
    x = torch.ones(2, requires_grad=True)
    torch.set_grad_enabled(False)
    try:
        assert not torch.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        torch.set_grad_enabled(True)
    assert torch.is_grad_enabled()
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with torch.set_grad_enabled(True):
        assert (x * 2).requires_grad
    assert torch.is_grad_enabled()


def test_inference_mode():
    x = torch.ones(2, requires_grad=True)
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    with torch.inference_mode(False):
        assert (x * 2).requires_grad


def test_grad_mode_is_thread_local():
    seen = {}

    def worker():
        seen["enabled"] = torch.is_grad_enabled()
        with torch.no_grad():
            seen["inner"] = torch.is_grad_enabled()
            barrier.wait()
            barrier.wait()

    barrier = threading.Barrier(2)
    with torch.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        barrier.wait()
        assert not torch.is_grad_enabled()
        barrier.wait()
        t.join()
    assert seen == {"enabled": True, "inner": False}
    # the worker's no_grad never leaked here
    th = threading.Thread(target=lambda: torch.set_grad_enabled(False))
    th.start()
    th.join()
    assert torch.is_grad_enabled()


def test_autograd_namespace_exports():
    assert torch.autograd.no_grad is torch.no_grad
    assert torch.autograd.set_grad_enabled is torch.set_grad_enabled
    assert torch.autograd.inference_mode is torch.inference_mode
    assert torch.autograd.is_grad_enabled()


# ---- detach, .data, Variable ----
def test_detach_shares_storage_and_cuts_history():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.data_ptr() == y.data_ptr()
    xd = x.detach()
    xd[0] = 10.0
    assert x.tolist() == [10.0, 2.0]


def test_detach_in_place():
    x = torch.ones(2, requires_grad=True)
    y = x * 2
    assert y.detach_() is y
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_data_updates_parameter_in_place():
    # seed 004: param.data -= learning_rate * param.grad.data
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    ptr = p.data_ptr()
    p.data -= 0.1 * p.grad.data
    assert p.data_ptr() == ptr and p.requires_grad and p.is_leaf
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    assert not p.data.requires_grad


def test_data_assignment_replaces_values_keeps_identity():
    p = torch.ones(2, requires_grad=True)
    p.data = torch.tensor([3.0, 4.0, 5.0])
    assert p.shape == (3,) and p.requires_grad and p.tolist() == [3.0, 4.0, 5.0]


def test_variable_is_a_tensor():
    v = Variable(torch.ones(2), requires_grad=True)
    assert isinstance(v, torch.Tensor) and v.requires_grad
    w = Variable(torch.ones(2))
    assert isinstance(w, torch.Tensor) and not w.requires_grad
    (v * 2).sum().backward()
    assert v.grad.tolist() == [2.0, 2.0]


# ---- in-place safety ----
def test_modified_saved_tensor_raises_version_error():
    x = torch.randn(3, requires_grad=True)
    y = x.exp()  # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been "
                                           "modified by an inplace operation"):
        y.sum().backward()


def test_modified_saved_input_raises_and_reports_versions():
    a = torch.randn(3, requires_grad=True)
    b = a * 1
    c = b.sin()  # saves b
    b.mul_(2)
    assert b._version == 1
    with pytest.raises(RuntimeError, match=r"is at version 1; expected version 0 instead"):
        c.sum().backward()


def test_version_counter_counts_in_place_ops():
    t = torch.zeros(3)
    assert t._version == 0
    t.add_(1)
    t.mul_(2)
    t[0] = 5.0
    assert t._version == 3
    v = t.view(3)
    v.add_(1)
    assert t._version == 4  # shared by views


def test_in_place_on_leaf_requiring_grad_raises():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w.mul_(2)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w[0] = 3.0
    with torch.no_grad():
        w.add_(1)  # allowed: how optimizers update parameters
        w[0] = 5.0
    assert w.tolist() == [5.0, 2.0] and w.requires_grad and w.is_leaf


def test_in_place_on_non_leaf_is_recorded():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.mul_(3)
    assert y.grad_fn.name() == "MulBackward0"
    y.add_(x)
    assert y.grad_fn.name() == "AddBackward0"
    y.exp_()
    y.sum().backward()
    expected = 7 * np.exp(7 * np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5)


def test_in_place_makes_a_plain_tensor_require_grad():
    x = torch.ones(3, requires_grad=True)
    buf = torch.zeros(3)
    buf.add_(x * 2)
    assert buf.requires_grad and not buf.is_leaf
    buf.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_setitem_on_non_leaf_is_differentiable():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = torch.tensor(10.0, requires_grad=True)
    y = x * 1
    y[1] = v * 2
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 3.0]
    assert v.grad.item() == 4.0


def test_augmented_assignment_on_slice_of_non_leaf():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    y[:, 0] *= 3  # __getitem__, __imul__, __setitem__
    y.sum().backward()
    assert x.grad.tolist() == [[3.0, 1.0], [3.0, 1.0]]


# ---- numpy ----
def test_numpy_on_tensor_requiring_grad():
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape("Can't call numpy() on Tensor that requires grad. "
                                                     "Use tensor.detach().numpy() instead.")):
        t.numpy()
    with pytest.raises(RuntimeError, match=re.escape("detach()")):
        (t * 2).numpy()
    assert t.detach().numpy().tolist() == [1.0, 2.0]
    assert t.numpy(force=True).tolist() == [1.0, 2.0]
    with torch.no_grad(), pytest.raises(RuntimeError, match="requires grad"):
        t.numpy()


# ---- hooks ----
def test_register_hook_replaces_gradient_on_leaf():
    x = torch.ones(3, requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: g * 2)
    h2 = x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0, 6.0]
    assert seen == [[6.0, 6.0, 6.0]]  # hooks chain: the second sees the first's result
    h.remove()
    h2.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0] and len(seen) == 1


def test_register_hook_on_non_leaf_changes_downstream():
    x = torch.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    y.retain_grad()
    y.sum().backward()
    assert y.grad.tolist() == [10.0, 10.0]  # retain_grad sees the hooked gradient
    assert x.grad.tolist() == [20.0, 20.0]


def test_hook_returning_none_keeps_gradient_and_handle_context():
    x = torch.ones(2, requires_grad=True)
    calls = []
    with x.register_hook(lambda g: calls.append(1)):
        (x * 2).sum().backward()
    (x * 2).sum().backward()
    assert calls == [1] and x.grad.tolist() == [4.0, 4.0]


def test_register_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        torch.ones(2).register_hook(lambda g: g)


def test_hook_exception_propagates_with_its_type():
    x = torch.ones(2, requires_grad=True)

    def bad(g):
        raise ValueError("hook failed")

    x.register_hook(bad)
    with pytest.raises(ValueError, match="hook failed"):
        (x * 2).sum().backward()


def test_post_accumulate_grad_hook():
    p = torch.ones(3, requires_grad=True)
    seen = []
    h = p.register_post_accumulate_grad_hook(lambda t: seen.append((t is p, t.grad.tolist())))
    (p * 2).sum().backward()
    (p * 1).sum().backward()
    assert seen == [(True, [2.0, 2.0, 2.0]), (True, [3.0, 3.0, 3.0])]
    h.remove()
    (p * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (p * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_post_accumulate_hook_can_step_parameter():
    # the optimizer-in-backward pattern from PyTorch's docs
    p = torch.tensor([1.0, 2.0], requires_grad=True)

    def step(t):
        with torch.no_grad():
            t.sub_(0.5 * t.grad)
        t.grad = None

    p.register_post_accumulate_grad_hook(step)
    (p * p).sum().backward()
    assert p.tolist() == [0.0, 0.0] and p.grad is None


# ---- max/min/sort indices ----
def test_max_indices_have_no_history():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    r = torch.max(a, 0)
    assert r.values.grad_fn.name() == "MaxBackward0" and r.values.item() == 3.0
    assert r.indices.item() == 2 and not r.indices.requires_grad and r.indices.grad_fn is None
    assert r.indices.dtype == torch.int64
    r.values.backward()
    assert a.grad.tolist() == [0.0, 0.0, 1.0]
    assert repr(r) == ("torch.return_types.max(\nvalues=tensor(3., grad_fn=<MaxBackward0>),\n"
                       "indices=tensor(2))")
    for res in (a.sort(), a.topk(2), a.min(0)):
        assert res.values.requires_grad and not res.indices.requires_grad
    assert not a.argmax().requires_grad


# ---- seeds ----
def test_seed003_autograd_snippet():
    w = torch.tensor(2.0, requires_grad=True)
    y = w ** 2
    z = 10 * y + 25
    z.backward()
    assert w.grad.item() == 40.0  # dz/dw = 20w
    assert repr(w.grad) == "tensor(40.)"
    assert repr(z) == "tensor(65., grad_fn=<AddBackward0>)"


def test_seed003_training_loop_prints_mse_loss_backward():
    x_train = np.array(range(11), dtype=np.float32).reshape(-1, 1)
    y_train = np.array([2 * i + 1 for i in range(11)], dtype=np.float32).reshape(-1, 1)
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01) if hasattr(torch, "optim") else None
    losses = []
    for _ in range(100):
        inputs = Variable(torch.from_numpy(x_train))
        labels = Variable(torch.from_numpy(y_train))
        if optimizer is not None:
            optimizer.zero_grad()
        else:
            model.zero_grad()
        loss = criterion(model(inputs), labels)
        assert re.fullmatch(r"tensor\(\d+\.\d{4}, grad_fn=<MseLossBackward0>\)", repr(loss)), repr(loss)
        loss.backward()
        if optimizer is not None:
            optimizer.step()
        else:
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.01 * p.grad
        losses.append(loss.item())
    assert losses[-1] < losses[0] and losses[-1] < 0.5
    with torch.no_grad():
        predicted = model(Variable(torch.from_numpy(x_train))).data.numpy()
    assert predicted.shape == (11, 1)
    np.testing.assert_allclose(predicted[:, 0], 2 * x_train[:, 0] + 1, atol=1.0)
    for p in model.parameters():
        if p.requires_grad:
            assert p.name is None and not p.data.requires_grad


def test_seed004_dot_snippet():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = torch.tensor([2.0, 3.0, 4.0], requires_grad=True)
    assert repr(a) == "tensor([1., 2., 3.], requires_grad=True)"
    f = torch.dot(a, b)
    assert repr(f) == "tensor(20., grad_fn=<DotBackward0>)"
    f.backward()
    assert repr(a.grad) == "tensor([2., 3., 4.])"
    assert repr(b.grad) == "tensor([1., 2., 3.])"
    with pytest.warns(UserWarning, match=re.escape(NONLEAF_WARNING)):
        assert f.grad is None


def test_seed004_second_backward_and_accumulation():
    w = torch.tensor(2.0, requires_grad=True)
    f = w * w
    f.backward()
    with pytest.raises(RuntimeError, match=re.escape(
            "Trying to backward through the graph a second time (or directly access saved tensors after they have "
            "already been freed)")) as e:
        f.backward()
    assert "Specify retain_graph=True" in str(e.value)
    w = torch.tensor(2.0, requires_grad=True)
    f = w * w
    f.backward(retain_graph=True)
    assert repr(w.grad) == "tensor(4.)"
    f.backward(retain_graph=True)
    assert repr(w.grad) == "tensor(8.)"
    f.backward(retain_graph=True)
    assert w.grad.item() == 12.0


def test_seed004_sgd_by_hand_on_module_parameters():
    torch.manual_seed(0)
    model = torch.nn.LSTM(4, 5, 3)
    x = torch.randn(2, 1, 4)
    out, _ = model(x)
    out.sum().backward()
    before = [p.detach().clone() for p in model.parameters()]
    learning_rate = 0.1
    for param in model.parameters():
        param.data -= learning_rate * param.grad.data
    for p, b in zip(model.parameters(), before):
        np.testing.assert_allclose(p.detach().numpy(), (b - learning_rate * p.grad).numpy(), rtol=1e-6)
    # example 2: the deprecated add(Number alpha, Tensor other) overload, whose result is discarded
    param = next(iter(model.parameters()))
    with pytest.warns(UserWarning, match="This overload of add is deprecated"):
        r = param.data.add(-learning_rate, param.grad.data)
    np.testing.assert_allclose(r.numpy(), (param.detach() - learning_rate * param.grad).numpy(), rtol=1e-6)


def test_seed004_max_keeps_no_history_on_indices():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert repr(torch.max(a, 0)) == ("torch.return_types.max(\nvalues=tensor(3., grad_fn=<MaxBackward0>),\n"
                                     "indices=tensor(2))")


def test_seed004_numpy_error():
    tensor1 = torch.tensor([71.0, 79.0, 84.0], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad\. "
                                           r"Use tensor\.detach\(\)\.numpy\(\) instead\."):
        tensor1.numpy()


# ---- in-place ops on views ----
def test_in_place_on_view_rebases_the_base():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    row = y[0]
    row.mul_(10)
    assert y.grad_fn.name() == "CopySlices"
    assert y.tolist() == [[10.0, 20.0], [3.0, 4.0]]
    (y * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [[10.0, 20.0], [3.0, 4.0]]


def test_view_taken_before_base_is_modified_follows_the_base():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    v = y[1:]
    y.mul_(x)  # y = x * x, and v is a window of it
    v.sum().backward()
    assert x.grad.tolist() == [0.0, 4.0, 6.0]


def test_in_place_on_view_of_leaf_raises():
    w = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an "
                                           "in-place operation"):
        w[0].add_(1)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        w.t().mul_(2)
    with torch.no_grad():
        w[0].add_(1)
    assert w.tolist() == [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]] and w.is_leaf


def test_in_place_activation_on_slice_of_activation():
    x = torch.tensor([[-1.0, 2.0, -3.0]], requires_grad=True)
    h = x * 2
    torch.nn.functional.relu(h[:, 1:], inplace=True)
    assert h.tolist() == [[-2.0, 4.0, 0.0]]
    h.sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0, 0.0]]
