"""``torch.func.vmap``: map a function over a batch dimension of its inputs.

ferrotorch has no batching rules, so ``vmap`` runs ``func`` once per sample: it slices every batched
input along its ``in_dim``, calls ``func`` on the slices and stacks the outputs at ``out_dims``. The
values equal PyTorch's (for deterministic functions), autograd flows through the stack, and it nests
with itself and with the other transforms (``vmap(grad(f))`` gives per-sample gradients).

Differences that follow from the per-sample loop: ``randomness='error'`` is detected by the default CPU
generator's state changing during a call (not at the random op); ``'different'`` draws each sample's
numbers in turn, so they differ from PyTorch's; ``'same'`` restores the generator before every sample.
``chunk_size`` is validated but changes nothing. An output with ``out_dim=None`` must be equal across
samples (PyTorch requires it to be unbatched). A batch of size 0 cannot be mapped (``func`` would never
run, so the output shapes are unknown)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import ferrotorch as torch

from .._C import Tensor
from ._pytree import broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["vmap"]

in_dims_t = int | tuple[Any, ...]
out_dims_t = int | tuple[Any, ...] | None


def _get_name(func: Callable) -> str:
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    return repr(func)


def _check_randomness_arg(randomness: str) -> None:
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}"
        )


def _check_out_dims(out_dims: out_dims_t, func: Callable) -> None:
    if isinstance(out_dims, int):
        return
    for d in tree_flatten(out_dims)[0]:
        if d is not None and not isinstance(d, int):
            raise ValueError(
                f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, None or "
                "a python collection of ints representing where in the outputs the vmapped dimension "
                "should appear."
            )


def _process_batched_inputs(in_dims: in_dims_t, args: tuple, func: Callable) -> tuple[int, list, list, Any]:
    """(batch size, one in_dim (non-negative or None) per flattened argument, those arguments, their tree)."""
    name = _get_name(func)
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(  # noqa: TRY004 (PyTorch's type)
            f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
            f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}."
        )
    if len(args) == 0:
        raise ValueError(
            f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying "
            "to vmap over a function with no inputs. The latter is unsupported."
        )
    flat_args, args_spec = tree_flatten(args)
    flat_in_dims = broadcast_prefix(in_dims, args_spec)
    if flat_in_dims is None:
        raise ValueError(
            f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
            f"structure of `inputs`. in_dims has structure {tree_flatten(in_dims)[1]} but inputs has "
            f"structure {args_spec}."
        )
    for i, (arg, in_dim) in enumerate(zip(flat_args, flat_in_dims)):
        if in_dim is None:
            continue
        if not isinstance(in_dim, int):
            raise ValueError(  # noqa: TRY004 (PyTorch's type)
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for an input but "
                "in_dim must be either an integer dimension or None."
            )
        if not isinstance(arg, Tensor):
            raise ValueError(  # noqa: TRY004 (PyTorch's type)
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for an input but "
                f"the input is of type {type(arg)}. We cannot vmap over non-Tensor arguments, please use "
                "None as the respective in_dim"
            )
        if in_dim < -arg.dim() or in_dim >= arg.dim():
            raise ValueError(
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for some input, but "
                f"that input is a Tensor of dimensionality {arg.dim()} so expected in_dim to satisfy "
                f"-{arg.dim()} <= in_dim < {arg.dim()}."
            )
        flat_in_dims[i] = in_dim % arg.dim()
    sizes = [arg.size(d) for arg, d in zip(flat_args, flat_in_dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(
            "vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
            f"{sizes} for the mapped dimension"
        )
    return sizes[0], flat_in_dims, flat_args, args_spec


def _flat_out_dims(out_dims: out_dims_t, first_output: Any, output_spec: Any, func: Callable) -> list:
    flat: list | None
    if isinstance(first_output, Tensor):
        # a single tensor output also accepts a 1-tuple (or None), as in PyTorch
        if isinstance(out_dims, int) or out_dims is None:
            flat = [out_dims]
        elif isinstance(out_dims, tuple) and len(out_dims) == 1:
            flat = list(out_dims)
        else:
            flat = None
    else:
        flat = broadcast_prefix(out_dims, output_spec)
    if flat is None:
        raise ValueError(
            f"vmap({_get_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible "
            f"with the structure of `outputs`. out_dims has structure {tree_flatten(out_dims)[1]} but "
            f"outputs has structure {output_spec}."
        )
    return flat


def _same_across_samples(values: list) -> bool:
    first = values[0]
    for v in values[1:]:
        if v is first:
            continue
        if isinstance(first, Tensor) and isinstance(v, Tensor):
            if tuple(v.shape) != tuple(first.shape) or not torch.equal(v, first):
                return False
        elif isinstance(first, Tensor) or isinstance(v, Tensor) or v != first:
            return False
    return True


def _stack_outputs(outputs: list, out_dims: out_dims_t, func: Callable) -> Any:
    name = _get_name(func)
    flat0, spec = tree_flatten(outputs[0])
    flats = [flat0]
    for out in outputs[1:]:
        flat, s = tree_flatten(out)
        if s != spec:
            raise ValueError(
                f"vmap({name}, ...): `{name}` returned outputs of different structure for different "
                f"samples: {spec} and {s}"
            )
        flats.append(flat)
    flat_out_dims = _flat_out_dims(out_dims, outputs[0], spec, func)
    result = []
    for idx, out_dim in enumerate(flat_out_dims):
        values = [f[idx] for f in flats]
        if out_dim is None:
            if not _same_across_samples(values):
                raise ValueError(
                    f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None"
                )
            result.append(values[0])
            continue
        if not isinstance(values[0], Tensor):
            raise ValueError(  # noqa: TRY004 (PyTorch's type)
                f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(values[0])}. "
                "Did you mean to set out_dims= to None for output?"
            )
        result.append(torch.stack(values, out_dim))
    return tree_unflatten(result, spec)


_RANDOM_ERROR = (
    "vmap: called random operation while in randomness error mode. Please either use the 'same' or "
    "'different' randomness flags on vmap or perform the randomness operation out of vmap"
)


def vmap(
    func: Callable,
    in_dims: in_dims_t = 0,
    out_dims: out_dims_t = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable:
    """``vmap(func)(*args)`` maps ``func`` over dimension ``in_dims`` of the inputs and stacks the results
    at ``out_dims``: inputs ``[B, *S]`` give outputs ``[B, *func(S)]``.

    ``in_dims`` is an int (every tensor argument) or a tuple with one entry per positional argument, each an
    int, ``None`` (not mapped, passed whole to every call) or, for a pytree argument, a matching pytree of
    those. ``out_dims`` likewise per output (``None``: the output is returned unstacked). Keyword arguments
    are never mapped. ``randomness`` is ``'error'``, ``'different'`` or ``'same'``; ``chunk_size`` is
    accepted for compatibility (the samples run one at a time regardless).
    """
    _check_randomness_arg(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        _check_out_dims(out_dims, func)
        batch_size, flat_in_dims, flat_args, args_spec = _process_batched_inputs(in_dims, args, func)
        if batch_size == 0:
            raise ValueError(
                f"vmap({_get_name(func)}, ...): ferrotorch's vmap calls the function once per sample and "
                "cannot map over a batch of size 0"
            )
        state = torch.get_rng_state() if randomness in ("error", "same") else None
        outputs = []
        for b in range(batch_size):
            if randomness == "same":
                torch.set_rng_state(state)
            sample = [a if d is None else a.select(d, b) for a, d in zip(flat_args, flat_in_dims)]
            outputs.append(func(*tree_unflatten(sample, args_spec), **kwargs))
            if randomness == "error" and not torch.equal(torch.get_rng_state(), state):
                raise RuntimeError(_RANDOM_ERROR)
        return _stack_outputs(outputs, out_dims, func)

    return wrapped
