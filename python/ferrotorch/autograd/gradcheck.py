"""Finite-difference checks of backward formulas: ``gradcheck`` and ``gradgradcheck`` (PyTorch's slow mode).

The numerical Jacobian of every output with respect to every input that requires grad comes from central
differences (each input element nudged by ``±eps`` in place, through a detached alias that shares its storage);
the analytical one from one vector-Jacobian product per output element, over a graph built once and retained."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .. import _C
from .._C import Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _tensor_outputs(out: Any) -> list[Tensor]:
    return [o for o in _as_tuple(out) if isinstance(o, Tensor)]


def _indices(shape: Sequence[int]):
    return itertools.product(*[range(s) for s in shape])


def _flat_values(t: Tensor) -> list[float]:
    return t.detach().double().reshape(-1).tolist()


def _numerical_jacobian(func: Callable, inputs: tuple, i: int, eps: float) -> list[list[list[float]]]:
    """``J[k][r][c]``: d(output k, element r)/d(inputs[i], element c), by central differences."""
    alias = inputs[i].detach()  # shares storage: writing it perturbs the input func sees
    cols: list[list[list[float]]] = []
    for idx in _indices(alias.shape):
        orig = alias[idx].item()
        alias[idx] = orig + eps
        plus = [_flat_values(o) for o in _tensor_outputs(func(*inputs))]
        alias[idx] = orig - eps
        minus = [_flat_values(o) for o in _tensor_outputs(func(*inputs))]
        alias[idx] = orig
        cols.append([[(p - m) / (2 * eps) for p, m in zip(po, mo)] for po, mo in zip(plus, minus)])
    n_out = len(cols[0]) if cols else len(_tensor_outputs(func(*inputs)))
    jac = []
    for k in range(n_out):
        rows = len(cols[0][k]) if cols else 0
        jac.append([[cols[c][k][r] for c in range(len(cols))] for r in range(rows)])
    return jac


def _analytical_rows(out: Tensor, diff: list[Tensor]) -> list[list[list[float]]]:
    """``R[r][d]``: row r of d(out)/d(diff[d]) (flattened), one backward pass per output element."""
    rows = []
    for j in range(out.numel()):
        g = _C.zeros(*out.shape, dtype=out.dtype)
        g.view(-1)[j] = 1.0
        grads = _C._grad([out], list(diff), [g], True, False, True)
        row = []
        for d, gr in zip(diff, grads):
            if gr is None:
                row.append([0.0] * d.numel())
            else:
                if tuple(gr.shape) != tuple(d.shape):
                    raise GradcheckError(f"Gradient has wrong shape: expected {tuple(d.shape)}, got {tuple(gr.shape)}")
                row.append(_flat_values(gr))
        rows.append(row)
    return rows


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(func: Callable, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, **kwargs: Any) -> bool:
    """True when every analytical vector-Jacobian product of ``func`` matches central finite differences
    for each input that requires grad; otherwise raises ``GradcheckError`` (or returns False)."""
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of the them have requires_grad=True.")
    for i in diff_idx:
        if inputs[i].dtype != _C.float64:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. "
                          "This check will likely fail if all the inputs are not of double precision floating point. ",
                          UserWarning, stacklevel=2)
    diff = [inputs[i] for i in diff_idx]
    # numerical first: perturbing the inputs in place bumps their version, which would invalidate a graph
    numerical = {i: _numerical_jacobian(func, inputs, i, eps) for i in diff_idx}
    outputs = _tensor_outputs(func(*inputs))
    for k, out in enumerate(outputs):
        if not out.requires_grad:
            # outputs that do not require grad must not depend on the inputs
            for n, i in enumerate(diff_idx):
                if any(abs(v) > atol for row in numerical[i][k] for v in row):
                    return _fail(f"Numerical gradient for output {k} with respect to input {i} is not zero, "
                                 "but the output does not require grad", raise_exception)
            continue
        rows = _analytical_rows(out, diff)
        for n, i in enumerate(diff_idx):
            num = numerical[i][k]
            ana = [r[n] for r in rows]
            bad = [(r, c) for r in range(len(num)) for c in range(len(num[r]))
                   if not abs(ana[r][c] - num[r][c]) <= atol + rtol * abs(num[r][c])]
            if bad:
                return _fail(f"Jacobian mismatch for output {k} with respect to input {i},\n"
                             f"numerical:{_C.tensor(num, dtype=_C.float64)}\n"
                             f"analytical:{_C.tensor(ana, dtype=_C.float64)}\n", raise_exception)
    return True


def gradgradcheck(func: Callable, inputs: Any, grad_outputs: Any | None = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False,
                  raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False, masked: bool = False,
                  **kwargs: Any) -> bool:
    """gradcheck of the first derivative (built with ``create_graph=True``), as a function of the inputs and
    of the output gradients (random, requiring grad, unless given)."""
    inputs = _as_tuple(inputs)
    outs = _tensor_outputs(func(*inputs))
    if grad_outputs is None:
        grad_outputs = tuple(_C.randn(*o.shape, dtype=o.dtype).requires_grad_(True) for o in outs if o.requires_grad)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_grad(*args: Any) -> tuple:
        xs, gos = args[:n_in], args[n_in:]
        o = [t for t in _tensor_outputs(func(*xs)) if t.requires_grad]
        d = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        gs = _C._grad(o, d, list(gos), True, True, True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grad, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
