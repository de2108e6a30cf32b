"""Bad input raises the exception PyTorch raises, with a message naming the shapes/dtypes; nothing panics or aborts.
(pyo3's PanicException derives from BaseException, so `pytest.raises(RuntimeError)` fails on a panic.)"""

import ferrotorch as torch
import pytest


def test_broadcast_mismatch_names_sizes():
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
                                           r"non-singleton dimension 1"):
        torch.ones(2, 3) + torch.ones(2, 4)
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(2\) must match the size of tensor b \(5\) at "
                                           r"non-singleton dimension 0"):
        torch.ones(2, 3) * torch.ones(5, 1)
    with pytest.raises(RuntimeError, match="must match the size"):
        torch.where(torch.ones(2, dtype=torch.bool), torch.ones(3), torch.ones(2))
    with pytest.raises(RuntimeError, match=r"Attempting to broadcast a dimension of length 4 at -2! Mismatching "
                                           r"argument at index 1 had \(4, 3\); but expected shape should be "
                                           r"broadcastable to \[2, 3\]"):
        torch.broadcast_shapes((2, 3), (4, 3))


def test_matmul_mismatch_names_shapes():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x3 and 2x5\)"):
        torch.ones(4, 3) @ torch.ones(2, 5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x3 and 2x5\)"):
        torch.mm(torch.ones(4, 3), torch.ones(2, 5))


def test_cat_stack_mismatch():
    with pytest.raises(RuntimeError, match=r"Sizes of tensors must match except in dimension 0. Expected size 3 but got "
                                           r"size 4 for tensor number 1 in the list."):
        torch.cat([torch.ones(2, 3), torch.ones(2, 4)])
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 "
                                           r"and \[2, 4\] at entry 1"):
        torch.stack([torch.ones(2, 3), torch.ones(2, 4)])
    with pytest.raises(RuntimeError, match="Tensors must have same number of dimensions: got 2 and 1"):
        torch.cat([torch.ones(2, 3), torch.ones(3)])
    with pytest.raises((RuntimeError, ValueError), match="expected a non-empty list of Tensors"):
        torch.cat([])
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.cat([torch.ones(2), torch.ones(2)], 1)


def test_view_errors():
    with pytest.raises(RuntimeError, match=r"shape '\[4, 2\]' is invalid for input of size 6"):
        torch.ones(2, 3).view(4, 2)
    with pytest.raises(RuntimeError, match=r"shape '\[-1, 4\]' is invalid for input of size 6"):
        torch.ones(6).view(-1, 4)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        torch.ones(6).view(-1, -1)
    with pytest.raises(RuntimeError, match=r"invalid shape dimension -2"):
        torch.ones(6).view(-2, 3)
    with pytest.raises(RuntimeError, match=r"shape '\[5\]' is invalid for input of size 6"):
        torch.ones(6).reshape(5)


def test_view_needing_copy_gives_pytorch_hint():
    x = torch.ones(3, 4).t()
    with pytest.raises(RuntimeError, match=r"view size is not compatible with input tensor's size and stride \(at least "
                                           r"one dimension spans across two contiguous subspaces\). Use \.reshape\(\.\.\.\) "
                                           r"instead\."):
        x.view(12)
    assert x.reshape(12).shape == (12,)


