"""Random sampling: manual_seed reproducibility, Generator objects, distribution moments at a fixed seed."""

import ferrotorch as torch
import numpy as np
import pytest

N = 200_000


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1234)


@pytest.mark.parametrize("make", [
    lambda: torch.rand(100), lambda: torch.randn(3, 7), lambda: torch.randint(0, 10, (50,)),
    lambda: torch.randperm(20), lambda: torch.normal(0.0, 1.0, size=(10,)),
    lambda: torch.bernoulli(torch.full((30,), 0.5)), lambda: torch.multinomial(torch.ones(10), 5),
    lambda: torch.empty(20).uniform_(-1, 1), lambda: torch.empty(20).normal_(), lambda: torch.rand(5, dtype=torch.float64),
    lambda: torch.randn(4, dtype=torch.float16).float(), lambda: torch.empty(10).exponential_(),
])
def test_manual_seed_reproducible(make):
    torch.manual_seed(7)
    a = make()
    torch.manual_seed(7)
    b = make()
    torch.manual_seed(8)
    c = make()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy()) or a.numel() <= 1


def test_consecutive_draws_differ_and_initial_seed():
    torch.manual_seed(42)
    assert torch.initial_seed() == 42
    a, b = torch.rand(10), torch.rand(10)
    assert not np.array_equal(a.numpy(), b.numpy())


