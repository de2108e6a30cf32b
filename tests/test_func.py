"""``torch.func`` transforms (grad, vjp, jvp, jacrev, jacfwd, hessian, linearize, vmap) and module helpers,
against hand-derived derivatives, numpy, finite differences and PyTorch's error messages."""

from __future__ import annotations

import re

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck
from ferrotorch.func import (
    functional_call,
    functionalize,
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    replace_all_batch_norm_modules_,
    stack_module_state,
    vjp,
    vmap,
)

X = np.array([0.5, -1.0, 2.0])
A = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0], [0.0, 1.0, -2.0]])


def _t(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a).tolist(), dtype=torch.float64, requires_grad=requires_grad)


def _np(t: torch.Tensor) -> np.ndarray:
    return np.array(t.detach().tolist())


def _close(t: torch.Tensor, expected: np.ndarray) -> None:
    np.testing.assert_allclose(_np(t), expected, rtol=1e-10, atol=1e-12)


# --- grad ------------------------------------------------------------------------------------------------

def test_grad_of_cube_sum_is_three_x_squared_and_detached() -> None:
    g = grad(lambda x: (x ** 3).sum())(_t(X))
    _close(g, 3 * X ** 2)
    assert not g.requires_grad


def test_grad_argnums_tuple_and_negative() -> None:
    f = lambda x, y: (x * x * y).sum()
    gx, gy = grad(f, argnums=(0, 1))(_t(X), _t(A[0]))
    _close(gx, 2 * X * A[0])
    _close(gy, X ** 2)
    _close(grad(f, argnums=-1)(_t(X), _t(A[0])), X ** 2)


def test_grad_over_a_dict_of_tensors_keeps_its_structure() -> None:
    def f(p: dict, x: torch.Tensor) -> torch.Tensor:
        return ((p["w"] @ x + p["b"]) ** 2).sum()

    w, b = _t(A), _t(X)
    g = grad(f)({"w": w, "b": b}, _t(X))
    r = A @ X + X
    assert set(g) == {"w", "b"}
    _close(g["b"], 2 * r)
    _close(g["w"], 2 * np.outer(r, X))


def test_grad_has_aux_and_grad_and_value() -> None:
    def f(x: torch.Tensor) -> tuple:
        y = (x ** 2).sum()
        return y, {"double": x * 2}

    g, aux = grad(f, has_aux=True)(_t(X))
    _close(g, 2 * X)
    _close(aux["double"], 2 * X)
    assert not aux["double"].requires_grad
    g, v = grad_and_value(lambda x: (x ** 2).sum())(_t(X))
    _close(g, 2 * X)
    assert v.item() == pytest.approx(float((X ** 2).sum()))
    g, (v, aux) = grad_and_value(f, has_aux=True)(_t(X))
    _close(aux["double"], 2 * X)


def test_grad_of_grad_is_second_derivative() -> None:
    d2 = grad(grad(lambda x: x ** 3 + x.sin()))(_t(np.array(0.7)))
    assert d2.item() == pytest.approx(6 * 0.7 - np.sin(0.7))
    # vector case: d/dx sum(d/dx sum(x^3)) = 6x
    g2 = grad(lambda x: grad(lambda y: (y ** 3).sum())(x).sum())(_t(X))
    _close(g2, 6 * X)


def test_grad_distinguishes_inner_and_outer_variables() -> None:
    # d/dx [x * d/dy (x * y)] = d/dx x^2 = 2x (no perturbation confusion)
    def outer(x: torch.Tensor) -> torch.Tensor:
        return x * grad(lambda y: x * y)(x)

    assert grad(outer)(_t(np.array(1.5))).item() == pytest.approx(3.0)


def test_grad_result_is_differentiable_by_finite_differences() -> None:
    # gradcheck backpropagates through grad(f)(x): needs the inner gradient's graph
    f = grad(lambda x: (x.sin() * x ** 2).sum())
    assert gradcheck(f, (_t(X, requires_grad=True),))


def test_grad_stays_connected_to_captured_tensors_that_require_grad() -> None:
    w = _t(A[1], requires_grad=True)
    g = grad(lambda x: ((x * w) ** 2).sum())(_t(X))  # 2 x w^2
    _close(g, 2 * X * A[1] ** 2)
    assert g.requires_grad
    g.sum().backward()
    _close(w.grad, 4 * X * A[1])


