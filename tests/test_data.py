"""torch.utils.data: datasets, samplers, collation and the DataLoader (single- and multi-process)."""

import collections
import os
import random
import time
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def as_lists(batches):
    """Batches of (x, y) tensors -> nested Python lists, for comparing whole epochs."""
    return [[t.tolist() for t in b] for b in batches]


class Range(Dataset):
    """Item i is i (or what ``fn(i)`` makes of it)."""

    def __init__(self, n, fn=None):
        self.n, self.fn = n, fn

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i if self.fn is None else self.fn(i)


class Stream(IterableDataset):
    """0..n-1; under workers each worker yields its own stride of the range."""

    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no len")
        return self.n


# ---------------------------------------------------------------------------- datasets


def test_tensor_dataset_items_and_len():
    x = torch.arange(12).reshape(6, 2)
    y = torch.tensor([5, 4, 3, 2, 1, 0])
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[2]
    assert xi.tolist() == [4, 5] and yi.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(x, torch.zeros(5))


def test_concat_dataset_indexing_across_parts():
    ds = ConcatDataset([Range(3), Range(2, lambda i: 10 + i), Range(4, lambda i: 20 + i)])
    assert len(ds) == 9
    assert ds.cumulative_sizes == [3, 5, 9]
    assert [ds[i] for i in range(9)] == [0, 1, 2, 10, 11, 20, 21, 22, 23]
    assert ds[-1] == 23 and ds[-9] == 0
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        ds[-10]
    plus = Range(2) + Range(1, lambda i: 7)
    assert isinstance(plus, ConcatDataset) and [plus[i] for i in range(3)] == [0, 1, 7]
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([Range(2), Stream(3)])


def test_subset_and_chain_and_stack_datasets():
    sub = Subset(Range(10, lambda i: i * i), [7, 2, 5])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [49, 4, 25]
    assert sub.__getitems__([2, 0]) == [25, 49]
    chain = Stream(3) + Stream(2)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5
    st = StackDataset(Range(3), Range(3, lambda i: -i))
    assert st[2] == (2, -2) and len(st) == 3
    sd = StackDataset(a=Range(2), b=Range(2, str))
    assert sd[1] == {"a": 1, "b": "1"}
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(Range(2), Range(3))


def test_random_split_lengths_disjoint_and_reproducible():
    ds = Range(10)
    a, b, c = random_split(ds, [5, 3, 2], generator=gen(0))
    assert (len(a), len(b), len(c)) == (5, 3, 2)
    items = [a[i] for i in range(5)] + [b[i] for i in range(3)] + [c[i] for i in range(2)]
    assert sorted(items) == list(range(10))  # disjoint and covering
    a2, b2, c2 = random_split(ds, [5, 3, 2], generator=gen(0))
    assert a2.indices == a.indices and b2.indices == b.indices and c2.indices == c.indices
    other = random_split(ds, [5, 3, 2], generator=gen(1))
    assert [s.indices for s in other] != [a.indices, b.indices, c.indices]


def test_random_split_fractions_hand_computed_sizes():
    # 11 items: floor(5.5, 3.3, 2.2) = 5, 3, 2 -> one left over, given to the first split
    parts = random_split(Range(11), [0.5, 0.3, 0.2], generator=gen(3))
    assert [len(p) for p in parts] == [6, 3, 2]
    assert sorted(i for p in parts for i in p.indices) == list(range(11))
    # 7 items into quarters: 1,1,1,1 -> three left over -> 2,2,2,1
    assert [len(p) for p in random_split(Range(7), [0.25] * 4, generator=gen(3))] == [2, 2, 2, 1]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        parts = random_split(Range(2), [0.9, 0.1], generator=gen(0))
    assert [len(p) for p in parts] == [2, 0]
    assert any("Length of split at index 1 is 0" in str(x.message) for x in w)


def test_random_split_errors():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(Range(10), [5, 4])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(Range(10), [1.5, -0.5])


