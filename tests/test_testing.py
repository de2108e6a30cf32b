"""torch.testing: assert_close (messages as PyTorch 2.15 prints them, pasted as literals), assert_allclose,
make_tensor."""

import math

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.testing import assert_allclose, assert_close, make_tensor


def _message(actual, expected, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, **kwargs)
    return str(info.value)


# --- assert_close: passing inputs -----------------------------------------------------------------------

@pytest.mark.parametrize(("actual", "expected", "kwargs"), [
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-6]), {}),  # float32: atol 1e-5 + rtol 1.3e-6
    (torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 2.0 + 2e-7], dtype=torch.float64), {}),
    (torch.tensor([1.0, 2.0], dtype=torch.float16), torch.tensor([1.0, 2.001], dtype=torch.float16), {}),
    (torch.tensor([1.0, 2.0], dtype=torch.bfloat16), torch.tensor([1.0, 2.02], dtype=torch.bfloat16), {}),
    (torch.tensor([1.0, math.nan]), torch.tensor([1.0, math.nan]), {"equal_nan": True}),
    (torch.tensor([1.0, math.inf]), torch.tensor([1.0, math.inf]), {}),
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1]), {"rtol": 0.1, "atol": 0.0}),
    (torch.tensor([1, 2]), torch.tensor([1.0, 2.0]), {"check_dtype": False}),
    (torch.ones(2, 3).t(), torch.ones(3, 2), {}),  # strides differ: checked only with check_stride=True
    (torch.zeros(3, 2, requires_grad=True), torch.zeros(3, 2), {}),
    (torch.zeros(0), torch.zeros(0), {}),
    ((1, 2.0), [1, 2.0], {}),  # any two sequences compare elementwise
    ({"a": torch.tensor(1.0), "b": [None, True]}, {"b": [None, True], "a": torch.tensor(1.0)}, {}),
    (np.array([1.0, 2.0]), np.array([1.0, 2.0]), {}),
    (np.float32(1.0), 1.0, {}),
])
def test_close_inputs_pass(actual, expected, kwargs):
    assert_close(actual, expected, **kwargs)


# --- assert_close: the messages -------------------------------------------------------------------------

def test_message_float_tensor():
    msg = _message(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 4.0, 3.0]))
    assert msg == ("Tensor-likes are not close!\n\nMismatched elements: 1 / 3 (33.3%)\n"
                   "Greatest absolute difference: 2.0 at index (1,) (up to 1e-05 allowed)\n"
                   "Greatest relative difference: 0.5 at index (1,) (up to 1.3e-06 allowed)")


def test_message_multi_dim_index():
    msg = _message(torch.arange(12.0).reshape(2, 3, 2), torch.arange(12.0).reshape(2, 3, 2) * 1.1)
    assert msg == ("Tensor-likes are not close!\n\nMismatched elements: 11 / 12 (91.7%)\n"
                   "Greatest absolute difference: 1.1000003814697266 at index (1, 2, 1) (up to 1e-05 allowed)\n"
                   "Greatest relative difference: 0.09090914577245712 at index (0, 1, 1) (up to 1.3e-06 allowed)")


def test_message_integers_are_compared_for_equality():
    msg = _message(torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 7]]))
    assert msg == ("Tensor-likes are not equal!\n\nMismatched elements: 1 / 4 (25.0%)\n"
                   "Greatest absolute difference: 3 at index (1, 1)\n"
                   "Greatest relative difference: 0.4285714328289032 at index (1, 1)")
    # uint8 differences are taken in int64: 2 - 250 does not wrap around
    msg = _message(torch.tensor([1, 250], dtype=torch.uint8), torch.tensor([3, 2], dtype=torch.uint8))
    assert msg == ("Tensor-likes are not equal!\n\nMismatched elements: 2 / 2 (100.0%)\n"
                   "Greatest absolute difference: 248 at index (1,)\n"
                   "Greatest relative difference: 124.0 at index (1,)")
    msg = _message(torch.tensor([True, False]), torch.tensor([True, True]))
    assert msg == ("Tensor-likes are not equal!\n\nMismatched elements: 1 / 2 (50.0%)\n"
                   "Greatest absolute difference: 1 at index (1,)\nGreatest relative difference: 1.0 at index (1,)")


