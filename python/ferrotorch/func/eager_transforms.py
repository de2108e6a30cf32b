"""Reverse- and forward-mode transforms of ``torch.func``: ``grad``, ``grad_and_value``, ``vjp``, ``jvp``,
``jacrev``, ``jacfwd``, ``hessian``, ``linearize``.

Everything runs on ferrotorch's reverse-mode tape (``autograd.grad``): forward-mode products use the
double-vjp trick (``u -> J^T u`` is linear in ``u``, so its vjp against ``u`` with vector ``v`` is ``J v``),
and ``jacfwd`` computes its Jacobian row by row like ``jacrev`` (same values, no forward-mode AD). Each
transform differentiates against fresh copies of its inputs (see ``_level``), so they nest:
``grad(grad(f))``, ``vmap(grad(f))``, ``jacfwd(jacrev(f))``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import ferrotorch as torch

from .._C import Tensor
from .._grad_mode import is_grad_enabled
from ._level import Level, autograd_grad
from ._pytree import TreeSpec, tree_flatten, tree_unflatten, treespec_pprint

__all__ = ["grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "linearize", "vjp"]

argnums_t = int | tuple[int, ...]
_JVP = "jvp(f, primals, tangents)"


# --- argnums ---------------------------------------------------------------------------------------------


def _wrap_argnum(argnum: Any, num_args: int) -> int:
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")  # noqa: TRY004 (PyTorch's type)
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _check_argnums(argnums: Any, num_args: int) -> argnums_t:
    """``argnums`` validated and made non-negative."""
    if isinstance(argnums, int):
        return _wrap_argnum(argnums, num_args)
    if not isinstance(argnums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")  # noqa: TRY004 (PyTorch's type)
    if len(argnums) == 0:
        raise RuntimeError("argnums must be non-empty")
    if len(set(argnums)) != len(argnums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return tuple(_wrap_argnum(a, num_args) for a in argnums)


def _select(args: tuple, argnums: argnums_t) -> Any:
    """The differentiated arguments: the argument itself for an int ``argnums``, a tuple for a tuple."""
    return args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)


def _replace(args: tuple, argnums: argnums_t, new: Any) -> tuple:
    if isinstance(argnums, int):
        return tuple(new if i == argnums else a for i, a in enumerate(args))
    return tuple(new[argnums.index(i)] if i in argnums else a for i, a in enumerate(args))


def _fresh_args(level: Level, args: tuple, argnums: argnums_t) -> tuple[tuple, list[Tensor], TreeSpec]:
    """``args`` with the differentiated ones replaced by fresh tensors; those flat, and their tree."""
    flat, spec = tree_flatten(_select(args, argnums))
    fresh = [level.fresh(t) for t in flat]
    return _replace(args, argnums, tree_unflatten(fresh, spec)), fresh, spec


def _split_aux(out: Any, has_aux: bool, api: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return out


def _lift_aux(level: Level, aux: Any) -> Any:
    flat, _ = tree_flatten(aux)
    return level.lift(aux, level.grad_was_enabled and level.reaches_outside(flat))


def _check_tensor_outputs(flat: list, api: str) -> None:
    if len(flat) < 1 or (len(flat) == 1 and flat[0] is None):
        raise RuntimeError(
            f"{api}: Expected f to be a function that has non-empty output (got output = {flat})"
        )
    for o in flat:
        if not isinstance(o, Tensor):
            raise RuntimeError(  # noqa: TRY004 (PyTorch's type)
                f"{api}: expected f(*primals) to return only tensors, got unsupported type {type(o)}"
            )


def _check_real(api: str, tree: Any, is_input: bool) -> None:
    flat, _ = tree_flatten(tree)
    for idx, t in enumerate(flat):
        if isinstance(t, Tensor) and t.dtype.is_complex:
            kind = "inputs" if is_input else "outputs"
            raise RuntimeError(
                f"{api}: Expected all {kind} to be real but received complex tensor at flattened "
                f"input idx: {idx}"
            )


# --- grad ------------------------------------------------------------------------------------------------


def grad_and_value(func: Callable, argnums: argnums_t = 0, has_aux: bool = False) -> Callable:
    """Like :func:`grad`, but the returned function gives ``(gradient, value)`` (``(gradient, (value, aux))``
    with ``has_aux``): the gradient of the scalar ``func(*args)`` and the value itself."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums = _check_argnums(argnums, len(args))
        with Level() as level:
            new_args, fresh, spec = _fresh_args(level, args, nums)
            output, aux = _split_aux(func(*new_args, **kwargs), has_aux, "grad_and_value(f)(*args)")
            if not isinstance(output, Tensor):
                raise RuntimeError(  # noqa: TRY004 (PyTorch's type)
                    f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(output)}"
                )
            if output.dim() != 0:
                raise RuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor "
                    f"with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?"
                )
            keep = level.decide([output])
            grads = tree_unflatten(list(autograd_grad([output], fresh, create_graph=keep)), spec)
            output = level.lift(output)
            if has_aux:
                return grads, (output, _lift_aux(level, aux))
            return grads, output

    return wrapper


