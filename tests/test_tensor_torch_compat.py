"""The same tensor expressions under ferrotorch and real PyTorch give the same values, dtypes and shapes
(skipped when PyTorch is not installed)."""

import ferrotorch
import numpy as np
import pytest

torch = pytest.importorskip("torch")

A = np.arange(-6, 6).reshape(3, 4)
F = (np.arange(12).reshape(3, 4) / 3 - 1.7).astype(np.float32)

EXPRS = {
    "int_true_div": lambda t: t.tensor(A) / 4,
    "int_floor_div": lambda t: t.tensor(A) // 4,
    "int_remainder": lambda t: t.tensor(A) % -4,
    "int_fmod": lambda t: t.fmod(t.tensor(A), -4),
    "int_plus_float_scalar": lambda t: t.tensor(A, dtype=t.int32) + 1.5,
    "int32_plus_int64_0d": lambda t: t.tensor(A, dtype=t.int32) + t.tensor(2),
    "int32_plus_float64_0d": lambda t: t.tensor(A, dtype=t.int32) + t.tensor(2.0, dtype=t.float64),
    "half_plus_bf16": lambda t: t.ones(2, dtype=t.float16) + t.ones(2, dtype=t.bfloat16),
    "uint8_plus_int8": lambda t: t.ones(2, dtype=t.uint8) + t.ones(2, dtype=t.int8),
    "bool_sum": lambda t: t.tensor([True, False, True]).sum(),
    "int_pow": lambda t: t.tensor(A) ** 2,
    "scalar_pow_int": lambda t: 2 ** t.tensor([1, 2, 3]),
    "round_half_even": lambda t: t.tensor([0.5, 1.5, 2.5, -0.5]).round(),
    "trunc_div": lambda t: t.div(t.tensor(A), 4, rounding_mode="trunc"),
    "clamp_int_float": lambda t: t.tensor(A).clamp(min=0.5),
    "max_dim": lambda t: t.tensor(F).max(1).values,
    "max_dim_idx": lambda t: t.tensor(F).max(1).indices,
    "std": lambda t: t.tensor(F).std(0),
    "var_c0": lambda t: t.tensor(F).var(1, correction=0),
    "norm_p1": lambda t: t.tensor(F).norm(1, dim=0),
    "logsumexp": lambda t: t.tensor(F).logsumexp(1),
    "cumprod_int": lambda t: t.tensor(A).cumprod(1),
    "argsort": lambda t: t.tensor(F).argsort(1, descending=True),
    "topk": lambda t: t.tensor(F).topk(2, dim=0).values,
    "unique": lambda t: t.tensor([3, 1, 3, 2]).unique(),
    "adv_index": lambda t: t.tensor(F)[[0, 2], 1:],
    "mixed_adv": lambda t: t.tensor(F)[[0, 2], :, None][..., 0],
    "mask": lambda t: t.tensor(F)[t.tensor(F) > 0],
    "gather": lambda t: t.tensor(F).gather(1, t.tensor([[0], [3], [1]])),
    "where_scalar": lambda t: t.where(t.tensor(F) > 0, t.tensor(A), 0.5),
    "nonzero": lambda t: t.tensor(A).nonzero(),
    "matmul_batch": lambda t: t.ones(2, 1, 3, 4) @ t.ones(5, 4, 2),
    "matvec": lambda t: t.tensor(F) @ t.ones(4),
    "einsum": lambda t: t.einsum("ij,kj->ik", t.tensor(F), t.tensor(F)),
    "unfold": lambda t: t.tensor(F).unfold(1, 2, 1),
    "diagonal": lambda t: t.tensor(F).diagonal(1),
    "flatten": lambda t: t.tensor(F).t().flatten(),
    "linspace": lambda t: t.linspace(-1, 1, 7),
    "arange_float": lambda t: t.arange(0, 1, 0.3),
    "full_int": lambda t: t.full((2,), 3),
    "eye": lambda t: t.eye(2, 3),
    "nan_to_num": lambda t: t.tensor([float("nan"), float("inf"), -1.0]).nan_to_num(),
    "sign": lambda t: t.tensor([-2.0, 0.0, 3.0]).sign(),
    "repeat": lambda t: t.tensor([[1, 2]]).repeat(2, 2),
    "roll": lambda t: t.tensor(A).roll(1, 1),
    "tril": lambda t: t.tensor(A).tril(-1),
}


@pytest.mark.parametrize("name", list(EXPRS))
def test_same_result_as_pytorch(name):
    ours = EXPRS[name](ferrotorch)
    theirs = EXPRS[name](torch)
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["int_true_div", "max_dim", "unique", "eye", "linspace", "mask"])
def test_same_repr_as_pytorch(name):
    assert repr(EXPRS[name](ferrotorch)) == repr(EXPRS[name](torch))
