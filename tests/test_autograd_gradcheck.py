"""Every differentiable tensor-core op's backward formula against central finite differences (float64),
plus second derivatives (gradgradcheck) on a representative subset."""

import math

import ferrotorch as torch
import ferrotorch.nn.functional as F
import pytest
from ferrotorch.autograd import Function, gradcheck, gradgradcheck

D = torch.float64


def _gen():
    g = torch.Generator()
    g.manual_seed(1234)
    return g


def R(*shape, lo=None, hi=None, away=None):
    """A float64 leaf requiring grad: randn, or uniform in [lo, hi); ``away`` keeps |x| >= away (kinks)."""
    def make(gen):
        if lo is not None:
            t = torch.rand(*shape, generator=gen, dtype=D) * (hi - lo) + lo
        else:
            t = torch.randn(*shape, generator=gen, dtype=D)
        if away is not None:
            t = torch.where(t.abs() < away, t.sign() * away + t, t)
            t = torch.where(t == 0, torch.full_like(t, away), t)
        return t.requires_grad_(True)
    return make


def C(value):
    """A constant (non-differentiable) argument."""
    return lambda gen: value


def distinct(*shape):
    """Values far apart from each other (for max/min/sort/topk: no ties within eps)."""
    def make(gen):
        n = math.prod(shape)
        perm = torch.randperm(n, generator=gen).to(D)
        return (perm * 0.37 - n * 0.1).reshape(*shape).requires_grad_(True)
    return make


def idx(values):
    return C(torch.tensor(values, dtype=torch.int64))


POS = {"lo": 0.5, "hi": 2.0}
UNIT = {"lo": -0.9, "hi": 0.9}

UNARY = [
    ("abs", lambda x: x.abs(), [R(3, 4, away=0.1)]),
    ("neg", lambda x: -x, [R(3, 4)]),
    ("exp", torch.exp, [R(3, 4)]),
    ("exp2", lambda x: x.exp2(), [R(3, 4)]),
    ("expm1", lambda x: x.expm1(), [R(3, 4)]),
    ("log", torch.log, [R(3, 4, **POS)]),
    ("log2", lambda x: x.log2(), [R(3, 4, **POS)]),
    ("log10", lambda x: x.log10(), [R(3, 4, **POS)]),
    ("log1p", lambda x: x.log1p(), [R(3, 4, **POS)]),
    ("sqrt", torch.sqrt, [R(3, 4, **POS)]),
    ("rsqrt", lambda x: x.rsqrt(), [R(3, 4, **POS)]),
    ("sin", torch.sin, [R(3, 4)]),
    ("cos", torch.cos, [R(3, 4)]),
    ("tan", lambda x: x.tan(), [R(3, 4, **UNIT)]),
    ("asin", lambda x: x.asin(), [R(3, 4, **UNIT)]),
    ("acos", lambda x: x.acos(), [R(3, 4, **UNIT)]),
    ("atan", lambda x: x.atan(), [R(3, 4)]),
    ("sinh", lambda x: x.sinh(), [R(3, 4)]),
    ("cosh", lambda x: x.cosh(), [R(3, 4)]),
    ("asinh", lambda x: x.asinh(), [R(3, 4)]),
    ("acosh", lambda x: x.acosh(), [R(3, 4, lo=1.2, hi=3.0)]),
    ("atanh", lambda x: x.atanh(), [R(3, 4, **UNIT)]),
    ("tanh", torch.tanh, [R(3, 4)]),
    ("sigmoid", torch.sigmoid, [R(3, 4)]),
    ("erf", lambda x: x.erf(), [R(3, 4)]),
    ("reciprocal", lambda x: x.reciprocal(), [R(3, 4, away=0.3)]),
    ("square", lambda x: x.square(), [R(3, 4)]),
    ("frac", lambda x: x.frac(), [R(3, 4, lo=0.1, hi=0.9)]),
    ("sign", lambda x: x.sign(), [R(3, 4, away=0.1)]),
    ("floor", lambda x: x.floor(), [R(3, 4, lo=0.1, hi=0.9)]),
    ("ceil", lambda x: x.ceil(), [R(3, 4, lo=0.1, hi=0.9)]),
    ("round", lambda x: x.round(), [R(3, 4, lo=0.1, hi=0.4)]),
    ("trunc", lambda x: x.trunc(), [R(3, 4, lo=0.1, hi=0.9)]),
    ("pow_scalar", lambda x: x ** 3, [R(3, 4)]),
    ("pow_frac", lambda x: x ** 2.5, [R(3, 4, **POS)]),
    ("pow_neg", lambda x: x ** -1.5, [R(3, 4, **POS)]),
    ("rpow", lambda x: 2.0 ** x, [R(3, 4)]),
    ("clamp", lambda x: x.clamp(-0.5, 0.5), [R(3, 4, away=0.05)]),
    ("clamp_min", lambda x: x.clamp(min=0.1), [R(3, 4, away=0.05)]),
    ("clamp_max", lambda x: torch.clamp(x, max=-0.1), [R(3, 4, away=0.05)]),
    ("nan_to_num", lambda x: x.nan_to_num(), [R(3, 4)]),
    ("to_same_dtype", lambda x: x.to(D) * 1, [R(3)]),
    ("clone", lambda x: x.clone(), [R(3, 4)]),
    ("contiguous", lambda x: x.t().contiguous(), [R(3, 4)]),
]