def test_random_split_uses_global_seed_by_default():
    torch.manual_seed(11)
    first = [s.indices for s in random_split(Range(20), [10, 10])]
    torch.manual_seed(11)
    assert [s.indices for s in random_split(Range(20), [10, 10])] == first


# ---------------------------------------------------------------------------- samplers


def test_sequential_sampler():
    s = SequentialSampler(Range(4))
    assert list(s) == [0, 1, 2, 3] and len(s) == 4


def test_sampler_base_is_abstract():
    with pytest.raises(NotImplementedError):
        iter(Sampler())


def test_random_sampler_is_reproducible_permutation():
    s = RandomSampler(Range(50), generator=gen(7))
    first = list(s)
    assert sorted(first) == list(range(50)) and first != list(range(50))
    assert list(RandomSampler(Range(50), generator=gen(7))) == first
    assert list(s) != first  # the generator moved on: the next epoch is another permutation
    torch.manual_seed(5)
    a = list(RandomSampler(Range(30)))
    torch.manual_seed(5)
    assert list(RandomSampler(Range(30))) == a


def test_random_sampler_num_samples_without_replacement_chains_permutations():
    out = list(RandomSampler(Range(10), num_samples=25, generator=gen(1)))
    assert len(out) == 25
    assert sorted(out[:10]) == list(range(10)) and sorted(out[10:20]) == list(range(10))
    assert len(set(out[20:])) == 5
    counts = collections.Counter(out)
    assert all(counts[i] in (2, 3) for i in range(10))


def test_random_sampler_with_replacement():
    s = RandomSampler(Range(5), replacement=True, num_samples=70, generator=gen(2))
    out = list(s)
    assert len(out) == 70 == len(s)
    assert set(out) == set(range(5))  # 70 draws from 5 values: all appear (for this seed)
    assert max(collections.Counter(out).values()) > 14  # repeats beyond a permutation's 14 each happen


def test_random_sampler_errors():
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got replacement=1"):
        RandomSampler(Range(3), replacement=1)
    with pytest.raises(
        ValueError, match="num_samples should be a positive integer value, but got num_samples=0"
    ):
        RandomSampler(Range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler(Range(0))


def test_subset_random_sampler_permutes_given_indices():
    idx = [3, 8, 11, 20]
    out = list(SubsetRandomSampler(idx, generator=gen(4)))
    assert sorted(out) == idx and len(SubsetRandomSampler(idx)) == 4
    assert list(SubsetRandomSampler(idx, generator=gen(4))) == out


def test_weighted_random_sampler_distribution():
    s = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000, generator=gen(0))
    out = list(s)
    assert len(out) == 4000 == len(s)
    counts = collections.Counter(out)
    assert counts[0] == 0  # zero weight is never drawn
    assert abs(counts[2] / 4000 - 0.75) < 0.05  # ~7 standard deviations: cannot flake for a fixed seed
    no_repl = list(WeightedRandomSampler([1, 2, 3, 4], num_samples=4, replacement=False, generator=gen(0)))
    assert sorted(no_repl) == [0, 1, 2, 3]
    assert list(WeightedRandomSampler([1, 2, 3, 4], 4, False, generator=gen(0))) == no_repl


def test_weighted_random_sampler_errors():
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        WeightedRandomSampler([1.0], num_samples=0)
    with pytest.raises(ValueError, match="replacement should be a boolean value"):
        WeightedRandomSampler([1.0], num_samples=1, replacement="yes")
    with pytest.raises(
        ValueError, match=r"weights should be a 1d sequence but given weights have shape \(2, 2\)"
    ):
        WeightedRandomSampler([[1.0, 2.0], [3.0, 4.0]], num_samples=1)
    with pytest.raises(RuntimeError):
        list(WeightedRandomSampler([1.0, 1.0], num_samples=3, replacement=False))


def test_batch_sampler_batches_and_len():
    assert list(BatchSampler(range(10), 3, False)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(range(10), 3, True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(BatchSampler(range(10), 3, False)) == 4 and len(BatchSampler(range(10), 3, True)) == 3
    assert len(BatchSampler(range(9), 3, False)) == 3


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "3"])
def test_batch_sampler_rejects_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(4), bad, False)


