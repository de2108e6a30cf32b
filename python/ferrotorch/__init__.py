"""ferrotorch: PyTorch's Python API on a Rust core. ``import ferrotorch as torch``."""

from __future__ import annotations

import builtins as _builtins

from . import _C
from ._C import (
    Generator,
    Tensor,
    arange,
    as_tensor,
    bernoulli,
    can_cast,
    cat,
    device,
    dtype,
    empty,
    eye,
    from_numpy,
    full,
    get_default_dtype,
    get_num_threads,
    is_grad_enabled,
    is_inference_mode_enabled,
    linspace,
    multinomial,
    ones,
    promote_types,
    rand,
    randint,
    randn,
    randperm,
    result_type,
    set_default_dtype,
    set_num_threads,
    stack,
    tensor,
    zeros,
)
from ._size import Size
from . import _tensor  # adds the Python-side Tensor methods
from ._tensor import return_types
from ._functions import FUNCTIONS as _FUNCTIONS
from ._functions import (
    allclose,
    bincount,
    broadcast_shapes,
    broadcast_tensors,
    bucketize,
    cdist,
    column_stack,
    concat,
    concatenate,
    diag,
    dstack,
    einsum,
    empty_like,
    equal,
    full_like,
    hstack,
    is_floating_point,
    is_nonzero,
    is_tensor,
    isclose,
    logspace,
    meshgrid,
    normal,
    numel,
    ones_like,
    rand_like,
    randint_like,
    randn_like,
    searchsorted,
    trace,
    vstack,
    where,
    zeros_like,
)
from ._grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled
from ._legacy import LEGACY as _LEGACY

globals().update({k: v for k, v in _FUNCTIONS.items() if k not in globals()})
globals().update(_LEGACY)
from ._composite_ops import COMPOSITES as _COMPOSITES  # adds their Tensor methods too

globals().update({k: v for k, v in _COMPOSITES.items() if k not in globals()})
from ._torch_aliases import ALIASES as _ALIASES  # adds their Tensor methods too
from ._windows import WINDOWS as _WINDOWS

globals().update({k: v for k, v in {**_ALIASES, **_WINDOWS}.items() if k not in globals()})
from ._torch_views import VIEWS as _VIEWS  # the *_copy family, as_strided, empty_strided, ...
from ._torch_native import NATIVE as _NATIVE  # native_* ops, RNN cells, torch.embedding_bag
from ._torch_buffers import BUFFERS as _BUFFERS  # frombuffer, from_file, from_dlpack

globals().update({k: v for k, v in {**_VIEWS, **_NATIVE, **_BUFFERS}.items() if k not in globals()})

from . import amp, autograd, backends, cuda
from .autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled, set_anomaly_enabled
from .cuda import OutOfMemoryError
from .linalg import (  # also binds the ferrotorch.linalg submodule; the older top-level forms:
    _chain_matmul as chain_matmul, _cholesky_inverse as cholesky_inverse, _cholesky_solve as cholesky_solve,
    _det as det, _inverse as inverse, _logdet as logdet, _matrix_exp as matrix_exp,
    _matrix_power as matrix_power, _pinverse as pinverse, _slogdet as slogdet, _torch_cholesky as cholesky,
    _torch_cross as cross, _torch_qr as qr, _torch_svd as svd,
)
from ._linalg_lu import TOP_LEVEL as _LINALG_LU  # torch.lu, lu_unpack, lu_solve, triangular_solve, ...

globals().update({k: v for k, v in _LINALG_LU.items() if k not in globals()})
from ._torch_numeric import NUMERIC as _NUMERIC  # gradient, histogramdd, lobpcg, real/conj/angle, cond, ...

globals().update({k: v for k, v in _NUMERIC.items() if k not in globals()})
from .amp import autocast
from .amp.grad_scaler import _amp_foreach_non_finite_check_and_unscale_
from ._foreach import FOREACH as _FOREACH

globals().update(_FOREACH)
from .amp.autocast_mode import (
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
)
from . import datasets, nn, optim, utils
from . import func  # torch.func; after nn, which it builds on
from .func import vmap  # torch.vmap
from . import special
from . import distributions  # torch.distributions; after nn and special, which it builds on
from ._dtype_info import finfo, iinfo
from ._scatter_reduce import index_reduce_fn as index_reduce
from ._scatter_reduce import scatter_reduce_fn as scatter_reduce
from .special import igamma, igammac, nextafter, polygamma
from .serialization import load, save

__version__ = "0.1.0"

# dtypes and PyTorch's aliases (assigned last: they shadow builtins in this namespace)
bool = _C.bool
uint8 = _C.uint8
int8 = _C.int8
int16 = short = _C.int16
int32 = int = _C.int32
int64 = long = _C.int64
float16 = half = _C.float16
bfloat16 = _C.bfloat16
float32 = float = _C.float32
float64 = double = _C.float64

strided = "torch.strided"
contiguous_format = preserve_format = channels_last = None
inf = _builtins.float("inf")
nan = _builtins.float("nan")
pi = 3.141592653589793
e = 2.718281828459045


# torch.manual_seed & co. are torch.random's (which needs only _C; torch.testing needs the dtypes above)
from . import random
from .random import default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from . import testing


def set_default_device(device) -> None:
    """Factory functions (``zeros``, ``tensor``, ``randn``, ...) given no ``device`` create tensors on ``device``
    (None: the CPU), in this thread. ``with torch.device(d):`` does the same for a block."""
    _C._set_default_device(device)


def get_default_device() -> device:
    """The device factory functions use when given none (``cuda`` comes back with its current index)."""
    d = _C._get_default_device()
    if d is None:
        return _C.device("cpu")
    return d if d.index is not None else _C.empty(0).device


def set_printoptions(*args, **kwargs) -> None:
    from ._tensor_str import set_printoptions as _set

    _set(*args, **kwargs)


def is_storage(obj) -> _builtins.bool:
    return False


def compile(model=None, **kwargs):
    """``torch.compile`` is the identity here: the model already runs on compiled kernels."""
    if model is None:
        return lambda m: m
    return model


_MATMUL_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision: str) -> None:
    """'highest' keeps float32 GEMMs in float32; 'high'/'medium' let GPUs use TF32 (as PyTorch)."""
    if precision not in _MATMUL_PRECISIONS:
        raise RuntimeError(f"Invalid precision {precision!r}; expected one of {_MATMUL_PRECISIONS}")
    backends.cuda.matmul.allow_tf32 = precision != "highest"


def get_float32_matmul_precision() -> str:
    return "high" if backends.cuda.matmul.allow_tf32 else "highest"
