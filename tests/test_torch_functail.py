"""The functional / construction tail of the torch namespace (_torch_views.py, _torch_native.py,
_torch_buffers.py, utils/data/distributed.py): values against numpy, hand-computed results and literals
computed with PyTorch 2.x, memory sharing, gradients by finite differences, PyTorch's errors."""

import array
import mmap
import os

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck
from ferrotorch.utils.data import DistributedSampler

RNG = np.random.default_rng(11)


def t64(shape, requires_grad=False):
    x = torch.tensor(RNG.uniform(-1, 1, size=shape))
    return x.requires_grad_(True) if requires_grad else x


def shares(a, b):
    return a._storage_id() == b._storage_id()


# ---- the *_copy family ----
X = np.arange(24.0).reshape(2, 3, 4)

COPIES = [
    (lambda x: torch.view_copy(x, [6, 4]), lambda a: a.reshape(6, 4)),
    (lambda x: torch.permute_copy(x, (2, 0, 1)), lambda a: a.transpose(2, 0, 1)),
    (lambda x: torch.transpose_copy(x, 0, 2), lambda a: a.swapaxes(0, 2)),
    (lambda x: torch.t_copy(x[0]), lambda a: a[0].T),
    (lambda x: torch.expand_copy(x[:, :1], (2, 3, 4)), lambda a: np.broadcast_to(a[:, :1], (2, 3, 4))),
    (lambda x: torch.squeeze_copy(x[:, :1]), lambda a: a[:, 0]),
    (lambda x: torch.squeeze_copy(x[:1, :1], 1), lambda a: a[:1, 0]),
    (lambda x: torch.unsqueeze_copy(x, 1), lambda a: a[:, None]),
    (lambda x: torch.select_copy(x, 1, 2), lambda a: a[:, 2]),
    (lambda x: torch.slice_copy(x, 2, 1, None, 2), lambda a: a[:, :, 1::2]),
    (lambda x: torch.slice_copy(x), lambda a: a),
    (lambda x: torch.unfold_copy(x, 2, 2, 1), lambda a: np.lib.stride_tricks.sliding_window_view(a, 2, 2)),
    (lambda x: torch.diagonal_copy(x, 1, 1, 2), lambda a: np.diagonal(a, 1, 1, 2)),
    (lambda x: torch.detach_copy(x), lambda a: a),
    (lambda x: torch.alias_copy(x), lambda a: a),
    (lambda x: torch.as_strided_copy(x, (3, 2), (1, 4), 2), lambda a: a.reshape(-1)[[[2, 6], [3, 7], [4, 8]]]),
    (lambda x: torch.narrow_copy(x, 2, 1, 2), lambda a: a[:, :, 1:3]),
]


@pytest.mark.parametrize("fn,ref", COPIES)
def test_copy_ops_match_views_and_own_memory(fn, ref):
    x = torch.tensor(X)
    out = fn(x)
    np.testing.assert_array_equal(out.numpy(), ref(X))
    assert out.is_contiguous()
    assert not shares(out, x)
    out.add_(1)  # writing the copy leaves the source alone
    np.testing.assert_array_equal(x.numpy(), X)


def test_copy_ops_returning_tuples():
    x = torch.tensor(X)
    for parts, ref in [
        (torch.split_copy(x, 2, 2), np.split(X, 2, 2)),
        (torch.split_with_sizes_copy(x, [1, 2], 1), np.split(X, [1], 1)),
        (torch.unbind_copy(x, 1), [X[:, i] for i in range(3)]),
    ]:
        assert isinstance(parts, tuple) and len(parts) == len(ref)
        for p, r in zip(parts, ref):
            np.testing.assert_array_equal(p.numpy(), r)
            assert not shares(p, x)


