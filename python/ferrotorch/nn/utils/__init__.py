"""``torch.nn.utils``: gradient clipping, parameter/vector conversion, conv/linear-BN fusion, ``stateless``,
the hook-based ``weight_norm``/``spectral_norm``, ``parametrize``/``parametrizations``, ``skip_init`` and the
``rnn`` sequence helpers."""

from ferrotorch.nn.utils import parametrizations, parametrize, rnn, stateless
from ferrotorch.nn.utils.clip_grad import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from ferrotorch.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from ferrotorch.nn.utils.fusion import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from ferrotorch.nn.utils.init import skip_init
from ferrotorch.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from ferrotorch.nn.utils.weight_norm import remove_weight_norm, weight_norm

__all__ = [
    "clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "fuse_conv_bn_eval",
    "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights", "get_total_norm",
    "parameters_to_vector", "parametrizations", "parametrize", "remove_spectral_norm", "remove_weight_norm", "rnn",
    "skip_init", "spectral_norm", "stateless", "vector_to_parameters", "weight_norm",
]
