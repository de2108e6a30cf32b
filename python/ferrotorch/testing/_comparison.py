"""``torch.testing.assert_close`` (and the deprecated ``assert_allclose``).

As in PyTorch, the inputs are paired up by recursing through sequences and mappings; each leaf pair is
handled by the first of ``NonePair``, ``BooleanPair``, ``NumberPair``, ``TensorLikePair`` that accepts it,
and the first failing pair raises with PyTorch's message (``Tensor-likes are not close!`` ...)."""

from __future__ import annotations

import cmath
import collections.abc
import contextlib
import warnings
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

import numpy as np

import ferrotorch

__all__ = ["assert_allclose", "assert_close"]

# {dtype: (rtol, atol)}: PyTorch's table; every other dtype (integers, bool) compares exactly
_DTYPE_PRECISIONS = {
    ferrotorch.float16: (0.001, 1e-5),
    ferrotorch.bfloat16: (0.016, 1e-5),
    ferrotorch.float32: (1.3e-6, 1e-5),
    ferrotorch.float64: (1e-7, 1e-7),
}


class ErrorMeta(Exception):
    """A failed comparison: the exception type and message to raise, and where in the inputs it happened."""

    def __init__(self, type: type[Exception], msg: str, *, id: tuple[Any, ...] = ()) -> None:
        super().__init__(msg)
        self.type = type
        self.msg = msg
        self.id = id

    def to_error(self, msg: str | Callable[[str], str] | None = None) -> Exception:
        if not isinstance(msg, str):
            generated = self.msg
            if self.id:
                generated += f"\n\nThe failure occurred for item {''.join(str([item]) for item in self.id)}"
            msg = msg(generated) if callable(msg) else generated
        return self.type(msg)


class UnsupportedInputs(Exception):
    """Raised while building a pair that cannot handle its inputs: the next pair type is tried."""


def default_tolerances(*inputs: ferrotorch.Tensor | ferrotorch.dtype,
                       dtype_precisions: dict | None = None) -> tuple[float, float]:
    """The loosest (rtol, atol) of the inputs' dtypes (0, 0 for dtypes outside the table)."""
    dtypes = []
    for input in inputs:
        if isinstance(input, ferrotorch.Tensor):
            dtypes.append(input.dtype)
        elif isinstance(input, ferrotorch.dtype):
            dtypes.append(input)
        else:
            raise TypeError(f"Expected a torch.Tensor or a torch.dtype, but got {type(input)} instead.")
    precisions = dtype_precisions or _DTYPE_PRECISIONS
    rtols, atols = zip(*[precisions.get(dtype, (0.0, 0.0)) for dtype in dtypes], strict=True)
    return max(rtols), max(atols)


def get_tolerances(*inputs: ferrotorch.Tensor | ferrotorch.dtype, rtol: float | None, atol: float | None,
                   id: tuple[Any, ...] = ()) -> tuple[float, float]:
    """Both tolerances as given, or both defaulted: only one of them would be a surprise (atol=0 but rtol>0)."""
    if (rtol is None) ^ (atol is None):
        raise ErrorMeta(ValueError, f"Both 'rtol' and 'atol' must be either specified or omitted, "
                                    f"but got no {'rtol' if rtol is None else 'atol'}.", id=id)
    if rtol is not None and atol is not None:
        return rtol, atol
    return default_tolerances(*inputs)


def _make_mismatch_msg(*, default_identifier: str, identifier: str | Callable[[str], str] | None = None,
                       extra: str | None = None, abs_diff: float, abs_diff_idx: tuple[int, ...] | None = None,
                       atol: float, rel_diff: float, rel_diff_idx: tuple[int, ...] | None = None,
                       rtol: float) -> str:
    equality = rtol == 0 and atol == 0

    def diff_msg(kind: str, diff: float, idx: tuple[int, ...] | None, tol: float) -> str:
        msg = f"{kind.title()} difference: {diff}" if idx is None else f"Greatest {kind} difference: {diff} at index {idx}"
        if not equality:
            msg += f" (up to {tol} allowed)"
        return msg + "\n"

    if identifier is None:
        identifier = default_identifier
    elif callable(identifier):
        identifier = identifier(default_identifier)
    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += diff_msg("absolute", abs_diff, abs_diff_idx, atol)
    msg += diff_msg("relative", rel_diff, rel_diff_idx, rtol)
    return msg.strip()


def make_scalar_mismatch_msg(actual: complex, expected: complex, *, rtol: float, atol: float,
                             identifier: str | Callable[[str], str] | None = None) -> str:
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _make_mismatch_msg(default_identifier="Scalars", identifier=identifier,
                              extra=f"Expected {expected} but got {actual}.", abs_diff=abs_diff, atol=atol,
                              rel_diff=rel_diff, rtol=rtol)