def test_batch_sampler_rejects_non_bool_drop_last():
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got drop_last=0"):
        BatchSampler(range(4), 2, 0)


# ---------------------------------------------------------------------------- collation


def test_collate_tensors_stack_on_a_new_dim():
    b = default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]), torch.tensor([5.0, 6.0])])
    assert tuple(b.shape) == (3, 2) and b.dtype == torch.float32
    assert b.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([torch.zeros(2), torch.zeros(3)])


def test_collate_numbers_numpy_and_strings():
    ints = default_collate([1, 2, 3])
    assert ints.dtype == torch.int64 and ints.tolist() == [1, 2, 3]
    floats = default_collate([0.5, 1.5])
    assert floats.dtype == torch.float64 and floats.tolist() == [0.5, 1.5]
    bools = default_collate([True, False])
    assert bools.dtype == torch.bool and bools.tolist() == [True, False]
    arr = default_collate([np.arange(6, dtype=np.uint8).reshape(2, 3), np.ones((2, 3), dtype=np.uint8)])
    assert tuple(arr.shape) == (2, 2, 3) and arr.dtype == torch.uint8
    assert arr[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    f32 = default_collate([np.float32(1.5), np.float32(2.5)])
    assert f32.dtype == torch.float32 and f32.tolist() == [1.5, 2.5]
    f64 = default_collate([np.float64(1.0), np.float64(2.0)])
    assert f64.dtype == torch.float64
    i32 = default_collate([np.int32(4), np.int32(5)])
    assert i32.dtype == torch.int32 and i32.tolist() == [4, 5]
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert default_collate([np.str_("a"), np.str_("b")]) == ["a", "b"]


def test_collate_containers():
    batch = [(torch.tensor([1, 2]), 0, "x"), (torch.tensor([3, 4]), 1, "y")]
    x, y, s = default_collate(batch)  # a tuple of samples becomes a list of batches
    assert isinstance(default_collate(batch), list)
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1] and s == ["x", "y"]
    d = default_collate([{"a": 1.0, "b": np.zeros(2)}, {"a": 2.0, "b": np.ones(2)}])
    assert set(d) == {"a", "b"} and d["a"].tolist() == [1.0, 2.0] and d["b"].tolist() == [[0, 0], [1, 1]]
    Point = collections.namedtuple("Point", ["x", "y"])
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.dtype == torch.float64
    nested = default_collate([[1, [2, 3]], [4, [5, 6]]])
    assert nested[0].tolist() == [1, 4] and [t.tolist() for t in nested[1]] == [[2, 5], [3, 6]]
    od = default_collate([collections.OrderedDict(k=1), collections.OrderedDict(k=2)])
    assert isinstance(od, collections.OrderedDict) and od["k"].tolist() == [1, 2]


def test_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    t = default_convert(np.array([1, 2], dtype=np.int16))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.int16 and t.tolist() == [1, 2]
    s = default_convert(np.float64(2.5))
    assert isinstance(s, torch.Tensor) and s.dtype == torch.float64 and s.item() == 2.5
    out = default_convert((np.zeros(2), "name", 3))
    assert isinstance(out, list) and isinstance(out[0], torch.Tensor) and out[1:] == ["name", 3]
    d = default_convert({"a": np.ones(1)})
    assert d["a"].tolist() == [1.0]
    strings = np.array(["a", "b"])
    assert default_convert(strings) is strings


# ---------------------------------------------------------------------------- DataLoader, main process


def xy(n=10):
    x = torch.arange(2 * n, dtype=torch.float32).reshape(n, 2)
    y = torch.arange(n)
    return TensorDataset(x, y)


