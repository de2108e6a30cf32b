"""``torch.func``: composable function transforms (``grad``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``,
``hessian``, ``linearize``, ``vmap``) and the module helpers that go with them (``functional_call``,
``stack_module_state``, ``replace_all_batch_norm_modules_``), built on ferrotorch's autograd."""

from ferrotorch.nn.utils.stateless import functional_call

from .eager_transforms import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, linearize, vjp
from .functionalize import functionalize
from .module_utils import replace_all_batch_norm_modules_, stack_module_state
from .vmap import vmap

__all__ = [
    "functional_call",
    "functionalize",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "linearize",
    "replace_all_batch_norm_modules_",
    "stack_module_state",
    "vjp",
    "vmap",
]