def test_grad_ignores_an_outer_no_grad() -> None:
    x = _t(X, requires_grad=True)
    with torch.no_grad():
        g = grad(lambda a: (a ** 2).sum())(x)
    _close(g, 2 * X)
    assert not g.requires_grad


def test_grad_of_unused_argument_is_zero() -> None:
    g = grad(lambda x, y: (x ** 2).sum(), argnums=1)(_t(X), _t(A[0]))
    _close(g, np.zeros(3))


@pytest.mark.parametrize(("call", "exc", "msg"), [
    (lambda: grad(lambda a: a)(_t(X)), RuntimeError,
     ("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with 1 dims. "
      "Maybe you wanted to use the vjp or jacrev APIs instead?")),
    (lambda: grad(lambda a: 1.0)(_t(X)), RuntimeError,
     "grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got <class 'float'>"),
    (lambda: grad(lambda a: a.sum(), has_aux=True)(_t(X)), RuntimeError,
     "grad_and_value(f)(*args): output of function f should be a tuple: (output, aux) if has_aux is True"),
    (lambda: grad(lambda a: a.sum(), argnums=1)(_t(X)), RuntimeError, "Got argnum=1, but only 1 positional inputs"),
    (lambda: grad(lambda a: a.sum(), argnums=[0])(_t(X)), RuntimeError,
     "argnums must be int or Tuple[int, ...], got: <class 'list'>"),
    (lambda: grad(lambda a, b: a.sum(), argnums=(0, 0))(_t(X), _t(X)), RuntimeError,
     "argnums elements must be unique, got (0, 0)"),
    (lambda: grad(lambda a, b: a.sum(), argnums=())(_t(X), _t(X)), RuntimeError, "argnums must be non-empty"),
    (lambda: grad(lambda a: a.sum(), argnums=(0.5,))(_t(X)), RuntimeError, "argnum must be int, got: <class 'float'>"),
    (lambda: grad(lambda a: a)(1.0), ValueError, "Thing passed to transform API must be Tensor, got <class 'float'>"),
])
def test_grad_errors(call: object, exc: type, msg: str) -> None:
    with pytest.raises(exc, match=re.escape(msg)):
        call()


# --- vjp / jvp / linearize -------------------------------------------------------------------------------

def test_vjp_of_matrix_product() -> None:
    a, b = _t(A), _t(A[:, :2])
    out, vjp_fn = vjp(lambda p, q: p @ q, a, b)
    _close(out, A @ A[:, :2])
    ct = np.array([[1.0, -1.0], [2.0, 0.5], [0.0, 3.0]])
    ga, gb = vjp_fn(_t(ct))
    _close(ga, ct @ A[:, :2].T)
    _close(gb, A.T @ ct)
    ga2, _ = vjp_fn(_t(2 * ct))  # the graph is retained: vjp_fn can be called again
    _close(ga2, 2 * ct @ A[:, :2].T)
    assert not out.requires_grad and not ga.requires_grad


def test_vjp_pytree_output_and_aux() -> None:
    _out, vjp_fn, aux = vjp(lambda x: ({"sq": x ** 2, "s": x.sum()}, x.mean()), _t(X), has_aux=True)
    (g,) = vjp_fn({"sq": _t(np.ones(3)), "s": _t(np.array(2.0))})
    _close(g, 2 * X + 2)
    assert aux.item() == pytest.approx(X.mean())


def test_jvp_is_jacobian_times_tangent() -> None:
    f = lambda x, y: (x.sin() * y, (x * y).sum())
    v, u = np.array([1.0, 0.5, -2.0]), np.array([0.0, 1.0, 1.0])
    y0 = A[0]
    (o1, _o2), (t1, t2) = jvp(f, (_t(X), _t(y0)), (_t(v), _t(u)))
    _close(o1, np.sin(X) * y0)
    _close(t1, np.cos(X) * y0 * v + np.sin(X) * u)
    assert t2.item() == pytest.approx(float((v * y0 + X * u).sum()))
    assert not t1.requires_grad


def test_jvp_has_aux_and_unreachable_output() -> None:
    _out, t, aux = jvp(lambda x: (x * 3, x.sum()), (_t(X),), (_t(np.ones(3)),), has_aux=True)
    _close(t, 3 * np.ones(3))
    assert aux.item() == pytest.approx(X.sum())
    c = _t(A[0])
    _, t = jvp(lambda x: c * 2, (_t(X),), (_t(np.ones(3)),))
    _close(t, np.zeros(3))


