"""``torch.optim.Optimizer``: param groups, per-parameter state, state_dict in PyTorch's layout."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import ferrotorch
from ferrotorch import _C
from ferrotorch.utils.hooks import RemovableHandle


class _RequiredParameter:
    """Singleton marking a hyper-parameter with no default (``lr`` of SGD in old PyTorch)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _type_name(obj: Any) -> str:
    if isinstance(obj, ferrotorch.Tensor):
        return obj.type()
    return type(obj).__name__


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (param groups).
        defaults: the default hyper-parameters, used by groups that do not set them.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict[Any, dict] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._step_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._step_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        if isinstance(params, ferrotorch.Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {_type_name(params)}"
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters (with its own hyper-parameters) to ``param_groups``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, ferrotorch.Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)
        plist = param_group["params"]
        if plist and isinstance(plist[0], tuple):  # named parameters
            param_group["param_names"] = [n for n, _ in plist]
            param_group["params"] = plist = [p for _, p in plist]
        for p in plist:
            if not isinstance(p, ferrotorch.Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is {_type_name(p)}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}"
                )
            param_group.setdefault(name, default)
        if len({id(p) for p in plist}) != len(plist):
            import warnings

            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in plist):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of all optimized tensors (to None by default, as PyTorch does)."""
        grads = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    grads.append(g)
        ferrotorch._foreach_zero_(grads)  # a launch per 32 gradients on a GPU

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with ferrotorch.enable_grad():
                loss = closure()
        for hook in list(self._step_pre_hooks.values()):
            hook(self, (), {})
        with ferrotorch.no_grad():
            for group in self.param_groups:
                self._update_group(group)
        for hook in list(self._step_post_hooks.values()):
            hook(self, (), {})
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs before each ``step``."""
        handle = RemovableHandle(self._step_pre_hooks)
        self._step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs after each ``step``."""
        handle = RemovableHandle(self._step_post_hooks)
        self._step_post_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------- helpers for subclasses
    def _with_grads(self, group: dict[str, Any]) -> tuple[list, list]:
        """The group's parameters that have a gradient, and those gradients (contiguous)."""
        params, grads = [], []
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            params.append(p)
            grads.append(g if g.is_contiguous() else g.contiguous())
        return params, grads

    def _state_buffer(self, p: ferrotorch.Tensor, name: str, fill: float = 0.0) -> ferrotorch.Tensor:
        """The state tensor ``state[p][name]``, created like ``p`` filled with ``fill`` when missing."""
        st = self.state[p]
        buf = st.get(name)
        if buf is None:
            buf = ferrotorch.full_like(p, fill).contiguous()
            st[name] = buf
        elif buf.dtype != p.dtype or not buf.is_contiguous():
            buf = buf.to(p.dtype).contiguous()
            st[name] = buf
        return buf

    def _advance_step(self, p: ferrotorch.Tensor) -> float:
        """Increments ``state[p]['step']`` (a float32 scalar tensor, as in PyTorch) and returns it."""
        st = self.state[p]
        step_t = st.get("step")
        if step_t is None:
            step_t = st["step"] = ferrotorch.tensor(0.0)
        elif not isinstance(step_t, ferrotorch.Tensor):
            step_t = st["step"] = ferrotorch.tensor(float(step_t))
        step_t += 1
        return step_t.item()

    @staticmethod
    def _fused(
        kind: str, hyper: dict[str, Any], params: list, grads: list, states: list, coefs: list
    ) -> None:
        """Runs the fused Rust update, one call per dtype present in the group. A non-contiguous parameter
        (a transposed view, say) is updated through a contiguous copy that is written back."""
        if not params:
            return
        strided = [(i, p) for i, p in enumerate(params) if not p.is_contiguous()]
        if strided:
            params = list(params)
            for i, p in strided:
                params[i] = p.contiguous()
        dtypes = {p.dtype for p in params}
        if len(dtypes) == 1:
            _C._optim_update(kind, hyper, params, grads, states, coefs)
        else:
            Optimizer._fused_per_dtype(kind, hyper, params, grads, states, coefs, dtypes)
        for i, p in strided:
            p.copy_(params[i])

    @staticmethod
    def _fused_per_dtype(
        kind: str, hyper: dict, params: list, grads: list, states: list, coefs: list, dtypes: set
    ) -> None:
        for dt in dtypes:
            idx = [i for i, p in enumerate(params) if p.dtype == dt]
            _C._optim_update(
                kind,
                hyper,
                [params[i] for i in idx],
                [grads[i] for i in idx],
                [states[i] for i in idx],
                [coefs[i] for i in idx],
            )

    # ------------------------------------------------------------ state_dict
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: state}, 'param_groups': [...]}`` with integer parameter ids, as PyTorch."""
        mapping: dict[int, int] = {}
        index = 0

        def pack(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal index
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if id(p) not in mapping:
                    mapping[id(p)] = index
                    index += 1
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {mapping[id(p)]: v for p, v in self.state.items() if isinstance(p, ferrotorch.Tensor)}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a state saved by ``state_dict`` (here or by PyTorch); state tensors follow each param's dtype."""
        state_dict = state_dict.copy()
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )

        def cast(param: ferrotorch.Tensor, value: Any, key: str | None) -> Any:
            if isinstance(value, ferrotorch.Tensor):
                if key == "step":
                    return value.clone()
                return value.to(dtype=param.dtype, device=param.device).contiguous().clone()
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            return value

        state: defaultdict[Any, dict] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v, None)
            else:
                state[k] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups

    # --------------------------------------------------------------- printing
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_step_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_step_post_hooks", OrderedDict())

    def _tensor_state(self, *keys: str) -> None:
        """Per-parameter state ``keys`` as float32 tensors, as PyTorch keeps them (old checkpoints hold numbers)."""
        for group in self.param_groups:
            for p in group["params"]:
                p_state = self.state.get(p, {})
                for key in keys:
                    if key in p_state and not isinstance(p_state[key], ferrotorch.Tensor):
                        p_state[key] = ferrotorch.tensor(float(p_state[key]), dtype=ferrotorch.float32)

    def __repr__(self) -> str:
        out = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            out += "\n"
            out += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    out += f"    {key}: {group[key]}\n"
        out += ")"
        return out


def _validate(
    lr: Any,
    *,
    eps: float | None = None,
    betas: tuple | None = None,
    weight_decay: Any = None,
    **nonnegative: float,
) -> None:
    """PyTorch's constructor checks: ``ValueError("Invalid <name> value: <value>")`` for negative settings."""
    if _value(lr) < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps is not None and eps < 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i, b in enumerate(betas or ()):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")
    if weight_decay is not None and _value(weight_decay) < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    for name, v in nonnegative.items():
        if v < 0.0:
            raise ValueError(f"Invalid {name} value: {v}")


def _value(x: Any) -> float:
    """A hyper-parameter that may be a 0-dim tensor, as a Python float."""
    return x.item() if isinstance(x, ferrotorch.Tensor) else float(x)
