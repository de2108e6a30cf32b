"""The fused nn kernels (one autograd node each) against the composed implementations and numpy, with float64
finite-difference gradient checks, double backward, and errors that name the shapes."""

from __future__ import annotations

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(7)


def t64(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def randn(*shape: int, requires_grad: bool = False) -> torch.Tensor:
    return t64(RNG.standard_normal(shape), requires_grad)


def close(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, tol: float = 1e-10) -> None:
    def arr(v: torch.Tensor | np.ndarray) -> np.ndarray:
        return v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)

    np.testing.assert_allclose(arr(a), arr(b), rtol=tol, atol=tol)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------- conv2d (per-sample im2col + GEMM)


def np_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple, padding: tuple,
              dilation: tuple, groups: int) -> np.ndarray:
    x = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for ci in range(cg):
            for a in range(kh):
                for bb in range(kw):
                    rows = slice(a * dilation[0], a * dilation[0] + stride[0] * (ho - 1) + 1, stride[0])
                    cols = slice(bb * dilation[1], bb * dilation[1] + stride[1] * (wo - 1) + 1, stride[1])
                    out[:, oc] += x[:, g * cg + ci, rows, cols] * w[oc, ci, a, bb]
    if b is not None:
        out += b[None, :, None, None]
    return out


CONV_CASES = [
    # n, c, o, h, w, k, stride, padding, dilation, groups
    (2, 4, 6, 7, 9, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (3, 4, 6, 8, 5, (3, 2), (2, 3), (1, 2), (1, 1), 2),
    (1, 6, 4, 9, 9, (3, 3), (3, 1), (2, 2), (2, 1), 2),
    (2, 3, 5, 5, 6, (1, 1), (1, 1), (0, 0), (1, 1), 1),  # 1x1: the input is its own columns
    (2, 4, 4, 6, 6, (1, 1), (2, 2), (0, 0), (1, 1), 4),  # 1x1 strided, depthwise
    (5, 2, 3, 10, 3, (5, 3), (2, 1), (2, 1), (1, 2), 1),  # padding wider than some taps reach
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_forward_and_grads_match_numpy(case: tuple) -> None:
    n, c, o, h, w, k, stride, padding, dilation, groups = case
    x, wt, b = randn(n, c, h, w, requires_grad=True), randn(o, c // groups, *k, requires_grad=True), randn(o)
    b.requires_grad_(True)
    y = F.conv2d(x, wt, b, stride, padding, dilation, groups)
    close(y, np_conv2d(x.detach().numpy(), wt.detach().numpy(), b.detach().numpy(), stride, padding, dilation,
                       groups))
    # the gradient of sum(y * gy) is a linear function: check it against numpy through the adjoint identity
    gy = RNG.standard_normal(tuple(y.shape))
    (y * t64(gy)).sum().backward()
    close(b.grad, gy.sum((0, 2, 3)))
    eps = 1e-6
    for tensor, grad in ((x, x.grad), (wt, wt.grad)):
        direction = RNG.standard_normal(tuple(tensor.shape))
        base = [x.detach().numpy(), wt.detach().numpy()]
        idx = 0 if tensor is x else 1
        plus, minus = list(base), list(base)
        plus[idx] = base[idx] + eps * direction
        minus[idx] = base[idx] - eps * direction
        fd = ((np_conv2d(*plus, None, stride, padding, dilation, groups)
               - np_conv2d(*minus, None, stride, padding, dilation, groups)) * gy).sum() / (2 * eps)
        np.testing.assert_allclose((grad.numpy() * direction).sum(), fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", [CONV_CASES[1], CONV_CASES[3], CONV_CASES[5]])
def test_conv2d_gradcheck(case: tuple) -> None:
    n, c, o, h, w, k, stride, padding, dilation, groups = case
    x = randn(min(n, 2), c, min(h, 6), min(w, 5), requires_grad=True)
    wt, b = randn(o, c // groups, *k, requires_grad=True), randn(o, requires_grad=True)
    assert gradcheck(lambda x, wt, b: F.conv2d(x, wt, b, stride, padding, dilation, groups), (x, wt, b))


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_same_result_for_any_thread_count_and_batch(threads: int) -> None:
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        for n in (1, 3):  # fewer samples than threads: the GEMM itself runs parallel
            x, w = randn(n, 3, 6, 6, requires_grad=True), randn(4, 3, 3, 3, requires_grad=True)
            y = F.conv2d(x, w, padding=1)
            close(y, np_conv2d(x.detach().numpy(), w.detach().numpy(), None, (1, 1), (1, 1), (1, 1), 1))
            y.sum().backward()
            # d sum / d w[o, c, a, b] = sum of the input window it touches
            xp = np.pad(x.detach().numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
            ref = np.stack([xp[:, :, a:a + 6, bb:bb + 6].sum((0, 2, 3)) for a in range(3) for bb in range(3)], 1)
            close(w.grad, np.broadcast_to(ref.reshape(1, 3, 3, 3), (4, 3, 3, 3)))
    finally:
        torch.set_num_threads(old)


def test_conv2d_half_types_and_float32_run_through_the_float_kernel() -> None:
    x, w, b = RNG.standard_normal((2, 3, 5, 5)), RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)
    ref = np_conv2d(x, w, b, (1, 1), (1, 1), (1, 1), 1)
    for dtype, tol in ((torch.float32, 1e-5), (torch.float16, 3e-2), (torch.bfloat16, 2e-1)):
        y = F.conv2d(t64(x).to(dtype), t64(w).to(dtype), t64(b).to(dtype), padding=1)
        assert y.dtype == dtype
        np.testing.assert_allclose(y.double().numpy(), ref, rtol=tol, atol=tol * 10)


def test_conv2d_empty_batch_and_errors() -> None:
    x, w = randn(0, 3, 5, 5, requires_grad=True), randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w)
    assert tuple(y.shape) == (0, 4, 3, 3)
    y.sum().backward()
    close(w.grad, np.zeros((4, 3, 3, 3)))
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 4 elements, but got bias of "
                                           r"size \[5\]"):
        F.conv2d(randn(1, 3, 5, 5), randn(4, 3, 3, 3), randn(5))
    with pytest.raises(RuntimeError, match=r"Input type .* and bias type .* should be the same"):
        F.conv2d(randn(1, 3, 5, 5), randn(4, 3, 3, 3), torch.zeros(4))


# ---------------------------------------------------------------------------- LSTM / GRU cells


def np_lstm_cell(xg: np.ndarray, hg: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, f, g, o = np.split(xg + hg, 4, 1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_new), c_new


def composed_lstm_cell(xg: torch.Tensor, hg: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    i, f, g, o = (xg + hg).chunk(4, 1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new


def np_gru_cell(xg: np.ndarray, hg: np.ndarray, h: np.ndarray) -> np.ndarray:
    xr, xz, xn = np.split(xg, 3, 1)
    hr, hz, hn = np.split(hg, 3, 1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def composed_gru_cell(xg: torch.Tensor, hg: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    xr, xz, xn = xg.chunk(3, 1)
    hr, hz, hn = hg.chunk(3, 1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def test_lstm_cell_matches_numpy_and_the_composed_cell() -> None:
    xg, hg, c = randn(5, 12, requires_grad=True), randn(5, 12, requires_grad=True), randn(5, 3, requires_grad=True)
    h_new, c_new = torch._C._nn_lstm_cell(xg, hg, c)
    assert h_new.grad_fn.name() == "LstmCellBackward0"
    ref_h, ref_c = np_lstm_cell(xg.detach().numpy(), hg.detach().numpy(), c.detach().numpy())
    close(h_new, ref_h)
    close(c_new, ref_c)
    gh, gc = randn(5, 3), randn(5, 3)
    grads = torch.autograd.grad((h_new, c_new), (xg, hg, c), (gh, gc), retain_graph=True)
    ref = torch.autograd.grad(composed_lstm_cell(xg, hg, c), (xg, hg, c), (gh, gc))
    for a, b in zip(grads, ref):
        close(a, b)
    # only one of the two outputs used: the other's gradient counts as zero
    (gx_only,) = torch.autograd.grad(h_new.sum(), (xg,))
    close(gx_only, torch.autograd.grad(composed_lstm_cell(xg, hg, c)[0].sum(), (xg,))[0])


def test_lstm_cell_gradcheck_and_double_backward() -> None:
    xg, hg, c = randn(3, 8, requires_grad=True), randn(3, 8, requires_grad=True), randn(3, 2, requires_grad=True)
    assert gradcheck(lambda a, b, c: torch._C._nn_lstm_cell(a, b, c), (xg, hg, c))
    assert gradgradcheck(lambda a, b, c: torch._C._nn_lstm_cell(a, b, c), (xg, hg, c))


def test_gru_cell_matches_numpy_and_the_composed_cell() -> None:
    xg, hg, h = randn(4, 9, requires_grad=True), randn(4, 9, requires_grad=True), randn(4, 3, requires_grad=True)
    out = torch._C._nn_gru_cell(xg, hg, h)
    assert out.grad_fn.name() == "GruCellBackward0"
    close(out, np_gru_cell(xg.detach().numpy(), hg.detach().numpy(), h.detach().numpy()))
    g = randn(4, 3)
    grads = torch.autograd.grad(out, (xg, hg, h), g)
    for a, b in zip(grads, torch.autograd.grad(composed_gru_cell(xg, hg, h), (xg, hg, h), g)):
        close(a, b)


def test_gru_cell_gradcheck_and_double_backward() -> None:
    xg, hg, h = randn(2, 6, requires_grad=True), randn(2, 6, requires_grad=True), randn(2, 2, requires_grad=True)
    assert gradcheck(lambda a, b, c: torch._C._nn_gru_cell(a, b, c), (xg, hg, h))
    assert gradgradcheck(lambda a, b, c: torch._C._nn_gru_cell(a, b, c), (xg, hg, h))


def test_cells_float32_and_errors_name_shapes() -> None:
    a, b, c = (RNG.standard_normal(s).astype(np.float32) for s in ((2, 8), (2, 8), (2, 2)))
    h_new, _c_new = torch._C._nn_lstm_cell(torch.tensor(a), torch.tensor(b), torch.tensor(c))
    assert h_new.dtype == torch.float32
    np.testing.assert_allclose(h_new.numpy(), np_lstm_cell(a, b, c)[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match=r"lstm_cell: expected hidden gates of shape \[2, 8\] for a state of "
                                           r"shape \[2, 2\], got \[2, 6\]"):
        torch._C._nn_lstm_cell(randn(2, 8), randn(2, 6), randn(2, 2))
    with pytest.raises(RuntimeError, match=r"gru_cell: expected a 2-D state"):
        torch._C._nn_gru_cell(randn(2, 6), randn(2, 6), randn(2))
    with pytest.raises(RuntimeError, match="same floating point dtype"):
        torch._C._nn_gru_cell(randn(2, 6), randn(2, 6), torch.zeros(2, 2))


def test_lstm_and_gru_modules_match_the_composed_recurrence() -> None:
    for mode in ("LSTM", "GRU"):
        torch.manual_seed(0)
        rnn = getattr(torch.nn, mode)(3, 4, num_layers=2, batch_first=True).double()
        x = randn(2, 5, 3, requires_grad=True)
        out, _ = rnn(x)
        ref_in = x.transpose(0, 1)
        for layer in range(2):
            w_ih, w_hh = getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}")
            b_ih, b_hh = getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}")
            h = torch.zeros(2, 4, dtype=torch.float64)
            c = torch.zeros(2, 4, dtype=torch.float64)
            outs = []
            for t in range(5):
                xg, hg = F.linear(ref_in[t], w_ih, b_ih), F.linear(h, w_hh, b_hh)
                if mode == "LSTM":
                    h, c = composed_lstm_cell(xg, hg, c)
                else:
                    h = composed_gru_cell(xg, hg, h)
                outs.append(h)
            ref_in = torch.stack(outs, 0)
        ref = ref_in.transpose(0, 1)
        close(out, ref)
        g = randn(2, 5, 4)
        params = [x, *rnn.parameters()]
        for a, b in zip(torch.autograd.grad(out, params, g), torch.autograd.grad(ref, params, g)):
            close(a, b)


def test_packed_lstm_runs_through_the_shared_split_node() -> None:
    from ferrotorch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 3).double()
    x = randn(4, 3, 2, requires_grad=True)
    packed = pack_padded_sequence(x, [4, 2, 1])
    out, (h, c) = lstm(packed)
    (out.data.sum() + h.sum() + c.sum()).backward()
    # the padded steps of shorter sequences get no gradient
    assert np.all(x.grad.numpy()[2:, 1] == 0) and np.all(x.grad.numpy()[1:, 2] == 0)
    assert np.any(x.grad.numpy()[:, 0] != 0)


# ---------------------------------------------------------------------------- split with one node


def test_split_one_node_values_grads_and_unused_pieces() -> None:
    x = randn(6, 3, requires_grad=True)
    a, b, _c = torch._C._nn_split(x, [1, 2, 3], 0)
    assert a.grad_fn.name() == "SplitWithSizesBackward0"
    close(b, x.detach().numpy()[1:3])
    (b * 2).sum().backward()  # pieces a and c unused: zero rows
    ref = np.zeros((6, 3))
    ref[1:3] = 2
    close(x.grad, ref)
    assert gradcheck(lambda x: torch._C._nn_split(x, [2, 1], 1), (randn(2, 3, requires_grad=True),))
    with pytest.raises(RuntimeError, match="split_sizes to sum exactly to 6"):
        torch._C._nn_split(x, [1, 2], 0)


# ---------------------------------------------------------------------------- embedding (gather / dense scatter-add)


@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_forward_and_grad_match_numpy(padding_idx: int | None, scale_grad_by_freq: bool) -> None:
    w = randn(6, 3, requires_grad=True)
    idx_np = np.array([[0, 2, 2], [5, 0, 2]])
    out = F.embedding(torch.tensor(idx_np), w, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    assert tuple(out.shape) == (2, 3, 3)
    close(out, w.detach().numpy()[idx_np])  # the value is never scaled
    g = RNG.standard_normal((2, 3, 3))
    out.backward(t64(g))
    ref = np.zeros((6, 3))
    counts = np.bincount(idx_np.reshape(-1), minlength=6)
    for i, row in zip(idx_np.reshape(-1), g.reshape(-1, 3)):
        if i == padding_idx:
            continue
        ref[i] += row / (counts[i] if scale_grad_by_freq else 1)
    close(w.grad, ref)


def test_embedding_gradcheck_double_backward_and_float32() -> None:
    idx = torch.tensor([[1, 0, 1], [3, 3, 2]])
    w = randn(4, 2, requires_grad=True)
    # padding_idx / scale_grad_by_freq change the gradient on purpose, so finite differences see the plain lookup
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))
    assert gradgradcheck(lambda w: F.embedding(idx, w, padding_idx=0) ** 2, (w,))
    w32 = torch.randn(4, 2)
    np.testing.assert_array_equal(F.embedding(idx.to(torch.int32), w32).numpy(), w32.numpy()[idx.numpy()])


def test_embedding_errors() -> None:
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(torch.tensor([0, 4]), randn(4, 2))
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(torch.tensor([-1]), randn(4, 2))
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types: Long, Int"):
        F.embedding(torch.tensor([0.0]), randn(4, 2))


# ---------------------------------------------------------------------------- linear (one GEMM node)


def composed_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    out = torch.matmul(x, w.t())
    return out + b if b is not None else out


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,), (0, 4), (2, 0, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_numpy_and_the_composed_ops(x_shape: tuple, bias: bool) -> None:
    x, w = randn(*x_shape, requires_grad=True), randn(3, 4, requires_grad=True)
    b = randn(3, requires_grad=True) if bias else None
    y = F.linear(x, w, b)
    assert y.grad_fn is not None and y.grad_fn.name() == ("AddmmBackward0" if bias else "MmBackward0")
    expect = x.detach().numpy() @ w.detach().numpy().T + (b.detach().numpy() if bias else 0)
    close(y, expect)
    assert tuple(y.shape) == (*x_shape[:-1], 3)
    gy = t64(RNG.standard_normal(tuple(y.shape)))
    grads = torch.autograd.grad((y * gy).sum(), [x, w] + ([b] if bias else []))
    ref = torch.autograd.grad((composed_linear(x, w, b) * gy).sum(), [x, w] + ([b] if bias else []))
    for g, r in zip(grads, ref):
        close(g, r)


def test_linear_gradcheck_and_double_backward() -> None:
    x, w, b = randn(3, 2, 4, requires_grad=True), randn(5, 4, requires_grad=True), randn(5, requires_grad=True)
    assert gradcheck(F.linear, (x, w, b))
    assert gradgradcheck(F.linear, (x, w, b))
    assert gradcheck(lambda x, w: F.linear(x, w), (x, w))
    assert gradgradcheck(lambda x, w: F.linear(x, w), (x, w))
    # only some inputs need a gradient
    xd = x.detach()
    assert gradcheck(lambda w, b: F.linear(xd, w, b), (w, b))
    assert gradcheck(lambda b: F.linear(xd, w.detach(), b), (b,))


def test_linear_float32_noncontiguous_and_fallbacks() -> None:
    x = torch.randn(6, 4).t()  # (4, 6), non-contiguous
    w = torch.randn(3, 6)
    close(F.linear(x, w, torch.ones(3)), x.numpy() @ w.numpy().T + 1, 1e-5)
    close(F.linear(x, w.t().contiguous().t()), x.numpy() @ w.numpy().T, 1e-5)
    # other dtypes, 1-D weights and broadcastable 0-d biases take the composed path
    xi = torch.arange(6).reshape(2, 3)
    assert F.linear(xi, torch.ones(2, 3, dtype=torch.int64)).tolist() == [[3, 3], [12, 12]]
    assert F.linear(torch.ones(2, 3), torch.ones(3)).tolist() == [3.0, 3.0]
    close(F.linear(torch.ones(2, 3), torch.ones(4, 3), torch.tensor(1.0)), np.full((2, 4), 4.0), 1e-6)
    assert F.linear(torch.ones(2, 3, dtype=torch.float16), torch.ones(4, 3, dtype=torch.float16)).dtype == torch.float16


def test_linear_errors_name_shapes() -> None:
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(6x4 and 3x5\)"):
        F.linear(torch.randn(2, 3, 4), torch.randn(5, 3))
    with pytest.raises(RuntimeError, match="dtype"):
        F.linear(torch.randn(2, 4), torch.randn(5, 4, dtype=torch.float64))
    with pytest.raises(RuntimeError):
        F.linear(torch.randn(2, 4), torch.randn(5, 4), torch.randn(4))
    with pytest.raises(TypeError):
        F.linear([1.0, 2.0], torch.randn(5, 2))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- LSTM layer (whole recurrence one node)


def composed_lstm_layer(xg: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, w: torch.Tensor,
                        b: torch.Tensor | None, reverse: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    steps = xg.shape[0]
    h, c = h0, c0
    outs: list[torch.Tensor] = [None] * steps  # type: ignore[list-item]
    for t in reversed(range(steps)) if reverse else range(steps):
        h, c = torch._C._nn_lstm_cell(xg[t], composed_linear(h, w, b), c)
        outs[t] = h
    return torch.stack(outs, 0), h, c


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_layer_matches_the_per_step_cells(reverse: bool, bias: bool) -> None:
    xg, h0, c0 = randn(5, 3, 8, requires_grad=True), randn(3, 2, requires_grad=True), randn(3, 2, requires_grad=True)
    w = randn(8, 2, requires_grad=True)
    b = randn(8, requires_grad=True) if bias else None
    got = torch._C._nn_lstm_layer(xg, h0, c0, w, b, reverse)
    ref = composed_lstm_layer(xg, h0, c0, w, b, reverse)
    assert got[0].grad_fn.name() == "LstmLayerBackward0"
    for g, r in zip(got, ref):
        close(g, r)
    params = [xg, h0, c0, w] + ([b] if bias else [])
    gys = [t64(RNG.standard_normal(tuple(r.shape))) for r in ref]
    # every subset of outputs used: the unused ones get no gradient
    for used in ([0], [1, 2], [0, 1, 2]):
        lg = sum((got[i] * gys[i]).sum() for i in used)
        lr = sum((ref[i] * gys[i]).sum() for i in used)
        got_g = torch.autograd.grad(lg, params, retain_graph=True)
        for a, e in zip(got_g, torch.autograd.grad(lr, params, retain_graph=True)):
            close(a, e)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer_gradcheck_and_double_backward(reverse: bool) -> None:
    xg, h0, c0 = randn(3, 2, 8, requires_grad=True), randn(2, 2, requires_grad=True), randn(2, 2, requires_grad=True)
    w, b = randn(8, 2, requires_grad=True), randn(8, requires_grad=True)

    def f(*a: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch._C._nn_lstm_layer(*a, reverse)

    assert gradcheck(f, (xg, h0, c0, w, b))
    assert gradgradcheck(f, (xg, h0, c0, w, b))


def test_lstm_layer_float32_matches_float64_and_errors() -> None:
    xg, h0, c0, w, b = randn(6, 4, 12), randn(4, 3), randn(4, 3), randn(12, 3), randn(12)
    ref = torch._C._nn_lstm_layer(xg, h0, c0, w, b)
    got = torch._C._nn_lstm_layer(xg.float(), h0.float(), c0.float(), w.float(), b.float())
    for g, r in zip(got, ref):
        assert g.dtype == torch.float32
        close(g.double(), r, 1e-5)
    with pytest.raises(RuntimeError, match=r"\[4, 3\].*\[12, 4\]"):
        torch._C._nn_lstm_layer(xg, h0, c0, randn(12, 4), b)
    with pytest.raises(RuntimeError, match="float32/float64"):
        torch._C._nn_lstm_layer(xg.float(), h0, c0, w, b)
    with pytest.raises(RuntimeError, match=r"T > 0"):
        torch._C._nn_lstm_layer(randn(0, 4, 12), h0, c0, w, b)


def test_lstm_module_bidirectional_multilayer_uses_the_fused_layer() -> None:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = randn(2, 5, 3, requires_grad=True)
    out, (h, c) = lstm(x)
    assert out.shape == (2, 5, 8) and h.shape == (4, 2, 4) and c.shape == (4, 2, 4)
    assert gradcheck(lambda x: lstm(x)[0], (x,))


# ---------------------------------------------------------------------------- GRU layer (whole recurrence one node)


def np_gru_layer(xg: np.ndarray, h0: np.ndarray, w: np.ndarray, b: np.ndarray | None, reverse: bool) -> np.ndarray:
    """PyTorch's GRU recurrence in numpy: r, z, n gates; n uses r * (h W_hnᵀ + b_hn)."""
    hdim, h, outs = h0.shape[1], h0, [None] * xg.shape[0]
    sig = lambda v: 1 / (1 + np.exp(-v))
    for t in reversed(range(xg.shape[0])) if reverse else range(xg.shape[0]):
        hg = h @ w.T + (0 if b is None else b)
        x = xg[t]
        r, z = sig(x[:, :hdim] + hg[:, :hdim]), sig(x[:, hdim:2 * hdim] + hg[:, hdim:2 * hdim])
        n = np.tanh(x[:, 2 * hdim:] + r * hg[:, 2 * hdim:])
        h = n + z * (h - n)
        outs[t] = h
    return np.stack(outs)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_layer_matches_numpy_and_its_gradients_the_per_step_cells(reverse: bool, bias: bool) -> None:
    xg, h0 = randn(5, 3, 6, requires_grad=True), randn(3, 2, requires_grad=True)
    w = randn(6, 2, requires_grad=True)
    b = randn(6, requires_grad=True) if bias else None
    out, h_n = torch._C._nn_gru_layer(xg, h0, w, b, reverse)
    assert out.grad_fn.name() == "GruLayerBackward0"
    want = np_gru_layer(xg.detach().numpy(), h0.detach().numpy(), w.detach().numpy(),
                        None if b is None else b.detach().numpy(), reverse)
    close(out, want)
    close(h_n, want[0] if reverse else want[-1])
    params = [xg, h0, w] + ([b] if bias else [])
    hs, h = [None] * 5, h0
    for t in reversed(range(5)) if reverse else range(5):
        h = torch._C._nn_gru_cell(xg[t], composed_linear(h, w, b), h)
        hs[t] = h
    ref = (torch.stack(hs, 0), h)
    gys = [t64(RNG.standard_normal(tuple(r.shape))) for r in ref]
    for used in ([0], [1], [0, 1]):
        lg = sum(((out, h_n)[i] * gys[i]).sum() for i in used)
        lr = sum((ref[i] * gys[i]).sum() for i in used)
        for a, e in zip(torch.autograd.grad(lg, params, retain_graph=True),
                        torch.autograd.grad(lr, params, retain_graph=True)):
            close(a, e)


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_layer_gradcheck_double_backward_float32_and_errors(reverse: bool) -> None:
    xg, h0 = randn(3, 2, 6, requires_grad=True), randn(2, 2, requires_grad=True)
    w, b = randn(6, 2, requires_grad=True), randn(6, requires_grad=True)

    def f(*a: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch._C._nn_gru_layer(*a, reverse=reverse)

    assert gradcheck(f, (xg, h0, w, b))
    assert gradgradcheck(f, (xg, h0, w, b))
    got = f(xg.float(), h0.float(), w.float(), b.float())
    for g, r in zip(got, f(xg, h0, w, b)):
        assert g.dtype == torch.float32
        close(g.double(), r, 1e-5)
    with pytest.raises(RuntimeError, match=r"weight_hh \[3H, H\].*\[6, 3\]"):
        torch._C._nn_gru_layer(xg, h0, randn(6, 3), b)
    with pytest.raises(RuntimeError, match="float32/float64"):
        torch._C._nn_gru_layer(xg.float(), h0, w, b)


def test_gru_module_bidirectional_multilayer_uses_the_fused_layer() -> None:
    torch.manual_seed(0)
    gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = randn(2, 5, 3, requires_grad=True)
    out, h = gru(x)
    assert out.shape == (2, 5, 8) and h.shape == (4, 2, 4)
    assert _reaches(out.grad_fn, "GruLayerBackward0")
    assert gradcheck(lambda x: gru(x)[0], (x,))


def _reaches(node: object, name: str) -> bool:
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        if n.name() == name:
            return True
        stack.extend(f for f, _ in n.next_functions)
    return False


# ---------------------------------------------------------------------------- max_pool2d (rows, argmax only when needed)


def np_max_pool2d(x: np.ndarray, k: tuple, s: tuple, p: tuple, d: tuple, ceil_mode: bool) -> tuple:
    n, c, h, w = x.shape

    def out(size: int, kk: int, ss: int, pp: int, dd: int) -> int:
        o = (size + 2 * pp - dd * (kk - 1) - 1 + (ss - 1 if ceil_mode else 0)) // ss + 1
        return o - 1 if ceil_mode and (o - 1) * ss >= size + pp else o

    oh, ow = out(h, k[0], s[0], p[0], d[0]), out(w, k[1], s[1], p[1], d[1])
    vals, idx = np.full((n, c, oh, ow), -np.inf), np.zeros((n, c, oh, ow), dtype=np.int64)
    for y in range(oh):
        for xx in range(ow):
            for a in range(k[0]):
                for b in range(k[1]):
                    ih, iw = y * s[0] - p[0] + a * d[0], xx * s[1] - p[1] + b * d[1]
                    if 0 <= ih < h and 0 <= iw < w:
                        v = x[:, :, ih, iw]
                        better = v > vals[:, :, y, xx]
                        vals[:, :, y, xx] = np.where(better, v, vals[:, :, y, xx])
                        idx[:, :, y, xx] = np.where(better, ih * w + iw, idx[:, :, y, xx])
    return vals, idx


POOL_CASES = [
    # h, w, kernel, stride, padding, dilation, ceil_mode
    (8, 6, (2, 2), (2, 2), (0, 0), (1, 1), False),  # the 2x2 fast path
    (7, 9, (2, 2), (2, 2), (0, 0), (1, 1), False),  # odd sizes: last row/column dropped
    (7, 9, (2, 2), (2, 2), (0, 0), (1, 1), True),  # ceil_mode: partial windows
    (7, 8, (3, 3), (2, 1), (1, 1), (1, 1), False),
    (9, 9, (3, 2), (2, 3), (1, 1), (2, 1), True),
    (5, 5, (1, 1), (1, 1), (0, 0), (1, 1), False),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_matches_numpy_values_indices_and_grad(case: tuple) -> None:
    h, w, k, s, p, d, ceil_mode = case
    xa = RNG.permutation(2 * 3 * h * w).reshape(2, 3, h, w).astype(np.float64)  # distinct values: unique argmax
    x = t64(xa, True)
    vals, idx = F.max_pool2d(x, k, s, p, d, ceil_mode, return_indices=True)
    ev, ei = np_max_pool2d(xa, k, s, p, d, ceil_mode)
    close(vals, ev)
    np.testing.assert_array_equal(idx.numpy(), ei)
    close(F.max_pool2d(x.detach(), k, s, p, d, ceil_mode), ev)  # no indices computed
    close(F.max_pool2d(x.float(), k, s, p, d, ceil_mode).double(), ev)
    gy = RNG.standard_normal(ev.shape)
    (vals * t64(gy)).sum().backward()
    expect = np.zeros(xa.size)
    flat = (np.arange(6)[:, None] * (h * w) + ei.reshape(6, -1)).ravel()
    np.add.at(expect, flat, gy.ravel())
    close(x.grad, expect.reshape(xa.shape))
    assert gradcheck(lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode), (t64(xa / 7.0, True),))


def test_max_pool2d_nan_wins_unbatched_and_errors() -> None:
    x = torch.tensor([[[[1.0, float("nan")], [3.0, 2.0]]]])
    v, i = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(v.item()) and i.item() == 1
    assert F.max_pool2d(torch.ones(3, 4, 4), 2).shape == (3, 2, 2)
    assert F.max_pool1d(torch.arange(6.0).reshape(1, 1, 6), 2).tolist() == [[[1.0, 3.0, 5.0]]]
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(torch.ones(1, 1, 1, 1), 2)
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(torch.ones(1, 1, 4, 4), 2, padding=2)


# ---------------------------------------------------------------------------- cross_entropy (log_softmax + nll, one node)


def np_cross_entropy(x: np.ndarray, y: np.ndarray, w: np.ndarray | None, ignore: int, eps: float,
                     reduction: str) -> np.ndarray:
    """Reference with the class dim 1 (or 0 unbatched) of x; y class indices."""
    if x.ndim == 1:
        x, y = x[None], np.asarray(y)[None]
    xm = np.moveaxis(x, 1, -1)
    c = xm.shape[-1]
    m = xm.max(-1, keepdims=True)
    logp = xm - m - np.log(np.exp(xm - m).sum(-1, keepdims=True))
    w = np.ones(c) if w is None else w
    keep = y != ignore
    ys = np.where(keep, y, 0)
    wy = w[ys] * keep
    picked = np.take_along_axis(logp, ys[..., None], -1)[..., 0]
    loss = -(1 - eps) * wy * picked - eps / c * (logp * w).sum(-1) * keep
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / wy.sum()
    return loss.reshape(y.shape)


CE_CASES = [
    ((6, 5), None, -100, 0.0), ((6, 5), "w", -100, 0.0), ((6, 5), None, 2, 0.0), ((6, 5), "w", 1, 0.3),
    ((5,), None, -100, 0.1), ((3, 4, 2, 3), None, -100, 0.0), ((3, 4, 2, 3), "w", 0, 0.2), ((4, 3, 5), None, -100, 1.0),
]


@pytest.mark.parametrize("case", CE_CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_numpy_values_and_grads(case: tuple, reduction: str) -> None:
    shape, wk, ignore, eps = case
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    xn = RNG.standard_normal(shape)
    yn = RNG.integers(0, c, tshape)
    if ignore >= 0:
        yn = np.where(RNG.random(tshape) < 0.3, ignore, yn)
    wn = RNG.random(c) + 0.5 if wk else None
    x = t64(xn, True)
    y = torch.tensor(yn)
    w = t64(wn) if wn is not None else None
    out = F.cross_entropy(x, y, w, ignore_index=ignore, reduction=reduction, label_smoothing=eps)
    assert out.grad_fn.name() == "NllLossBackward0"
    close(out, np_cross_entropy(xn, yn, wn, ignore, eps, reduction))
    assert tuple(out.shape) == (tshape if reduction == "none" else ())
    # the gradient against finite differences of the numpy reference, and gradcheck / gradgradcheck
    g = RNG.standard_normal(out.shape)
    out.backward(t64(g))
    h = 1e-6
    num = np.zeros_like(xn)
    for i in np.ndindex(xn.shape):
        xp, xm = xn.copy(), xn.copy()
        xp[i] += h
        xm[i] -= h
        num[i] = ((np_cross_entropy(xp, yn, wn, ignore, eps, reduction)
                   - np_cross_entropy(xm, yn, wn, ignore, eps, reduction)) * g).sum() / (2 * h)
    close(x.grad, num, 1e-6)

    def f(a: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(a, y, w, ignore_index=ignore, reduction=reduction, label_smoothing=eps)

    assert gradcheck(f, (randn(*shape, requires_grad=True),))
    assert gradgradcheck(f, (randn(*shape, requires_grad=True),))


def test_cross_entropy_float32_ignored_all_and_errors() -> None:
    xn = RNG.standard_normal((8, 10)).astype(np.float32)
    yn = RNG.integers(0, 10, 8)
    x = torch.tensor(xn, requires_grad=True)
    out = F.cross_entropy(x, torch.tensor(yn))
    assert out.dtype == torch.float32
    close(out, np_cross_entropy(xn.astype(np.float64), yn, None, -100, 0.0, "mean"), 1e-6)
    out.backward()
    p = np.exp(xn - xn.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(8), yn] -= 1
    close(x.grad, p / 8, 1e-6)
    # every target ignored: mean is 0/0, gradient zero
    x = randn(3, 4, requires_grad=True)
    out = F.cross_entropy(x, torch.tensor([-100, -100, -100]))
    assert np.isnan(out.item())
    out.backward()
    close(x.grad, np.zeros((3, 4)))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(randn(3, 4), torch.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match="Target -2 is out of bounds"):
        F.cross_entropy(randn(3, 4), torch.tensor([0, -2, 1]))
    with pytest.raises(ValueError, match="batch_size"):
        F.cross_entropy(randn(3, 4), torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(randn(3, 4), torch.tensor([0, 1, 2]), weight=torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="not a valid value"):
        F.cross_entropy(randn(3, 4), torch.tensor([0, 1, 2]), reduction="avg")


def test_cross_entropy_int32_target_and_no_grad_matches_composed() -> None:
    xn = RNG.standard_normal((5, 3, 4))
    yn = RNG.integers(0, 3, (5, 4))
    a = F.cross_entropy(t64(xn), torch.tensor(yn.astype(np.int32)), reduction="none")
    b = F.nll_loss(F.log_softmax(t64(xn), 1), torch.tensor(yn), reduction="none")
    close(a, b, 1e-12)


# ---------------------------------------------------------------------------- batch_norm (training, one node)


def np_batch_norm(x: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, eps: float) -> np.ndarray:
    dims = (0, *range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    y = (x - x.mean(dims, keepdims=True)) / np.sqrt(x.var(dims, keepdims=True) + eps)
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5), (2, 2, 3, 2, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_matches_numpy_running_stats_and_grads(shape: tuple, affine: bool) -> None:
    c = shape[1]
    xn = RNG.standard_normal(shape) * 2 + 1
    wn, bn = (RNG.standard_normal(c), RNG.standard_normal(c)) if affine else (None, None)
    x = t64(xn, True)
    w, b = (t64(wn, True), t64(bn, True)) if affine else (None, None)
    rm, rv = t64(RNG.standard_normal(c)), t64(RNG.random(c) + 0.5)
    rm0, rv0 = rm.numpy().copy(), rv.numpy().copy()
    v0 = rm._version
    out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-4)
    assert out.grad_fn.name() == "NativeBatchNormBackward0"
    close(out, np_batch_norm(xn, wn, bn, 1e-4))
    dims = (0, *range(2, len(shape)))
    close(rm, 0.8 * rm0 + 0.2 * xn.mean(dims))
    close(rv, 0.8 * rv0 + 0.2 * xn.var(dims, ddof=1))
    assert rm._version > v0
    # gradients: the composed formula differentiated by autograd
    g = t64(RNG.standard_normal(shape))
    out.backward(g)
    x2 = t64(xn, True)
    w2, b2 = (t64(wn, True), t64(bn, True)) if affine else (None, None)
    cs = (1, c) + (1,) * (len(shape) - 2)
    m = x2.mean(list(dims), keepdim=True)
    ref = (x2 - m) / torch.sqrt(((x2 - m) ** 2).mean(list(dims), keepdim=True) + 1e-4)
    if affine:
        ref = ref * w2.reshape(cs) + b2.reshape(cs)
    ref.backward(g)
    close(x.grad, x2.grad, 1e-9)
    if affine:
        close(w.grad, w2.grad, 1e-9)
        close(b.grad, b2.grad, 1e-9)

    def f(*a: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(a[0], None, None, *(a[1:] if affine else ()), training=True, eps=1e-4)

    args = (randn(*shape, requires_grad=True),) + ((randn(c, requires_grad=True), randn(c, requires_grad=True))
                                                    if affine else ())
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_batch_norm_train_float32_no_grad_module_and_errors() -> None:
    xn = RNG.standard_normal((8, 4, 6, 6)).astype(np.float32)
    with torch.no_grad():
        out = F.batch_norm(torch.tensor(xn), None, None, training=True)
    assert out.dtype == torch.float32 and out.grad_fn is None
    close(out, np_batch_norm(xn.astype(np.float64), None, None, 1e-5), 1e-5)
    m = torch.nn.BatchNorm2d(4)
    m(torch.tensor(xn))
    close(m.running_mean, 0.1 * xn.astype(np.float64).mean((0, 2, 3)), 1e-6)
    close(m.running_var, 0.9 + 0.1 * xn.astype(np.float64).var((0, 2, 3), ddof=1), 1e-6)
    x = randn(4, 3, requires_grad=True)
    out = F.batch_norm(x, None, None, training=True)
    x.data.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        F.batch_norm(randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="expected 2D or more input"):
        F.batch_norm(randn(3), None, None, training=True)
