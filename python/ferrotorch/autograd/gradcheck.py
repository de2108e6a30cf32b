"""Finite-difference checks of backward formulas (float64 central differences)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .. import _C
from .._C import Tensor


def _flat_outputs(out: Any) -> list:
    return [o for o in (out if isinstance(out, (tuple, list)) else [out]) if isinstance(o, Tensor)]


def _numerical_jacobian(fn: Callable, inputs: Sequence[Any], i: int, eps: float) -> list:
    """d(each output element)/d(inputs[i] element), by central differences; one column per input element."""
    x = inputs[i]
    flat = x.detach().reshape(-1)
    cols = []
    for k in range(flat.numel()):
        orig = flat[k].item()
        flat[k] = orig + eps
        plus = [o.detach().reshape(-1).double() for o in _flat_outputs(fn(*inputs))]
        flat[k] = orig - eps
        minus = [o.detach().reshape(-1).double() for o in _flat_outputs(fn(*inputs))]
        flat[k] = orig
        cols.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    return cols


def gradcheck(func: Callable, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **kwargs: Any) -> bool:
    """Compares analytical vector-Jacobian products with finite differences for every input that requires grad."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outputs = _flat_outputs(func(*inputs))
    diff_inputs = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for oi, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for j in range(out.numel()):
            g = _C.zeros(*out.shape, dtype=out.dtype)
            g.reshape(-1)[j] = 1.0
            outs = _flat_outputs(func(*inputs))
            analytical = _C._grad([outs[oi]], [inputs[i] for i in diff_inputs], [g], False, False, True)
            for a, i in zip(analytical, diff_inputs):
                num_cols = _numerical_jacobian(func, inputs, i, eps)
                numeric = _C.tensor([col[oi][j].item() for col in num_cols], dtype=_C.float64)
                ana = (a.reshape(-1).double() if a is not None else _C.zeros(inputs[i].numel(), dtype=_C.float64))
                if not ((ana - numeric).abs() <= atol + rtol * numeric.abs()).all():
                    if raise_exception:
                        raise GradcheckError(
                            f"Jacobian mismatch for output {oi} with respect to input {i},\n"
                            f"numerical:{numeric}\nanalytical:{ana}\n")
                    return False
    return True


def gradgradcheck(func: Callable, inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True, **kwargs: Any) -> bool:
    """gradcheck of the first derivative (built with create_graph=True) with respect to the inputs."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    outs = _flat_outputs(func(*inputs))
    if grad_outputs is None:
        grad_outputs = [_C.randn(*o.shape, dtype=o.dtype) for o in outs]

    def first_grad(*xs: Any) -> tuple:
        o = _flat_outputs(func(*xs))
        d = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        gs = _C._grad(o, d, list(grad_outputs), True, True, True)
        return tuple(g for g in gs if g is not None)

    del diff
    return gradcheck(first_grad, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""