def make_tensor_mismatch_msg(actual: ferrotorch.Tensor, expected: ferrotorch.Tensor, matches: ferrotorch.Tensor,
                             *, rtol: float, atol: float,
                             identifier: str | Callable[[str], str] | None = None) -> str:
    """The message for tensors of equal shape whose boolean ``matches`` mask has a False."""

    def unravel(flat_index: int) -> tuple[int, ...]:
        index = []
        for size in tuple(matches.shape)[::-1]:
            flat_index, mod = divmod(flat_index, size)
            index.append(mod)
        return tuple(index[::-1])

    numel = matches.numel()
    mismatches = numel - int(matches.sum())
    extra = f"Mismatched elements: {mismatches} / {numel} ({mismatches / numel:.1%})"
    actual_flat, expected_flat, matches_flat = actual.flatten(), expected.flatten(), matches.flatten()
    if not actual.dtype.is_floating_point:
        # integer differences could overflow (uint8 wraps around): take them in int64
        actual_flat, expected_flat = actual_flat.to(ferrotorch.int64), expected_flat.to(ferrotorch.int64)
    abs_diff = (actual_flat - expected_flat).abs()
    abs_diff[matches_flat] = 0
    max_abs, max_abs_idx = ferrotorch.max(abs_diff, 0)
    rel_diff = abs_diff / expected_flat.abs()
    rel_diff[matches_flat] = 0
    max_rel, max_rel_idx = ferrotorch.max(rel_diff, 0)
    return _make_mismatch_msg(default_identifier="Tensor-likes", identifier=identifier, extra=extra,
                              abs_diff=max_abs.item(), abs_diff_idx=unravel(int(max_abs_idx)), atol=atol,
                              rel_diff=max_rel.item(), rel_diff_idx=unravel(int(max_rel_idx)), rtol=rtol)


def _isclose(actual: ferrotorch.Tensor, expected: ferrotorch.Tensor, *, rtol: float, atol: float,
             equal_nan: bool) -> ferrotorch.Tensor:
    """``torch.isclose``'s rule: equal, or a finite difference within ``atol + rtol * |expected|`` (so
    ``inf`` is close only to itself), or both NaN under ``equal_nan``; bool compares by equality."""
    matches = actual == expected
    if equal_nan and actual.dtype.is_floating_point:
        matches = matches | (actual.isnan() & expected.isnan())
    if (rtol or atol) and actual.dtype != ferrotorch.bool:
        if not actual.dtype.is_floating_point:
            actual, expected = actual.to(ferrotorch.float64), expected.to(ferrotorch.float64)
        error = (actual - expected).abs()
        matches = matches | (error.isfinite() & (error <= atol + rtol * expected.abs()))
    return matches


class Pair:
    """One (actual, expected) leaf; subclasses raise ``UnsupportedInputs`` from ``__init__`` when they cannot
    handle the inputs, and ``ErrorMeta`` from ``compare`` when the inputs mismatch."""

    def __init__(self, actual: Any, expected: Any, *, id: tuple[Any, ...] = (), **unknown: Any) -> None:
        self.actual = actual
        self.expected = expected
        self.id = id

    @staticmethod
    def _inputs_not_supported() -> NoReturn:
        raise UnsupportedInputs

    @staticmethod
    def _check_inputs_isinstance(*inputs: Any, cls: type | tuple[type, ...]) -> None:
        if not all(isinstance(input, cls) for input in inputs):
            Pair._inputs_not_supported()

    def _fail(self, type: type[Exception], msg: str) -> NoReturn:
        raise ErrorMeta(type, msg, id=self.id)

    def compare(self) -> None:
        raise NotImplementedError


class NonePair(Pair):
    def __init__(self, actual: Any, expected: Any, **options: Any) -> None:
        if not (actual is None or expected is None):
            self._inputs_not_supported()
        super().__init__(actual, expected, **options)

    def compare(self) -> None:
        if not (self.actual is None and self.expected is None):
            self._fail(AssertionError, f"None mismatch: {self.actual} is not {self.expected}")


class BooleanPair(Pair):
    def __init__(self, actual: Any, expected: Any, **options: Any) -> None:
        self._check_inputs_isinstance(actual, expected, cls=(bool, np.bool_))
        super().__init__(bool(actual), bool(expected), **options)

    def compare(self) -> None:
        if self.actual is not self.expected:
            self._fail(AssertionError, f"Booleans mismatch: {self.actual} is not {self.expected}")