def test_copy_ops_are_differentiable():
    x = t64((3, 4), requires_grad=True)
    assert gradcheck(lambda a: torch.transpose_copy(a, 0, 1) * 2, (x,))
    assert gradcheck(lambda a: torch.expand_copy(a[:1], (3, 4)), (x,))
    assert gradcheck(lambda a: torch.slice_copy(a, 1, 0, 4, 3), (x,))
    assert gradcheck(lambda a: torch.split_copy(a, 3, 1)[1], (x,))
    # detach_copy cuts the graph
    assert not torch.detach_copy(x).requires_grad


def test_copy_op_errors():
    x = torch.tensor(X)
    with pytest.raises(TypeError, match=r"view_copy\(\) received an invalid combination of arguments"):
        torch.view_copy(x, "6")
    with pytest.raises(RuntimeError, match="slice step must be positive"):
        torch.slice_copy(x, 0, 0, 2, 0)
    with pytest.raises(RuntimeError, match=r"start \(2\) \+ length \(3\) exceeds dimension size \(4\)\."):
        x.narrow_copy(2, 2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.narrow_copy(x, 3, 0, 1)


# ---- as_strided ----
def test_as_strided_is_a_view_of_the_storage():
    x = torch.arange(6.0)
    v = torch.as_strided(x, (2, 2), (1, 2), 1)
    assert v.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert v.stride() == (1, 2) and v.storage_offset() == 1
    v[0, 0] = 50.0
    assert x[1].item() == 50.0


def test_as_strided_inplace_restrides_self():
    x = torch.arange(6.0)
    r = x.as_strided_((2, 2), (1, 2), 1)
    assert r is x
    assert x.tolist() == [[1.0, 3.0], [2.0, 4.0]] and x.stride() == (1, 2) and x.storage_offset() == 1


def test_as_strided_scatter_values_and_grad():
    out = torch.as_strided_scatter(torch.zeros(6), torch.tensor([[1.0, 2.0], [3.0, 4.0]]), (2, 2), (1, 2), 1)
    assert out.tolist() == [0.0, 1.0, 3.0, 2.0, 4.0, 0.0]  # PyTorch's result
    x = torch.arange(6.0).reshape(2, 3)
    out = torch.as_strided_scatter(x, torch.full((3,), -1.0), (3,), (2,))
    assert out.tolist() == [[-1.0, 1.0, -1.0], [3.0, -1.0, 5.0]]
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    # a transposed input is scattered in its memory order (PyTorch's result)
    out = torch.as_strided_scatter(x.t(), torch.full((3,), -1.0), (3,), (2,))
    assert out.tolist() == [[-1.0, 3.0], [1.0, -1.0], [-1.0, 5.0]]
    a, s = t64((2, 3), True), t64((2, 2), True)
    assert gradcheck(lambda a, s: torch.as_strided_scatter(a, s, (2, 2), (3, 1), 1), (a, s))


def test_as_strided_scatter_errors():
    with pytest.raises(RuntimeError, match="expected src to have a size equal to the slice of self"):
        torch.as_strided_scatter(torch.zeros(6), torch.zeros(3), (2, 2), (1, 2))
    with pytest.raises(RuntimeError, match="out of bounds for storage"):
        torch.as_strided_scatter(torch.zeros(6), torch.zeros(2, 2), (2, 2), (1, 5))


def test_empty_strided_and_empty_permuted():
    e = torch.empty_strided((2, 3), (1, 2), dtype=torch.float64)
    assert e.shape == (2, 3) and e.stride() == (1, 2) and e.dtype == torch.float64
    assert torch.empty_strided((2, 0), (1, 1)).shape == (2, 0)
    assert torch.empty_strided((2,), (1,), requires_grad=True).requires_grad
    p = torch.empty_permuted((2, 3, 4), (2, 0, 1))
    assert p.shape == (2, 3, 4) and p.stride() == (3, 1, 6)  # PyTorch's strides
    assert torch.empty_permuted((2, 3), (0, 1)).is_contiguous()
    with pytest.raises(RuntimeError, match=r"dimensionality of sizes \(2\) must match dimensionality of strides \(1\)"):
        torch.empty_strided((2, 3), (1,))
    with pytest.raises(RuntimeError, match="Number of dimensions in size does not match"):
        torch.empty_permuted((2, 3), (0,))
    with pytest.raises(RuntimeError, match="Duplicate dim not allowed"):
        torch.empty_permuted((2, 3), (0, 0))


# ---- unsafe splits, nonzero_static, get_device ----
def test_unsafe_splits_match_safe_ones():
    x = torch.tensor(X)
    for got, ref in [
        (torch.unsafe_chunk(x, 2, 2), x.chunk(2, 2)),
        (x.unsafe_chunk(3, 1), x.chunk(3, 1)),
        (torch.unsafe_split(x, 3, 2), x.split(3, 2)),
        (x.unsafe_split_with_sizes([1, 2], 1), x.split([1, 2], 1)),
        (torch.unsafe_split_with_sizes(x, [2, 2], 2), x.split([2, 2], 2)),
    ]:
        assert isinstance(got, tuple) and len(got) == len(ref)
        for a, b in zip(got, ref):
            assert torch.equal(a, b)


def test_nonzero_static():
    m = torch.tensor([[1, 0], [0, 1]])
    assert torch.nonzero_static(m, size=3).tolist() == [[0, 0], [1, 1], [-1, -1]]
    assert m.nonzero_static(size=1).tolist() == [[0, 0]]
    assert torch.nonzero_static(torch.tensor([1, 0, 2, 3]), size=2, fill_value=-5).tolist() == [[0], [2]]
    assert torch.nonzero_static(torch.tensor([0, 1]), size=3, fill_value=7).tolist() == [[1], [7], [7]]
    out = torch.nonzero_static(torch.zeros(2, 3), size=0)
    assert out.shape == (0, 2) and out.dtype == torch.int64
    with pytest.raises(RuntimeError, match="'size' must be an non-negative integer"):
        torch.nonzero_static(m, size=-1)
    with pytest.raises(TypeError, match="nonzero_static\\(\\): argument 'size' must be int, not float"):
        torch.nonzero_static(m, size=1.5)


def test_get_device():
    x = torch.zeros(2)
    assert torch.get_device(x) == -1 and x.get_device() == -1


# ---- native_* ops ----
def test_native_layer_norm_matches_reference_and_layer_norm():
    a = RNG.normal(size=(2, 3, 4))
    w = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    out, mean, rstd = torch.native_layer_norm(torch.tensor(a), [4], w, None, 1e-5)
    m = a.mean(-1, keepdims=True)
    r = 1 / np.sqrt(a.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(mean.numpy(), m, atol=1e-12)
    np.testing.assert_allclose(rstd.numpy(), r, atol=1e-10)
    np.testing.assert_allclose(out.numpy(), (a - m) * r * [1, 2, 3, 4], atol=1e-10)
    np.testing.assert_allclose(out.numpy(), F.layer_norm(torch.tensor(a), [4], w).numpy(), atol=1e-10)
    x, b = t64((2, 3), True), t64((3,), True)
    assert gradcheck(lambda x, b: torch.native_layer_norm(x, [3], None, b, 1e-5)[0], (x, b))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[5\]"):
        torch.native_layer_norm(x, [5], None, None, 1e-5)


def test_native_batch_norm_training_and_eval():
    a = RNG.normal(size=(4, 3, 2))
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    bias = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    out, mean, invstd = torch.native_batch_norm(torch.tensor(a), None, bias, rm, rv, True, 0.1, 1e-5)
    m, v = a.mean((0, 2)), a.var((0, 2))
    np.testing.assert_allclose(mean.numpy(), m, atol=1e-12)
    np.testing.assert_allclose(invstd.numpy(), 1 / np.sqrt(v + 1e-5), atol=1e-10)
    ref = (a - m[None, :, None]) / np.sqrt(v[None, :, None] + 1e-5) + np.array([1, 0, 0])[None, :, None]
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-10)
    np.testing.assert_allclose(rm.numpy(), 0.1 * m, atol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * a.var((0, 2), ddof=1), atol=1e-12)
    # evaluation normalises with the running stats and saves nothing
    out, mean, invstd = torch.native_batch_norm(torch.tensor(a), None, None, rm, rv, False, 0.1, 1e-5)
    np.testing.assert_allclose(
        out.numpy(), (a - rm.numpy()[None, :, None]) / np.sqrt(rv.numpy()[None, :, None] + 1e-5), atol=1e-10)
    assert mean.shape == (0,) and invstd.shape == (0,)
    with pytest.raises(ValueError, match="running_mean must be defined in evaluation mode"):
        torch.native_batch_norm(torch.tensor(a), None, None, None, None, False, 0.1, 1e-5)
    x = t64((3, 2), True)
    assert gradcheck(lambda x: torch.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5)[0], (x,))