def grad(func: Callable, argnums: argnums_t = 0, has_aux: bool = False) -> Callable:
    """The gradient transform: ``grad(f)(*args)`` is ``d f(*args) / d args[argnums]`` for a ``func`` returning
    a scalar (0-dim) tensor. The gradient has the structure of the argument (a pytree of tensors); a tuple
    ``argnums`` gives a tuple of those. With ``has_aux`` ``func`` returns ``(output, aux)`` and the result
    is ``(gradient, aux)``. Composes with itself (higher derivatives) and with :func:`vmap` (per-sample
    gradients)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


# --- vjp -------------------------------------------------------------------------------------------------


def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(func(*primals), vjp_fn)``, or ``(output, vjp_fn, aux)`` with ``has_aux``. ``vjp_fn(cotangents)``,
    cotangents with the structure and shapes of the output, returns the vector-Jacobian products: a tuple
    with one entry (of the primal's structure) per primal. It may be called several times."""
    with Level() as level:
        flat_primals, primals_spec = tree_flatten(primals)
        fresh = [level.fresh(p) for p in flat_primals]
        out, aux = _split_aux(func(*tree_unflatten(fresh, primals_spec)), has_aux, "vjp(f, *primals)")
        flat_out, out_spec = tree_flatten(out)
        _check_tensor_outputs(flat_out, "vjp(f, *primals)")
        for o in flat_out:
            if not (o.is_floating_point() or o.is_complex()):
                raise RuntimeError(
                    "vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got "
                    f"Tensor with dtype {o.dtype}"
                )
        level.decide(flat_out)
        results = level.lift(out)
        if has_aux:
            aux = _lift_aux(level, aux)

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: bool | None = None) -> tuple:
        if create_graph is None:
            create_graph = is_grad_enabled()
        flat_cot, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure of outputs "
                f"to the function. cotangents: {treespec_pprint(cot_spec)}, primal output: "
                f"{treespec_pprint(out_spec)}"
            )
        # the products stay differentiable only if something outside can differentiate them
        keep = bool(create_graph) and (level.keep_graph or level.reaches_outside(flat_cot))
        res = autograd_grad(flat_out, fresh, flat_cot, retain_graph=retain_graph, create_graph=keep)
        return tree_unflatten(list(res), primals_spec)

    if has_aux:
        return results, vjp_fn, aux
    return results, vjp_fn


# --- jvp / linearize -------------------------------------------------------------------------------------