BINARY = [
    ("add", lambda a, b: a + b, [R(3, 4), R(3, 4)]),
    ("add_bcast", lambda a, b: a + b, [R(3, 1, 4), R(2, 1)]),
    ("add_alpha", lambda a, b: torch.add(a, b, alpha=2.5), [R(3, 4), R(4)]),
    ("add_scalar", lambda a: a + 2, [R(3, 4)]),
    ("sub", lambda a, b: a - b, [R(2, 3), R(3)]),
    ("sub_alpha", lambda a, b: a.sub(b, alpha=0.5), [R(2, 3), R(2, 3)]),
    ("rsub", lambda a: 3 - a, [R(2, 3)]),
    ("mul", lambda a, b: a * b, [R(2, 3), R(2, 3)]),
    ("mul_bcast", lambda a, b: a * b, [R(4, 1), R(1, 3)]),
    ("mul_scalar_tensor", lambda a, b: a * b, [R(2, 3), R()]),
    ("div", lambda a, b: a / b, [R(2, 3), R(2, 3, away=0.5)]),
    ("div_bcast", lambda a, b: a / b, [R(2, 3), R(3, away=0.5)]),
    ("rdiv", lambda a: 2 / a, [R(2, 3, away=0.5)]),
    ("pow_tensor", lambda a, b: a ** b, [R(2, 3, **POS), R(2, 3)]),
    ("pow_bcast", lambda a, b: torch.pow(a, b), [R(2, 3, **POS), R(3)]),
    ("rpow_tensor", lambda b: 1.5 ** b, [R(2, 3)]),
    ("atan2", lambda a, b: torch.atan2(a, b), [R(2, 3), R(2, 3, away=0.3)]),
    ("atan2_bcast", lambda a, b: a.atan2(b), [R(2, 3), R(1, 3, away=0.3)]),
    ("maximum", lambda a, b: torch.maximum(a, b), [distinct(2, 3), R(2, 3)]),
    ("minimum", lambda a, b: torch.minimum(a, b), [distinct(2, 3), R(2, 3)]),
    ("maximum_bcast", lambda a, b: torch.maximum(a, b), [distinct(2, 3), R(3)]),
    ("fmod", lambda a, b: torch.fmod(a, b), [R(2, 3, lo=0.1, hi=0.9), R(2, 3, lo=1.1, hi=1.9)]),
    ("remainder", lambda a, b: torch.remainder(a, b), [R(2, 3, lo=2.1, hi=2.9), R(2, 3, lo=1.1, hi=1.4)]),
    ("lerp_scalar", lambda a, b: torch.lerp(a, b, 0.3), [R(2, 3), R(2, 3)]),
    ("lerp_tensor", lambda a, b, w: torch.lerp(a, b, w), [R(2, 3), R(2, 3), R(2, 3)]),
    ("lerp_bcast", lambda a, b, w: a.lerp(b, w), [R(2, 3), R(3), R(2, 1)]),
    ("addcmul", lambda a, b, c: torch.addcmul(a, b, c, value=0.5), [R(2, 3), R(2, 3), R(3)]),
    ("addcdiv", lambda a, b, c: torch.addcdiv(a, b, c, value=2.0), [R(2, 3), R(2, 3), R(2, 3, away=0.5)]),
    ("where", lambda a, b: torch.where(a > 0, a, b), [R(3, 4, away=0.1), R(3, 4)]),
    ("where_bcast", lambda a, b: torch.where(torch.tensor([True, False, True]), a, b), [R(2, 3), R(1)]),
    ("where_scalar", lambda a: torch.where(a > 0, a, 0.0), [R(3, 4, away=0.1)]),
    ("clamp_tensor", lambda x, lo, hi: torch.clamp(x, lo, hi),
     [R(3, 4, away=0.05), C(torch.full((4,), -0.5, dtype=D)), C(torch.full((3, 1), 0.5, dtype=D))]),
    ("clamp_tensor_bounds_grad", lambda x, lo: torch.clamp(x, min=lo), [distinct(3, 4), R(4)]),
]

