"""Python-defined differentiable ops: ``torch.autograd.Function`` (both forward(ctx, ...) and
setup_context styles). The node is recorded in Rust; its backward calls back into Python."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .. import _C
from .._C import Tensor


class FunctionCtx:
    """The ``ctx`` passed to forward/backward: saved tensors and flags."""

    def __init__(self) -> None:
        self._saved: tuple = ()
        self._dirty: set = set()
        self._non_diff: set = set()
        self.needs_input_grad: tuple = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        self._saved = tensors
        self._saved_versions = tuple(t._version if isinstance(t, Tensor) else None for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        for t, v in zip(self._saved, getattr(self, "_saved_versions", ()), strict=False):
            if isinstance(t, Tensor) and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace operation: "
                    f"[{t.type()} {list(t.shape)}] is at version {t._version}; expected version {v} instead.")
        outputs = getattr(self, "_saved_output_nr", None)
        if not outputs:
            return self._saved
        # saved outputs come back attached to this node, so a graph of the backward pass can go through them
        return tuple(_C._saved_output(t, outputs[i]) if i in outputs else t for i, t in enumerate(self._saved))

    saved_variables = saved_tensors

    def mark_dirty(self, *tensors: Tensor) -> None:
        self._dirty = {id(t) for t in tensors}

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


class _FunctionMeta(type):
    def __init__(cls, name: str, bases: tuple, attrs: dict) -> None:
        super().__init__(name, bases, attrs)
        cls._backward_name = f"{name}Backward"


class Function(metaclass=_FunctionMeta):
    """Subclass with static ``forward`` and ``backward``; call through ``apply``."""

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        uses_setup = cls.setup_context is not Function.setup_context
        with _C_no_grad():
            if uses_setup:
                output = cls.forward(*args, **kwargs)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if uses_setup:
            cls.setup_context(ctx, args, output)
        is_tuple = isinstance(output, tuple)
        outs = list(output) if is_tuple else [output]
        if not (_C.is_grad_enabled() and any(t.requires_grad for t in tensor_args)):
            return output
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensor_outs = [o for o in outs if isinstance(o, Tensor)]

        def backward(*grads: Tensor) -> tuple:
            res = cls.backward(ctx, *grads)
            res = res if isinstance(res, tuple) else (res,)
            if len(res) < len(args):
                raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of gradients "
                                   f"(expected {len(args)}, got {len(res)})")
            return tuple(res[i] for i in positions)

        out_nr = {id(o): k for k, o in enumerate(tensor_outs)}
        ctx._saved_output_nr = {i: out_nr[id(t)] for i, t in enumerate(ctx._saved)
                                if isinstance(t, Tensor) and id(t) in out_nr and id(t) not in ctx._dirty}
        diff = [o.dtype.is_floating_point and id(o) not in ctx._non_diff for o in tensor_outs]
        recorded = _C._record_function(cls._backward_name, tensor_args, tensor_outs, diff, backward)
        it = iter(recorded)
        final = []
        for o in outs:
            if not isinstance(o, Tensor):
                final.append(o)
                continue
            r = next(it)
            if id(o) in ctx._dirty:
                _C._take_history(o, r)
                final.append(o)
            else:
                final.append(r)
        return tuple(final) if is_tuple else final[0]


def once_differentiable(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(ctx: Any, *args: Any) -> Any:
        with _C_no_grad():
            return fn(ctx, *args)

    return wrapper


class _C_no_grad:
    def __enter__(self) -> None:
        self.prev = _C._set_grad_enabled(False)

    def __exit__(self, *a: object) -> None:
        _C._set_grad_enabled(self.prev)
