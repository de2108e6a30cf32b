"""CUDA kernels (rust/cuda/kernels/*.cu) run on the CPU emulator in tests/cuda_emulator.

Each kernel family is compiled with g++ against a host shim and checked against numpy /
ml_dtypes references: arithmetic, indexing, strided/broadcast views, grid-stride loops,
cross-thread reductions and argument conventions. No GPU is needed; warp divergence, timing and
the GPU memory model are not emulated (see tests/cuda_emulator/emu.py).
"""

import ctypes
import functools
import importlib.util
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is needed for bfloat16 references")


def _cxx20_barrier_problem():
    if shutil.which("g++") is None:
        return "g++ not found"
    prog = "#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); return 0; }\n"
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "t.cpp"
        src.write_text(prog)
        try:
            r = subprocess.run(
                ["g++", "-std=c++20", "-pthread", "-o", str(Path(d) / "t"), str(src)],
                check=False, capture_output=True, text=True, timeout=120,
            )
        except (OSError, subprocess.SubprocessError) as e:
            return f"g++ failed to run: {e}"
    if r.returncode != 0:
        return "g++ cannot compile a C++20 <barrier> program"
    return None


_problem = _cxx20_barrier_problem()
if _problem is not None:
    pytest.skip(f"CUDA emulator unavailable: {_problem}", allow_module_level=True)

_spec = importlib.util.spec_from_file_location(
    "ferrotorch_cuda_emu", Path(__file__).parent / "cuda_emulator" / "emu.py"
)
emu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(emu)
strides_of, broadcast_strides = emu.strides_of, emu.broadcast_strides

BF = ml_dtypes.bfloat16
NP = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": BF,
      "i64": np.int64, "i32": np.int32, "u8": np.uint8}
FLOATS = ["f32", "f64", "f16", "bf16"]
ALL = FLOATS + ["i64", "i32", "u8"]
TOL = {"f32": 1e-5, "f64": 1e-12, "f16": 2e-3, "bf16": 1.6e-2}
D, I, U64 = ctypes.c_double, ctypes.c_int, ctypes.c_ulonglong


@functools.cache
def _module(name):
    return emu.build(name)


@pytest.fixture(scope="session")
def kernels():
    """kernels(name) -> emulated module; each module is compiled once per session (and cached on disk)."""
    return _module


@pytest.fixture(autouse=True)
def _quiet_fp():
    with np.errstate(all="ignore"):
        yield


def assert_close(got, want, rtol=0.0, atol=0.0, msg=""):
    """NaN positions must match; other values within rtol/atol (exact by default), compared in f64."""
    g = np.asarray(got).astype(np.float64)
    w = np.asarray(want).astype(np.float64)
    assert g.shape == w.shape, (msg, g.shape, w.shape)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{msg}: NaN positions")
    np.testing.assert_allclose(np.nan_to_num(g, nan=0), np.nan_to_num(w, nan=0), rtol=rtol, atol=atol,
                               err_msg=msg)


def tof(x):
    return x.astype(np.float32) if x.dtype in (np.float16, BF) else x


def f64(x):
    return x.astype(np.float64)


# ---------------------------------------------------------------------------------------------- copy

@pytest.mark.parametrize("v", [0.0, 1.0, -2.5, 300.7])
@pytest.mark.parametrize("dt", ALL)
def test_fill(kernels, dt, v):
    n = 517
    out = np.zeros(n, NP[dt])
    kernels("copy").launch(f"fill_{dt}", 2, 64, out, D(v), n)
    if dt in ("i64", "i32"):
        want = np.full(n, int(v), NP[dt])
    elif dt == "u8":
        want = np.full(n, np.int64(v)).astype(np.uint8)
    else:
        want = np.full(n, np.float32(v) if dt in ("f16", "bf16") else v).astype(NP[dt])
    assert_close(out, want)


@pytest.mark.parametrize("dt", ALL)
def test_copy_strided(kernels, dt):
    rng = np.random.default_rng(10)
    cp = kernels("copy")
    if dt == "u8":
        base = rng.integers(0, 255, 120).astype(np.uint8)
    else:
        base = rng.uniform(-100, 100, 120).astype(NP[dt])
    view = base.reshape(4, 5, 6).transpose(2, 0, 1)[:, ::2, 1:]  # non-contiguous, offset start
    out = np.zeros(view.size, NP[dt])
    cp.launch(f"copy_strided_{dt}", 2, 32, out, view, strides_of(view), view.size)
    assert_close(out, np.ascontiguousarray(view).ravel())
    scalar = np.array(base[3])  # 0-d
    out = np.zeros(1, NP[dt])
    cp.launch(f"copy_strided_{dt}", 1, 32, out, scalar, strides_of(scalar), 1)
    assert_close(out, scalar.reshape(1))


@pytest.mark.parametrize("dt", ALL)
def test_copy_to_strided(kernels, dt):
    rng = np.random.default_rng(11)
    src_base = rng.uniform(-100, 100, 60).astype(NP[dt]) if dt != "u8" else rng.integers(0, 255, 60).astype(np.uint8)
    src = src_base.reshape(3, 4, 5).transpose(1, 2, 0)  # [4, 5, 3], non-contiguous
    dst_base = np.zeros((6, 5, 4), NP[dt])
    dst = dst_base[1:5, :, 1:4]  # a [4, 5, 3] window
    kernels("copy").launch(f"copy_to_strided_{dt}", 2, 32, dst, strides_of(dst), src, strides_of(src), src.size)
    want = np.zeros((6, 5, 4), NP[dt])
    want[1:5, :, 1:4] = src
    assert_close(dst_base, want)


def _ref_cast(x, src, dst):
    # c10::convert semantics: halves via f32, float -> u8 via i64
    if src in ("f16", "bf16"):
        x = x.astype(np.float32)
    if dst == "bool":
        return (x != 0).astype(np.uint8)
    if dst in ("f16", "bf16"):
        return x.astype(np.float32).astype(NP[dst])
    if dst == "u8" and x.dtype.kind == "f":
        return x.astype(np.int64).astype(np.uint8)
    return x.astype(NP[dst])


