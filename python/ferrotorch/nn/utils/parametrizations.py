"""``torch.nn.utils.parametrizations``: ``orthogonal``, ``weight_norm`` and ``spectral_norm`` as
parametrizations (see :mod:`ferrotorch.nn.utils.parametrize`), with PyTorch's ``state_dict`` keys."""

from __future__ import annotations

from enum import Enum, auto

import ferrotorch as torch
import ferrotorch.nn.functional as F
from ferrotorch.nn.modules.conv import _ConvTransposeNd
from ferrotorch.nn.modules.module import Module, RemovableHandle
from ferrotorch.nn.utils import parametrize
from ferrotorch.nn.utils.weight_norm import _norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]

Tensor = torch.Tensor


def _is_orthogonal(Q: Tensor) -> bool:
    n, k = Q.size(-2), Q.size(-1)
    Id = torch.eye(k, dtype=Q.dtype, device=Q.device)
    # a reasonable eps, but not too large
    eps = 10.0 * n * torch.finfo(Q.dtype).eps
    return torch.allclose(Q.mH @ Q, Id, atol=eps)


def _make_orthogonal(A: Tensor) -> Tensor:
    """The Q of ``A = QR`` with ``diag(R) >= 0`` (PyTorch: ``geqrf`` + ``householder_product``)."""
    Q, R = torch.linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


def _householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """``linalg.householder_product`` (the fallback where ferrotorch lacks it): the first ``n`` columns of
    ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_iᴴ``.

    ``A`` ``(*, m, n)`` holds the reflectors ``v_i`` below its diagonal (``v_i[i] = 1``, zeros above);
    ``tau`` is ``(*, k)``. Built from matmuls so autograd differentiates it.
    """
    m, n = A.size(-2), A.size(-1)
    rows = torch.arange(m, device=A.device)
    Q = torch.eye(m, dtype=A.dtype, device=A.device).expand(*A.shape[:-2], m, m)
    for i in range(tau.size(-1)):
        below = (rows > i).to(A.dtype)
        unit = (rows == i).to(A.dtype)
        v = (A[..., :, i] * below + unit).unsqueeze(-1)
        # Q H_i = Q - tau_i (Q v) vᴴ
        Q = Q - tau[..., i, None, None] * ((Q @ v) @ v.mH)
    return Q[..., :, :n]


