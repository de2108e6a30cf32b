"""``torch.autograd.functional``: Jacobians, Hessians and vector products of a function.

Everything is built from reverse-mode ``autograd.grad``: a Jacobian takes one vector-Jacobian product per
output element (``vectorize`` is accepted, the rows are still computed one by one), ``jvp`` uses the
double-vjp trick (the vjp is linear in its vector ``u``, so differentiating ``u -> J^T u`` against ``u``
gives ``J v``), and a Hessian is the Jacobian of the gradient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _C
from .._C import Tensor
from .._grad_mode import enable_grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _as_tuple(x: Any, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    """(was it a tuple, the tensors as a tuple), checking that every element is a Tensor."""
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, el in enumerate(xs):
        if not isinstance(el, Tensor):
            if is_tuple:
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                                f"but the value at index {i} has type {type(el)}.")
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                            f"but the given {arg_name} has type {type(el)}.")
    return is_tuple, xs


def _grad_preprocess(inputs: tuple, create_graph: bool) -> tuple:
    # create_graph keeps the link to the caller's graph (a view that requires grad); otherwise fresh leaves
    if create_graph:
        return tuple(i if i.requires_grad else i.detach().requires_grad_(True) for i in inputs)
    return tuple(i.detach().requires_grad_(True) for i in inputs)


def _postprocess(x: Any, create_graph: bool) -> Any:
    if isinstance(x, tuple):
        return tuple(_postprocess(e, create_graph) for e in x)
    if x is None or create_graph:
        return x
    return x.detach()


def _tuple_back(is_tuple: bool, x: tuple) -> Any:
    return x if is_tuple else x[0]


def _autograd_grad(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None,
                   create_graph: bool = False, retain_graph: bool | None = None) -> tuple:
    """``autograd.grad`` that skips outputs not requiring grad and gives None for unreachable inputs."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    outs, gos = [], []
    for o, g in zip(outputs, grad_outputs):
        if o is not None and o.requires_grad:
            outs.append(o)
            gos.append(g)
    if not outs:
        return (None,) * len(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    return tuple(_C._grad(outs, list(inputs), gos, bool(retain_graph), bool(create_graph), True))


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, create_graph: bool, stage: str) -> tuple:
    res = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                if stage == "back":
                    raise RuntimeError("The output of the user-provided function is independent of input "
                                       f"{i}. This is not allowed in strict mode.")
                if stage == "back_trick":
                    raise RuntimeError(f"The gradient with respect to the input is independent of entry {i} in "
                                       "the grad_outputs when using the double backward trick to compute forward "
                                       "mode gradients. This is not allowed in strict mode.")
                if stage == "double_back":
                    raise RuntimeError("The jacobian of the user-provided function is independent of input "
                                       f"{i}. This is not allowed in strict mode.")
                raise RuntimeError("The hessian of the user-provided function is independent of entry "
                                   f"{i} in the grad_jacobian. This is not allowed in strict mode as it prevents "
                                   "from using the double backward trick to replace forward mode AD.")
            g = _C.zeros(*r.shape, dtype=r.dtype, device=r.device)
        res.append(g)
    return tuple(res)


def _check_requires_grad(outputs: tuple, kind: str, strict: bool) -> None:
    if not strict:
        return
    for i, o in enumerate(outputs):
        if o is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode.")
        if not o.requires_grad:
            if kind == "outputs":
                raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. "
                                   "The outputs must be computed in a differentiable manner from the input "
                                   "when running in strict mode.")
            raise RuntimeError(f"The jacobian of the user-provided function with respect to input {i} is "
                               "independent of the input. This is not allowed in strict mode.")