class _Linearization:
    """``func`` evaluated at fresh primals plus ``J^T u`` for zero dummy cotangents ``u`` (the double-vjp
    trick): each ``apply(tangents)`` differentiates ``J^T u`` against ``u`` to get ``J tangents``."""

    def __init__(self, flat_out: list[Tensor], fresh: list[Tensor]) -> None:
        self.flat_out = flat_out
        self.us = [torch.zeros_like(o).requires_grad_(True) if o.requires_grad else None for o in flat_out]
        live = [(o, u) for o, u in zip(flat_out, self.us) if u is not None]
        if live:
            self.jt_u = list(
                autograd_grad([o for o, _ in live], fresh, [u for _, u in live], create_graph=True)
            )
        else:
            self.jt_u = [None] * len(fresh)

    def apply(
        self, flat_tangents: list[Tensor], retain_graph: bool, keep: bool, strict: bool = False
    ) -> list[Tensor]:
        pairs = [(g, t) for g, t in zip(self.jt_u, flat_tangents) if g is not None and g.requires_grad]
        us = [u for u in self.us if u is not None]
        res: tuple = (None,) * len(us)
        if pairs and us:
            res = torch.autograd.grad(
                [g for g, _ in pairs],
                us,
                [t for _, t in pairs],
                retain_graph=retain_graph,
                create_graph=keep,
                allow_unused=True,
            )
        it = iter(res)
        out = []
        for o, u in zip(self.flat_out, self.us):
            jv = next(it) if u is not None else None
            if jv is None:
                if strict:
                    raise RuntimeError(
                        "jvp(f, primals, tangents, strict=True): The output of f is independent of the "
                        "inputs. This is not allowed with strict=True."
                    )
                jv = torch.zeros_like(o)
            out.append(jv if keep else jv.detach())
        return out


def _check_tensor_list(flat: list, argname: str) -> None:
    if len(flat) == 0:
        raise RuntimeError(f"{_JVP}: Expected {argname} to contain at least one Tensor.")
    for t in flat:
        if not isinstance(t, Tensor):
            raise RuntimeError(f"{_JVP}: Expected {argname} to only contain Tensors, got {type(t)}")  # noqa: TRY004 (PyTorch's type)


def jvp(func: Callable, primals: Any, tangents: Any, *, strict: bool = False, has_aux: bool = False) -> tuple:
    """``(func(*primals), J @ tangents)`` (``(output, jvp_out, aux)`` with ``has_aux``): the Jacobian-vector
    product at ``primals`` (a tuple), ``tangents`` of the same structure and shapes; ``jvp_out`` has the
    output's structure. Computed by the double-vjp trick, not forward-mode AD."""
    if not isinstance(primals, tuple):
        raise RuntimeError(  # noqa: TRY004 (PyTorch's type)
            f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals)."
        )
    flat_primals, primals_spec = tree_flatten(primals)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise RuntimeError(
            f"{_JVP}: Expected primals and tangents to have the same python structure. For example, "
            "if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
            f"{primals_spec} and tangents with structure {tangents_spec}"
        )
    _check_tensor_list(flat_primals, "primals")
    _check_tensor_list(flat_tangents, "tangents")
    for p, t in zip(flat_primals, flat_tangents):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(
                "Trying to set a forward gradient that has a different size than that of the original "
                f"Tensor, this is not supported. Tensor is of size {list(p.shape)} while the given "
                f"forward gradient is of size {list(t.shape)}."
            )
    with Level() as level:
        fresh = [level.fresh(p) for p in flat_primals]
        out, aux = _split_aux(func(*tree_unflatten(fresh, primals_spec)), has_aux, _JVP)
        flat_out, out_spec = tree_flatten(out)
        _check_tensor_outputs(flat_out, _JVP)
        keep = level.decide(flat_out + flat_tangents)
        lin = _Linearization(flat_out, fresh)
        flat_tangents = [t.to(p.dtype) for p, t in zip(flat_primals, flat_tangents)]
        jv = tree_unflatten(lin.apply(flat_tangents, retain_graph=False, keep=keep, strict=strict), out_spec)
        results = level.lift(out)
        if has_aux:
            return results, jv, _lift_aux(level, aux)
        return results, jv