REDUCE = [
    ("sum", lambda x: x.sum(), [R(2, 3, 4)]),
    ("sum_dim", lambda x: x.sum(1), [R(2, 3, 4)]),
    ("sum_dim_keepdim", lambda x: x.sum(-1, keepdim=True), [R(2, 3, 4)]),
    ("sum_dims", lambda x: torch.sum(x, (0, 2)), [R(2, 3, 4)]),
    ("mean", lambda x: x.mean(), [R(2, 3, 4)]),
    ("mean_dim", lambda x: x.mean(0), [R(2, 3, 4)]),
    ("mean_dims_keepdim", lambda x: x.mean((1, 2), keepdim=True), [R(2, 3, 4)]),
    ("prod", lambda x: x.prod(), [R(2, 3, lo=0.5, hi=1.5)]),
    ("prod_dim", lambda x: x.prod(1), [R(2, 3)]),
    ("prod_dim_keepdim", lambda x: x.prod(0, keepdim=True), [R(3, 2)]),
    ("prod_with_zero", lambda x: (x * torch.tensor([1.0, 0.0, 1.0], dtype=D)).prod(), [R(3)]),
    ("max_all", lambda x: x.max(), [distinct(3, 4)]),
    ("min_all", lambda x: torch.min(x), [distinct(3, 4)]),
    ("max_dim", lambda x: x.max(1)[0], [distinct(3, 4)]),
    ("max_dim_keepdim", lambda x: torch.max(x, 0, keepdim=True).values, [distinct(3, 4)]),
    ("min_dim", lambda x: x.min(dim=-1).values, [distinct(3, 4)]),
    ("max_binary", lambda a, b: torch.max(a, b), [distinct(3, 4), R(3, 4)]),
    ("amax", lambda x: x.amax(), [distinct(3, 4)]),
    ("amax_dim", lambda x: x.amax(dim=1), [distinct(3, 4)]),
    ("amin_dims_keepdim", lambda x: torch.amin(x, dim=(0, 1), keepdim=True), [distinct(2, 3, 2)]),
    ("std", lambda x: x.std(), [R(3, 4)]),
    ("std_dim", lambda x: x.std(1), [R(3, 4)]),
    ("std_unbiased_false", lambda x: x.std(0, unbiased=False, keepdim=True), [R(3, 4)]),
    ("var", lambda x: x.var(), [R(3, 4)]),
    ("var_dim", lambda x: torch.var(x, 1), [R(3, 4)]),
    ("var_correction", lambda x: x.var(dim=0, correction=0), [R(3, 4)]),
    ("norm", lambda x: x.norm(), [R(3, 4)]),
    ("norm_p1", lambda x: x.norm(p=1), [R(3, 4, away=0.1)]),
    ("norm_p3_dim", lambda x: x.norm(p=3, dim=1), [R(3, 4, away=0.1)]),
    ("norm_inf", lambda x: x.norm(p=float("inf")), [distinct(3, 4)]),
    ("norm_dim_keepdim", lambda x: torch.norm(x, dim=0, keepdim=True), [R(3, 4)]),
    ("logsumexp", lambda x: x.logsumexp(1), [R(3, 4)]),
    ("logsumexp_keepdim", lambda x: torch.logsumexp(x, 0, keepdim=True), [R(3, 4)]),
    ("cumsum", lambda x: x.cumsum(0), [R(3, 4)]),
    ("cumsum_last", lambda x: torch.cumsum(x, dim=-1), [R(3, 4)]),
    ("cumprod", lambda x: x.cumprod(1), [R(3, 4)]),
    ("cumprod_dim0", lambda x: torch.cumprod(x, 0), [R(3, 2, lo=0.5, hi=1.5)]),
    ("topk", lambda x: x.topk(2).values, [distinct(3, 4)]),
    ("topk_dim0_smallest", lambda x: torch.topk(x, 2, dim=0, largest=False)[0], [distinct(3, 4)]),
    ("sort", lambda x: x.sort().values, [distinct(3, 4)]),
    ("sort_desc_dim0", lambda x: torch.sort(x, dim=0, descending=True)[0], [distinct(3, 4)]),
    ("median", lambda x: x.median(), [distinct(3, 3)]),
    ("median_dim", lambda x: x.median(1).values, [distinct(3, 3)]),
    ("kthvalue", lambda x: x.kthvalue(2, 1).values, [distinct(3, 4)]),
    ("trace", lambda x: torch.trace(x), [R(3, 3)]),
]

