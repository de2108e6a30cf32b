"""Python-defined differentiable ops: ``torch.autograd.Function`` in both styles."""

import gc
import weakref

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import Function, gradcheck, gradgradcheck
from ferrotorch.autograd.function import FunctionCtx, once_differentiable

D = torch.float64


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        r = x.exp()
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return g * r


class MulConst(Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


class SumProd(Function):
    """Two outputs, setup_context style."""

    @staticmethod
    def forward(x, y):
        return x + y, x * y

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, y = inputs
        ctx.save_for_backward(x, y)

    @staticmethod
    def backward(ctx, g_sum, g_prod):
        x, y = ctx.saved_tensors
        return g_sum + g_prod * y, g_sum + g_prod * x


def test_forward_backward_with_ctx():
    x = torch.tensor([0.0, 1.0, 2.0], dtype=D, requires_grad=True)
    y = Exp.apply(x)
    assert y.requires_grad and not y.is_leaf
    assert y.grad_fn.name() == "ExpBackward"
    np.testing.assert_allclose(y.detach().numpy(), np.exp([0.0, 1.0, 2.0]))
    (y * torch.tensor([1.0, 2.0, 3.0], dtype=D)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0, 2.0]) * [1, 2, 3])


def test_forward_runs_without_recording():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen["grad_enabled"] = torch.is_grad_enabled()
            y = x * 2
            seen["inner_requires_grad"] = y.requires_grad
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    out = Probe.apply(torch.ones(2, requires_grad=True))
    assert seen == {"grad_enabled": False, "inner_requires_grad": False}
    assert out.grad_fn.name() == "ProbeBackward"


def test_gradcheck_and_gradgradcheck_of_custom_functions():
    x = torch.randn(4, dtype=D, requires_grad=True)
    assert gradcheck(Exp.apply, (x,))
    assert gradgradcheck(Exp.apply, (x,))  # backward written in differentiable ops
    a = torch.randn(3, dtype=D, requires_grad=True)
    b = torch.randn(3, dtype=D, requires_grad=True)
    assert gradcheck(SumProd.apply, (a, b))