class NumberPair(Pair):
    """Python (and numpy) numbers: int compares as int64, float as float64, complex as complex128."""

    # complex128's tolerances are float64's (ferrotorch has no complex dtype to name)
    _TYPE_TO_DTYPE: ClassVar[dict] = {int: ferrotorch.int64, float: ferrotorch.float64, complex: ferrotorch.float64}

    def __init__(self, actual: Any, expected: Any, *, id: tuple[Any, ...] = (), rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_dtype: bool = False,
                 **options: Any) -> None:
        # bool is an int, but BooleanPair comes first; a bool against a number lands here as in PyTorch
        self._check_inputs_isinstance(actual, expected, cls=(int, float, complex, np.number))
        actual, expected = (x.item() if isinstance(x, np.number) else x for x in (actual, expected))
        super().__init__(actual, expected, id=id, **options)
        self.rtol, self.atol = get_tolerances(*[self._TYPE_TO_DTYPE[type(x)] for x in (actual, expected)],
                                              rtol=rtol, atol=atol, id=id)
        self.equal_nan = equal_nan
        self.check_dtype = check_dtype

    def compare(self) -> None:
        if self.check_dtype and type(self.actual) is not type(self.expected):
            self._fail(AssertionError,
                       f"The (d)types do not match: {type(self.actual)} != {type(self.expected)}.")
        if self.actual == self.expected:
            return
        if self.equal_nan and cmath.isnan(self.actual) and cmath.isnan(self.expected):
            return
        abs_diff = abs(self.actual - self.expected)
        if cmath.isfinite(abs_diff) and abs_diff <= self.atol + self.rtol * abs(self.expected):
            return
        self._fail(AssertionError,
                   make_scalar_mismatch_msg(self.actual, self.expected, rtol=self.rtol, atol=self.atol))


class TensorLikePair(Pair):
    """Tensors, or two inputs of related types that ``as_tensor`` takes (numpy arrays)."""

    def __init__(self, actual: Any, expected: Any, *, id: tuple[Any, ...] = (), allow_subclasses: bool = True,
                 rtol: float | None = None, atol: float | None = None, equal_nan: bool = False,
                 check_device: bool = True, check_dtype: bool = True, check_layout: bool = True,
                 check_stride: bool = False, **options: Any) -> None:
        if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
            self._inputs_not_supported()
        if not allow_subclasses and type(actual) is not type(expected):
            self._inputs_not_supported()
        actual, expected = (self._to_tensor(x) for x in (actual, expected))
        super().__init__(actual, expected, id=id, **options)
        self.rtol, self.atol = get_tolerances(actual, expected, rtol=rtol, atol=atol, id=id)
        self.equal_nan = equal_nan
        self.check_device = check_device
        self.check_dtype = check_dtype
        self.check_layout = check_layout
        self.check_stride = check_stride

    def _to_tensor(self, tensor_like: Any) -> ferrotorch.Tensor:
        if isinstance(tensor_like, ferrotorch.Tensor):
            return tensor_like
        try:
            return ferrotorch.as_tensor(tensor_like)
        except Exception:  # noqa: BLE001 - whatever as_tensor rejects is not a tensor-like
            self._inputs_not_supported()

    def compare(self) -> None:
        actual, expected = self.actual, self.expected
        self._compare_attributes(actual, expected)
        if actual.device.type == "meta" or expected.device.type == "meta":
            return
        actual, expected = self._equalize_attributes(actual, expected)
        self._compare_values(actual, expected)

    def _compare_attributes(self, actual: ferrotorch.Tensor, expected: ferrotorch.Tensor) -> None:
        def mismatch(name: str, a: Any, e: Any) -> NoReturn:
            self._fail(AssertionError, f"The values for attribute '{name}' do not match: {a} != {e}.")

        if actual.shape != expected.shape:
            mismatch("shape", actual.shape, expected.shape)
        if actual.layout != expected.layout:
            if self.check_layout:
                mismatch("layout", actual.layout, expected.layout)
        elif self.check_stride and actual.stride() != expected.stride():
            mismatch("stride()", actual.stride(), expected.stride())
        if self.check_device and actual.device != expected.device:
            mismatch("device", actual.device, expected.device)
        if self.check_dtype and actual.dtype != expected.dtype:
            mismatch("dtype", actual.dtype, expected.dtype)

    @staticmethod
    def _equalize_attributes(actual: ferrotorch.Tensor,
                             expected: ferrotorch.Tensor) -> tuple[ferrotorch.Tensor, ferrotorch.Tensor]:
        """Different devices compare on the CPU, different dtypes in their promoted dtype."""
        if actual.device != expected.device:
            actual, expected = actual.cpu(), expected.cpu()
        if actual.dtype != expected.dtype:
            dtype = ferrotorch.promote_types(actual.dtype, expected.dtype)
            actual, expected = actual.to(dtype), expected.to(dtype)
        return actual, expected

    def _compare_values(self, actual: ferrotorch.Tensor, expected: ferrotorch.Tensor) -> None:
        actual, expected = actual.detach(), expected.detach()
        matches = _isclose(actual, expected, rtol=self.rtol, atol=self.atol, equal_nan=self.equal_nan)
        if bool(matches.all()):
            return
        if actual.dim() == 0:
            msg = make_scalar_mismatch_msg(actual.item(), expected.item(), rtol=self.rtol, atol=self.atol)
        else:
            msg = make_tensor_mismatch_msg(actual, expected, matches, rtol=self.rtol, atol=self.atol)
        self._fail(AssertionError, msg)


