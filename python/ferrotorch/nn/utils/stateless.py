"""``functional_call``: run a module with some parameters/buffers temporarily replaced by given tensors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import ferrotorch as torch

__all__ = ["functional_call"]

Tensor = torch.Tensor
_MISSING = object()


def _resolve(module: torch.nn.Module, name: str) -> tuple[torch.nn.Module, str]:
    """The submodule owning the dotted ``name`` and the attribute's last component."""
    prefix, _, attr = name.rpartition(".")
    return (module.get_submodule(prefix) if prefix else module), attr


def _swap(owner: torch.nn.Module, attr: str, value: Any) -> Any:
    """Put ``value`` in ``owner.attr`` in the store the attribute already lives in; return the old value."""
    for store_name in ("_parameters", "_buffers"):
        store = owner.__dict__[store_name]
        if attr in store:
            old = store[attr]
            store[attr] = value  # bypass __setattr__: a plain Tensor may stand in for a Parameter
            return old
    old = owner.__dict__.get(attr, _MISSING)
    if value is _MISSING:
        del owner.__dict__[attr]
    else:
        owner.__dict__[attr] = value  # e.g. weight_norm's computed 'weight' plain attribute
    return old


def _untie_names(module: torch.nn.Module, tie_weights: bool) -> dict[str, list[str]]:
    """Map each tensor name to every name that shares the same object (tied weights)."""
    by_id: dict[int, list[str]] = {}
    named = list(module.named_parameters(remove_duplicate=False)) + list(module.named_buffers(remove_duplicate=False))
    for name, t in named:
        by_id.setdefault(id(t), []).append(name)
    if not tie_weights:
        return {}
    return {n: names for names in by_id.values() if len(names) > 1 for n in names}


@contextlib.contextmanager
def _reparametrize_module(
    module: torch.nn.Module, tensors: dict[str, Tensor], tie_weights: bool, strict: bool
) -> Iterator[None]:
    tied = _untie_names(module, tie_weights)
    tensors = dict(tensors)
    for name, names in tied.items():
        if name in tensors:
            for other in names:
                given = tensors.get(other, _MISSING)
                if given is not _MISSING and given is not tensors[name]:
                    raise ValueError(
                        f"functional_call got multiple values for keys {sorted(n for n in names if n in tensors)}, "
                        "which are tied. Consider using tie_weights=False"
                    )
    for name, names in tied.items():
        if name in tensors:
            for other in names:
                tensors.setdefault(other, tensors[name])
    if strict:
        expected = {n for n, _ in module.named_parameters(remove_duplicate=False)}
        expected |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
        missing = sorted(expected - tensors.keys())
        unexpected = sorted(tensors.keys() - expected)
        if missing or unexpected:
            parts = []
            if unexpected:
                parts.append(f"Unexpected key(s): {', '.join(repr(k) for k in unexpected)}.")
            if missing:
                parts.append(f"Missing key(s): {', '.join(repr(k) for k in missing)}.")
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(parts))
    saved: list[tuple[torch.nn.Module, str, Any]] = []
    try:
        for name, value in tensors.items():
            owner, attr = _resolve(module, name)
            saved.append((owner, attr, _swap(owner, attr, value)))
        yield
    finally:
        for owner, attr, old in reversed(saved):
            _swap(owner, attr, old)


def functional_call(
    module: torch.nn.Module,
    parameter_and_buffer_dicts: dict[str, Tensor] | tuple[dict[str, Tensor], ...],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """``module(*args, **kwargs)`` with the named tensors in ``parameter_and_buffer_dicts`` swapped in.

    Names are dotted (``"0.weight"``); tensors not named keep the module's own. The originals are
    restored afterwards, also when the call raises. With ``tie_weights`` a tensor given for one of
    several tied names is used for all of them; ``strict`` requires exactly the module's names.
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        merged = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        merged = {}
        repeated: list[str] = []
        for d in parameter_and_buffer_dicts:
            for k, v in d.items():
                if k in merged and k not in repeated:
                    repeated.append(k)
                merged[k] = v
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
    else:
        raise ValueError(  # noqa: TRY004 - PyTorch raises ValueError here
            f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, "
            f"but got {type(parameter_and_buffer_dicts)}"
        )
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize_module(module, merged, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)