def test_dataloader_batches_shapes_dtypes_and_len():
    loader = DataLoader(xy(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    x0, y0 = batches[0]
    assert tuple(x0.shape) == (4, 2) and x0.dtype == torch.float32 and y0.dtype == torch.int64
    assert y0.tolist() == [0, 1, 2, 3] and x0.tolist()[1] == [2.0, 3.0]
    assert tuple(batches[2][0].shape) == (2, 2) and batches[2][1].tolist() == [8, 9]


def test_dataloader_default_batch_size_is_one():
    batches = list(DataLoader(Range(3)))
    assert [b.tolist() for b in batches] == [[0], [1], [2]]


def test_dataloader_drop_last():
    loader = DataLoader(xy(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_dataloader_shuffle_permutation_and_reproducible():
    loader = DataLoader(Range(20), batch_size=6, shuffle=True, generator=gen(0))
    epoch1 = [i for b in loader for i in b.tolist()]
    epoch2 = [i for b in loader for i in b.tolist()]
    assert sorted(epoch1) == list(range(20)) and sorted(epoch2) == list(range(20))
    assert epoch1 != list(range(20)) and epoch1 != epoch2
    again = DataLoader(Range(20), batch_size=6, shuffle=True, generator=gen(0))
    assert [i for b in again for i in b.tolist()] == epoch1
    torch.manual_seed(9)
    a = [b.tolist() for b in DataLoader(Range(20), batch_size=5, shuffle=True)]
    torch.manual_seed(9)
    assert [b.tolist() for b in DataLoader(Range(20), batch_size=5, shuffle=True)] == a


def test_dataloader_without_batching_converts_items():
    loader = DataLoader(Range(3, lambda i: np.full(2, i, dtype=np.int32)), batch_size=None)
    items = list(loader)
    assert len(loader) == 3 and all(isinstance(t, torch.Tensor) for t in items)
    assert [t.tolist() for t in items] == [[0, 0], [1, 1], [2, 2]] and items[0].dtype == torch.int32


def test_dataloader_custom_sampler_batch_sampler_and_collate():
    loader = DataLoader(Range(6), batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b.tolist() for b in loader] == [[5, 4], [3, 2], [1, 0]]
    loader = DataLoader(Range(6), batch_sampler=[[0, 5], [2], [1, 3, 4]])
    assert [b.tolist() for b in loader] == [[0, 5], [2], [1, 3, 4]] and len(loader) == 3
    loader = DataLoader(Range(5), batch_size=2, collate_fn=lambda batch: sum(batch))
    assert list(loader) == [1, 5, 4]


def test_dataloader_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    loader = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]] and len(loader) == 2
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]  # default_convert leaves ints alone
    with pytest.raises(TypeError):
        len(DataLoader(Stream(3, with_len=False)))


def test_dataloader_index_error_propagates():
    class Bad(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        next(iter(DataLoader(Bad())))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_workers": -1}, "num_workers option should be non-negative"),
        ({"timeout": -1}, "timeout option should be non-negative"),
        ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiprocessing"),
        ({"num_workers": 1, "prefetch_factor": -1}, "prefetch_factor option should be non-negative"),
        ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
        ({"sampler": [0, 1], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
        (
            {"batch_sampler": [[0]], "batch_size": 2},
            "batch_sampler option is mutually exclusive with batch_size",
        ),
        ({"batch_sampler": [[0]], "shuffle": True}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "sampler": [0]}, "batch_sampler option is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
        ({"multiprocessing_context": "fork"}, "multiprocessing_context can only be used with multi-process"),
        ({"num_workers": 1, "multiprocessing_context": "nope"}, "should specify a valid start method"),
    ],
)
def test_dataloader_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(Range(4), **kwargs)


def test_dataloader_bad_context_type():
    with pytest.raises(TypeError, match="multiprocessing_context option should be a valid context object"):
        DataLoader(Range(4), num_workers=1, multiprocessing_context=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shuffle": True}, "expected unspecified shuffle option, but got shuffle=True"),
        ({"sampler": [0]}, "expected unspecified sampler option"),
        ({"batch_sampler": [[0]]}, "expected unspecified batch_sampler option"),
    ],
)
def test_dataloader_iterable_dataset_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(Stream(4), **kwargs)


def test_dataloader_attributes_frozen_after_init():
    loader = DataLoader(Range(4), batch_size=2)
    for attr in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset", "persistent_workers"):
        with pytest.raises(
            ValueError, match=f"{attr} attribute should not be set after DataLoader is initialized"
        ):
            setattr(loader, attr, None)
    loader.num_workers = 0  # other attributes stay settable, as in PyTorch


@pytest.mark.skipif(torch.cuda.is_available(), reason="pins for real when a GPU is present")
def test_pin_memory_without_gpu_warns_and_loads():
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator is found"):
        batches = list(DataLoader(xy(4), batch_size=2, pin_memory=True))
    assert as_lists(batches) == as_lists(DataLoader(xy(4), batch_size=2))


def test_get_worker_info_is_none_in_main_process():
    assert get_worker_info() is None


# ---------------------------------------------------------------------------- DataLoader, worker processes


def _matmul_item(i):
    """Parallel-sized Rust work inside the worker, and what the worker knows about itself."""
    a = torch.ones(256, 256) * float(i)
    s = (a @ torch.ones(256, 256))[0, 0].item()  # = 256 * i
    info = get_worker_info()
    return torch.tensor(
        [float(i), s, float(info.id), float(info.num_workers), float(torch.get_num_threads())]
    )


def test_workers_match_single_process_after_parallel_work_in_parent():
    big = torch.randn(512, 512) @ torch.randn(512, 512)  # the parent's thread pool is busy and alive at fork
    assert tuple(big.shape) == (512, 512)
    ds = xy(23)
    single = as_lists(DataLoader(ds, batch_size=4, shuffle=True, generator=gen(5)))
    multi_loader = DataLoader(ds, batch_size=4, shuffle=True, generator=gen(5), num_workers=2, timeout=60)
    assert len(multi_loader) == 6
    assert as_lists(multi_loader) == single
    # parent still computes correctly after its children ran
    assert (torch.ones(300, 300) @ torch.ones(300, 300))[0, 0].item() == 300.0


def test_workers_run_kernels_single_threaded_and_report_worker_info():
    torch.randn(512, 512) @ torch.randn(512, 512)
    loader = DataLoader(Range(12, _matmul_item), batch_size=3, num_workers=2, timeout=60)
    rows = [r for b in loader for r in b.tolist()]
    assert [r[0] for r in rows] == list(range(12))  # in order
    assert [r[1] for r in rows] == [256.0 * i for i in range(12)]
    assert all(r[3] == 2 and r[4] == 1 for r in rows)  # num_workers, get_num_threads() in the worker
    # batches go round-robin: batch k is served by worker k % 2, every item of a batch by one worker
    assert [r[2] for r in rows] == [float((i // 3) % 2) for i in range(12)]


_INIT_MARK = None


def _init_fn(worker_id):
    global _INIT_MARK
    _INIT_MARK = 100 + worker_id


def _init_and_seed_item(i):
    info = get_worker_info()
    return torch.tensor(
        [_INIT_MARK, info.id, info.seed % 1000003, random.randint(0, 10**6), np.random.randint(10**6)]
    )


def test_worker_init_fn_and_seeds():
    def run(seed):
        loader = DataLoader(
            Range(4, _init_and_seed_item),
            batch_size=1,
            num_workers=2,
            worker_init_fn=_init_fn,
            generator=gen(seed),
            timeout=60,
        )
        return [b[0].tolist() for b in loader]

    rows = run(1)
    assert [r[0] for r in rows] == [100 + r[1] for r in rows]  # worker_init_fn ran in that worker
    assert sorted({r[1] for r in rows}) == [0, 1]
    seed_of = {r[1]: r[2] for r in rows}
    assert (seed_of[1] - seed_of[0]) % 1000003 == 1  # seed = base_seed + worker_id
    by_worker = {w: [r[3:] for r in rows if r[1] == w] for w in (0, 1)}
    assert by_worker[0][0] != by_worker[1][0]  # Python's and numpy's RNGs are seeded per worker
    assert run(1) == rows  # and reproducibly from the loader's generator
    assert run(2) != rows
    assert _INIT_MARK is None  # the parent's module state is untouched


def _failing_item(i):
    if i == 3:
        raise ValueError(f"bad sample {i}")
    return i


def test_worker_exception_is_reraised_in_parent():
    loader = DataLoader(Range(6, _failing_item), batch_size=2, num_workers=2, timeout=60)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    with pytest.raises(
        ValueError, match=r"(?s)Caught ValueError in DataLoader worker process 1.*bad sample 3"
    ):
        next(it)


def _init_fail(worker_id):
    raise RuntimeError(f"init failed in {worker_id}")


def test_worker_init_fn_exception_is_reraised():
    with pytest.raises(RuntimeError, match="init failed in 0"):
        list(DataLoader(Range(4), num_workers=1, worker_init_fn=_init_fail, timeout=60))


def _slow_item(i):
    time.sleep(0.05 if i % 2 == 0 else 0.0)
    return i


def test_workers_keep_sampler_order_when_workers_finish_out_of_order():
    loader = DataLoader(Range(10, _slow_item), batch_size=1, num_workers=2, timeout=60)
    assert [b.item() for b in loader] == list(range(10))
    loader = DataLoader(Range(10, _slow_item), batch_size=1, num_workers=2, timeout=60, in_order=False)
    assert sorted(b.item() for b in loader) == list(range(10))


def _pid_item(i):
    return os.getpid()


def test_persistent_workers_survive_epochs():
    loader = DataLoader(Range(6, _pid_item), batch_size=2, num_workers=2, persistent_workers=True, timeout=60)
    first = {p for b in loader for p in b.tolist()}
    second = {p for b in loader for p in b.tolist()}
    assert len(first) == 2 and first == second and os.getpid() not in first
    it = iter(loader)
    next(it)  # a half-finished epoch: the next one starts clean
    assert len([b for b in loader]) == 3
    loader._iterator._shutdown_workers()
    fresh = DataLoader(Range(6, _pid_item), batch_size=2, num_workers=2, timeout=60)
    assert {p for b in fresh for p in b.tolist()}.isdisjoint(first | {os.getpid()})


def test_iterable_dataset_with_workers_shards_by_worker_info():
    for persistent in (False, True):
        loader = DataLoader(
            Stream(11), batch_size=2, num_workers=3, persistent_workers=persistent, timeout=60
        )
        for _ in range(2):
            items = [i for b in loader for i in b.tolist()]
            assert sorted(items) == list(range(11))


def test_prefetch_factor_and_spawn_context():
    ds = xy(9)
    expected = as_lists(DataLoader(ds, batch_size=2))
    assert as_lists(DataLoader(ds, batch_size=2, num_workers=2, prefetch_factor=1, timeout=60)) == expected
    spawned = DataLoader(ds, batch_size=2, num_workers=1, multiprocessing_context="spawn", timeout=120)
    assert as_lists(spawned) == expected


def _sleepy_item(i):
    time.sleep(1.5)
    return i


def test_timeout_raises():
    loader = DataLoader(Range(2, _sleepy_item), num_workers=1, timeout=0.3)
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.3 seconds"):
        next(iter(loader))


def _dying_item(i):
    os._exit(3)


def test_dead_worker_is_reported():
    it = iter(DataLoader(Range(2, _dying_item), num_workers=1, timeout=1))
    it._workers[0].join(60)  # dead before the parent asks: the report must not depend on timing
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        next(it)


def test_tensors_pickle_across_processes():
    import pickle

    t = torch.arange(6, dtype=torch.float64).reshape(2, 3).t()
    back = pickle.loads(pickle.dumps(t))
    assert back.tolist() == t.tolist() and back.dtype == torch.float64 and tuple(back.shape) == (3, 2)
