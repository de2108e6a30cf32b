"""``torch.utils.checkpoint``: activation checkpointing (trade compute for memory).

``checkpoint(fn, *args)`` runs ``fn`` under ``no_grad``, so none of its intermediate tensors are kept, and
runs it again in the backward pass (with the RNG state of the first run, so dropout draws the same mask)
to get the gradients. Both variants are one ``autograd.Function`` node:

- ``use_reentrant=True`` (PyTorch's legacy default): the node's inputs are ``args``; its backward runs
  ``backward`` on the recomputed graph, which accumulates into the ``.grad`` of every leaf ``fn`` used
  (parameters included) and returns the gradients of ``args``. The output needs grad only when an input
  does; ``autograd.grad`` would leave side effects in the parameters' ``.grad``.
- ``use_reentrant=False``: the node's inputs are ``args``, the tensors of ``kwargs`` and the tensors ``fn``
  closes over (the parameters of a module ``fn`` is, or is a method of, or holds in its closure, its
  ``functools.partial`` arguments or the globals it names). Its backward differentiates the recomputed
  graph with ``autograd.grad`` with respect to all of them, so parameters get gradients through the node
  (``autograd.grad`` and ``backward(inputs=...)`` work) even when no input requires grad. A tensor reached
  any other way gets no gradient.

The CPU generator's state is replayed, and the CUDA generator's when an input is on a CUDA device (as
PyTorch's ``had_device_in_fwd``).
"""

from __future__ import annotations

import contextlib
import functools
import types
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import ferrotorch
from ferrotorch._C import Tensor
from ferrotorch.autograd.function import Function

__all__ = ["CheckpointError", "CheckpointFunction", "check_backward_validity", "checkpoint",
           "checkpoint_sequential", "detach_variable", "noop_context_fn"]

_DEFAULT_DETERMINISM_MODE = "default"


class CheckpointError(RuntimeError):
    """The recomputation did not reproduce what the forward pass computed."""