def test_message_zero_tolerances_say_equal():
    msg = _message(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0]), rtol=0, atol=0)
    assert msg == ("Tensor-likes are not equal!\n\nMismatched elements: 1 / 2 (50.0%)\n"
                   "Greatest absolute difference: 1.0 at index (1,)\n"
                   "Greatest relative difference: 0.3333333432674408 at index (1,)")


def test_message_nan_and_inf():
    msg = _message(torch.tensor([1.0, math.nan]), torch.tensor([1.0, math.nan]))  # equal_nan=False
    assert msg == ("Tensor-likes are not close!\n\nMismatched elements: 1 / 2 (50.0%)\n"
                   "Greatest absolute difference: nan at index (1,) (up to 1e-05 allowed)\n"
                   "Greatest relative difference: nan at index (1,) (up to 1.3e-06 allowed)")
    # inf - (-inf) is not a finite difference: never close
    msg = _message(torch.tensor([1.0, math.inf]), torch.tensor([1.0, -math.inf]))
    assert msg == ("Tensor-likes are not close!\n\nMismatched elements: 1 / 2 (50.0%)\n"
                   "Greatest absolute difference: inf at index (1,) (up to 1e-05 allowed)\n"
                   "Greatest relative difference: nan at index (1,) (up to 1.3e-06 allowed)")


def test_message_scalars():
    assert _message(torch.tensor(1.0), torch.tensor(1.5)) == (
        "Scalars are not close!\n\nExpected 1.5 but got 1.0.\nAbsolute difference: 0.5 (up to 1e-05 allowed)\n"
        "Relative difference: 0.3333333333333333 (up to 1.3e-06 allowed)")
    assert _message(1.0, 1.1) == (
        "Scalars are not close!\n\nExpected 1.1 but got 1.0.\nAbsolute difference: 0.10000000000000009 "
        "(up to 1e-07 allowed)\nRelative difference: 0.09090909090909098 (up to 1e-07 allowed)")
    assert _message(1, 2) == ("Scalars are not equal!\n\nExpected 2 but got 1.\nAbsolute difference: 1\n"
                              "Relative difference: 0.5")
    assert _message(True, False) == "Booleans mismatch: True is not False"
    assert _message(None, 1) == "None mismatch: None is not 1"
    assert _message(1, None) == "None mismatch: 1 is not None"
    # check_dtype is on by default: int and float are different types
    assert _message(1, 1.0) == "The (d)types do not match: <class 'int'> != <class 'float'>."


def test_message_numpy_arrays_compare_in_their_dtype():
    assert _message(np.array([1.0, 2.0]), np.array([1.0, 3.0])) == (
        "Tensor-likes are not close!\n\nMismatched elements: 1 / 2 (50.0%)\n"
        "Greatest absolute difference: 1.0 at index (1,) (up to 1e-07 allowed)\n"
        "Greatest relative difference: 0.3333333333333333 at index (1,) (up to 1e-07 allowed)")


def test_message_attributes():
    assert _message(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64)) == (
        "The values for attribute 'dtype' do not match: torch.float32 != torch.float64.")
    assert _message(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0])) == (
        "The values for attribute 'shape' do not match: torch.Size([2]) != torch.Size([3]).")
    assert _message(torch.ones(2, 3).t(), torch.ones(3, 2), check_stride=True) == (
        "The values for attribute 'stride()' do not match: (1, 3) != (2, 1).")


def test_message_check_dtype_false_compares_in_the_promoted_dtype():
    msg = _message(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1], dtype=torch.float64), check_dtype=False)
    assert msg == ("Tensor-likes are not close!\n\nMismatched elements: 1 / 2 (50.0%)\n"
                   "Greatest absolute difference: 0.10000000000000009 at index (1,) (up to 1e-05 allowed)\n"
                   "Greatest relative difference: 0.04761904761904766 at index (1,) (up to 1.3e-06 allowed)")


