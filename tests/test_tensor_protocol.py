"""The Python protocol of tensors: len, iteration, bool/float/int/index, item, tolist, hashing by id, copy/pickle."""

import copy
import pickle

import ferrotorch as torch
import numpy as np
import pytest


def test_len_and_iteration():
    x = torch.arange(6).view(3, 2)
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    assert [v.item() for v in torch.tensor([1.5, 2.5])] == [1.5, 2.5]
    a, b = torch.tensor([[1, 2], [3, 4]])
    assert a.tolist() == [1, 2] and b.tolist() == [3, 4]
    assert len(torch.zeros(0, 3)) == 0 and list(torch.zeros(0, 3)) == []
    rows[0][0] = 100  # iteration yields views
    assert x[0, 0].item() == 100


def test_len_and_iter_of_0d():
    s = torch.tensor(3.0)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(s)
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(s)


@pytest.mark.parametrize("value, expected", [([1.0], True), ([0.0], False), (2, True), (0, False), ([[True]], True),
                                             ([False], False), (float("nan"), True)])
def test_bool(value, expected):
    assert bool(torch.tensor(value)) is expected


def test_float_int_index_conversions():
    assert float(torch.tensor([2.5])) == 2.5
    assert int(torch.tensor(3.7)) == 3 and int(torch.tensor(-3.7)) == -3
    assert int(torch.tensor([[7]])) == 7
    assert float(torch.tensor(2)) == 2.0 and isinstance(float(torch.tensor(2)), float)
    assert [10, 20, 30][torch.tensor(1)] == 20
    assert range(10)[torch.tensor(3)] == 3
    assert "abc"[torch.tensor(2, dtype=torch.int32)] == "c"
    assert complex(torch.tensor(1.5)) == 1.5 + 0j
    assert round(torch.tensor(2.6).item()) == 3


@pytest.mark.parametrize("dtype, value, pytype", [(torch.float32, 1.5, float), (torch.float64, 1.5, float),
                                                  (torch.int64, 3, int), (torch.int32, -3, int),
                                                  (torch.uint8, 200, int), (torch.bool, True, bool),
                                                  (torch.float16, 0.5, float), (torch.bfloat16, 2.0, float)])
def test_item_types(dtype, value, pytype):
    t = torch.tensor([value], dtype=dtype)
    v = t.item()
    assert type(v) is pytype and v == value
    assert type(t.tolist()[0]) is pytype


def test_item_float32_is_exact_double_of_the_float():
    assert torch.tensor(0.1).item() == float(np.float32(0.1))


def test_tolist():
    assert torch.tensor(5).tolist() == 5
    assert torch.arange(6).view(2, 3).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert torch.arange(6).view(2, 3).t().tolist() == [[0, 3], [1, 4], [2, 5]]
    assert torch.zeros(2, 0).tolist() == [[], []]
    assert torch.tensor([True, False]).tolist() == [True, False]


def test_hash_by_identity():
    a = torch.tensor([1.0])
    b = torch.tensor([1.0])
    assert hash(a) == hash(a) and hash(a) != hash(b)
    assert hash(a) == id(a)
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert len({a, b, a}) == 2
    assert a in [a] and a in {a}


def test_eq_returns_tensor_and_contains():
    x = torch.tensor([1, 2, 3])
    assert isinstance(x == 2, torch.Tensor)
    assert 2 in x and 5 not in x
    assert torch.tensor([1, 2]) in torch.tensor([[1, 2], [3, 4]])


def test_format_and_str():
    assert f"{torch.tensor(2.5):.2f}" == "2.50"
    assert f"{torch.tensor(3):d}" == "3"
    assert format(torch.tensor([1.0, 2.0])) == str(torch.tensor([1.0, 2.0]))
    assert str(torch.tensor([1, 2])) == "tensor([1, 2])"


def test_reversed():
    assert list(reversed(torch.tensor([1, 2, 3]))) == [3, 2, 1] or \
        [t.item() for t in reversed(torch.tensor([1, 2, 3]))] == [3, 2, 1]


def test_copy_deepcopy_pickle():
    x = torch.arange(6.0).view(2, 3)
    y = copy.deepcopy(x)
    y[0, 0] = 50.0
    assert x[0, 0].item() == 0.0
    c = copy.copy(x)
    np.testing.assert_array_equal(c.numpy(), x.numpy())
    for dtype in (torch.float32, torch.int64, torch.bool, torch.bfloat16, torch.float16):
        t = torch.tensor([[1, 0], [2, 3]]).to(dtype)
        u = pickle.loads(pickle.dumps(t))
        assert u.dtype == dtype and u.shape == (2, 2)
        np.testing.assert_array_equal(u.float().numpy(), t.float().numpy())
    r = torch.ones(2, requires_grad=True)
    assert pickle.loads(pickle.dumps(r)).requires_grad


def test_subclass_keeps_class():
    class MyTensor(torch.Tensor):
        pass

    m = torch.Tensor._make_subclass(MyTensor, torch.ones(2))
    assert isinstance(m, MyTensor) and isinstance(m, torch.Tensor)
    assert m.sum().item() == 2.0


def test_tensor_is_not_iterable_as_scalars_mixed_with_python():
    x = torch.tensor([1.0, 2.0, 3.0])
    assert sum(x).item() == 6.0
    assert max(x).item() == 3.0
    assert sorted(x.tolist(), reverse=True) == [3.0, 2.0, 1.0]
    assert np.array(list(x)).tolist() == [1.0, 2.0, 3.0]


def test_num_threads_roundtrip():
    n = torch.get_num_threads()
    assert n >= 1
    try:
        torch.set_num_threads(1)
        assert torch.get_num_threads() == 1
        x = torch.ones(1 << 20)
        assert (x * 2).sum().item() == 2 * (1 << 20)
    finally:
        torch.set_num_threads(n)
    assert torch.get_num_threads() == n


def test_num_threads_can_rise_after_one_thread_first():
    """A process whose first call is set_num_threads(1) can raise the count again."""
    import os
    import subprocess
    import sys

    code = (
        "import ferrotorch as torch\n"
        "torch.set_num_threads(1)\n"
        "a = torch.ones(256, 256)\n"
        "assert (a @ a)[0, 0].item() == 256\n"
        "torch.set_num_threads(2)\n"
        "print(torch.get_num_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == min(2, os.cpu_count() or 1)


def _child_work(q):
    a = torch.ones(512, 512)
    q.put(((a @ a).sum().item(), (torch.ones(1 << 21) + 1).sum().item()))


def test_fork_after_parallel_work_does_not_hang():
    import multiprocessing as mp

    a = torch.ones(512, 512)
    (a @ a).sum()  # the parent's pool is warm
    (torch.ones(1 << 21) * 3).sum()
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_work, args=(q,))
    p.start()
    p.join(120)
    if p.is_alive():
        p.kill()
        pytest.fail("forked child hung on the parent's thread pool")
    assert p.exitcode == 0
    assert q.get(timeout=5) == (512.0 ** 3, 2.0 * (1 << 21))