INDEX = [
    ("int_index", lambda x: x[1], [R(3, 4)]),
    ("slice", lambda x: x[1:3], [R(4, 3)]),
    ("step_slice", lambda x: x[:, ::2], [R(3, 5)]),
    ("neg_index_ellipsis_none", lambda x: x[..., -1, None], [R(2, 3, 4)]),
    ("list_index", lambda x: x[[0, 2, 2]], [R(3, 4)]),
    ("tensor_index_dim1", lambda x: x[:, torch.tensor([3, 0, 3])], [R(2, 4)]),
    ("two_tensor_index", lambda x: x[torch.tensor([0, 1, 1]), torch.tensor([2, 0, 2])], [R(2, 3)]),
    ("bool_mask", lambda x: x[x > 0], [R(3, 4, away=0.1)]),
    ("select", lambda x: x.select(1, 2), [R(3, 4)]),
    ("gather", lambda x, i: torch.gather(x, 1, i), [R(3, 4), idx([[0, 0], [3, 1], [2, 2]])]),
    ("gather_dim0", lambda x, i: x.gather(0, i), [R(3, 4), idx([[2, 1, 0, 0]])]),
    ("scatter_src", lambda x, s: x.scatter(1, torch.tensor([[1, 0], [2, 3]]), s), [R(2, 4), R(2, 2)]),
    ("scatter_value", lambda x: torch.scatter(x, 0, torch.tensor([[1, 0, 1]]), 2.0), [R(2, 3)]),
    ("scatter_add", lambda x, s: x.scatter_add(1, torch.tensor([[1, 1], [0, 3]]), s), [R(2, 4), R(2, 2)]),
    ("scatter_add_fn", lambda x, s: torch.scatter_add(x, 0, torch.tensor([[0, 1, 0], [0, 0, 1]]), s),
     [R(2, 3), R(2, 3)]),
    ("index_select", lambda x: x.index_select(1, torch.tensor([2, 0, 2])), [R(3, 4)]),
    ("index_select_fn", lambda x: torch.index_select(x, 0, torch.tensor([1, 1])), [R(3, 4)]),
    ("index_put", lambda x, v: x.index_put((torch.tensor([0, 2]),), v), [R(3, 4), R(2, 4)]),
    ("index_put_accumulate", lambda x, v: x.index_put((torch.tensor([1, 1]), torch.tensor([0, 0])), v,
                                                      accumulate=True), [R(3, 4), R(2)]),
    ("masked_fill", lambda x: x.masked_fill(torch.tensor([[True, False, True]]), -1.0), [R(2, 3)]),
    ("masked_fill_fn", lambda x: torch.masked_fill(x, x > 0, 0.0), [R(2, 3, away=0.1)]),
    ("masked_select", lambda x: x.masked_select(torch.tensor([True, False, True])), [R(2, 3)]),
    ("take", lambda x: torch.take(x, torch.tensor([[0, 5], [5, 2]])), [R(2, 3)]),
    ("setitem_nonleaf", lambda x, v: _setitem(x, (slice(None), 1), v), [R(3, 4), R(3)]),
    ("setitem_tensor_index", lambda x, v: _setitem(x, torch.tensor([0, 2]), v), [R(3, 2), R(2)]),
    ("setitem_mask_scalar", lambda x: _setitem(x, x > 0, 0.5), [R(3, 2, away=0.1)]),
]


def _setitem(x, index, v):
    y = x * 1
    y[index] = v
    return y