def test_jvp_result_is_differentiable_by_finite_differences() -> None:
    v = _t(np.array([1.0, -1.0, 0.5]))
    assert gradcheck(lambda x: jvp(lambda a: a.exp() * a, (x,), (v,))[1], (_t(X, requires_grad=True),))


def test_linearize_reuses_the_graph() -> None:
    out, jvp_fn = linearize(lambda x: x.sin(), _t(X))
    _close(out, np.sin(X))
    _close(jvp_fn(_t(np.ones(3))), np.cos(X))
    _close(jvp_fn(_t(np.array([2.0, 0.0, -1.0]))), np.cos(X) * [2.0, 0.0, -1.0])


@pytest.mark.parametrize(("call", "msg"), [
    (lambda: vjp(lambda a: a * 2, _t(X))[1]((_t(X),)),
     ("Expected pytree structure of cotangents to be the same as pytree structure of outputs to the function. "
      "cotangents: (*,), primal output: *")),
    (lambda: vjp(lambda a: {"k": a}, _t(X))[1]({"j": _t(X)}),
     "cotangents: {'j': *}, primal output: {'k': *}"),
    (lambda: vjp(lambda a: 1.0, _t(X)),
     "vjp(f, *primals): expected f(*primals) to return only tensors, got unsupported type <class 'float'>"),
    (lambda: vjp(lambda a: a, _t(X), has_aux=True),
     "vjp(f, *primals): output of function f should be a tuple: (output, aux) if has_aux is True"),
    (lambda: vjp(lambda a: a.long(), _t(X)),
     "vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got Tensor with dtype torch.int64"),
    (lambda: jvp(lambda a: a, _t(X), _t(X)),
     "jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it should be valid to call f(*primals)."),
    (lambda: jvp(lambda a: a, (_t(X),), _t(X)),
     ("jvp(f, primals, tangents): Expected primals and tangents to have the same python structure. For example, "
      "if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure TreeSpec(tuple, None, "
      "[*]) and tangents with structure *")),
    (lambda: jvp(lambda a: a, (_t(X),), (_t(X[:2]),)),
     ("Trying to set a forward gradient that has a different size than that of the original Tensor, this is not "
      "supported. Tensor is of size [3] while the given forward gradient is of size [2].")),
    (lambda: jvp(lambda a: a, (_t(X),), (1.0,)),
     "jvp(f, primals, tangents): Expected tangents to only contain Tensors, got <class 'float'>"),
    (lambda: jvp(lambda a: a, (), ()),
     "jvp(f, primals, tangents): Expected primals to contain at least one Tensor."),
    (lambda: jvp(lambda a: _t(X), (_t(X),), (_t(X),), strict=True),
     ("jvp(f, primals, tangents, strict=True): The output of f is independent of the inputs. This is not allowed "
      "with strict=True.")),
    (lambda: linearize(lambda a: a * 2, _t(X))[1](_t(X[:2])),
     ("tangent:0 with shape torch.Size([2]) in flattened pytree doesn't match the shape torch.Size([3]) of the "
      "corresponding primal.")),
    (lambda: linearize(lambda a: a * 2, _t(X))[1](_t(X).float()),
     ("tangent:0 with dtype torch.float32 in flattened pytree doesn't match the dtype torch.float64 of the "
      "corresponding primal.")),
    (lambda: linearize(lambda a: a * 2, _t(X))[1](_t(X), _t(X)),
     ("Expected the tangents TreeSpec(tuple, None, [*,\n  *]) to have the same argspec as the primals "
      "TreeSpec(tuple, None, [*])")),
])
def test_vjp_jvp_linearize_errors(call: object, msg: str) -> None:
    with pytest.raises(RuntimeError, match=re.escape(msg)):
        call()


# --- Jacobians and Hessians ------------------------------------------------------------------------------

@pytest.mark.parametrize("jac", [jacrev, jacfwd])
def test_jacobian_of_matrix_product_has_shape_out_plus_in(jac: object) -> None:
    a, b = A[:2], A[:, :2]
    ja, jb = jac(lambda p, q: p @ q, argnums=(0, 1))(_t(a), _t(b))
    assert tuple(ja.shape) == (2, 2, 2, 3) and tuple(jb.shape) == (2, 2, 3, 2)
    _close(ja, np.einsum("ik,lj->ijkl", np.eye(2), b))
    _close(jb, np.einsum("ik,jl->ijkl", a, np.eye(2)))
    assert not ja.requires_grad