def _validate_v(v: tuple, other: tuple, is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if tuple(el_v.shape) != tuple(el_other.shape):
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {tuple(el_other.shape)} but got "
                               f"{tuple(el_v.shape)}.")


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``; ``v`` has the outputs' shapes
    (it may be omitted when the output is a single-element tensor)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            _validate_v(v, outputs, is_outputs_tuple)
        else:
            if len(outputs) != 1 or outputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function returns a single "
                                   "Tensor with a single element.")
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        vjp_res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    outputs = _postprocess(outputs, create_graph)
    vjp_res = _postprocess(vjp_res, create_graph)
    return _tuple_back(is_outputs_tuple, outputs), _tuple_back(is_inputs_tuple, vjp_res)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(inputs), J v)``: the Jacobian-vector product at ``inputs``; ``v`` has the inputs' shapes
    (it may be omitted when the input is a single-element tensor). Computed with the double-vjp trick."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            _validate_v(v, inputs, is_inputs_tuple)
        else:
            if len(inputs) != 1 or inputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided function "
                                   "is a single Tensor with a single element.")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        # u -> J^T u is linear in u; its gradient with respect to u against v is J v
        grad_outputs = tuple(_C.zeros(*o.shape, dtype=o.dtype, device=o.device).requires_grad_(True)
                             for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
        if create_graph:
            grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=True)
        else:
            grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=False)
        jvp_res = _fill_in_zeros(grad_res, outputs, strict, create_graph, "back_trick")
    outputs = _postprocess(outputs, create_graph)
    jvp_res = _postprocess(jvp_res, create_graph)
    return _tuple_back(is_outputs_tuple, outputs), _tuple_back(is_outputs_tuple, jvp_res)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``: for output shape ``O`` and input shape ``I`` a tensor of shape
    ``O + I``; a tuple of inputs and/or outputs gives (nested) tuples, ``J[i][j]`` for output i, input j."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError("torch.autograd.functional.jacobian: `create_graph=True` and "
                                      "`strategy='forward-mode'` are not supported together (yet). Please either "
                                      "set `create_graph=False` or `strategy='reverse-mode'`.")
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
                                      "only implemented for `vectorize=True`.")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        jacobian_rows: list[tuple] = []
        for i, out in enumerate(outputs):
            # one vjp per element of the output: row j of the Jacobian against every input
            per_input: list[list[Tensor]] = [[] for _ in inputs]
            flat = out.reshape(-1)
            for j in range(out.numel()):
                if out.requires_grad:
                    vj = _autograd_grad((flat[j],), inputs, retain_graph=True, create_graph=create_graph)
                else:
                    vj = (None,) * len(inputs)
                for el_idx, (vj_el, inp_el) in enumerate(zip(vj, inputs)):
                    if vj_el is None:
                        if strict and create_graph and not out.requires_grad:
                            raise RuntimeError("The jacobian of the user-provided function is independent of "
                                               f"input {i}. This is not allowed in strict mode when create_graph=True.")
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is independent of input "
                                               f"{el_idx}. This is not allowed in strict mode.")
                        vj_el = _C.zeros(*inp_el.shape, dtype=inp_el.dtype, device=inp_el.device)
                    per_input[el_idx].append(vj_el)
            row = []
            for el_idx, inp_el in enumerate(inputs):
                shape = tuple(out.shape) + tuple(inp_el.shape)
                if per_input[el_idx]:
                    row.append(_C.stack(per_input[el_idx], 0).reshape(*shape))
                else:
                    row.append(_C.zeros(*shape, dtype=inp_el.dtype, device=inp_el.device))
            jacobian_rows.append(tuple(row))
    jac = _postprocess(tuple(jacobian_rows), create_graph)
    if is_outputs_tuple:
        return tuple(_tuple_back(is_inputs_tuple, r) for r in jac)
    return _tuple_back(is_inputs_tuple, jac[0])


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar ``func`` at ``inputs``: shape ``I + I`` for one input; for a tuple of inputs a
    tuple of tuples, ``H[i][j]`` of shape ``I_i + I_j``."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp: Tensor) -> Tensor:
        out = func(*inp)
        is_out_tuple, _ = _as_tuple(out, "outputs of the user-provided function", "hessian")
        if is_out_tuple or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single "
                               "element")
        return out.squeeze()

    def jac_func(*inp: Tensor) -> tuple:
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        return jacobian(ensure_single_output_function, inp, create_graph=True)

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    # jac_func returns a tuple and inputs went in as one: res is a tuple of tuples
    return res if is_inputs_tuple else res[0][0]


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(inputs), v^T H)`` for a scalar ``func``; ``v`` has the inputs' shapes."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _grad_preprocess(inputs, create_graph)
        if v is not None:
            _, v = _as_tuple(v, "v", "vhp")
            _validate_v(v, inputs, is_inputs_tuple)
        else:
            if len(inputs) != 1 or inputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided function "
                                   "is a single Tensor with a single element.")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vhp")
        if is_outputs_tuple or not isinstance(outputs[0], Tensor):
            raise RuntimeError("The function given to vhp should return a single Tensor")
        if outputs[0].numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to vhp should contain a single element")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        vhp_res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
    outputs = _postprocess(outputs, create_graph)
    vhp_res = _postprocess(vhp_res, create_graph)
    return _tuple_back(is_outputs_tuple, outputs), _tuple_back(is_inputs_tuple, vhp_res)


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(inputs), H v)`` for a scalar ``func``, by the double-backward trick (equal to ``vhp`` for the
    symmetric Hessians of twice continuously differentiable functions)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _grad_preprocess(inputs, create_graph)
        if v is not None:
            _, v = _as_tuple(v, "v", "hvp")
            _validate_v(v, inputs, is_inputs_tuple)
        else:
            if len(inputs) != 1 or inputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided function "
                                   "is a single Tensor with a single element.")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "hvp")
        if is_outputs_tuple or not isinstance(outputs[0], Tensor):
            raise RuntimeError("The function given to hvp should return a single Tensor")
        if outputs[0].numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hvp should contain a single element")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        grad_jac = tuple(_C.zeros(*i.shape, dtype=i.dtype, device=i.device).requires_grad_(True) for i in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        grad_res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        hvp_res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back_trick")
    outputs = _postprocess(outputs, create_graph)
    hvp_res = _postprocess(hvp_res, create_graph)
    return _tuple_back(is_outputs_tuple, outputs), _tuple_back(is_inputs_tuple, hvp_res)