VIEWS = [
    ("view", lambda x: x.view(4, 3), [R(3, 4)]),
    ("view_neg1", lambda x: x.view(-1), [R(3, 4)]),
    ("reshape", lambda x: x.reshape(2, 6), [R(3, 4)]),
    ("reshape_noncontig", lambda x: x.t().reshape(-1), [R(3, 4)]),
    ("transpose", lambda x: x.transpose(0, 2), [R(2, 3, 4)]),
    ("t", lambda x: x.t(), [R(3, 4)]),
    ("T", lambda x: x.T, [R(3, 4)]),
    ("mT", lambda x: x.mT, [R(2, 3, 4)]),
    ("permute", lambda x: x.permute(2, 0, 1), [R(2, 3, 4)]),
    ("movedim", lambda x: x.movedim(0, -1), [R(2, 3, 4)]),
    ("expand", lambda x: x.expand(2, 3, 4), [R(3, 1)]),
    ("expand_neg1", lambda x: x.expand(-1, 4), [R(3, 1)]),
    ("expand_as", lambda x: x.expand_as(torch.zeros(2, 3)), [R(3)]),
    ("squeeze", lambda x: x.squeeze(), [R(3, 1, 4, 1)]),
    ("squeeze_dim", lambda x: x.squeeze(1), [R(3, 1, 4)]),
    ("unsqueeze", lambda x: x.unsqueeze(1), [R(3, 4)]),
    ("narrow", lambda x: x.narrow(1, 1, 2), [R(3, 4)]),
    ("unfold", lambda x: x.unfold(1, 2, 1), [R(2, 4)]),
    ("unfold_step", lambda x: x.unfold(0, 2, 2), [R(5, 2)]),
    ("diagonal", lambda x: x.diagonal(), [R(3, 4)]),
    ("diagonal_offset", lambda x: torch.diagonal(x, 1), [R(3, 4)]),
    ("diag_vec", lambda x: torch.diag(x), [R(3)]),
    ("diag_mat", lambda x: torch.diag(x), [R(3, 3)]),
    ("flatten", lambda x: x.flatten(), [R(2, 3, 2)]),
    ("flatten_range", lambda x: torch.flatten(x, 1), [R(2, 3, 2)]),
    ("view_of_view", lambda x: x[:, 1:].t().reshape(2, 3)[0], [R(2, 4)]),
    ("as_strided", lambda x: x.as_strided((2, 2), (1, 2)), [R(4)]),
    ("unbind", lambda x: x.unbind(1)[1], [R(3, 4)]),
    ("flip", lambda x: x.flip(0), [R(3, 4)]),
    ("roll", lambda x: x.roll(1, 1), [R(3, 4)]),
    ("repeat", lambda x: x.repeat(2, 3), [R(2, 2)]),
    ("tril", lambda x: x.tril(), [R(3, 3)]),
    ("triu_diag", lambda x: torch.triu(x, 1), [R(3, 4)]),
    ("view_as", lambda x: x.view_as(torch.zeros(6)), [R(2, 3)]),
]

JOIN = [
    ("cat", lambda a, b: torch.cat([a, b]), [R(2, 3), R(1, 3)]),
    ("cat_dim1", lambda a, b, c: torch.cat((a, b, c), dim=1), [R(2, 3), R(2, 1), R(2, 2)]),
    ("cat_neg_dim", lambda a, b: torch.cat([a, b], -1), [R(2, 3), R(2, 2)]),
    ("stack", lambda a, b: torch.stack([a, b]), [R(2, 3), R(2, 3)]),
    ("stack_dim1", lambda a, b: torch.stack([a, b], dim=1), [R(2, 3), R(2, 3)]),
    ("split", lambda x: x.split(2)[1], [R(5, 2)]),
    ("split_all", lambda x: torch.split(x, 2, dim=1), [R(2, 5)]),
    ("split_sizes", lambda x: x.split([1, 3], dim=1), [R(2, 4)]),
    ("chunk", lambda x: x.chunk(3), [R(6, 2)]),
    ("chunk_dim1", lambda x: torch.chunk(x, 2, dim=1)[0], [R(2, 5)]),
]