@pytest.mark.parametrize("jac", [jacrev, jacfwd])
def test_jacobian_of_pytree_output_and_aux(jac: object) -> None:
    f = lambda x: ({"sq": x ** 2, "s": x.sum()}, x * 0 + 1)
    j, aux = jac(f, has_aux=True)(_t(X))
    _close(j["sq"], np.diag(2 * X))
    _close(j["s"], np.ones(3))
    _close(aux, np.ones(3))


def test_hessian_of_quadratic_form_and_cubic() -> None:
    h = hessian(lambda x: x @ _t(A) @ x)(_t(X))
    _close(h, A + A.T)
    _close(hessian(lambda x: (x ** 3).sum())(_t(X)), np.diag(6 * X))
    hs = hessian(lambda x, y: (x * x * y).sum(), argnums=(0, 1))(_t(X), _t(A[0]))
    _close(hs[0][0], np.diag(2 * A[0]))
    _close(hs[0][1], np.diag(2 * X))
    _close(hs[1][1], np.zeros((3, 3)))


def test_jacobian_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("jacrev: `chunk_size` should be greater than 0.")):
        jacrev(lambda a: a, chunk_size=0)
    with pytest.raises(RuntimeError, match="Only allowed values for randomness are 'error', 'different', or 'same'"):
        jacfwd(lambda a: a, randomness="q")


# --- vmap ------------------------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
BX = RNG.standard_normal((4, 3))
BY = RNG.standard_normal((4, 3))


def test_vmap_dot_in_dims_none_and_out_dims() -> None:
    _close(vmap(torch.dot)(_t(BX), _t(BY)), (BX * BY).sum(1))
    _close(vmap(torch.dot, in_dims=(0, None))(_t(BX), _t(X)), BX @ X)
    _close(vmap(torch.dot, in_dims=1)(_t(BX.T), _t(BY.T)), (BX * BY).sum(1))
    _close(vmap(torch.dot, in_dims=(-1, 0))(_t(BX.T), _t(BY)), (BX * BY).sum(1))
    _close(vmap(lambda a: a * 2, out_dims=1)(_t(BX)), 2 * BX.T)


def test_vmap_pytree_inputs_and_outputs() -> None:
    def f(d: dict) -> tuple:
        return d["x"] * d["y"], (d["x"] * d["y"]).sum()

    prod, s = vmap(f, in_dims=({"x": 0, "y": None},), out_dims=(1, 0))({"x": _t(BX), "y": _t(X)})
    _close(prod, (BX * X).T)
    _close(s, BX @ X)


def test_vmap_nested_and_kwargs() -> None:
    m = RNG.standard_normal((2, 4, 3))
    n = RNG.standard_normal((2, 4, 3))
    _close(vmap(vmap(torch.dot))(_t(m), _t(n)), (m * n).sum(-1))
    # outer over the rows of x, inner over the rows of y: an outer product of dots
    _close(vmap(vmap(torch.dot, in_dims=(None, 0)), in_dims=(0, None))(_t(BX), _t(BY)), BX @ BY.T)
    scale = _t(np.array([1.0, 2.0]))
    out = vmap(lambda a, scale: a.sum() * scale)(_t(BX), scale=scale)  # kwargs are not mapped
    _close(out, BX.sum(1)[:, None] * [1.0, 2.0])


def test_vmap_out_dims_none_returns_the_unbatched_output() -> None:
    c = _t(X)
    out, same = vmap(lambda a: (a * 2, c * 3), out_dims=(0, None))(_t(BX))
    _close(out, 2 * BX)
    _close(same, 3 * X)


def test_vmap_is_differentiable() -> None:
    x = _t(BX, requires_grad=True)
    vmap(lambda a: (a ** 2).sum())(x).sum().backward()
    _close(x.grad, 2 * BX)
    assert gradcheck(vmap(lambda a, b: a.sin() * b, in_dims=(0, None)), (x.detach().requires_grad_(), _t(X)))


