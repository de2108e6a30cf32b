"""Lazy modules: ``LazyModuleMixin`` and the layers whose input size is inferred on the first forward
(``LazyLinear``, ``LazyConv*d``, ``LazyConvTranspose*d``, ``LazyBatchNorm*d``, ``LazyInstanceNorm*d``)."""

from __future__ import annotations

import itertools
from typing import Any

import ferrotorch as torch
from ferrotorch.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm, _NormBase
from ferrotorch.nn.modules.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d
from ferrotorch.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, _InstanceNorm
from ferrotorch.nn.modules.linear import Linear
from ferrotorch.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

__all__ = [
    "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
    "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
    "LazyInstanceNorm3d", "LazyLinear", "LazyModuleMixin",
]


class LazyModuleMixin:
    """Mixin for modules whose parameters are :class:`UninitializedParameter` until the first forward.

    A forward pre-hook calls ``initialize_parameters(*args, **kwargs)`` on the first call, checks that
    nothing is left uninitialized, removes itself and turns the module into ``cls_to_become``. Loading a
    ``state_dict`` of initialized tensors materializes the parameters with the checkpoint's shapes.
    """

    # the class the module becomes once fully initialized (``None``: keep the lazy class)
    cls_to_become: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters, with_kwargs=True)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        # uninitialized tensors cannot be detached: they go into the state dict as they are
        for name, param in self._parameters.items():
            if param is not None:
                if not (is_lazy(param) or keep_vars):
                    param = param.detach()
                destination[prefix + name] = param
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                if not (is_lazy(buf) or keep_vars):
                    buf = buf.detach()
                destination[prefix + name] = buf

    def _lazy_load_hook(
        self, state_dict: dict, prefix: str, local_metadata: dict, strict: bool, missing_keys: list[str],
        unexpected_keys: list[str], error_msgs: list[str],
    ) -> None:
        """Materialize each uninitialized tensor that the checkpoint holds an initialized value for."""
        for name, param in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and param is not None:
                input_param = state_dict[key]
                if is_lazy(param) and not is_lazy(input_param):
                    with torch.no_grad():
                        param.materialize(input_param.shape)

    def _load_from_state_dict(
        self, state_dict: dict, prefix: str, local_metadata: dict, strict: bool, missing_keys: list[str],
        unexpected_keys: list[str], error_msgs: list[str],
    ) -> None:
        # PyTorch registers ``_lazy_load_hook`` as a load_state_dict pre-hook; here it runs first directly
        self._lazy_load_hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        # an uninitialized checkpoint entry for a still-uninitialized tensor has nothing to copy
        lazy_keys = [
            prefix + name
            for name, t in itertools.chain(self._parameters.items(), self._buffers.items())
            if is_lazy(t) and is_lazy(state_dict.get(prefix + name))
        ]
        local = {k: v for k, v in state_dict.items() if k not in lazy_keys}
        hidden = {name: self._parameters.pop(name) for name in list(self._parameters) if prefix + name in lazy_keys}
        hidden_buffers = {name: self._buffers.pop(name) for name in list(self._buffers) if prefix + name in lazy_keys}
        try:
            super()._load_from_state_dict(
                local, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
            )
        finally:
            self._parameters.update(hidden)
            self._buffers.update(hidden_buffers)

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Infer the shapes from the first input and materialize the parameters (per layer)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer is still uninitialized."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(), self._buffers.values()))

    def _infer_parameters(self, module: Any, args: tuple, kwargs: dict | None = None) -> None:
        kwargs = kwargs if kwargs else {}
        module.initialize_parameters(*args, **kwargs)
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        delattr(module, "_initialize_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _replicate_for_data_parallel(self) -> Any:
        raise RuntimeError(
            "Modules with uninitialized parameters can't be used with `DataParallel`. "
            "Run a dummy forward pass to correctly initialize the modules"
        )


def _factory(device: Any, dtype: Any) -> dict[str, Any]:
    return {"device": device, "dtype": dtype}


class LazyLinear(LazyModuleMixin, Linear):
    """:class:`Linear` with ``in_features`` inferred from ``input.shape[-1]`` on the first forward.

    ``weight`` ``(out_features, in_features)`` and ``bias`` ``(out_features,)`` start uninitialized.
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        # bias=False: no tensor is built only to be replaced
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(**_factory(device, dtype))
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(**_factory(device, dtype))

    def reset_parameters(self) -> None:
        """Linear's initialisation, once the parameters have a shape."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: torch.Tensor) -> None:
        """Set ``in_features = input.shape[-1]`` and materialize and initialize the parameters."""
        if self.has_uninitialized_params():
            with torch.no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        if self.in_features == 0:
            # parameters came from a state dict: only ``in_features`` is left to set
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(
                    f"The in_features inferred from input: {input.shape[-1]} is not equal to in_features from "
                    f"self.weight: {self.weight.shape[-1]}"
                )
            self.in_features = input.shape[-1]


class _LazyConvXdMixin(LazyModuleMixin):
    """``in_channels`` from the input's channel axis (``input.shape[1]``, or ``[0]`` when unbatched)."""

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        if self.has_uninitialized_params():
            self.in_channels = self._get_in_channels(input)
            if self.in_channels % self.groups != 0:
                raise ValueError("in_channels must be divisible by groups")
            if self.transposed:
                self.weight.materialize((self.in_channels, self.out_channels // self.groups, *self.kernel_size))
            else:
                self.weight.materialize((self.out_channels, self.in_channels // self.groups, *self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _get_in_channels(self, input: torch.Tensor) -> int:
        num_dims_no_batch = self._nd + 1
        num_dims_batch = num_dims_no_batch + 1
        if input.dim() not in (num_dims_no_batch, num_dims_batch):
            raise RuntimeError(
                f"Expected {num_dims_no_batch}D (unbatched) or {num_dims_batch}D (batched) input "
                f"to {self.__class__.__name__}, but got input of size: {input.shape}"
            )
        return input.shape[1] if input.dim() == num_dims_batch else input.shape[0]

    def _get_num_spatial_dims(self) -> int:
        return self._nd


def _lazy_conv_init() -> Any:
    """The ``LazyConv{n}d`` constructor: ``Conv{n}d``'s without ``in_channels``."""

    def __init__(
        self: Any, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
        groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None, dtype: Any = None,
    ) -> None:
        factory = _factory(device, dtype)
        # bias=False: no tensor is built only to be replaced; the mixin's __init__ runs the conv's after it
        LazyModuleMixin.__init__(
            self, 0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, **factory
        )
        self.weight = UninitializedParameter(**factory)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(**factory)

    return __init__


def _lazy_conv_transpose_init() -> Any:
    """The ``LazyConvTranspose{n}d`` constructor: ``ConvTranspose{n}d``'s without ``in_channels``."""

    def __init__(
        self: Any, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
        output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
        padding_mode: str = "zeros", device: Any = None, dtype: Any = None,
    ) -> None:
        factory = _factory(device, dtype)
        LazyModuleMixin.__init__(
            self, 0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode,
            **factory,
        )
        self.weight = UninitializedParameter(**factory)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(**factory)

    return __init__


class LazyConv1d(_LazyConvXdMixin, Conv1d):
    """:class:`Conv1d` with ``in_channels`` inferred from the first input ``(N, C_in, L)``."""

    cls_to_become = Conv1d
    __init__ = _lazy_conv_init()


class LazyConv2d(_LazyConvXdMixin, Conv2d):
    """:class:`Conv2d` with ``in_channels`` inferred from the first input ``(N, C_in, H, W)``."""

    cls_to_become = Conv2d
    __init__ = _lazy_conv_init()


class LazyConv3d(_LazyConvXdMixin, Conv3d):
    """:class:`Conv3d` with ``in_channels`` inferred from the first input ``(N, C_in, D, H, W)``."""

    cls_to_become = Conv3d
    __init__ = _lazy_conv_init()


class LazyConvTranspose1d(_LazyConvXdMixin, ConvTranspose1d):
    """:class:`ConvTranspose1d` with ``in_channels`` inferred from the first input ``(N, C_in, L)``."""

    cls_to_become = ConvTranspose1d
    __init__ = _lazy_conv_transpose_init()


class LazyConvTranspose2d(_LazyConvXdMixin, ConvTranspose2d):
    """:class:`ConvTranspose2d` with ``in_channels`` inferred from the first input ``(N, C_in, H, W)``."""

    cls_to_become = ConvTranspose2d
    __init__ = _lazy_conv_transpose_init()


class _LazyNormBase(LazyModuleMixin, _NormBase):
    """``num_features`` from ``input.shape[1]``; affine parameters and running stats start uninitialized."""

    def __init__(
        self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True, track_running_stats: bool = True,
        device: Any = None, dtype: Any = None, *, bias: bool = True,
    ) -> None:
        factory = _factory(device, dtype)
        # affine/bias/track_running_stats off: no tensors are built only to be replaced
        super().__init__(0, eps, momentum, False, False, device, dtype, bias=False)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if self.affine:
            self.weight = UninitializedParameter(**factory)
            if bias:
                self.bias = UninitializedParameter(**factory)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(**factory)
            self.running_var = UninitializedBuffer(**factory)
            long_kwargs = {"device": device} if device is not None else {}
            self.num_batches_tracked = torch.tensor(0, dtype=torch.long, **long_kwargs)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: torch.Tensor) -> None:
        if self.has_uninitialized_params():
            self.num_features = input.shape[1]
            if self.affine:
                self.weight.materialize((self.num_features,))
                if self.bias is not None:
                    self.bias.materialize((self.num_features,))
            if self.track_running_stats:
                self.running_mean.materialize((self.num_features,))
                self.running_var.materialize((self.num_features,))
            self.reset_parameters()


class LazyBatchNorm1d(_LazyNormBase, _BatchNorm):
    """:class:`BatchNorm1d` with ``num_features`` inferred from ``input.size(1)``."""

    cls_to_become = BatchNorm1d

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() != 2 and input.dim() != 3:
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class LazyBatchNorm2d(_LazyNormBase, _BatchNorm):
    """:class:`BatchNorm2d` with ``num_features`` inferred from ``input.size(1)``."""

    cls_to_become = BatchNorm2d

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class LazyBatchNorm3d(_LazyNormBase, _BatchNorm):
    """:class:`BatchNorm3d` with ``num_features`` inferred from ``input.size(1)``."""

    cls_to_become = BatchNorm3d

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class LazyInstanceNorm1d(_LazyNormBase, _InstanceNorm):
    """:class:`InstanceNorm1d` with ``num_features`` inferred from ``input.size(1)``."""

    cls_to_become = InstanceNorm1d
    _spatial = 1


class LazyInstanceNorm2d(_LazyNormBase, _InstanceNorm):
    """:class:`InstanceNorm2d` with ``num_features`` inferred from ``input.size(1)``."""

    cls_to_become = InstanceNorm2d
    _spatial = 2


class LazyInstanceNorm3d(_LazyNormBase, _InstanceNorm):
    """:class:`InstanceNorm3d` with ``num_features`` inferred from ``input.size(1)``."""

    cls_to_become = InstanceNorm3d
    _spatial = 3