def test_native_group_norm():
    a = RNG.normal(size=(2, 4, 3))
    w = torch.tensor([1.0, -1.0, 2.0, 0.5], dtype=torch.float64)
    out, mean, rstd = torch.native_group_norm(torch.tensor(a), w, None, 2, 4, 3, 2, 1e-5)
    g = a.reshape(2, 2, 6)
    assert mean.shape == (2, 2) and rstd.shape == (2, 2)
    np.testing.assert_allclose(mean.numpy(), g.mean(-1), atol=1e-12)
    np.testing.assert_allclose(rstd.numpy(), 1 / np.sqrt(g.var(-1) + 1e-5), atol=1e-10)
    np.testing.assert_allclose(out.numpy(), F.group_norm(torch.tensor(a), 2, w).numpy(), atol=1e-10)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        torch.native_group_norm(torch.tensor(a), None, None, 2, 4, 3, 3, 1e-5)


def test_native_dropout():
    x = torch.ones(2000, dtype=torch.float64)
    out, mask = torch.native_dropout(x, 0.25, True)
    assert mask.dtype == torch.bool
    kept = mask.numpy()
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(out.numpy(), kept / 0.75)
    out, mask = torch.native_dropout(x, 0.25, False)
    assert bool(mask.all()) and torch.equal(out, x) and not shares(out, x)
    out, mask = torch.native_dropout(x, 1.0, True)
    assert not bool(mask.any()) and float(out.abs().sum()) == 0.0
    with pytest.raises(RuntimeError, match=r"bernoulli_ expects p to be in \[0, 1\], but got p=-0.5"):
        torch.native_dropout(x, 1.5, True)