def test_vmap_randomness() -> None:
    with pytest.raises(RuntimeError, match=re.escape(
            "vmap: called random operation while in randomness error mode. Please either use the 'same' or "
            "'different' randomness flags on vmap or perform the randomness operation out of vmap")):
        vmap(lambda a: a + torch.rand(()))(torch.zeros(3))
    same = vmap(lambda a: a + torch.rand(()), randomness="same")(torch.zeros(3))
    assert len(set(same.tolist())) == 1
    diff = vmap(lambda a: a + torch.rand(()), randomness="different")(torch.zeros(3))
    assert len(set(diff.tolist())) == 3


def _f(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a + b


@pytest.mark.parametrize(("call", "exc", "msg"), [
    (lambda: vmap(_f)(_t(BX), _t(A)), ValueError,
     ("vmap: Expected all tensors to have the same size in the mapped dimension, got sizes [4, 3] for the mapped "
      "dimension")),
    (lambda: vmap(_f, in_dims=(0,))(_t(BX), _t(BX)), ValueError,
     ("vmap(_f, in_dims=(0,), ...)(<inputs>): in_dims is not compatible with the structure of `inputs`. in_dims has "
      "structure TreeSpec(tuple, None, [*]) but inputs has structure TreeSpec(tuple, None, [*,\n  *]).")),
    (lambda: vmap(_f, in_dims=[0, 0])(_t(BX), _t(BX)), ValueError,
     ("vmap(_f, in_dims=[0, 0], ...)(<inputs>): expected `in_dims` to be int or a (potentially nested) tuple matching "
      "the structure of inputs, got: <class 'list'>.")),
    (lambda: vmap(_f, in_dims=(0, 2))(_t(BX), _t(BX)), ValueError,
     ("vmap(_f, in_dims=(0, 2), ...)(<inputs>): Got in_dim=2 for some input, but that input is a Tensor of "
      "dimensionality 2 so expected in_dim to satisfy -2 <= in_dim < 2.")),
    (lambda: vmap(_f, in_dims=(0, 0.5))(_t(BX), _t(BX)), ValueError,
     ("vmap(_f, in_dims=(0, 0.5), ...)(<inputs>): Got in_dim=0.5 for an input but in_dim must be either an integer "
      "dimension or None.")),
    (lambda: vmap(_f, in_dims=(None, None))(_t(BX), _t(BX)), ValueError,
     "vmap: Expected at least one Tensor to vmap over"),
    (lambda: vmap(_f)(_t(BX), 2.0), ValueError,
     ("vmap(_f, in_dims=0, ...)(<inputs>): Got in_dim=0 for an input but the input is of type <class 'float'>. We "
      "cannot vmap over non-Tensor arguments, please use None as the respective in_dim")),
    (lambda: vmap(_f)(), ValueError,
     ("vmap(_f)(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying to vmap over a function "
      "with no inputs. The latter is unsupported.")),
    (lambda: vmap(lambda d: d["a"], in_dims=({"a": 0, "b": None},))({"a": _t(BX)}), ValueError,
     ("in_dims has structure TreeSpec(tuple, None, [TreeSpec(dict, ['a', 'b'], [*,\n    *])]) but inputs has "
      "structure TreeSpec(tuple, None, [TreeSpec(dict, ['a'], [*])]).")),
    (lambda: vmap(_f, out_dims=(0, 1))(_t(BX), _t(BX)), ValueError,
     ("vmap(_f, ..., out_dims=(0, 1))(<inputs>): out_dims is not compatible with the structure of `outputs`. "
      "out_dims has structure TreeSpec(tuple, None, [*,\n  *]) but outputs has structure *.")),
    (lambda: vmap(_f, out_dims="a")(_t(BX), _t(BX)), ValueError,
     ("vmap(_f, ..., out_dims=a): `out_dims` must be an int, None or a python collection of ints representing where "
      "in the outputs the vmapped dimension should appear.")),
    (lambda: vmap(lambda a: 1.0)(_t(BX)), ValueError,
     ("vmap(<lambda>, ...): `<lambda>` must only return Tensors, got type <class 'float'>. Did you mean to set "
      "out_dims= to None for output?")),
    (lambda: vmap(lambda a: a * 2, out_dims=None)(_t(BX)), ValueError,
     "vmap(<lambda>, ...): `<lambda>` can not return a BatchedTensor when out_dim is None"),
    (lambda: vmap(_f, randomness="x"), RuntimeError,
     "Only allowed values for randomness are 'error', 'different', or 'same'. Got x"),
    (lambda: vmap(_f, chunk_size=0), ValueError, "vmap: chunk_size should be None or greater than 0. (got 0)"),
])
def test_vmap_errors(call: object, exc: type, msg: str) -> None:
    with pytest.raises(exc, match=re.escape(msg)):
        call()


# --- composition: per-sample gradients, ensembles -----------------------------------------------------

def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


def test_per_sample_gradients_equal_a_loop_of_backward_calls() -> None:
    model = _mlp()
    torch.manual_seed(1)
    data, targets = torch.randn(6, 4), torch.tensor([0, 1, 2, 1, 0, 2])
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss(params: dict, buffers: dict, sample: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (params, buffers), (sample.unsqueeze(0),))
        return torch.nn.functional.cross_entropy(out, target.unsqueeze(0))

    per_sample = vmap(grad(loss), in_dims=(None, None, 0, 0))(params, buffers, data, targets)
    assert {k: tuple(v.shape) for k, v in per_sample.items()} == {
        "0.weight": (6, 5, 4), "0.bias": (6, 5), "2.weight": (6, 3, 5), "2.bias": (6, 3)}
    for i in range(6):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(data[i:i + 1]), targets[i:i + 1]).backward()
        for k, p in model.named_parameters():
            np.testing.assert_allclose(_np(per_sample[k][i]), _np(p.grad), rtol=1e-5, atol=1e-6)
            assert not per_sample[k].requires_grad