def test_message_nested_names_the_item():
    msg = _message([torch.tensor(1.0), {"a": torch.tensor([1.0, 2.0])}],
                   [torch.tensor(1.0), {"a": torch.tensor([1.0, 3.0])}])
    assert msg.endswith("\n\nThe failure occurred for item [1]['a']")
    assert msg.startswith("Tensor-likes are not close!\n\nMismatched elements: 1 / 2 (50.0%)\n")


def test_message_structure_mismatches():
    assert _message({"a": 1}, {"b": 1}) == ("The keys of the mappings do not match:\n"
                                            "Missing keys in the actual mapping: ['b']\n"
                                            "Additional keys in the actual mapping: ['a']")
    assert _message([1, 2], [1]) == "The length of the sequences mismatch: 2 != 1"


def test_msg_replaces_or_wraps_the_message():
    a, e = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0])
    assert _message(a, e, msg="custom") == "custom"
    wrapped = _message(a, e, msg=lambda m: f"Header\n\n{m}\n\nFooter")
    assert wrapped.startswith("Header\n\nTensor-likes are not close!\n\n")
    assert wrapped.endswith("(up to 1.3e-06 allowed)\n\nFooter")
    assert _message([a], [e], msg="m") == "m"


def test_bad_inputs_raise_pytorchs_errors():
    with pytest.raises(ValueError, match=r"^Both 'rtol' and 'atol' must be either specified or omitted, "
                                         r"but got no atol\.$"):
        assert_close(torch.tensor(1.0), torch.tensor(1.0), rtol=0)
    with pytest.raises(ValueError, match="but got no rtol"):
        assert_close(1.0, 1.0, atol=0)
    with pytest.raises(TypeError, match=r"^No comparison pair was able to handle inputs of type "
                                        r"<class 'ferrotorch.Tensor'> and <class 'numpy.ndarray'>\.$"):
        assert_close(torch.tensor([1.0]), np.array([1.0]))
    with pytest.raises(TypeError, match="inputs of type <class 'str'> and <class 'str'>"):
        assert_close("ab", "ab")
    with pytest.raises(TypeError, match="<class 'ferrotorch.Tensor'> and <class 'float'>"):
        assert_close(torch.tensor(1.0), 1.0)


def test_default_tolerance_boundary_float32():
    # |a - e| <= 1e-5 + 1.3e-6 * |e|: at e = 0 the atol alone decides
    assert_close(torch.tensor([9e-6]), torch.tensor([0.0]))
    with pytest.raises(AssertionError):
        assert_close(torch.tensor([2e-5]), torch.tensor([0.0]))
    with pytest.raises(AssertionError):  # float64's 1e-7 atol is tighter
        assert_close(torch.tensor([1e-6], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64))


# --- assert_allclose (deprecated) ------------------------------------------------------------------------

def test_assert_allclose_is_deprecated_and_looser():
    with pytest.warns(FutureWarning, match=r"`torch.testing.assert_allclose\(\)` is deprecated since 1.12"):
        assert_allclose(torch.tensor([1.0, 2.0]), [1.0, 2.0001])  # float32 rtol 1e-4 here
    with pytest.warns(FutureWarning):
        assert_allclose(torch.tensor([math.nan]), torch.tensor([math.nan]))  # equal_nan defaults to True
    with pytest.warns(FutureWarning), pytest.raises(AssertionError, match="not close"):
        assert_allclose(torch.tensor([1.0, 2.0]), [1.0, 2.01])
    with pytest.warns(FutureWarning), pytest.raises(AssertionError, match="^boom$"):
        assert_allclose([1.0], [2.0], msg="boom")