def noop_context_fn() -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
    """The default ``context_fn``: no context around the forward run nor around the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """The tensors of ``inputs`` detached, keeping their ``requires_grad`` (new leaves for the recompute)."""
    if not isinstance(inputs, tuple):  # PyTorch raises RuntimeError here
        raise RuntimeError(  # noqa: TRY004
            f"Only tuple of tensors is supported. Got Unsupported input type: {type(inputs).__name__}")
    out = []
    for inp in inputs:
        if isinstance(inp, Tensor):
            x = inp.detach()
            x.requires_grad = inp.requires_grad
            out.append(x)
        else:
            out.append(inp)
    return tuple(out)


def check_backward_validity(inputs: Iterable[Any]) -> None:
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


def _autocast_state() -> list[tuple[str, ferrotorch.dtype]]:
    """The autocast regions in effect, to re-enter around the recomputation."""
    return [(d, ferrotorch.get_autocast_dtype(d)) for d in ("cpu", "cuda") if ferrotorch.is_autocast_enabled(d)]


class _RecomputeState:
    """What the forward run saw and the recomputation must see again: RNG state and autocast."""

    def __init__(self, preserve_rng_state: bool, inputs: Iterable[Any]) -> None:
        self.preserve_rng_state = preserve_rng_state
        self.cpu_state = ferrotorch.get_rng_state() if preserve_rng_state else None
        on_cuda = any(isinstance(t, Tensor) and t.device.type == "cuda" for t in inputs)
        self.cuda_state = ferrotorch.cuda.get_rng_state() if preserve_rng_state and on_cuda else None
        self.autocast = _autocast_state()

    @contextlib.contextmanager
    def replay(self) -> Any:
        """Enter with grad enabled, the forward's RNG state and autocast; the surrounding RNG state returns
        on exit."""
        devices = [] if self.cuda_state is None else [0]  # one CUDA stream serves every device
        with ferrotorch.random.fork_rng(devices=devices, enabled=self.preserve_rng_state), \
                contextlib.ExitStack() as st:
            if self.preserve_rng_state:
                ferrotorch.set_rng_state(self.cpu_state)
                if self.cuda_state is not None:
                    ferrotorch.cuda.set_rng_state(self.cuda_state)
            for device_type, dtype in self.autocast:
                st.enter_context(ferrotorch.autocast(device_type, dtype=dtype))
            st.enter_context(ferrotorch.enable_grad())
            yield


def _as_tuple(outputs: Any) -> tuple:
    return outputs if isinstance(outputs, tuple) else (outputs,)


def _with_grad(outputs: tuple, grads: tuple) -> tuple[list[Tensor], list[Tensor]]:
    outs, gs = [], []
    tensor_grads = iter(grads)  # the node hands one gradient per tensor output
    for o in outputs:
        if isinstance(o, Tensor):
            g = next(tensor_grads, None)
            if o.requires_grad:
                outs.append(o)
                gs.append(g)
    if not outs:
        raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
    return outs, gs


class CheckpointFunction(Function):
    """The reentrant checkpoint node: ``apply(run_function, preserve_rng_state, *args)``."""

    @staticmethod
    def forward(ctx: Any, run_function: Callable, preserve_rng_state: bool, *args: Any) -> Any:
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.state = _RecomputeState(preserve_rng_state, args)
        ctx.args = args
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        return run_function(*args)

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple:
        saved = iter(ctx.saved_tensors)  # checks that no input was modified in place since
        inputs = tuple(next(saved) if isinstance(a, Tensor) else a for a in ctx.args)
        with ctx.state.replay():
            detached = detach_variable(inputs)
            outputs = _as_tuple(ctx.run_function(*detached))
            outs, gs = _with_grad(outputs, grads)
            ferrotorch.autograd.backward(outs, gs)
        return (None, None, *(d.grad if isinstance(d, Tensor) else None for d in detached))


def _metadata(x: Any) -> dict[str, Any] | None:
    return {"shape": x.shape, "dtype": x.dtype, "device": x.device} if isinstance(x, Tensor) else None


def _check_determinism(saved: list, outputs: tuple) -> None:
    """The default determinism check: the recomputed outputs' shapes, dtypes and devices are the forward's."""
    mismatched = ""
    for idx, (meta, out) in enumerate(zip(saved, outputs, strict=False)):
        if meta != _metadata(out):
            mismatched += f"tensor at position {idx}:\nsaved metadata: {meta}\nrecomputed metadata: {_metadata(out)}\n"
    if len(saved) != len(outputs):
        mismatched += f"the forward returned {len(saved)} outputs, the recomputation {len(outputs)}\n"
    if mismatched:
        raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors have different "
                              f"metadata than during the forward pass.\n{mismatched}.")


class _NonReentrantCheckpoint(Function):
    """``apply(run, spec, *tensors)``: ``run(*tensors)`` rebuilds the call from the flat tensor list."""

    @staticmethod
    def forward(ctx: Any, run: Callable, spec: dict, *tensors: Any) -> Any:
        ctx.run = run
        ctx.spec = spec
        ctx.state = _RecomputeState(spec["preserve_rng_state"], tensors)
        ctx.save_for_backward(*tensors)
        forward_context, ctx.recompute_context = spec["context_fn"]()
        with forward_context:
            outputs = run(*tensors)
        ctx.metadata = [_metadata(o) for o in _as_tuple(outputs)] if spec["check"] else None
        return outputs

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple:
        tensors = ctx.saved_tensors
        n_args = ctx.spec["n_detached"]
        with ctx.state.replay(), ctx.recompute_context:
            # the call's own tensors become new leaves; captured tensors (parameters) are used as they are
            inputs = (*detach_variable(tuple(tensors[:n_args])), *tensors[n_args:])
            outputs = _as_tuple(ctx.run(*inputs))
            if ctx.metadata is not None:
                _check_determinism(ctx.metadata, outputs)
            outs, gs = _with_grad(outputs, grads)
            wanted = [i for i, t in enumerate(inputs) if t.requires_grad]
            found = ferrotorch.autograd.grad(outs, [inputs[i] for i in wanted], gs, allow_unused=True)
        result: list[Tensor | None] = [None] * len(inputs)
        for i, g in zip(wanted, found, strict=True):
            result[i] = g
        return (None, None, *result)


def _captured_tensors(fn: Any, found: dict[int, Tensor], seen: set[int], depth: int = 0) -> None:
    """Adds to ``found`` the tensors that ``fn`` can reach without being passed them (see the module doc)."""
    if id(fn) in seen or depth > 4:
        return
    seen.add(id(fn))
    if isinstance(fn, Tensor):
        found.setdefault(id(fn), fn)
    elif isinstance(fn, ferrotorch.nn.Module):
        for p in fn.parameters():
            found.setdefault(id(p), p)
    elif isinstance(fn, (list, tuple)):
        for x in fn:
            _captured_tensors(x, found, seen, depth + 1)
    elif isinstance(fn, dict):
        for x in fn.values():
            _captured_tensors(x, found, seen, depth + 1)
    elif isinstance(fn, functools.partial):
        for x in (fn.func, fn.args, fn.keywords):
            _captured_tensors(x, found, seen, depth + 1)
    elif isinstance(fn, types.MethodType):
        _captured_tensors(fn.__self__, found, seen, depth + 1)
        _captured_tensors(fn.__func__, found, seen, depth + 1)
    elif isinstance(fn, types.FunctionType):
        for cell in fn.__closure__ or ():
            with contextlib.suppress(ValueError):  # an empty cell
                _captured_tensors(cell.cell_contents, found, seen, depth + 1)
        for name in fn.__code__.co_names:
            value = fn.__globals__.get(name)
            if isinstance(value, (Tensor, ferrotorch.nn.Module, types.FunctionType)):
                _captured_tensors(value, found, seen, depth + 1)
        for const in fn.__code__.co_consts:  # nested lambdas and defs read the same closure
            if isinstance(const, types.CodeType):
                for name in const.co_names:
                    value = fn.__globals__.get(name)
                    if isinstance(value, (Tensor, ferrotorch.nn.Module)):
                        _captured_tensors(value, found, seen, depth + 1)


def _checkpoint_without_reentrant(function: Callable, args: tuple, kwargs: dict, *, preserve_rng_state: bool,
                                  context_fn: Callable, determinism_check: str) -> Any:
    arg_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    kw_keys = [k for k, v in kwargs.items() if isinstance(v, Tensor)]
    own = [args[i] for i in arg_pos] + [kwargs[k] for k in kw_keys]
    captured: dict[int, Tensor] = {}
    _captured_tensors(function, captured, set())
    own_ids = {id(t) for t in own}
    extra = [t for k, t in captured.items() if k not in own_ids and t.requires_grad]

    def run(*tensors: Tensor) -> Any:
        call_args = list(args)
        for i, t in zip(arg_pos, tensors, strict=False):
            call_args[i] = t
        call_kwargs = dict(kwargs)
        for k, t in zip(kw_keys, tensors[len(arg_pos):], strict=False):
            call_kwargs[k] = t
        # captured tensors are reached by ``function`` itself: they are inputs only to carry gradients
        return function(*call_args, **call_kwargs)

    spec = {"preserve_rng_state": preserve_rng_state, "context_fn": context_fn, "n_detached": len(own),
            "check": determinism_check == _DEFAULT_DETERMINISM_MODE}
    return _NonReentrantCheckpoint.apply(run, spec, *own, *extra)


def _make_checkpoint_wrapper(function: Callable, **checkpoint_kwargs: Any) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return checkpoint(function, *args, **checkpoint_kwargs, **kwargs)

    return wrapper


def checkpoint(function: Callable | None = None, *args: Any, use_reentrant: bool | None = None,
               preserve_rng_state: bool = True, context_fn: Callable = noop_context_fn,
               determinism_check: str = _DEFAULT_DETERMINISM_MODE, debug: bool = False, early_stop: bool = True,
               **kwargs: Any) -> Any:
    """Runs ``function(*args, **kwargs)`` without keeping its intermediate tensors, recomputing them in the
    backward pass (see the module doc for the two variants). Returns what ``function`` returns (a tensor or a
    tuple); without ``function`` and ``args``, returns a decorator that checkpoints every call.

    Args:
        use_reentrant: pass it explicitly (``False`` is recommended); omitted, it warns and means ``True``.
        preserve_rng_state: replay the CPU generator's state in the recomputation (dropout masks match).
        context_fn: returns two context managers, entered around the forward run and the recomputation
            (``use_reentrant=False`` only).
        determinism_check: ``"default"`` checks that the recomputed outputs have the forward's shapes,
            dtypes and devices (``CheckpointError`` otherwise); ``"none"`` skips it.
        debug: accepted for PyTorch's signature (``use_reentrant=False`` only); ferrotorch records no
            operator trace to add to a ``CheckpointError``.
        early_stop: accepted for PyTorch's signature: the recomputation always runs ``function`` to the end.
    """
    if determinism_check not in (_DEFAULT_DETERMINISM_MODE, "none"):
        raise ValueError(f"determinism_check should be one of {[_DEFAULT_DETERMINISM_MODE, 'none']}, "
                         f"but got {determinism_check}")
    if function is None and not args:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
        return functools.partial(_make_checkpoint_wrapper, use_reentrant=use_reentrant,
                                 preserve_rng_state=preserve_rng_state, context_fn=context_fn,
                                 determinism_check=determinism_check, debug=debug, early_stop=early_stop)
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. In a future "
                      "release, calling checkpoint without use_reentrant will raise an exception. use_reentrant=False "
                      "is recommended, but if you need to preserve the current default behavior, you can pass "
                      "use_reentrant=True. Refer to docs for more details on the differences between the two "
                      "variants.", stacklevel=2)
        use_reentrant = True
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn`, `debug`, or `respect_saved_tensors_hooks` "
                             "is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    return _checkpoint_without_reentrant(function, args, kwargs, preserve_rng_state=preserve_rng_state,
                                         context_fn=context_fn, determinism_check=determinism_check)


def checkpoint_sequential(functions: Any, segments: int, input: Tensor, use_reentrant: bool | None = None,
                          **kwargs: Any) -> Tensor:
    """Runs ``functions`` (an ``nn.Sequential`` or a list of modules/functions) in order on ``input``, split into
    ``segments`` chunks of ``len(functions) // segments``; every chunk but the last is checkpointed. Accepts
    ``preserve_rng_state`` (default ``True``) as a keyword."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
                      "explicitly. In a future release, we will raise an exception if use_reentrant is not passed. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start: int, end: int, functions: list) -> Callable:
        def forward(input: Tensor) -> Tensor:
            for j in range(start, end + 1):
                input = functions[j](input)
            return input

        return forward

    if isinstance(functions, ferrotorch.nn.Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1  # the last chunk runs normally: its output is needed right away
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