def test_channel_shuffle_forms():
    x = torch.arange(8.0).reshape(1, 4, 2)
    want = [0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]  # PyTorch's result
    assert torch.native_channel_shuffle(x, 2).flatten().tolist() == want
    assert torch.channel_shuffle(x, 2).flatten().tolist() == want
    assert F.native_channel_shuffle(x, 2).flatten().tolist() == want


# ---- functional RNN cells: literals from PyTorch ----
INP = [[0.5, -1.0], [2.0, 0.3]]
H = [[0.1, 0.2, 0.3], [-0.3, 0.0, 0.4]]


def cell_args(gates):
    w_ih = torch.linspace(-1, 1, 2 * gates).reshape(gates, 2)
    w_hh = torch.linspace(-0.5, 0.7, 3 * gates).reshape(gates, 3)
    return torch.tensor(INP), torch.tensor(H), w_ih, w_hh, torch.linspace(0, 0.3, gates), torch.linspace(-0.2, 0.1, gates)


def test_gru_and_rnn_cells_match_pytorch():
    inp, h, w_ih, w_hh, b_ih, b_hh = cell_args(9)
    np.testing.assert_allclose(torch.gru_cell(inp, h, w_ih, w_hh, b_ih, b_hh).numpy(), [
        [0.06394864618778229, 0.10786984115839005, 0.1553208827972412],
        [0.43160825967788696, 0.4636901915073395, 0.597374439239502]], atol=1e-6)
    np.testing.assert_allclose(torch.rnn_tanh_cell(inp, h, w_ih[:3], w_hh[:3], b_ih[:3], b_hh[:3]).numpy(), [
        [-0.08054911345243454, -0.040272317826747894, 0.00013574957847595215],
        [-0.9860103726387024, -0.9515345692634583, -0.8389855027198792]], atol=1e-6)
    np.testing.assert_allclose(torch.rnn_relu_cell(inp, h, w_ih[:3], w_hh[:3]).numpy(), [
        [0.1192760169506073, 0.0847058892250061, 0.05013574659824371], [0.0, 0.0, 0.0]], atol=1e-6)