MATMUL = [
    ("matmul_1d_1d", torch.matmul, [R(3), R(3)]),
    ("matmul_1d_2d", torch.matmul, [R(3), R(3, 2)]),
    ("matmul_2d_1d", torch.matmul, [R(2, 3), R(3)]),
    ("matmul_2d_2d", torch.matmul, [R(2, 3), R(3, 4)]),
    ("matmul_3d_3d", torch.matmul, [R(2, 2, 3), R(2, 3, 2)]),
    ("matmul_3d_2d", torch.matmul, [R(2, 2, 3), R(3, 2)]),
    ("matmul_2d_3d", torch.matmul, [R(2, 3), R(2, 3, 2)]),
    ("matmul_1d_3d", torch.matmul, [R(3), R(2, 3, 2)]),
    ("matmul_3d_1d", torch.matmul, [R(2, 2, 3), R(3)]),
    ("matmul_bcast_4d_3d", torch.matmul, [R(2, 1, 2, 3), R(3, 3, 2)]),
    ("matmul_bcast_batch1", torch.matmul, [R(1, 2, 3), R(2, 3, 2)]),
    ("matmul_transposed", lambda a, b: a.t() @ b.t(), [R(3, 2), R(4, 3)]),
    ("matmul_self", lambda a: a @ a, [R(2, 2)]),
    ("mm", torch.mm, [R(2, 3), R(3, 4)]),
    ("mm_method", lambda a, b: a.mm(b), [R(2, 3), R(3, 2)]),
    ("bmm", torch.bmm, [R(2, 2, 3), R(2, 3, 2)]),
    ("mv", torch.mv, [R(2, 3), R(3)]),
    ("dot", torch.dot, [R(4), R(4)]),
    ("outer", torch.outer, [R(3), R(2)]),
    ("addmm", lambda c, a, b: torch.addmm(c, a, b), [R(2, 4), R(2, 3), R(3, 4)]),
    ("addmm_bcast_alpha_beta", lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2.0), [R(4), R(2, 3), R(3, 4)]),
    ("einsum_mm", lambda a, b: torch.einsum("ij,jk->ik", a, b), [R(2, 3), R(3, 2)]),
    ("einsum_batch", lambda a, b: torch.einsum("bij,bjk->bik", a, b), [R(2, 2, 3), R(2, 3, 2)]),
    ("einsum_trace_outer", lambda a, b: torch.einsum("ii,j->j", a, b), [R(3, 3), R(2)]),
    ("einsum_sum", lambda a: torch.einsum("ijk->j", a), [R(2, 3, 2)]),
    ("einsum_transpose_mul", lambda a, b: torch.einsum("ij,ji->ij", a, b), [R(2, 3), R(3, 2)]),
    ("linear", lambda x, w, b: F.linear(x, w, b), [R(2, 3), R(4, 3), R(4)]),
    ("linear_3d_nobias", lambda x, w: F.linear(x, w), [R(2, 2, 3), R(4, 3)]),
]

ACT = [
    ("softmax", lambda x: torch.softmax(x, 1), [R(3, 4)]),
    ("softmax_dim0", lambda x: F.softmax(x, dim=0), [R(3, 4)]),
    ("softmax_3d", lambda x: x.softmax(-1), [R(2, 2, 3)]),
    ("log_softmax", lambda x: torch.log_softmax(x, 1), [R(3, 4)]),
    ("log_softmax_dim0", lambda x: F.log_softmax(x, dim=0), [R(3, 4)]),
    ("relu", F.relu, [R(3, 4, away=0.1)]),
    ("relu_method", lambda x: x.relu(), [R(3, 4, away=0.1)]),
    ("gelu", F.gelu, [R(3, 4)]),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [R(3, 4)]),
    ("silu", F.silu, [R(3, 4)]),
    ("softplus", F.softplus, [R(3, 4)]),
    ("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=1.0), [R(3, 4, away=0.1)]),
    ("elu", F.elu, [R(3, 4, away=0.1)]),
    ("elu_alpha", lambda x: F.elu(x, alpha=0.5), [R(3, 4, away=0.1)]),
    ("leaky_relu", F.leaky_relu, [R(3, 4, away=0.1)]),
    ("leaky_relu_slope", lambda x: F.leaky_relu(x, 0.2), [R(3, 4, away=0.1)]),
    ("sigmoid_F", F.sigmoid, [R(3, 4)]),
    ("tanh_F", F.tanh, [R(3, 4)]),
    ("selu", F.selu, [R(3, 4, away=0.1)]),
    ("celu", F.celu, [R(3, 4, away=0.1)]),
    ("hardtanh", F.hardtanh, [R(3, 4, away=0.1)]),
    ("relu6", F.relu6, [R(3, 4, lo=0.1, hi=5.0)]),
    ("hardsigmoid", F.hardsigmoid, [R(3, 4, lo=-2.5, hi=2.5)]),
    ("hardswish", F.hardswish, [R(3, 4, lo=-2.5, hi=2.5)]),
    ("mish", F.mish, [R(3, 4)]),
    ("logsigmoid", F.logsigmoid, [R(3, 4)]),
    ("softsign", F.softsign, [R(3, 4)]),
    ("normalize", lambda x: F.normalize(x, dim=1), [R(3, 4)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), [R(3, 4), R(4), R(4)]),
    ("mse_loss", F.mse_loss, [R(3, 4), R(3, 4)]),
    ("l1_loss", F.l1_loss, [R(3, 4), R(3, 4)]),
    ("smooth_l1_loss", F.smooth_l1_loss, [R(3, 4), R(3, 4)]),
    ("cross_entropy", lambda x: F.cross_entropy(x, torch.tensor([0, 3, 1])), [R(3, 4)]),
    ("nll_loss", lambda x: F.nll_loss(x, torch.tensor([0, 3, 1])), [R(3, 4)]),
    ("bce_with_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, y), [R(3, 4), R(3, 4, lo=0.0, hi=1.0)]),
    ("bce", F.binary_cross_entropy, [R(3, 4, lo=0.1, hi=0.9), C(torch.rand(3, 4, dtype=D))]),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), [R(1, 2, 4, 4), R(3, 2, 3, 3), R(3)]),
    ("conv2d_stride", lambda x, w: F.conv2d(x, w, stride=2), [R(2, 1, 5, 5), R(2, 1, 3, 3)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), [distinct(1, 2, 4, 4)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2), [R(1, 2, 4, 4)]),
    ("embedding", lambda w: F.embedding(torch.tensor([[0, 2], [2, 1]]), w), [R(3, 2)]),
    ("dropout_eval", lambda x: F.dropout(x, 0.5, training=False), [R(3, 4)]),
    ("pad", lambda x: F.pad(x, (1, 2)), [R(2, 3)]),
]