def linearize(func: Callable, *primals: Any) -> tuple[Any, Callable]:
    """``(func(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is the Jacobian-vector product at ``primals``,
    reusing the graph recorded once (``func`` is evaluated a single time)."""
    with Level() as level:
        flat_primals, primals_spec = tree_flatten(primals)
        fresh = [level.fresh(p) for p in flat_primals]
        out = func(*tree_unflatten(fresh, primals_spec))
        flat_out, out_spec = tree_flatten(out)
        _check_tensor_outputs(flat_out, "linearize(f, *primals)")
        level.decide(flat_out)
        lin = _Linearization(flat_out, fresh)
        results = level.lift(out)

    def jvp_fn(*tangents: Any) -> Any:
        flat_tangents, tangents_spec = tree_flatten(tangents)
        if tangents_spec != primals_spec:
            raise RuntimeError(
                f"Expected the tangents {tangents_spec} to have the same argspec as the primals "
                f"{primals_spec}"
            )
        for idx, (p, t) in enumerate(zip(flat_primals, flat_tangents)):
            for what, a, b in (
                ("shape", t.shape, p.shape),
                ("device", t.device, p.device),
                ("dtype", t.dtype, p.dtype),
            ):
                if a != b:
                    raise RuntimeError(
                        f"tangent:{idx} with {what} {a} in flattened pytree doesn't match the {what} "
                        f"{b} of the corresponding primal."
                    )
        keep = is_grad_enabled() and (level.keep_graph or level.reaches_outside(flat_tangents))
        with Level():
            return tree_unflatten(lin.apply(flat_tangents, retain_graph=True, keep=keep), out_spec)

    return results, jvp_fn


# --- Jacobians -------------------------------------------------------------------------------------------


def _jacobian(func: Callable, argnums: argnums_t, has_aux: bool, api: str) -> Callable:
    @functools.wraps(func)
    def wrapper_fn(*args: Any) -> Any:
        _check_real(api, args, is_input=True)
        nums = _check_argnums(argnums, len(args))
        with Level() as level:
            new_args, fresh, primals_spec = _fresh_args(level, args, nums)
            out, aux = _split_aux(func(*new_args), has_aux, "vjp(f, *primals)")
            flat_out, out_spec = tree_flatten(out)
            _check_tensor_outputs(flat_out, "vjp(f, *primals)")
            _check_real(api, flat_out, is_input=False)
            keep = level.decide(flat_out)
            per_output = []
            for o in flat_out:
                # one vjp per output element: row j of d o / d primal for every primal
                rows: list[list[Tensor]] = [[] for _ in fresh]
                flat_o = o.reshape(-1)
                for j in range(o.numel()):
                    for i, g in enumerate(
                        autograd_grad([flat_o[j]], fresh, retain_graph=True, create_graph=keep)
                    ):
                        rows[i].append(g)
                jacs = []
                for p, r in zip(fresh, rows):
                    shape = tuple(o.shape) + tuple(p.shape)
                    jacs.append(
                        torch.stack(r, 0).reshape(shape)
                        if r
                        else torch.zeros(shape, dtype=p.dtype, device=p.device)
                    )
                per_output.append(tree_unflatten(level.lift(jacs), primals_spec))
            jac = tree_unflatten(per_output, out_spec)
            if has_aux:
                return jac, _lift_aux(level, aux)
            return jac

    return wrapper_fn


def jacrev(
    func: Callable,
    argnums: argnums_t = 0,
    *,
    has_aux: bool = False,
    chunk_size: int | None = None,
    _preallocate_and_copy: bool = False,
) -> Callable:
    """The Jacobian of ``func`` with respect to ``args[argnums]`` by reverse mode: for an output of shape
    ``O`` and an input of shape ``I`` a tensor of shape ``O + I``; a pytree of outputs gives that pytree
    of Jacobians, a tuple ``argnums`` a tuple per output. ``chunk_size`` only bounds memory in PyTorch;
    here rows are computed one at a time anyway."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian(func, argnums, has_aux, "jacrev")


def jacfwd(
    func: Callable, argnums: argnums_t = 0, has_aux: bool = False, *, randomness: str = "error"
) -> Callable:
    """The Jacobian of ``func`` with respect to ``args[argnums]``, with the same result structure as
    :func:`jacrev`. ferrotorch has no forward-mode AD: this computes the same reverse-mode rows as
    ``jacrev`` (identical values; only the cost model differs from PyTorch's)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}"
        )
    return _jacobian(func, argnums, has_aux, "jacfwd")


def hessian(func: Callable, argnums: argnums_t = 0) -> Callable:
    """The Hessian of ``func`` with respect to ``args[argnums]``: ``jacfwd(jacrev(func, argnums), argnums)``,
    shape ``O + I + I`` (``I + I`` for a scalar function)."""
    return jacfwd(jacrev(func, argnums), argnums)