def test_index_errors():
    x = torch.ones(3, 4)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="index 10 is out of bounds for dimension 1 with size 4"):
        x[0, 10]
    with pytest.raises(IndexError, match="out of bounds"):
        x[torch.tensor([0, 7])]
    with pytest.raises(IndexError):
        x[0] = x[5]
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        torch.tensor(1.0)[0]
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.transpose(0, 2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(dim=5)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.select(2, 0)
    with pytest.raises(IndexError, match="select\\(\\): index 4 out of range for tensor of size \\[3, 4\\] at dimension 1"):
        x.select(1, 4)
    with pytest.raises(IndexError):
        x.unbind(2)


def test_item_and_scalar_conversion_errors():
    x = torch.ones(2, 3)
    with pytest.raises(RuntimeError, match="a Tensor with 6 elements cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="a Tensor with 0 elements cannot be converted to Scalar"):
        torch.ones(0).item()
    with pytest.raises((ValueError, RuntimeError), match="only one element tensors can be converted to Python scalars"):
        float(x)
    with pytest.raises((ValueError, RuntimeError), match="only one element tensors can be converted to Python scalars"):
        int(x)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        bool(torch.ones(0))
    with pytest.raises(TypeError, match="only integer tensors of a single element can be converted to an index"):
        [1, 2][torch.tensor(0.0)]


def test_wrong_argument_types_raise_type_error():
    x = torch.ones(2, 3)
    with pytest.raises(TypeError):
        torch.zeros("a")
    with pytest.raises(TypeError):
        torch.zeros(2, 3.5)
    with pytest.raises(TypeError):
        x.view("a")
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError):
        "a" * x
    with pytest.raises(TypeError):
        x + [1, 2, 3]
    with pytest.raises(TypeError):
        x.sum(dim="a")
    with pytest.raises(TypeError):
        x.transpose(0.5, 1)
    with pytest.raises(TypeError):
        x.permute(0, "1")
    with pytest.raises(TypeError):
        torch.cat(x)
    with pytest.raises(TypeError):
        torch.cat([x, 1])
    with pytest.raises(RuntimeError, match="device string"):
        x.to("float32")  # a string is a device
    with pytest.raises(TypeError):
        x.masked_fill(x > 0, "a")
    with pytest.raises(TypeError):
        torch.matmul(x, 3)
    with pytest.raises(TypeError):
        x.index_select(0, [0, 1])


def test_comparison_with_unrelated_types():
    x = torch.ones(2)
    assert (x == "a") is False  # NotImplemented both ways: Python falls back to identity
    assert (x != "a") is True
    with pytest.raises(TypeError, match="not supported between instances"):
        _ = x < "a"


@pytest.mark.parametrize("make", [
    lambda: torch.empty(2 ** 62),
    lambda: torch.zeros(2 ** 62),
    lambda: torch.ones(2 ** 40, 2 ** 40),
    lambda: torch.empty(2 ** 31, 2 ** 31, 4),
    lambda: torch.full((2 ** 50,), 1.0),
    lambda: torch.rand(2 ** 61),
    lambda: torch.ones(1).expand(2 ** 62).contiguous(),
    lambda: torch.arange(0, 2 ** 62),
])
def test_huge_allocation_raises_not_aborts(make):
    with pytest.raises(RuntimeError):
        make()


def test_negative_dimension():
    with pytest.raises(RuntimeError, match=r"Trying to create tensor with negative dimension -1: \[-1\]"):
        torch.ones(-1)
    with pytest.raises(RuntimeError, match="negative"):
        torch.zeros(-1)
    with pytest.raises(RuntimeError, match="negative dimension"):
        torch.empty(2, -3)


def test_random_argument_errors():
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to', but got from=5 >= to=3"):
        torch.randint(5, 3, (2,))
    with pytest.raises(RuntimeError):
        torch.randperm(-1)
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size\\(-1\\) samples without replacement"):
        torch.multinomial(torch.tensor([1.0, 0.0]), 3)
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor([-1.0, 2.0]), 1)
    with pytest.raises(RuntimeError):
        torch.bernoulli(torch.tensor([1.5]))
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        torch.normal(0.0, -1.0, size=(3,))


def test_shape_op_errors():
    x = torch.ones(4, 6)
    with pytest.raises(RuntimeError, match="chunk expects `chunks` to be greater than 0, got: 0"):
        x.chunk(0)
    with pytest.raises(RuntimeError, match="split_size can only be 0 if dimension size is 0"):
        x.split(0)
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 4"):
        x.split([1, 2])
    with pytest.raises(RuntimeError, match="step is 0|step must be"):
        x.unfold(0, 2, 0)
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 4 but size is 5"):
        x.unfold(0, 5, 1)
    with pytest.raises(RuntimeError, match="Number of dimensions of repeat dims can not be smaller than number of "
                                           "dimensions of tensor"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match=r"unflatten: Provided sizes \[4, 2\] don't multiply up to the size of dim 1 "
                                           r"\(6\) in the input tensor"):
        x.unflatten(1, (4, 2))
    with pytest.raises(RuntimeError):
        x.diagonal(0, 0, 0)
    with pytest.raises(RuntimeError, match="flatten\\(\\) has invalid args: start_dim cannot come after end_dim"):
        x.flatten(1, 0)


def test_reduction_and_arith_dtype_errors():
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        torch.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="std and var only support floating point and complex dtypes"):
        torch.tensor([1, 2]).std()
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors is not supported"):
        torch.tensor([True]) - torch.tensor([False])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
        torch.tensor([True]) - 1


def test_leaf_inplace_error():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        w.add_(1)
    with torch.no_grad():
        w.add_(1)
    assert w.tolist() == [2.0, 2.0]


def test_errors_leave_tensors_usable():
    x = torch.arange(6.0).view(2, 3)
    for bad in (lambda: x.view(4), lambda: x @ x, lambda: x[9], lambda: x + torch.ones(4)):
        with pytest.raises((RuntimeError, IndexError)):
            bad()
    assert x.sum().item() == 15.0
    x.add_(1)
    assert x[1, 2].item() == 6.0