CAST_CASES = [(src, dst) for src in ALL for dst in ALL + ["bool"] if src != dst]


@pytest.mark.parametrize("src,dst", CAST_CASES)
def test_cast(kernels, src, dst):
    rng = np.random.default_rng(11)
    n = 517
    if src in ("i64", "i32"):
        x = rng.integers(-70000, 70000, n).astype(NP[src])
    elif src == "u8":
        x = rng.integers(0, 256, n).astype(np.uint8)
    else:
        x = rng.uniform(-300, 300, n)
        x[:6] = [0.0, -0.0, 0.5, -1.0, 1e-30, 65519.9]
        x = x.astype(NP[src])
    out = np.zeros(n, np.uint8 if dst == "bool" else NP[dst])
    kernels("copy").launch(f"cast_{src}_{dst}", 2, 64, out, x, n)
    assert_close(out, _ref_cast(x, src, dst))


def test_cast_special_values(kernels):
    cp = kernels("copy")
    # NaN -> bool is true; NaN stays NaN in bf16; bf16 rounding ties and overflow; subnormals
    x = np.array([np.nan, -np.nan, np.inf, 3.3895314e38, 1.00390625, 1.01171875, -1.00390625, 1e-40],
                 np.float32)
    out = np.zeros(8, BF)
    cp.launch("cast_f32_bf16", 1, 32, out, x, 8)
    np.testing.assert_array_equal(out.view(np.uint16), x.astype(BF).view(np.uint16))
    out = np.zeros(8, np.uint8)
    cp.launch("cast_f32_bool", 1, 32, out, x, 8)
    np.testing.assert_array_equal(out, (x != 0).astype(np.uint8))


def test_cast_bf16_to_f32_bit_patterns(kernels):
    xb = np.random.default_rng(12).integers(0, 65536, 4096).astype(np.uint16)
    xf = np.zeros(4096, np.float32)
    kernels("copy").launch("cast_bf16_f32", 2, 64, xf, xb, 4096)
    np.testing.assert_array_equal(xf.view(np.uint32), xb.view(BF).astype(np.float32).view(np.uint32))


@pytest.mark.parametrize("dst", ["bf16", "f16"])
def test_cast_f32_to_half_rounding(kernels, dst):
    rng = np.random.default_rng(13)
    n = 50000
    xf = rng.standard_normal(n).astype(np.float32) * np.float32(10.0) ** rng.integers(-40, 39, n).astype(
        np.float32)
    out = np.zeros(n, NP[dst])
    kernels("copy").launch(f"cast_f32_{dst}", 8, 256, out, xf, n)
    np.testing.assert_array_equal(out.view(np.uint16), xf.astype(NP[dst]).view(np.uint16))


# --------------------------------------------------------------------------------------- elementwise

G, B = 3, 64  # small grids: exercise the grid-stride loops
N = 1003  # not a multiple of 4: exercises the tail after the packed loop


def _data(rng, dt, n, lo=-4, hi=4):
    if dt in ("i64", "i32"):
        return rng.integers(-50, 50, n).astype(NP[dt])
    if dt == "u8":
        return rng.integers(0, 255, n).astype(np.uint8)
    return rng.uniform(lo, hi, n).astype(np.float32).astype(NP[dt])


BINOPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "maximum": np.maximum,
          "minimum": np.minimum, "div": np.divide, "pow": np.power}
BINARY_CASES = [(dt, op) for dt in ALL for op in BINOPS if dt in FLOATS or op not in ("div", "pow")]


@pytest.mark.parametrize("dt,op", BINARY_CASES)
def test_binary(kernels, dt, op):
    rng = np.random.default_rng(20)
    el = kernels("elementwise")
    a, b = _data(rng, dt, N), _data(rng, dt, N)
    if dt in FLOATS:
        a[5] = np.nan
        b[7] = np.nan
    if op == "pow":
        a = np.abs(a)
    want = np.asarray(BINOPS[op](tof(a), tof(b))).astype(NP[dt])
    # pow goes through powf/pow: allow 1 ulp of the result type (a half can round either side of a tie)
    rtol = {"f32": 1e-6, "f64": 1e-14, "f16": 1e-3, "bf16": 8e-3}[dt] if op == "pow" else 0
    out = np.zeros(N, NP[dt])
    el.launch(f"{op}_{dt}", G, B, out, a, b, N)
    assert_close(out, want, rtol=rtol, msg="aligned")
    out2 = np.zeros(N, NP[dt])  # misaligned pointers take the scalar path
    el.launch(f"{op}_{dt}", G, B, out2[1:], a[1:], b[1:], N - 1)
    assert_close(out2[1:], want[1:], rtol=rtol, msg="misaligned")


def _strided_pair(rng, dt):
    a = _data(rng, dt, 35).reshape(7, 5).T  # (5, 7) non-contiguous
    b = _data(rng, dt, 7)  # broadcasts along rows
    return a, b


@pytest.mark.parametrize("dt", ALL)
def test_sub_strided_broadcast(kernels, dt):
    a, b = _strided_pair(np.random.default_rng(21), dt)
    out = np.zeros((5, 7), NP[dt])
    kernels("elementwise").launch(f"sub_strided_{dt}", 2, 32, out, a, strides_of(a), b,
                                  broadcast_strides(b, (5, 7)), 35)
    assert_close(out, (tof(a) - tof(b)[None, :]).astype(NP[dt]))