def test_generator_independent_of_global_state():
    g = torch.Generator().manual_seed(3)
    a = torch.rand(5, generator=g)
    torch.rand(100)  # global draws do not disturb g
    g2 = torch.Generator()
    g2.manual_seed(3)
    torch.manual_seed(0)
    b = torch.rand(5, generator=g2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert g.initial_seed() == 3
    # and using g does not advance the global generator
    torch.manual_seed(5)
    x = torch.rand(3)
    torch.manual_seed(5)
    torch.randn(10, generator=g)
    y = torch.rand(3)
    np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_generator_state_roundtrip():
    g = torch.Generator().manual_seed(11)
    state = g.get_state()
    a = torch.randn(6, generator=g)
    g.set_state(state)
    b = torch.randn(6, generator=g)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    s = torch.get_rng_state()
    c = torch.rand(4)
    torch.set_rng_state(s)
    np.testing.assert_array_equal(torch.rand(4).numpy(), c.numpy())


def test_generator_in_all_samplers():
    g = torch.Generator().manual_seed(1)
    for f in (lambda: torch.randint(0, 5, (4,), generator=g), lambda: torch.randperm(6, generator=g),
              lambda: torch.multinomial(torch.ones(4), 2, generator=g),
              lambda: torch.bernoulli(torch.full((4,), 0.5), generator=g),
              lambda: torch.normal(0.0, 1.0, size=(3,), generator=g), lambda: torch.empty(3).uniform_(generator=g)):
        g.manual_seed(99)
        a = f()
        g.manual_seed(99)
        np.testing.assert_array_equal(a.numpy(), f().numpy())


def test_rand_moments_and_range():
    x = torch.rand(N).numpy()
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.005
    assert abs(x.var() - 1 / 12) < 0.002
    assert torch.rand(2, 3).dtype == torch.float32 and torch.rand(2, 3).shape == (2, 3)
    assert torch.rand((4,), dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_randn_moments(dtype):
    x = torch.randn(N, dtype=dtype).numpy().astype(np.float64)
    assert abs(x.mean()) < 0.01
    assert abs(x.std() - 1) < 0.01
    assert abs(((x - x.mean()) ** 3).mean()) < 0.03  # symmetric
    assert abs((x ** 4).mean() - 3) < 0.1  # normal kurtosis
    assert (np.abs(x) < 1).mean() == pytest.approx(0.6827, abs=0.005)


def test_normal_forms():
    x = torch.normal(2.0, 3.0, size=(N,)).numpy()
    assert abs(x.mean() - 2) < 0.03 and abs(x.std() - 3) < 0.03
    m = torch.tensor([0.0, 10.0, -10.0]).repeat(N // 3)
    s = torch.tensor([1.0, 0.1, 2.0]).repeat(N // 3)
    y = torch.normal(m, s).numpy().reshape(-1, 3)
    np.testing.assert_allclose(y.mean(0), [0, 10, -10], atol=0.03)
    np.testing.assert_allclose(y.std(0), [1, 0.1, 2], rtol=0.03)
    z = torch.normal(torch.zeros(N), 2.0).numpy()
    assert abs(z.std() - 2) < 0.03
    w = torch.empty(N).normal_(5.0, 0.5).numpy()
    assert abs(w.mean() - 5) < 0.01 and abs(w.std() - 0.5) < 0.01


def test_uniform_exponential_random_():
    u = torch.empty(N).uniform_(-2, 3).numpy()
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.03
    e = torch.empty(N).exponential_(2.0).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.01
    r = torch.empty(N, dtype=torch.int64).random_(0, 7).numpy()
    assert set(np.unique(r)) == set(range(7))
    r2 = torch.zeros(1000, dtype=torch.int64).random_(5)
    assert r2.min().item() >= 0 and r2.max().item() < 5


@pytest.mark.parametrize("args, lo, hi", [((10, (N,)), 0, 10), ((-5, 5, (N,)), -5, 5), ((3, 4, (100,)), 3, 4)])
def test_randint(args, lo, hi):
    x = torch.randint(*args)
    assert x.dtype == torch.int64
    v = x.numpy()
    assert v.min() >= lo and v.max() < hi
    assert set(np.unique(v)) == set(range(lo, hi)) if v.size > 1000 else True
    if v.size == N:
        counts = np.bincount(v - lo)
        assert counts.min() > N / (hi - lo) * 0.95
    assert torch.randint(0, 5, (2, 3), dtype=torch.float32).dtype == torch.float32
    assert torch.randint(5, size=(2,)).shape == (2,)


@pytest.mark.parametrize("n", [0, 1, 10, 1000])
def test_randperm_is_permutation(n):
    p = torch.randperm(n)
    assert p.dtype == torch.int64 and p.shape == (n,)
    assert sorted(p.tolist()) == list(range(n))
    if n >= 10:
        assert p.tolist() != list(range(n))
    assert torch.randperm(5, dtype=torch.float64).dtype == torch.float64


def test_bernoulli():
    p = torch.full((N,), 0.3)
    x = torch.bernoulli(p)
    assert x.dtype == torch.float32
    v = x.numpy()
    assert set(np.unique(v)) <= {0.0, 1.0} and abs(v.mean() - 0.3) < 0.005
    y = torch.empty(N).bernoulli_(0.8).numpy()
    assert abs(y.mean() - 0.8) < 0.005
    assert torch.bernoulli(torch.zeros(10)).sum().item() == 0
    assert torch.bernoulli(torch.ones(10)).sum().item() == 10
    q = torch.tensor([0.0, 1.0]).repeat(1000)
    np.testing.assert_array_equal(torch.bernoulli(q).numpy(), q.numpy())
    assert p.bernoulli().shape == (N,)


def test_multinomial():
    w = torch.tensor([1.0, 0.0, 3.0, 6.0])
    s = torch.multinomial(w, 100_000, replacement=True)
    assert s.dtype == torch.int64
    freq = np.bincount(s.numpy(), minlength=4) / 100_000
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.3, 0.6], atol=0.01)
    nr = torch.multinomial(w, 3)
    assert sorted(nr.tolist()) == [0, 2, 3]  # without replacement and zero weight never drawn
    b = torch.multinomial(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), 1)
    assert b.tolist() == [[0], [1]]
    assert w.multinomial(2).shape == (2,)


def test_like_random_factories():
    x = torch.zeros(3, 4, dtype=torch.float64)
    assert torch.rand_like(x).dtype == torch.float64 and torch.rand_like(x).shape == (3, 4)
    assert torch.randn_like(x).shape == (3, 4)
    r = torch.randint_like(x, 10)
    assert r.dtype == torch.float64 and r.max().item() < 10
    r = torch.randint_like(x, 3, 5)
    assert r.min().item() >= 3 and r.max().item() < 5


def test_seed_returns_int():
    s = torch.seed()
    assert isinstance(s, int)
    assert torch.initial_seed() == s
