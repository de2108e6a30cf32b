"""``torch.backends``: flags scripts set; only the ones with meaning on this build do anything."""

from __future__ import annotations

from types import SimpleNamespace

from .. import _C

cudnn = SimpleNamespace(benchmark=False, deterministic=False, enabled=True, allow_tf32=True,
                        is_available=lambda: False)
mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)


class _Matmul:
    """``torch.backends.cuda.matmul``: ``allow_tf32`` lets float32 GEMMs on a GPU use TF32 tensor
    cores (10-bit mantissa inputs, float32 accumulation). Off by default, as in PyTorch."""

    def __init__(self) -> None:
        self._allow_tf32 = False

    @property
    def allow_tf32(self) -> bool:
        return self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, on: bool) -> None:
        self._allow_tf32 = bool(on)
        if hasattr(_C, "_cuda_set_allow_tf32"):
            _C._cuda_set_allow_tf32(self._allow_tf32)


def _cuda_is_built() -> bool:
    from .. import cuda as _cuda

    return _cuda.is_built()


cuda = SimpleNamespace(matmul=_Matmul(), is_built=_cuda_is_built)