@pytest.mark.parametrize("dt", ALL)
def test_where_strided(kernels, dt):
    rng = np.random.default_rng(22)
    a, b = _strided_pair(rng, dt)  # a [5, 7] strided, b [7] broadcast
    cond = rng.integers(0, 2, (7, 5)).astype(np.uint8).T  # [5, 7], transposed
    out = np.zeros((5, 7), NP[dt])
    kernels("elementwise").launch(f"where_{dt}", 2, 32, out, cond, strides_of(cond), a, strides_of(a), b,
                                  broadcast_strides(b, (5, 7)), 35)
    assert_close(out, np.where(cond != 0, a, np.broadcast_to(b, (5, 7))))


CMPS = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
        "ge": np.greater_equal}


@pytest.mark.parametrize("cmp", CMPS)
@pytest.mark.parametrize("dt", ALL)
def test_compare(kernels, dt, cmp):
    rng = np.random.default_rng(22)
    el = kernels("elementwise")
    f = CMPS[cmp]
    a, b = _data(rng, dt, N), _data(rng, dt, N)
    if dt in FLOATS:
        a[5] = np.nan
        b[7] = np.nan
    b[::3] = a[::3]
    out = np.full(N, 7, np.uint8)
    el.launch(f"{cmp}_{dt}", G, B, out, a, b, N)
    np.testing.assert_array_equal(out, f(tof(a), tof(b)).astype(np.uint8))
    sa, sb = _strided_pair(rng, dt)
    out = np.full(35, 7, np.uint8)
    el.launch(f"{cmp}_strided_{dt}", G, B, out, sa, strides_of(sa), sb, broadcast_strides(sb, (5, 7)), 35)
    np.testing.assert_array_equal(out, f(tof(sa), tof(sb)[None, :]).astype(np.uint8).ravel())


@pytest.mark.parametrize("sop", ["add_scalar", "mul_scalar"])
@pytest.mark.parametrize("dt", ALL)
def test_scalar_op(kernels, dt, sop):
    a = _data(np.random.default_rng(23), dt, N)
    f = np.add if sop == "add_scalar" else np.multiply
    s = -3.0
    out = np.zeros(N, NP[dt])
    kernels("elementwise").launch(f"{sop}_{dt}", G, B, out, a, D(s), N)
    if dt in FLOATS:
        want = f(tof(a), np.float32(s) if dt != "f64" else s).astype(NP[dt])
    elif dt == "u8":
        want = f(a.astype(np.int64), -3).astype(np.uint8)
    else:
        want = f(a, NP[dt](-3)).astype(NP[dt])
    assert_close(out, want)