# --- make_tensor -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("dtype", "low", "high"), [
    (torch.float32, -9, 9), (torch.float64, -9, 9), (torch.float16, -9, 9), (torch.bfloat16, -9, 9),
    (torch.int64, -9, 10), (torch.int32, -9, 10), (torch.int8, -9, 10), (torch.uint8, 0, 10), (torch.bool, 0, 2),
])
def test_make_tensor_default_ranges(dtype, low, high):
    t = make_tensor((40, 5), dtype=dtype, device="cpu")
    assert t.shape == (40, 5) and t.dtype == dtype and t.device == torch.device("cpu")
    v = t.float().numpy()
    # float16/bfloat16 draws are rounded to the dtype after sampling, so they may reach ``high`` itself
    assert v.min() >= low and (v.max() < high or (dtype in (torch.float16, torch.bfloat16) and v.max() <= high))
    assert len(np.unique(v)) > 1


def test_make_tensor_shapes_bounds_and_flags():
    assert make_tensor(2, 3, dtype=torch.float32, device="cpu").shape == (2, 3)
    assert make_tensor([2, 3], dtype=torch.float32, device="cpu").shape == (2, 3)
    assert make_tensor(torch.Size([4]), dtype=torch.float32, device="cpu").shape == (4,)
    assert make_tensor((), dtype=torch.float32, device="cpu").shape == ()
    v = make_tensor(500, dtype=torch.float64, device="cpu", low=2, high=3).numpy()
    assert v.min() >= 2 and v.max() < 3
    # integer bounds are ceiled; a bound outside the dtype's range is clamped to it
    v = make_tensor(200, dtype=torch.int16, device="cpu", low=1.5, high=3.2).numpy()
    assert set(np.unique(v)) <= {2, 3}
    assert make_tensor(200, dtype=torch.uint8, device="cpu", low=-5, high=3).numpy().min() >= 0
    nc = make_tensor(3, 4, dtype=torch.float32, device="cpu", noncontiguous=True)
    assert nc.shape == (3, 4) and not nc.is_contiguous()
    assert make_tensor(1, dtype=torch.float32, device="cpu", noncontiguous=True).is_contiguous()
    g = make_tensor(3, dtype=torch.float32, device="cpu", requires_grad=True)
    assert g.requires_grad and g.is_leaf
    assert not make_tensor(3, dtype=torch.float32, device="cpu").requires_grad


def test_make_tensor_exclude_zero():
    v = make_tensor(300, dtype=torch.int8, device="cpu", low=0, high=2, exclude_zero=True).numpy()
    assert set(np.unique(v)) == {1}
    b = make_tensor(300, dtype=torch.bool, device="cpu", exclude_zero=True)
    assert bool(b.all())
    # floats: zeros become finfo.tiny (a draw of exactly 0.0 is rare, so force it through a [0, tiny) range)
    f = make_tensor(50, dtype=torch.float32, device="cpu", low=0, high=1e-45, exclude_zero=True)
    assert bool((f > 0).all())


def test_make_tensor_errors():
    with pytest.raises(ValueError, match=r"^`requires_grad=True` is not supported for boolean and integral dtypes, "
                                         r"but got dtype=torch.int32$"):
        make_tensor(3, dtype=torch.int32, device="cpu", requires_grad=True)
    with pytest.raises(ValueError, match=r"^`low` must be less than `high`, but got 2 >= 1$"):
        make_tensor(3, dtype=torch.float32, device="cpu", low=2, high=1)
    with pytest.raises(ValueError, match=r"^`low` and `high` cannot be NaN, but got low=nan and high=9$"):
        make_tensor(3, dtype=torch.float32, device="cpu", low=math.nan)
    with pytest.raises(ValueError, match=r"^The value interval specified by `low` and `high` is \[300, 400\), "
                                         r"but torch.uint8 only supports \[0, 256\)$"):
        make_tensor(3, dtype=torch.uint8, device="cpu", low=300, high=400)
    with pytest.warns(FutureWarning, match="Passing `low==high`"):
        make_tensor(3, dtype=torch.float32, device="cpu", low=1, high=1)


def test_importable_as_torch_testing():
    assert torch.testing.assert_close is assert_close
    assert torch.testing.make_tensor is make_tensor