def test_lstm_cell_matches_pytorch():
    inp, h, w_ih, w_hh, b_ih, _ = cell_args(12)
    hy, cy = torch.lstm_cell(inp, (h, h * 2), w_ih, w_hh, b_ih, None)
    np.testing.assert_allclose(hy.numpy(), [
        [0.10045766085386276, 0.15586693584918976, 0.2081192135810852],
        [-0.11180271953344345, 0.0770859643816948, 0.45659682154655457]], atol=1e-6)
    np.testing.assert_allclose(cy.numpy(), [
        [0.18836610019207, 0.2970218062400818, 0.40588080883026123],
        [-0.1342577040195465, 0.08694341778755188, 0.5406203269958496]], atol=1e-6)
    with pytest.raises(TypeError, match=r"argument 'hx' \(position 2\) must be tuple of Tensors, not Tensor"):
        torch.lstm_cell(inp, h, w_ih, w_hh)


def test_cells_gradcheck():
    x, h = t64((2, 2), True), t64((2, 3), True)
    w_ih, w_hh, b = t64((9, 2), True), t64((9, 3), True), t64((9,), True)
    assert gradcheck(lambda x, h, wi, wh, b: torch.gru_cell(x, h, wi, wh, b, None), (x, h, w_ih, w_hh, b))
    c = t64((2, 3), True)
    w4, wh4 = t64((12, 2), True), t64((12, 3), True)
    assert gradcheck(lambda x, h, c, wi, wh: torch.lstm_cell(x, (h, c), wi, wh)[1], (x, h, c, w4, wh4))


# ---- embedding_bag: ATen's form and its 4-tuple ----
W = [[0.1, 0.2, 0.3], [0.4, -0.5, 0.6], [0.7, 0.8, -0.9], [1.0, 1.1, 1.2]]
IDX = [0, 2, 1, 3, 3]


def test_embedding_bag_modes_match_pytorch():
    w, idx, offs = torch.tensor(W), torch.tensor(IDX), torch.tensor([0, 2, 2])
    out, o2b, size, _ = torch.embedding_bag(w, idx, offs, False, 0)
    np.testing.assert_allclose(out.numpy(), [[0.8, 1.0, -0.6], [0, 0, 0], [2.4, 1.7, 3.0]], atol=1e-6)
    assert o2b.tolist() == [0, 0, 2, 2, 2] and size.tolist() == [2, 0, 3]
    out, _, _, _ = torch.embedding_bag(w, idx, offs, False, 1)
    np.testing.assert_allclose(out.numpy(), [[0.4, 0.5, -0.3], [0, 0, 0], [0.8, 0.5666667, 1.0]], atol=1e-6)
    out, _, _, maxi = torch.embedding_bag(w, idx, offs, False, 2)
    np.testing.assert_allclose(out.numpy(), [[0.7, 0.8, 0.3], [0, 0, 0], [1.0, 1.1, 1.2]], atol=1e-6)
    assert maxi.tolist() == [[2, 2, 0], [0, 0, 0], [3, 3, 3]]  # PyTorch's max_indices