UNARY = {
    "neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
    "rsqrt": lambda v: 1 / np.sqrt(v), "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "relu": lambda v: np.where(np.isnan(v), v, np.maximum(v, 0)),
    "gelu": lambda v: 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2))),
    "silu": lambda v: v / (1 + np.exp(-v)),
}


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("dt", FLOATS)
def test_unary_float(kernels, dt, op):
    x = _data(np.random.default_rng(24), dt, N, -6, 6)
    x[3], x[4], x[6] = np.nan, -np.inf, np.inf
    if op in ("log", "sqrt", "rsqrt"):
        x = np.abs(x)
    want = UNARY[op](x.astype(np.float64)).astype(NP[dt])
    out = np.zeros(N, NP[dt])
    kernels("elementwise").launch(f"{op}_{dt}", G, B, out, x, N)
    tol = {"f32": 2e-6, "f64": 1e-14, "f16": 1e-3, "bf16": 8e-3}[dt]
    assert_close(out, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("op", ["neg", "abs", "relu"])
@pytest.mark.parametrize("dt", ["i64", "i32"])
def test_unary_int(kernels, dt, op):
    a = _data(np.random.default_rng(25), dt, N)
    out = np.zeros(N, NP[dt])
    kernels("elementwise").launch(f"{op}_{dt}", G, B, out, a, N)
    f = {"neg": np.negative, "abs": np.abs, "relu": lambda v: np.maximum(v, 0)}[op]
    np.testing.assert_array_equal(out, f(a))


# ------------------------------------------------------------------------------------------- reduce

@pytest.mark.parametrize("shape", [(5, 1000), (7, 3), (3, 0), (1, 1)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dt", FLOATS)
def test_row_reductions(kernels, dt, shape):
    rng = np.random.default_rng(30)
    red = kernels("reduce")
    rows, cols = shape
    x = rng.uniform(-3, 3, shape).astype(np.float32).astype(NP[dt])
    if rows >= 5 and cols > 10:  # NaN row, all -inf row, tied extremes
        x[1, 17] = np.nan
        x[2, :] = -np.inf
        x[3, 5] = x[3].astype(np.float64).max() + 1
        x[3, 900] = x[3, 5]
    out = np.zeros(rows, NP[dt])
    red.launch(f"sum_rows_{dt}", 2, 64, out, x, rows, cols)
    assert_close(out, f64(x).sum(1).astype(NP[dt]), rtol=TOL[dt], atol=TOL[dt], msg="sum")
    for op, f, empty in [("max", np.max, -np.inf), ("min", np.min, np.inf)]:
        out = np.zeros(rows, NP[dt])
        red.launch(f"{op}_rows_{dt}", 2, 64, out, x, rows, cols)
        want = f(f64(x), axis=1) if cols else np.full(rows, empty)
        assert_close(out, want.astype(NP[dt]), msg=op)
    for op, f in [("argmax", np.argmax), ("argmin", np.argmin)]:
        out = np.full(rows, -5, np.int64)
        red.launch(f"{op}_rows_{dt}", 2, 64, out, x, rows, cols)
        want = f(f64(x), axis=1) if cols else np.zeros(rows, np.int64)  # first NaN wins, first on ties
        np.testing.assert_array_equal(out, want, err_msg=op)


def _two_pass(mod, name, final, x, acc_dtype, grid=7):
    part = np.zeros(grid, acc_dtype)
    mod.launch(name, grid, 256, part, x, x.size)
    fin = np.zeros(1, acc_dtype)
    mod.launch(final, 1, 256, fin, part, grid)
    return fin


@pytest.mark.parametrize("n", [100003, 5, 0])
@pytest.mark.parametrize("dt", FLOATS)
def test_full_reductions(kernels, dt, n):
    red = kernels("reduce")
    x = np.random.default_rng(31).uniform(-1, 1, n).astype(np.float32).astype(NP[dt])
    acc = np.float64 if dt == "f64" else np.float32
    fin = _two_pass(red, f"sum_all_{dt}", "sum_all_f64" if dt == "f64" else "sum_all_f32", x, acc)
    assert_close(fin, np.array([f64(x).sum()]), rtol=1e-5 if dt != "f64" else 1e-12, atol=1e-3)
    if not n:
        return
    if n > 10:
        x[n // 2] = 9.0
    for op, f in [("max", np.max), ("min", np.min)]:
        fin = _two_pass(red, f"{op}_all_{dt}", f"{op}_all_{dt}", x, NP[dt])
        assert_close(fin, np.array([f(x)]), msg=op)
    x[3] = np.nan
    fin = _two_pass(red, f"max_all_{dt}", f"max_all_{dt}", x, NP[dt])
    assert_close(fin, np.array([np.nan]), msg="max with NaN")


@pytest.mark.parametrize("dt", ["i64", "i32", "u8"])
def test_integer_sums(kernels, dt):
    red = kernels("reduce")
    x = np.random.default_rng(32).integers(0, 200, (4, 777)).astype(NP[dt])
    out = np.zeros(4, np.int64)
    red.launch(f"sum_rows_{dt}", 3, 64, out, x, 4, 777)
    np.testing.assert_array_equal(out, x.astype(np.int64).sum(1))
    part = np.zeros(5, np.int64)
    red.launch(f"sum_all_{dt}", 5, 128, part, x, x.size)
    fin = np.zeros(1, np.int64)
    red.launch("sum_all_i64", 1, 256, fin, part, 5)
    np.testing.assert_array_equal(fin, [x.astype(np.int64).sum()])


# ------------------------------------------------------------------------------------------ softmax

@pytest.mark.parametrize("shape", [(6, 700), (3, 5)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dt", FLOATS)
def test_softmax(kernels, dt, shape):
    rng = np.random.default_rng(40)
    sm = kernels("softmax")
    rows, cols = shape
    T, tol = NP[dt], TOL[dt]
    x = rng.uniform(-20, 20, shape).astype(np.float32).astype(T)
    x[0, 0] = 1000 if dt != "f16" else 60000  # max subtraction keeps this finite
    xd = f64(x)
    e = np.exp(xd - xd.max(1, keepdims=True))
    y = e / e.sum(1, keepdims=True)
    ly = xd - xd.max(1, keepdims=True) - np.log(e.sum(1, keepdims=True))
    out = np.zeros_like(x)
    sm.launch(f"softmax_rows_{dt}", 2, 64, out, x, rows, cols)
    assert_close(out, y.astype(T), rtol=tol, atol=tol * 1e-2, msg="softmax")
    out = np.zeros_like(x)
    sm.launch(f"log_softmax_rows_{dt}", 2, 64, out, x, rows, cols)
    assert_close(out, ly.astype(T), rtol=tol, atol=tol, msg="log_softmax")
    xi = x.copy()
    sm.launch(f"softmax_rows_{dt}", 2, 64, xi, xi, rows, cols)
    assert_close(xi, y.astype(T), rtol=tol, atol=tol * 1e-2, msg="softmax in place")
    g = rng.standard_normal(shape).astype(np.float32).astype(T)
    yT, lyT = y.astype(T), ly.astype(T)
    yd, gd = f64(yT), f64(g)
    gi = np.zeros_like(x)
    sm.launch(f"softmax_backward_rows_{dt}", 2, 64, gi, g, yT, rows, cols)
    assert_close(gi, (yd * (gd - (gd * yd).sum(1, keepdims=True))).astype(T), rtol=tol, atol=tol * 1e-2,
                 msg="softmax backward")
    gi = np.zeros_like(x)
    sm.launch(f"log_softmax_backward_rows_{dt}", 2, 64, gi, g, lyT, rows, cols)
    assert_close(gi, (gd - np.exp(f64(lyT)) * gd.sum(1, keepdims=True)).astype(T), rtol=tol, atol=tol,
                 msg="log_softmax backward")


@pytest.mark.parametrize("dt", FLOATS)
def test_softmax_degenerate_rows(kernels, dt):
    x = np.full((2, 4), -np.inf, NP[dt])
    x[1, 2] = np.nan
    out = np.zeros_like(x)
    kernels("softmax").launch(f"softmax_rows_{dt}", 1, 32, out, x, 2, 4)
    assert_close(out, np.full((2, 4), np.nan))


# --------------------------------------------------------------------------------------- layer norm

@pytest.mark.parametrize("shape", [(5, 300), (4, 1), (3, 70)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dt", FLOATS)
def test_layer_norm(kernels, dt, shape):
    rng = np.random.default_rng(50)
    nm = kernels("norm")
    rows, cols = shape
    T, tol = NP[dt], TOL[dt]
    acc = np.float64 if dt == "f64" else np.float32
    x = (rng.standard_normal(shape) * 3 + 5).astype(np.float32).astype(T)
    w = rng.standard_normal(cols).astype(np.float32).astype(T)
    b = rng.standard_normal(cols).astype(np.float32).astype(T)
    eps = 1e-5
    xd = f64(x)
    mu = xd.mean(1, keepdims=True)
    rs = 1 / np.sqrt(xd.var(1, keepdims=True) + eps)
    xhat = (xd - mu) * rs
    for wa, ba in [(w, b), (None, None), (w, None)]:
        tag = f"w={wa is not None} b={ba is not None}"
        y = xhat * (f64(wa) if wa is not None else 1) + (f64(ba) if ba is not None else 0)
        out, mo, ro = np.zeros_like(x), np.zeros(rows, acc), np.zeros(rows, acc)
        nm.launch(f"layer_norm_rows_{dt}", 2, 64, out, mo, ro, x, wa, ba, rows, cols, D(eps))
        assert_close(out, y.astype(T), rtol=tol, atol=tol * 5, msg=tag)
        assert_close(mo, mu.ravel(), rtol=1e-6 if dt != "f64" else 1e-13, msg=f"{tag} mean")
        assert_close(ro, rs.ravel(), rtol=1e-5 if dt != "f64" else 1e-12, msg=f"{tag} rstd")
    out = np.zeros_like(x)  # mean/rstd outputs are optional
    nm.launch(f"layer_norm_rows_{dt}", 2, 64, out, None, None, x, w, b, rows, cols, D(eps))
    assert_close(out, (xhat * f64(w) + f64(b)).astype(T), rtol=tol, atol=tol * 5, msg="no stats")

    g = rng.standard_normal(shape).astype(np.float32).astype(T)
    gd = f64(g)
    mo, ro = mu.ravel().astype(acc), rs.ravel().astype(acc)
    for wa in [w, None]:
        gw = gd * (f64(wa) if wa is not None else 1)
        ref = rs * (gw - gw.mean(1, keepdims=True) - xhat * (gw * xhat).mean(1, keepdims=True))
        gi = np.zeros_like(x)
        nm.launch(f"layer_norm_backward_rows_{dt}", 2, 64, gi, g, x, mo, ro, wa, rows, cols)
        assert_close(gi, ref.astype(T), rtol=tol * 10, atol=tol * 10, msg=f"backward w={wa is not None}")
    dw, db = np.zeros(cols, T), np.zeros(cols, T)
    nm.launch(f"layer_norm_affine_grad_{dt}", 2, 128, dw, db, g, x, mo, ro, rows, cols)
    assert_close(dw, (gd * xhat).sum(0).astype(T), rtol=tol * 10, atol=tol * 10, msg="dw")
    assert_close(db, gd.sum(0).astype(T), rtol=tol * 10, atol=tol * 10, msg="db")
    db2 = np.zeros(cols, T)
    nm.launch(f"layer_norm_affine_grad_{dt}", 1, 256, None, db2, g, x, mo, ro, rows, cols)
    assert_close(db2, db, rtol=tol, atol=tol, msg="db only")


# ---------------------------------------------------------------------------------------------- loss

@pytest.mark.parametrize("weighted", [True, False], ids=["weight", "no_weight"])
@pytest.mark.parametrize("dt", FLOATS)
def test_nll_and_cross_entropy(kernels, dt, weighted):
    rng = np.random.default_rng(60)
    loss = kernels("loss")
    rows, cols = 9, 13
    T, tol = NP[dt], TOL[dt]
    logits = rng.standard_normal((rows, cols))
    lp = logits - logits.max(1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    lpT = lp.astype(np.float32).astype(T)
    lpd = f64(lpT)
    tgt = rng.integers(0, cols, rows).astype(np.int64)
    tgt[2] = -100  # ignored
    tgt[5] = cols + 3  # invalid: NaN loss and the error flag
    w = rng.uniform(0.5, 2, cols).astype(np.float32).astype(T)
    wa = w if weighted else None
    ww = f64(w) if weighted else np.ones(cols)

    lo, rw, err = np.zeros(rows, T), np.zeros(rows, T), np.zeros(1, np.int32)
    loss.launch(f"nll_rows_{dt}", 2, 32, lo, lpT, tgt, wa, rows, cols, -100, rw, err)
    want = [0.0 if t == -100 else (np.nan if not 0 <= t < cols else -ww[t] * lpd[r, t]) for r, t in enumerate(tgt)]
    assert_close(lo, np.array(want).astype(T), rtol=tol, msg="nll")
    assert_close(rw, np.array([ww[t] if 0 <= t < cols else 0.0 for t in tgt]).astype(T), msg="row weights")
    np.testing.assert_array_equal(err, [1])

    grow = rng.standard_normal(rows).astype(np.float32).astype(T)
    one = np.array([0.37]).astype(np.float32).astype(T)  # 'sum'/'mean': one gradient for every row
    for gr, stride in [(one, 0), (grow, 1)]:
        grd = np.broadcast_to(f64(gr), (rows,))
        gi = np.full((rows, cols), 9, T)
        err[:] = 0
        loss.launch(f"cross_entropy_backward_rows_{dt}", 3, 32, gi, lpT, tgt, wa, rows, cols, -100, gr, stride, err)
        ref = np.zeros((rows, cols))
        for r, t in enumerate(tgt):
            if 0 <= t < cols:
                ref[r] = (np.exp(lpd[r]) - np.eye(cols)[t]) * ww[t] * grd[r]
        assert_close(gi, ref.astype(T), rtol=tol, atol=tol * 1e-1, msg=f"ce backward stride={stride}")
        np.testing.assert_array_equal(err, [1])
        gi = np.full((rows, cols), 9, T)
        loss.launch(f"nll_backward_rows_{dt}", 3, 32, gi, tgt, wa, rows, cols, -100, gr, stride, None)
        ref = np.zeros((rows, cols))
        for r, t in enumerate(tgt):
            if 0 <= t < cols:
                ref[r, t] = -ww[t] * grd[r]
        assert_close(gi, ref.astype(T), rtol=tol, msg=f"nll backward stride={stride}")


# ----------------------------------------------------------------------------------------- embedding

@pytest.mark.parametrize("dt", FLOATS)
def test_embedding(kernels, dt):
    rng = np.random.default_rng(70)
    emb = kernels("embedding")
    ne, dim, nidx = 11, 37, 20
    W = rng.standard_normal((ne, dim)).astype(np.float32).astype(NP[dt])
    idx = rng.integers(0, ne, nidx).astype(np.int64)
    idx[3], idx[4] = ne, -1  # out of range: NaN rows and the error flag
    out, err = np.zeros((nidx, dim), NP[dt]), np.zeros(1, np.int32)
    emb.launch(f"embedding_{dt}", 2, 64, out, W, idx, nidx, dim, ne, err)
    ref = np.array([W[k] if 0 <= k < ne else np.full(dim, np.nan) for k in idx]).astype(NP[dt])
    assert_close(out, ref)
    np.testing.assert_array_equal(err, [1])
    idx[3] = idx[4] = 2
    err[:] = 0
    emb.launch(f"embedding_{dt}", 2, 64, out, W, idx, nidx, dim, ne, err)
    np.testing.assert_array_equal(err, [0])
    assert_close(out, W[idx])


@pytest.mark.parametrize("pad", [-1, 2])
@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_embedding_backward(kernels, dt, pad):
    rng = np.random.default_rng(71)
    ne, dim, nidx = 11, 37, 20
    idx = rng.integers(0, ne, nidx).astype(np.int64)
    idx[3] = idx[4] = 2  # repeated index: atomics accumulate
    g = rng.standard_normal((nidx, dim)).astype(NP[dt])
    gw = np.zeros((ne, dim), NP[dt])
    kernels("embedding").launch(f"embedding_backward_{dt}", 3, 64, gw, g, idx, nidx, dim, ne, pad)
    ref = np.zeros((ne, dim))
    for r, k in enumerate(idx):
        if k != pad:
            ref[k] += g[r]
    assert_close(gw, ref.astype(NP[dt]), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------------------- optimizers
# references are straight transcriptions of torch.optim's single-tensor code

OPT_SIZES = (5000, 0, 1031)  # a tensor longer than a chunk (4096), an empty one, and one crossing a chunk's end


class TensorList(ctypes.Structure):
    """Mirror of optim.cu's TensorList (up to 32 tensors)."""

    _fields_ = [("p", U64 * 32), ("g", U64 * 32), ("s", (U64 * 32) * 3), ("start", ctypes.c_longlong * 33),
                ("c", (D * 32) * 3), ("count", ctypes.c_int)]


assert ctypes.sizeof(TensorList) == 2320


def tensor_list(ps, gs, states=(), coefs=()):
    """A TensorList over numpy buffers; ``states[k][t]`` / ``coefs[k][t]`` fill slot k of tensor t."""
    tl = TensorList()
    for t, (p, g) in enumerate(zip(ps, gs)):
        tl.p[t], tl.g[t] = p.ctypes.data, g.ctypes.data
        for k, bufs in enumerate(states):
            tl.s[k][t] = bufs[t].ctypes.data if bufs[t] is not None else 0
        for k, cs in enumerate(coefs):
            tl.c[k][t] = cs[t]
        tl.start[t + 1] = tl.start[t] + p.size
    tl.count = len(ps)
    return tl


@pytest.mark.parametrize("mom,damp,wd,nest,maxim", [(0, 0, 0, 0, 0), (0.9, 0.1, 0.01, 0, 0), (0.9, 0, 0.01, 1, 1)])
@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_sgd(kernels, dt, mom, damp, wd, nest, maxim):
    rng = np.random.default_rng(80)
    T = NP[dt]
    ps = [rng.standard_normal(n).astype(T) for n in OPT_SIZES]
    bufs = [np.zeros(n, T) for n in OPT_SIZES]
    prs, brs = [p.copy() for p in ps], [None] * len(ps)
    lr = 0.05
    for step in range(3):
        gs = [rng.standard_normal(n).astype(T) for n in OPT_SIZES]
        tl = tensor_list(ps, gs, [bufs if mom else [None] * 3], [[float(step == 0)] * 3])
        kernels("optim").launch(f"sgd_{dt}", 1, 64, tl, D(lr), D(mom), D(damp), D(wd), I(nest), I(maxim))
        for t, g in enumerate(gs):
            d = -g if maxim else g.copy()
            if wd:
                d = d + T(wd) * prs[t]
            if mom:
                brs[t] = d.copy() if brs[t] is None else brs[t] * T(mom) + T(1 - damp) * d
                d = d + T(mom) * brs[t] if nest else brs[t]
            prs[t] = prs[t] - T(lr) * d
    for p, pr in zip(ps, prs):
        assert_close(p, pr, rtol=1e-6 if dt == "f32" else 1e-14, atol=1e-7)


@pytest.mark.parametrize("wd,dec,maxim,ams", [(0, 0, 0, 0), (0.01, 0, 0, 1), (0.01, 1, 1, 0), (0.1, 1, 0, 1)])
@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_adam(kernels, dt, wd, dec, maxim, ams):
    rng = np.random.default_rng(81)
    T = NP[dt]
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    ps = [rng.standard_normal(n).astype(T) for n in OPT_SIZES]
    ms, vs, vms = ([np.zeros(n, T) for n in OPT_SIZES] for _ in range(3))
    prs, mrs, vrs, vmrs = ([x.copy() for x in xs] for xs in (ps, ms, vs, vms))
    for step in range(1, 4):
        gs = [rng.standard_normal(n).astype(T) for n in OPT_SIZES]
        bc1, bc2s = 1 - b1**step, math.sqrt(1 - b2**step)
        tl = tensor_list(ps, gs, [ms, vs, vms if ams else [None] * 3], [[lr / bc1] * 3, [bc2s] * 3])
        kernels("optim").launch(f"adam_{dt}", 2, 64, tl, D(lr), D(b1), D(b2), D(eps), D(wd), I(dec), I(maxim))
        for t, g in enumerate(gs):
            d = -g if maxim else g.copy()
            if wd:
                if dec:
                    prs[t] = prs[t] * T(1 - lr * wd)
                else:
                    d = d + T(wd) * prs[t]
            mrs[t] = mrs[t] + T(1 - b1) * (d - mrs[t])
            vrs[t] = vrs[t] * T(b2) + T(1 - b2) * d * d
            if ams:
                vmrs[t] = np.maximum(vmrs[t], vrs[t])
            den = np.sqrt(vmrs[t] if ams else vrs[t]) / T(bc2s) + T(eps)
            prs[t] = prs[t] - T(lr / bc1) * (mrs[t] / den)
    tol = 1e-6 if dt == "f32" else 1e-14
    for t in range(len(ps)):
        assert_close(ps[t], prs[t], rtol=tol, atol=1e-7, msg="param")
        assert_close(ms[t], mrs[t], rtol=tol, atol=1e-8, msg="exp_avg")


@pytest.mark.parametrize("dt", FLOATS)
def test_unscale_grad_flags_non_finite_values_across_the_list(kernels, dt):
    rng = np.random.default_rng(82)
    T = NP[dt]
    gs = [(rng.standard_normal(n) * 100).astype(T) for n in OPT_SIZES]
    want = [(g.astype(np.float64) / 64).astype(T) for g in gs]
    found = np.zeros(1, np.float32)
    kernels("optim").launch(f"unscale_grad_{dt}", 2, 64, tensor_list(gs, gs), D(1 / 64), found)
    assert found[0] == 0
    for g, w in zip(gs, want):
        assert_close(g, w, rtol=0, atol=0)
    gs[2][1030] = np.inf  # the last element of the list
    kernels("optim").launch(f"unscale_grad_{dt}", 1, 64, tensor_list(gs, gs), D(1.0), found)
    assert found[0] == 1


# -------------------------------------------------------------------------------------------- random

def philox(c, k):
    """Reference philox4x32-10."""
    M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
    c, k = list(c), list(k)
    for r in range(10):
        if r:
            k = [(k[0] + W0) & 0xFFFFFFFF, (k[1] + W1) & 0xFFFFFFFF]
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
    return c


def test_philox_reference_known_answers():
    # Random123 known-answer vectors for philox4x32_10
    assert philox([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert philox([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == [
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_uniform_matches_philox(kernels, dt):
    rnd = kernels("random")
    n, seed, off = 1001, 0x0123456789ABCDEF, 0x24
    a = np.zeros(n, NP[dt])
    rnd.launch(f"uniform_{dt}", 2, 64, a, n, U64(seed), U64(off), D(-2.0), D(3.0))
    b = np.zeros(n, NP[dt])
    rnd.launch(f"uniform_{dt}", 5, 32, b, n, U64(seed), U64(off), D(-2.0), D(3.0))
    np.testing.assert_array_equal(a, b, err_msg="depends on the launch configuration")
    per = 4 if dt == "f32" else 2
    ref = []
    for gidx in range((n + per - 1) // per):
        r = philox([gidx & 0xFFFFFFFF, gidx >> 32, off & 0xFFFFFFFF, off >> 32], [seed & 0xFFFFFFFF, seed >> 32])
        if dt == "f32":
            ref += [np.float32(-2.0) + np.float32(5.0) * np.float32((x >> 8) * 2.0**-24) for x in r]
        else:
            ref += [-2.0 + 5.0 * ((((r[2 * j] >> 5) << 26) | (r[2 * j + 1] >> 6)) * 2.0**-53) for j in range(2)]
    np.testing.assert_array_equal(a, np.array(ref[:n], NP[dt]))
    assert a.min() >= -2 and a.max() < 3
    c = np.zeros(n, NP[dt])
    rnd.launch(f"uniform_{dt}", 2, 64, c, n, U64(seed), U64(off + 1), D(-2.0), D(3.0))
    assert np.mean(a == c) < 0.01, "offset does not change the stream"


@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_random_distributions(kernels, dt):
    rnd = kernels("random")
    big = 200000
    z = np.zeros(big, NP[dt])
    rnd.launch(f"normal_{dt}", 16, 256, z, big, U64(7), U64(0), D(1.5), D(2.0))
    z2 = np.zeros(big, NP[dt])
    rnd.launch(f"normal_{dt}", 3, 128, z2, big, U64(7), U64(0), D(1.5), D(2.0))
    np.testing.assert_array_equal(z, z2, err_msg="depends on the launch configuration")
    assert np.isfinite(z).all()
    zs = (z.astype(np.float64) - 1.5) / 2
    assert abs(zs.mean()) < 0.01
    assert abs(zs.std() - 1) < 0.01
    assert abs((zs**4).mean() - 3) < 0.05
    u = np.zeros(big, NP[dt])
    rnd.launch(f"uniform_{dt}", 16, 256, u, big, U64(9), U64(3), D(0.0), D(1.0))
    assert abs(u.mean() - 0.5) < 0.005
    assert abs(u.var() - 1 / 12) < 0.002


# ---------------------------------------------------------------------------------------------- conv

class ConvGeo(ctypes.Structure):
    _fields_ = [(k, ctypes.c_longlong) for k in ("n", "c", "h", "w", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw",
                                                 "oh", "ow")]


def _im2col_ref(x, kh, kw, s, p, d):
    n, c, h, w = x.shape
    oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    xp = np.pad(tof(x), ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    cols = np.zeros((n, c, kh, kw, oh, ow))
    for ki in range(kh):
        for kj in range(kw):
            ys, xs = ki * d[0], kj * d[1]
            cols[:, :, ki, kj] = xp[:, :, ys:ys + s[0] * oh:s[0], xs:xs + s[1] * ow:s[1]]
    return cols.reshape(n, c * kh * kw, oh * ow), oh, ow


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("s, p, d", [((1, 1), (0, 0), (1, 1)), ((2, 1), (1, 0), (1, 2)), ((1, 3), (2, 1), (2, 1))])
def test_im2col_and_col2im(kernels, dt, s, p, d):
    rng = np.random.default_rng(30)
    x = rng.uniform(-1, 1, (2, 3, 7, 6)).astype(NP[dt])
    kh, kw = 3, 2
    want, oh, ow = _im2col_ref(x, kh, kw, s, p, d)
    g = ConvGeo(2, 3, 7, 6, kh, kw, *s, *p, *d, oh, ow)
    cols = np.zeros(want.shape, NP[dt])
    kernels("conv").launch(f"im2col_{dt}", 2, 64, cols, x, g)
    assert_close(cols, want.astype(NP[dt]))
    # col2im is im2col's adjoint: every column entry flows back to the input element it came from
    y = rng.uniform(-1, 1, want.shape).astype(NP[dt])
    ref = np.zeros((2, 3, 7 + 2 * p[0], 6 + 2 * p[1]))
    yr = tof(y).reshape(2, 3, kh, kw, oh, ow)
    for ki in range(kh):
        for kj in range(kw):
            ys, xs = ki * d[0], kj * d[1]
            ref[:, :, ys:ys + s[0] * oh:s[0], xs:xs + s[1] * ow:s[1]] += yr[:, :, ki, kj]
    ref = ref[:, :, p[0]:p[0] + 7, p[1]:p[1] + 6]
    out = np.zeros(x.shape, NP[dt])
    kernels("conv").launch(f"col2im_{dt}", 2, 64, out, y, g)
    assert_close(out, ref.astype(NP[dt]), rtol=TOL[dt] * 4, atol=TOL[dt] * 4)


class PoolGeo(ctypes.Structure):
    _fields_ = [(k, ctypes.c_longlong) for k in ("planes", "h", "w", "oh", "ow", "kh", "kw", "sh", "sw", "ph", "pw",
                                                 "dh", "dw")]


def _max_pool_ref(x, k, s, p, d, oh, ow):
    planes, h, w = x.shape
    vals = np.full((planes, oh, ow), -np.inf)
    idx = np.zeros((planes, oh, ow), np.int64)
    for b in range(planes):
        for oy in range(oh):
            for ox in range(ow):
                seen = False
                for ki in range(k[0]):
                    iy = oy * s[0] - p[0] + ki * d[0]
                    if not 0 <= iy < h:
                        continue
                    for kj in range(k[1]):
                        ix = ox * s[1] - p[1] + kj * d[1]
                        if not 0 <= ix < w:
                            continue
                        v = float(x[b, iy, ix])
                        if not seen or v > vals[b, oy, ox] or math.isnan(v):
                            vals[b, oy, ox], idx[b, oy, ox], seen = v, iy * w + ix, True
                            if math.isnan(v):
                                break
                    else:
                        continue
                    break
    return vals, idx


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("k, s, p, d", [((2, 2), (2, 2), (0, 0), (1, 1)), ((3, 2), (1, 2), (1, 1), (1, 1)),
                                        ((2, 3), (2, 1), (1, 1), (2, 1))])
def test_max_pool2d(kernels, dt, k, s, p, d):
    rng = np.random.default_rng(40)
    x = rng.uniform(-1, 1, (3, 7, 6)).astype(NP[dt])
    x[1, 2, 3] = np.nan
    oh = (7 + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (6 + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    g = PoolGeo(3, 7, 6, oh, ow, *k, *s, *p, *d)
    vals, idx = np.zeros((3, oh, ow), NP[dt]), np.zeros((3, oh, ow), np.int64)
    kernels("pool").launch(f"max_pool2d_{dt}", 2, 64, vals, idx, x, g)
    want_v, want_i = _max_pool_ref(x, k, s, p, d, oh, ow)
    assert_close(vals, want_v.astype(NP[dt]))
    np.testing.assert_array_equal(idx, want_i)
    if dt in ("f32", "f64"):
        go = rng.uniform(-1, 1, (3, oh, ow)).astype(NP[dt])
        gx = np.zeros((3, 7, 6), NP[dt])
        kernels("pool").launch(f"max_pool2d_backward_{dt}", 2, 64, gx, go, idx, g)
        want = np.zeros((3, 7 * 6))
        for b in range(3):
            np.add.at(want[b], want_i[b].ravel(), go[b].ravel().astype(np.float64))
        assert_close(gx, want.reshape(3, 7, 6).astype(NP[dt]), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------- index

@pytest.mark.parametrize("dt", ALL)
def test_gather_and_index_select(kernels, dt):
    rng = np.random.default_rng(50)
    base = _data(rng, dt, 60).reshape(3, 4, 5)
    x = base.transpose(2, 0, 1)  # [5, 3, 4], strided
    idx = rng.integers(0, 3, (5, 2, 4)).astype(np.int64)
    out = np.zeros(idx.shape, NP[dt])
    err = np.zeros(1, np.int32)
    kernels("index").launch(f"gather_{dt}", 2, 32, out, x, strides_of(x), idx, strides_of(idx), 1, 3, out.size, err)
    assert err[0] == 0
    assert_close(out, np.take_along_axis(x, idx, 1))
    # index_select along dim 2: a 1-D index broadcast over dims 0 and 1 (zero strides)
    sel = np.array([3, 0, 3], np.int64)
    view = np.broadcast_to(sel[None, None, :], (5, 3, 3))
    out = np.zeros((5, 3, 3), NP[dt])
    kernels("index").launch(f"gather_{dt}", 2, 32, out, x, strides_of(x), sel, broadcast_strides(sel[None, None, :], (5, 3, 3)),
                            2, 4, out.size, err)
    assert err[0] == 0
    assert_close(out, x[:, :, sel])
    assert view.shape == out.shape
    bad = np.array([1, 4, -1], np.int64)
    out = np.full((5, 3, 3), 7, NP[dt])
    kernels("index").launch(f"gather_{dt}", 2, 32, out, x, strides_of(x), bad, broadcast_strides(bad[None, None, :], (5, 3, 3)),
                            2, 4, out.size, err)
    assert err[0] == 1 and (tof(out[:, :, 1:]) == 0).all()