def test_non_tensor_arguments_get_none_gradients():
    x = torch.ones(3, requires_grad=True)
    MulConst.apply(x, 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_needs_input_grad():
    recorded = []

    class Add(Function):
        @staticmethod
        def forward(ctx, x, y, scale):
            recorded.append(("forward", ctx.needs_input_grad))
            return (x + y) * scale

        @staticmethod
        def backward(ctx, g):
            recorded.append(("backward", ctx.needs_input_grad))
            gx = g * 2 if ctx.needs_input_grad[0] else None
            gy = g * 2 if ctx.needs_input_grad[1] else None
            return gx, gy, None

    x = torch.ones(2, requires_grad=True)
    y = torch.ones(2)
    Add.apply(x, y, 2).sum().backward()
    assert recorded == [("forward", (True, False, False)), ("backward", (True, False, False))]
    assert x.grad.tolist() == [2.0, 2.0]


def test_setup_context_style_and_multiple_outputs():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    s, p = SumProd.apply(a, b)
    assert s.grad_fn == p.grad_fn and s.grad_fn.name() == "SumProdBackward"
    (s.sum() + (p * 2).sum()).backward()
    assert a.grad.tolist() == [7.0, 9.0]  # 1 + 2*b
    assert b.grad.tolist() == [3.0, 5.0]  # 1 + 2*a


def test_only_one_output_used_gets_zeros_for_the_other():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    seen = []

    class Pair(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * 1, y * 1

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((g1.tolist(), g2.tolist()))
            return g1, g2

    u, _ = Pair.apply(a, b)
    u.sum().backward()
    assert seen == [([1.0, 1.0], [0.0, 0.0])]  # materialized as zeros, PyTorch's default
    assert a.grad.tolist() == [1.0, 1.0] and b.grad.tolist() == [0.0, 0.0]


def test_saved_tensors_version_check():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    leaf = torch.ones(3, requires_grad=True)
    x = leaf * 1
    y = Square.apply(x)
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_mark_dirty_in_place_function():
    class DoubleInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    leaf = torch.tensor([1.0, 2.0], requires_grad=True)
    y = leaf * 1
    z = DoubleInPlace.apply(y)
    assert z is y  # the input object itself, now carrying the new history
    assert y.grad_fn.name() == "DoubleInPlaceBackward" and y.tolist() == [2.0, 4.0]
    (y * 3).sum().backward()
    assert leaf.grad.tolist() == [6.0, 6.0]


def test_mark_non_differentiable():
    class MaxWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax()
            ctx.save_for_backward(idx)
            ctx.n = x.numel()
            hot = (torch.arange(x.numel()) == idx).to(x.dtype)
            ctx.mark_non_differentiable(hot)
            return x.max(), hot

        @staticmethod
        def backward(ctx, g, g_hot):
            (idx,) = ctx.saved_tensors
            out = torch.zeros(ctx.n)
            out[idx] = 1.0
            return out * g

    x = torch.tensor([1.0, 5.0, 2.0], requires_grad=True)
    v, hot = MaxWithIndex.apply(x)
    assert v.requires_grad and not hot.requires_grad and hot.grad_fn is None
    assert hot.tolist() == [0.0, 1.0, 0.0]
    v.backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_integer_outputs_are_not_differentiable():
    class ArgSort(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sort().values, x.argsort()

        @staticmethod
        def backward(ctx, g, gi):
            return g

    vals, idx = ArgSort.apply(torch.tensor([3.0, 1.0, 2.0], requires_grad=True))
    assert vals.requires_grad and not idx.requires_grad and idx.dtype == torch.int64


def test_apply_without_grad_returns_plain_tensors():
    with torch.no_grad():
        y = Exp.apply(torch.ones(2, requires_grad=True))
    assert not y.requires_grad and y.grad_fn is None
    z = Exp.apply(torch.ones(2))
    assert not z.requires_grad


def test_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"function BadBackward returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        Bad.apply(x, x).sum().backward()


def test_backward_exception_propagates_with_its_type():
    class Raises(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("custom backward failed")

    with pytest.raises(ValueError, match="custom backward failed"):
        Raises.apply(torch.ones(2, requires_grad=True)).sum().backward()


def test_unimplemented_backward():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(NotImplementedError, match="You must implement either the backward or vjp method"):
        NoBackward.apply(torch.ones(2, requires_grad=True)).sum().backward()


def test_once_differentiable_first_derivative():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not torch.is_grad_enabled()
            return 3 * x * x * g

    x = torch.tensor([1.0, 2.0], dtype=D, requires_grad=True)
    assert gradcheck(Cube.apply, (x,))
    (g,) = torch.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [3.0, 12.0] and not g.requires_grad


def test_custom_function_inside_larger_graph_and_retain_graph():
    x = torch.tensor([0.5, -0.5], dtype=D, requires_grad=True)
    y = (Exp.apply(x * 2) + x).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first.numpy())
    np.testing.assert_allclose(first.numpy(), 2 * np.exp([1.0, -1.0]) + 1)


def test_ctx_attributes_and_materialize_grads():
    ctx = FunctionCtx()
    ctx.save_for_backward(torch.ones(1), None)
    assert len(ctx.saved_tensors) == 2 and ctx.saved_tensors[1] is None
    ctx.set_materialize_grads(False)
    assert ctx.materialize_grads is False


def test_function_graph_is_freed_with_its_outputs():
    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.save_for_backward(y)
            ctx.extra = y
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = torch.ones(1000, requires_grad=True)
    out = Keep.apply(x)
    inner = Keep.apply(x)
    # the ctx (holding tensors) dies when the node dies, i.e. when the outputs die
    ctxs = []

    class Track(Function):
        @staticmethod
        def forward(ctx, t):
            ctxs.append(weakref.ref(ctx))
            return t * 1

        @staticmethod
        def backward(ctx, g):
            return g

    y = Track.apply(x)
    assert ctxs[0]() is not None
    del y, out, inner
    gc.collect()
    assert ctxs[0]() is None


def test_custom_exception_class_survives_the_engine():
    class MyError(Exception):
        pass

    class Raises(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise MyError("from backward")

    with pytest.raises(MyError, match="from backward"):
        Raises.apply(torch.ones(2, requires_grad=True)).sum().backward()
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(MyError):
        torch.autograd.grad(Raises.apply(x).sum(), x)


class _ScaleInPlace(Function):
    @staticmethod
    def forward(ctx, x):
        x.mul_(3)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 3


def test_mark_dirty_on_a_view_rebases_its_base():
    leaf = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = leaf * 1
    _ScaleInPlace.apply(y[1])
    assert y.tolist() == [[1.0, 2.0], [9.0, 12.0]]
    y.sum().backward()
    assert leaf.grad.tolist() == [[1.0, 1.0], [3.0, 3.0]]


def test_mark_dirty_on_leaf_requiring_grad_raises():
    leaf = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used in an in-place operation"):
        _ScaleInPlace.apply(leaf)