def test_embedding_bag_options():
    w, idx = torch.tensor(W), torch.tensor(IDX)
    a = torch.embedding_bag(w, idx, torch.tensor([0, 2, 2, 5]), False, 1, include_last_offset=True)[0]
    b = torch.embedding_bag(w, idx, torch.tensor([0, 2, 2]), False, 1)[0]
    assert torch.allclose(a, b)
    psw = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    out = torch.embedding_bag(w, idx, torch.tensor([0, 2]), False, 0, False, psw)[0]
    wn = np.array(W)
    want = [wn[0] + 2 * wn[2], 3 * wn[1] + 9 * wn[3]]
    np.testing.assert_allclose(out.numpy(), want, atol=1e-5)
    out, _, size, _ = torch.embedding_bag(w, idx, torch.tensor([0, 2]), False, 1, False, None, False, 1)
    np.testing.assert_allclose(out.numpy(), [(wn[0] + wn[2]) / 2, wn[3]], atol=1e-6)
    assert size.tolist() == [2, 2]
    wg = t64((4, 3), True)
    assert gradcheck(lambda w: torch.embedding_bag(w, idx, torch.tensor([0, 2]), False, 1)[0], (wg,))
    with pytest.raises(RuntimeError, match="Unknown mode for embedding_bag"):
        torch.embedding_bag(w, idx, torch.tensor([0]), False, 3)


# ---- buffers, files, DLPack ----
def test_frombuffer_shares_memory():
    a = array.array("i", [1, 2, 3, 4])
    x = torch.frombuffer(a, dtype=torch.int32, count=2, offset=4)
    assert x.tolist() == [2, 3] and x.dtype == torch.int32
    a[1] = 9
    assert x.tolist() == [9, 3]
    x[1] = -7
    assert a[2] == -7
    b = bytearray(np.arange(3, dtype=np.float64).tobytes())
    assert torch.frombuffer(b, dtype=torch.float64).tolist() == [0.0, 1.0, 2.0]
    with mmap.mmap(-1, 8) as m:
        y = torch.frombuffer(m, dtype=torch.uint8)
        m[0] = 5
        assert y[0].item() == 5
        del y


def test_frombuffer_bfloat16_readonly_and_errors():
    bits = np.array([1.5, -2.0], dtype=np.float32).view(np.uint32) >> 16
    x = torch.frombuffer(bytearray(bits.astype(np.uint16).tobytes()), dtype=torch.bfloat16)
    assert x.dtype == torch.bfloat16 and x.float().tolist() == [1.5, -2.0]
    with pytest.warns(UserWarning, match="The given buffer is not writable"):
        assert torch.frombuffer(b"\x01\x00\x00\x00", dtype=torch.int32).tolist() == [1]
    b = bytearray(8)
    with pytest.raises(ValueError, match=r"requested buffer length \(3 \* 4 bytes\) after offset \(0 bytes\)"):
        torch.frombuffer(b, dtype=torch.int32, count=3)
    with pytest.raises(ValueError, match=r"offset \(9 bytes\) must be non-negative and no greater"):
        torch.frombuffer(b, dtype=torch.int32, offset=9)
    with pytest.raises(ValueError, match=r"both buffer length \(0\) and count \(-1\) must not be 0"):
        torch.frombuffer(bytearray(0), dtype=torch.int32)
    with pytest.raises(ValueError, match=r"must be a multiple of element size \(4\)"):
        torch.frombuffer(bytearray(7), dtype=torch.int32)