INPLACE = [
    ("add_", lambda x, y: (x * 1).add_(y), [R(2, 3), R(3)]),
    ("mul_", lambda x, y: (x * 1).mul_(y), [R(2, 3), R(2, 3)]),
    ("div_", lambda x, y: (x * 1).div_(y), [R(2, 3), R(2, 3, away=0.5)]),
    ("sub_alpha_", lambda x, y: (x * 1).sub_(y, alpha=2), [R(2, 3), R(2, 3)]),
    ("iadd_operator", lambda x, y: _iadd(x, y), [R(2, 3), R(2, 3)]),
    ("exp_chain_", lambda x: (x * 1).exp_().mul_(2).sin_(), [R(2, 3)]),
    ("relu_", lambda x: (x * 1).relu_(), [R(2, 3, away=0.1)]),
    ("clamp_", lambda x: (x * 2).clamp_(-0.5, 0.5), [R(2, 3, away=0.05)]),
    ("pow_", lambda x: (x * 1).pow_(2), [R(2, 3)]),
    ("zero_then_add", lambda x, y: (x * 1).zero_().add_(y), [R(2, 3), R(2, 3)]),
    ("fill_", lambda x: (x * 1).fill_(2.0) * x, [R(2, 3)]),
    ("copy_", lambda x, y: (x * 1).copy_(y), [R(2, 3), R(3)]),
    ("masked_fill_", lambda x: (x * 1).masked_fill_(torch.tensor([True, False, True]), 0.0), [R(2, 3)]),
    ("index_put_", lambda x, v: (x * 1).index_put_((torch.tensor([1]),), v), [R(2, 3), R(3)]),
    ("scatter_", lambda x, s: (x * 1).scatter_(1, torch.tensor([[2], [0]]), s), [R(2, 3), R(2, 1)]),
    ("inplace_on_view", lambda x, y: _inplace_on_view(x, y), [R(3, 4), R(4)]),
    ("inplace_on_transposed_view", lambda x: _inplace_on_t(x), [R(3, 4)]),
    ("inplace_on_view_of_view", lambda x, y: _inplace_view_of_view(x, y), [R(4, 4), R(2)]),
    ("inplace_on_base_then_view", lambda x: _inplace_base_then_view(x), [R(3, 4)]),
    ("relu_inplace_on_slice", lambda x: _relu_slice(x), [R(3, 4, away=0.1)]),
    ("copy_into_view", lambda x, y: _copy_into_view(x, y), [R(3, 4), R(2, 4)]),
    ("addcmul_", lambda x, a, b: (x * 1).addcmul_(a, b, value=2.0), [R(2, 3), R(2, 3), R(2, 3)]),
    ("lerp_", lambda x, e: (x * 1).lerp_(e, 0.25), [R(2, 3), R(2, 3)]),
    ("sigmoid_tanh_", lambda x: (x * 1).sigmoid_().tanh_(), [R(2, 3)]),
]


def _iadd(x, y):
    z = x * 1
    z += y
    return z


def _inplace_on_view(x, y):
    z = x * 1
    z[1].mul_(y)
    z[:, 0].add_(1.0)
    return z


def _inplace_view_of_view(x, y):
    z = x * 1
    z[1:3].t()[2].mul_(y)  # a view of a view of a view
    return z


def _inplace_base_then_view(x):
    z = x * 1
    v = z[1]  # taken before the base is modified: must read the new values' history
    z.mul_(3)
    return v * v