_PAIR_TYPES = (NonePair, BooleanPair, NumberPair, TensorLikePair)


def originate_pairs(actual: Any, expected: Any, *, id: tuple[Any, ...] = (), **options: Any) -> list[Pair]:
    """The leaf pairs of two (possibly nested) inputs; raises ``ErrorMeta`` on a structure mismatch."""
    # str is excluded: "a"[0] is "a", the recursion would never end
    if (isinstance(actual, collections.abc.Sequence) and not isinstance(actual, str)
            and isinstance(expected, collections.abc.Sequence) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise ErrorMeta(AssertionError,
                            f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", id=id)
        pairs = []
        for idx in range(len(actual)):
            pairs.extend(originate_pairs(actual[idx], expected[idx], id=(*id, idx), **options))
        return pairs
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        actual_keys, expected_keys = set(actual.keys()), set(expected.keys())
        if actual_keys != expected_keys:
            raise ErrorMeta(AssertionError,
                            "The keys of the mappings do not match:\n"
                            f"Missing keys in the actual mapping: {sorted(expected_keys - actual_keys)}\n"
                            f"Additional keys in the actual mapping: {sorted(actual_keys - expected_keys)}", id=id)
        keys: Any = actual_keys
        with contextlib.suppress(Exception):  # sorted when the keys allow it: the first failure is deterministic
            keys = sorted(keys)
        pairs = []
        for key in keys:
            pairs.extend(originate_pairs(actual[key], expected[key], id=(*id, key), **options))
        return pairs
    for pair_type in _PAIR_TYPES:
        try:
            return [pair_type(actual, expected, id=id, **options)]
        except UnsupportedInputs:
            continue
    raise ErrorMeta(TypeError,
                    f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.",
                    id=id)


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False,
                 msg: str | Callable[[str], str] | None = None) -> None:
    r"""Asserts that ``actual`` and ``expected`` are close: ``|actual - expected| <= atol + rtol * |expected|``
    elementwise, with equal shapes (and devices, dtypes, layouts, strides as the ``check_*`` flags ask).

    Inputs are tensors, numpy arrays, Python/numpy scalars, ``None``, or sequences / mappings of them
    (compared elementwise). Omitted ``rtol``/``atol`` default per dtype: float16 (1e-3, 1e-5),
    bfloat16 (1.6e-2, 1e-5), float32 (1.3e-6, 1e-5), float64 (1e-7, 1e-7), others (0, 0).
    ``inf`` matches only itself; ``nan`` matches ``nan`` only with ``equal_nan=True``.

    Raises:
        AssertionError: on a mismatch; ``msg`` replaces the generated message (a callable gets it and
            returns the new one).
        ValueError: when only one of ``rtol``/``atol`` is given.
        TypeError: when the inputs are of types that cannot be compared (a tensor and a numpy array).
    """
    __tracebackhide__ = True
    options = {"allow_subclasses": allow_subclasses, "rtol": rtol, "atol": atol, "equal_nan": equal_nan,
               "check_device": check_device, "check_dtype": check_dtype, "check_layout": check_layout,
               "check_stride": check_stride}
    try:
        pairs = originate_pairs(actual, expected, **options)
    except ErrorMeta as error:  # structure errors keep the generated message, as in PyTorch
        raise error.to_error() from None
    for pair in pairs:
        try:
            pair.compare()
        except ErrorMeta as error:
            raise error.to_error(msg) from None


def assert_allclose(actual: Any, expected: Any, rtol: float | None = None, atol: float | None = None,
                    equal_nan: bool = True, msg: str = "") -> None:
    """Deprecated since PyTorch 1.12: ``assert_close`` with looser defaults, ``equal_nan=True`` and no dtype
    check; non-tensor inputs become tensors (``expected`` in ``actual``'s dtype)."""
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future "
                  "release. Please use `torch.testing.assert_close()` instead. You can find detailed upgrade "
                  "instructions in https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, ferrotorch.Tensor):
        actual = ferrotorch.tensor(actual)
    if not isinstance(expected, ferrotorch.Tensor):
        expected = ferrotorch.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = default_tolerances(actual, expected, dtype_precisions={
            ferrotorch.float16: (1e-3, 1e-3), ferrotorch.float32: (1e-4, 1e-5), ferrotorch.float64: (1e-5, 1e-8)})
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True,
                 check_dtype=False, check_stride=False, msg=msg or None)