def _geqrf(A: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.geqrf`` (the fallback where ferrotorch lacks it; LAPACK's Householder QR): ``R`` on and above
    the diagonal, the reflectors below, and ``tau``.

    Used without gradients, to initialise the ``householder`` parametrization.
    """
    A = A.clone()
    m, n = A.size(-2), A.size(-1)
    taus = []
    for j in range(min(m, n)):
        x = A[..., j:, j]
        alpha = x[..., 0]
        xnorm = torch.linalg.vector_norm(x[..., 1:], dim=-1)
        norm = torch.sqrt(alpha * alpha + xnorm * xnorm)
        beta = -torch.where(alpha >= 0, norm, -norm)
        reflect = xnorm != 0
        # LAPACK's dlarfg: no reflection (tau = 0) when x is already a multiple of e_1
        safe_beta = torch.where(reflect, beta, torch.ones_like(beta))
        tau = torch.where(reflect, (beta - alpha) / safe_beta, torch.zeros_like(beta))
        scale = torch.where(reflect, 1.0 / (alpha - safe_beta), torch.zeros_like(beta))
        v = torch.cat([torch.ones_like(alpha).unsqueeze(-1), x[..., 1:] * scale.unsqueeze(-1)], dim=-1)
        block = A[..., j:, j:]
        block = block - tau[..., None, None] * (v.unsqueeze(-1) @ (v.unsqueeze(-2) @ block))
        A[..., j:, j:] = block
        # store beta on the diagonal and the reflector below it
        A[..., j, j] = torch.where(reflect, beta, alpha)
        A[..., j + 1:, j] = v[..., 1:]
        taus.append(tau)
    return A, torch.stack(taus, dim=-1)


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    """Maps an unconstrained ``(*, n, k)`` tensor to one with orthonormal columns (rows when ``n < k``)."""

    base: Tensor

    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *, use_trivialization: bool = True) -> None:
        super().__init__()
        # complex reflectors cannot encode a unitary matrix (PyTorch's Note [Householder complex])
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        # X is tall: (*, n, k), n >= k
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()
            if n != k:
                # embed into a square matrix
                X = torch.cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = X - X.mH  # skew-symmetric
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = torch.matrix_exp(A)
            else:
                # the Cayley retraction (I + A/2)(I - A/2)^{-1}
                Id = torch.eye(n, dtype=A.dtype, device=A.device)
                Q = torch.linalg.solve(torch.add(Id, A, alpha=-0.5), torch.add(Id, A, alpha=0.5))
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = getattr(torch.linalg, "householder_product", _householder_product)(A, tau)
            # X's diagonal holds the signs (±1); cast so it is neither differentiated nor updated
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if hasattr(self, "base"):
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        if Q.shape != self.shape:
            raise ValueError(
                f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape {Q.shape}."
            )
        with torch.no_grad():
            Q_init = Q
            n, k = Q.size(-2), Q.size(-1)
            transpose = n < k
            if transpose:
                Q = Q.mT
                n, k = k, n
            if not hasattr(self, "base"):
                if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                    raise NotImplementedError(
                        "It is not possible to assign to the matrix exponential "
                        "or the Cayley parametrizations when use_trivialization=False."
                    )
                # householder: the reflectors of Q's QR decomposition, with the signs of diag(R) on the diagonal
                A, tau = getattr(torch, "geqrf", _geqrf)(Q)
                signs = A.diagonal(dim1=-2, dim2=-1).sign()
                # no reflection was used (tau == 0): forward's tau = 2 flips that column, so flip the sign too
                signs = torch.where(tau == 0.0, -signs, signs)
                eye = torch.eye(A.size(-2), A.size(-1), dtype=A.dtype, device=A.device)
                A = A * (1 - eye) + eye * signs.unsqueeze(-2)
                return A.mT if transpose else A
            if n == k:
                Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
            else:
                # complete Q into a full n x n orthogonal matrix
                N = torch.randn(*(Q.size()[:-2] + (n, n - k)), dtype=Q.dtype, device=Q.device)
                Q = _make_orthogonal(torch.cat([Q, N], dim=-1))
            self.base = Q
            # -Id: with the householder map, householder(zeros) == eye, so original starts at the base
            neg_Id = torch.zeros_like(Q_init)
            neg_Id.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
            return neg_Id


def orthogonal(
    module: Module, name: str = "weight", orthogonal_map: str | None = None, *, use_trivialization: bool = True
) -> Module:
    """Constrain the matrix (or batch of matrices) ``module.<name>`` ``(*, n, k)`` to be orthogonal.

    ``orthogonal_map``: ``"matrix_exp"`` (default for square/complex), ``"cayley"`` or ``"householder"``
    (default otherwise). With ``use_trivialization`` the map is applied around a ``base`` buffer (the
    initial orthogonal matrix), so the parametrized weight starts at the closest orthogonal matrix to it.
    State dict: ``parametrizations.<name>.original`` and ``parametrizations.<name>.0.base``.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(  # noqa: TRY004 - PyTorch's exception type
            f"Module '{module}' has no parameter or buffer with name '{name}'"
        )
    # 1-D would be maps on the sphere; PyTorch does not offer them
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = (
            "matrix_exp" if weight.size(-2) == weight.size(-1) or weight.is_complex() else "householder"
        )
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError(
            f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: {orthogonal_map}'
        )
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


class _WeightNorm(Module):
    """``(g, v) -> v * g / ||v||`` (norm over every axis but ``dim``; the whole tensor for ``dim=-1``)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        if dim is None:
            dim = -1
        self.dim = dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int = 0) -> Module:
    """Reparametrize ``module.<name>`` as ``g * v / ||v||``: magnitude ``original0`` (``g``, every axis but
    ``dim`` reduced to 1; a scalar for ``dim=None``) and direction ``original1`` (``v``).

    State dict: ``parametrizations.<name>.original0`` and ``parametrizations.<name>.original1``; checkpoints
    of the old hook-based ``weight_norm`` (``<name>_g``/``<name>_v``) still load.
    """
    _weight_norm = _WeightNorm(dim)
    parametrize.register_parametrization(module, name, _weight_norm, unsafe=True)

    def _weight_norm_compat_hook(
        state_dict: dict, prefix: str, local_metadata: dict, strict: bool, missing_keys: list[str],
        unexpected_keys: list[str], error_msgs: list[str],
    ) -> None:
        g_key = f"{prefix}{name}_g"
        v_key = f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            original0 = state_dict.pop(g_key)
            original1 = state_dict.pop(v_key)
            state_dict[f"{prefix}parametrizations.{name}.original0"] = original0
            state_dict[f"{prefix}parametrizations.{name}.original1"] = original1

    # PyTorch's ``_register_load_state_dict_pre_hook``; the Parametrized class runs these hooks
    handle = RemovableHandle(module._load_state_dict_pre_hooks)
    module._load_state_dict_pre_hooks[handle.id] = _weight_norm_compat_hook
    return module


class _SpectralNorm(Module):
    """``W -> W / sigma(W)``, ``sigma`` estimated by power iteration on the ``_u``/``_v`` buffers."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            # a 1-D weight needs no estimate (see forward)
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.size()
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            # start from reasonable u, v
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        # in place, so the estimate carries over between forwards (and replicas sharing the buffers)
        with torch.no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(torch.mv(weight_mat.mH, self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            # exact: the spectral norm of a vector is its 2-norm
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        # clones: a backward through two forwards must not see the buffers' later in-place updates
        u = self._u.clone()
        v = self._v.clone()
        sigma = torch.vdot(u, torch.mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> Module:
    """Reparametrize ``module.<name>`` as ``W / sigma(W)``, ``sigma`` the largest singular value of ``W``
    viewed as a ``(W.size(dim), -1)`` matrix, refined by ``n_power_iterations`` per forward in training.

    ``dim`` defaults to 1 for ConvTranspose modules and 0 otherwise. State dict:
    ``parametrizations.<name>.original``, ``parametrizations.<name>.0._u`` and ``parametrizations.<name>.0._v``.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(  # noqa: TRY004 - PyTorch's exception type
            f"Module '{module}' has no parameter or buffer with name '{name}'"
        )
    if dim is None:
        dim = 1 if isinstance(module, _ConvTransposeNd) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