def _relu_slice(x):
    z = x * 2
    F.relu(z[:, 1:], inplace=True)
    return z


def _copy_into_view(x, y):
    z = x.sin()
    z.narrow(0, 1, 2).copy_(y * 2)
    return z


def _inplace_on_t(x):
    z = x.sin()
    v = z.t()
    v.mul_(2.0)
    return z


ALL = UNARY + BINARY + REDUCE + INDEX + VIEWS + JOIN + MATMUL + ACT + INPLACE


def _case(c):
    return tuple(c.values) if hasattr(c, "values") else c


assert len({_case(c)[0] for c in ALL}) == len(ALL), "duplicate case names"


def _inputs(makers):
    gen = _gen()
    return tuple(m(gen) for m in makers)


@pytest.mark.parametrize("name,fn,makers", ALL, ids=[_case(c)[0] for c in ALL])
def test_gradcheck(name, fn, makers):
    inputs = _inputs(makers)
    assert any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs)
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else [out]
    assert any(o.requires_grad for o in outs), f"{name}: output does not require grad"
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


GRADGRAD = [
    "mul", "div", "pow_tensor", "pow_scalar", "exp", "log", "sqrt", "sin", "tanh", "sigmoid", "atan2",
    "sum_dim", "mean_dims_keepdim", "prod_dim", "max_dim", "std_dim", "var", "norm", "logsumexp", "cumsum",
    "cumprod", "matmul_2d_2d", "matmul_3d_2d", "matmul_1d_2d", "bmm", "addmm", "einsum_batch", "softmax",
    "log_softmax", "relu", "gelu", "silu", "softplus", "elu", "leaky_relu", "gather", "index_select",
    "int_index", "bool_mask", "cat_dim1", "stack", "split_all", "transpose", "expand", "unfold", "where",
    "maximum", "clamp", "abs", "mse_loss", "cross_entropy", "layer_norm", "linear", "lerp_tensor", "addcdiv",
    "masked_fill", "inplace_on_view", "inplace_on_base_then_view", "mul_", "topk", "scatter_add",
]
_BY_NAME = {_case(c)[0]: _case(c) for c in ALL}


@pytest.mark.parametrize("name", GRADGRAD)
def test_gradgradcheck(name):
    _, fn, makers = _BY_NAME[name]
    inputs = _inputs(makers)
    assert gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


# ---- gradcheck itself ----
class _WrongMul(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        _x, y = ctx.saved_tensors
        return g * y, g * y  # wrong: d/dy is g * x


class _RightMul(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x


def test_gradcheck_catches_wrong_backward():
    x, y = _inputs([R(2, 3), R(2, 3)])
    assert gradcheck(_RightMul.apply, (x, y))
    with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to input 1"):
        gradcheck(_WrongMul.apply, (x, y))
    assert gradcheck(_WrongMul.apply, (x, y), raise_exception=False) is False
    from ferrotorch.autograd.gradcheck import GradcheckError

    with pytest.raises(GradcheckError):
        gradcheck(_WrongMul.apply, (x, y))


def test_gradcheck_catches_wrong_scale():
    class Half(Function):
        @staticmethod
        def forward(ctx, x):
            return x.exp()

        @staticmethod
        def backward(ctx, g):
            return g * 0.5

    x = torch.zeros(3, dtype=D, requires_grad=True)
    assert not gradcheck(Half.apply, (x,), raise_exception=False)


def test_gradgradcheck_catches_nondifferentiable_backward():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x.detach() * g  # first derivative right, second derivative lost

    x, = _inputs([R(3)])
    assert gradcheck(Square.apply, (x,))
    assert not gradgradcheck(Square.apply, (x,), raise_exception=False)


def test_cast_backward_returns_input_dtype():
    x = torch.randn(3, dtype=D, requires_grad=True)
    y = x.float()
    assert y.dtype == torch.float32 and y.grad_fn.name() == "ToCopyBackward0"
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.dtype == D
    assert x.grad.tolist() == [1.0, 2.0, 3.0]


def test_gradcheck_noncontiguous_input():
    base = torch.randn(4, 3, dtype=D)
    x = base.t().requires_grad_(True)
    assert not x.is_contiguous()
    assert gradcheck(lambda t: (t * t).cumsum(1), (x,))


def test_gradcheck_requires_an_input_requiring_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda t: t * 2, (torch.randn(2, dtype=D),))


def test_gradcheck_warns_on_float32():
    x = torch.randn(3, requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda t: t * 2, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)