def test_from_file(tmp_path):
    path = str(tmp_path / "data.bin")
    np.array([1.5, 2.5, 3.5], dtype=np.float32).tofile(path)
    x = torch.from_file(path, size=2)
    assert x.dtype == torch.float32 and x.tolist() == [1.5, 2.5]
    x[0] = 0.0  # private copy: the file is untouched
    assert np.fromfile(path, dtype=np.float32)[0] == 1.5
    s = torch.from_file(path, True, size=3)
    s[2] = 9.0
    del s
    assert np.fromfile(path, dtype=np.float32).tolist() == [1.5, 2.5, 9.0]
    assert torch.from_file(path, size=1, dtype=torch.float64).dtype == torch.float64
    grown = str(tmp_path / "grown.bin")
    with open(grown, "wb") as f:
        f.write(b"\0" * 8)
    g = torch.from_file(grown, True, size=3)
    assert g.tolist() == [0.0, 0.0, 0.0]
    del g
    assert os.path.getsize(grown) == 12  # shared mapping grows the file, as PyTorch does
    small = str(tmp_path / "small.bin")
    with open(small, "wb") as f:
        f.write(b"\0" * 8)
    with pytest.raises(RuntimeError, match=r"size <8> is smaller than the required mapping size <16>"):
        torch.from_file(small, size=4)
    with pytest.raises(RuntimeError, match="unable to open file"):
        torch.from_file(str(tmp_path / "missing.bin"), size=1)


def test_dlpack_roundtrip_shares_memory():
    a = np.arange(6.0).reshape(2, 3)
    x = torch.from_dlpack(a)
    assert x.dtype == torch.float64 and x.tolist() == a.tolist()
    a[0, 0] = 42.0
    assert x[0, 0].item() == 42.0
    y = torch.arange(4, dtype=torch.int32)
    assert y.__dlpack_device__() == (1, 0)
    n = np.from_dlpack(y)
    n[0] = 7
    assert y[0].item() == 7
    z = torch.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(y))
    assert z.tolist() == [7, 1, 2, 3] and shares(z, y)
    assert torch.from_dlpack(y) is y
    t = torch.tensor(a).t()  # strided views export with their strides
    np.testing.assert_array_equal(np.from_dlpack(t), a.T)
    with pytest.raises(BufferError, match="Can't export tensors that require gradient"):
        torch.zeros(2, requires_grad=True).__dlpack__()


# ---- DistributedSampler ----
def test_distributed_sampler_sequential_matches_pytorch():
    data = list(range(10))
    s = DistributedSampler(data, num_replicas=3, rank=1, shuffle=False)
    assert list(s) == [1, 4, 7, 0] and len(s) == 4  # padded by wrapping around
    s = DistributedSampler(data, num_replicas=3, rank=1, shuffle=False, drop_last=True)
    assert list(s) == [1, 4, 7] and len(s) == 3
    s = DistributedSampler(list(range(2)), num_replicas=5, rank=4, shuffle=False)
    assert list(s) == [0]


def test_distributed_sampler_shuffle_partitions_and_epochs():
    data = list(range(11))
    shards = [list(DistributedSampler(data, num_replicas=4, rank=r, seed=3)) for r in range(4)]
    assert all(len(sh) == 3 for sh in shards)
    flat = [i for sh in shards for i in sh]
    assert set(flat) == set(data) and len(flat) == 12  # one index repeated as padding
    s = DistributedSampler(data, num_replicas=4, rank=0, seed=3)
    assert list(s) == shards[0]  # same seed and epoch, same order
    orders = set()
    for epoch in range(4):
        s.set_epoch(epoch)
        orders.add(tuple(s))
    assert len(orders) > 1
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(data, num_replicas=3, rank=3)
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        DistributedSampler(data)


def test_distributed_sampler_in_dataloader():
    ds = torch.utils.data.TensorDataset(torch.arange(8.0))
    s = DistributedSampler(ds, num_replicas=2, rank=0, shuffle=False)
    batches = [b[0].tolist() for b in torch.utils.data.DataLoader(ds, batch_size=2, sampler=s)]
    assert batches == [[0.0, 2.0], [4.0, 6.0]]