def test_vmap_of_jacrev_gives_per_sample_jacobians() -> None:
    j = vmap(jacrev(lambda x: x.sin() * x))(_t(BX))
    assert tuple(j.shape) == (4, 3, 3)
    for i in range(4):
        _close(j[i], np.diag(np.cos(BX[i]) * BX[i] + np.sin(BX[i])))


def test_stack_module_state_ensembles_with_vmap() -> None:
    torch.manual_seed(2)
    models = [torch.nn.Linear(3, 2) for _ in range(4)]
    params, buffers = stack_module_state(models)
    assert tuple(params["weight"].shape) == (4, 2, 3) and buffers == {}
    assert params["weight"].is_leaf and params["weight"].requires_grad
    data = torch.randn(5, 3)
    out = vmap(lambda p, b, x: functional_call(models[0], (p, b), (x,)), in_dims=(0, 0, None))(params, buffers, data)
    assert tuple(out.shape) == (4, 5, 2)
    for i, m in enumerate(models):
        np.testing.assert_allclose(_np(out[i]), _np(m(data)), rtol=1e-6, atol=1e-6)


def test_stack_module_state_errors() -> None:
    lin = torch.nn.Linear
    with pytest.raises(RuntimeError, match="stack_module_state: Expected at least one model, got 0."):
        stack_module_state([])
    with pytest.raises(RuntimeError, match="Expected all models to have the same training/eval mode."):
        stack_module_state([lin(2, 2), lin(2, 2).eval()])
    with pytest.raises(RuntimeError, match="stack_module_state: Expected all models to be of the same class."):
        stack_module_state([lin(2, 2), torch.nn.Conv1d(2, 2, 1)])
    with pytest.raises(RuntimeError, match=re.escape("Expected weight from each model to have the same .requires_grad")):
        stack_module_state([lin(2, 2), lin(2, 2).requires_grad_(False)])


def test_replace_all_batch_norm_modules_drops_running_stats() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    assert replace_all_batch_norm_modules_(net) is net
    bn = net[1]
    assert bn.running_mean is None and bn.running_var is None and bn.num_batches_tracked is None
    assert not bn.track_running_stats
    x = _t(BX).float()
    bn.eval()  # without running stats eval mode still normalizes with the batch's statistics
    y = _np(bn(x))
    xn = BX - BX.mean(0)
    np.testing.assert_allclose(y, xn / np.sqrt(BX.var(0) + 1e-5), rtol=1e-4, atol=1e-5)


def test_functionalize_returns_the_function_and_checks_remove() -> None:
    def f(a: torch.Tensor) -> torch.Tensor:
        return a.add_(1)

    assert functionalize(f) is f
    assert functionalize(f, remove="mutations_and_views") is f
    with pytest.raises(RuntimeError, match=re.escape(
            "functionalize(f, remove='mutations'): received invalid argument for remove=x. Valid options are:")):
        functionalize(f, remove="x")


def test_torch_vmap_is_func_vmap() -> None:
    assert torch.vmap is vmap
