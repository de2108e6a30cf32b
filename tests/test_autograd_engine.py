"""The backward engine: no recursion limit, each node once, paths summed, graphs freed with their outputs,
flat memory over a training loop."""

import gc
import os
import weakref

import ferrotorch as torch
import pytest
from ferrotorch.autograd import Function


def test_chain_of_100k_ops_backpropagates():
    x = torch.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y = y + 0.0
    y.backward()
    assert x.grad.item() == 1.0
    # and the 100k-node graph is torn down without a recursion error either
    del y
    gc.collect()


def test_chain_of_ops_saving_their_inputs_is_torn_down_iteratively():
    # each node's saved input holds the previous node: dropping must not recurse either
    x = torch.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = (y * y).sin()
    del y
    gc.collect()
    y = x
    for _ in range(50_000):
        y = y.sin()
    y.backward()
    assert 0 < x.grad.item() < 1


def test_long_chain_autograd_grad_and_create_graph():
    x = torch.tensor(2.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y + x
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    assert g.item() == 20_001.0


def _counting(counter):
    class Count(Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1

        @staticmethod
        def backward(ctx, g):
            counter.append(g.tolist())
            return g

    return Count


def test_diamond_runs_each_node_once_with_summed_gradient():
    calls = []
    count = _counting(calls)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    a = count.apply(x * 2)
    b = a * 3
    c = a * 4
    d = a.exp() * 0 + a  # a third path
    (b + c + d).sum().backward()
    assert calls == [[8.0, 8.0]]  # 3 + 4 + 1, delivered in one call
    assert x.grad.tolist() == [16.0, 16.0]


def test_wide_fan_in_and_repeated_use():
    x = torch.tensor(1.5, requires_grad=True)
    terms = [x * k for k in range(1, 51)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    (total + x * x).backward()
    assert x.grad.item() == sum(range(1, 51)) + 3.0


def test_nested_diamonds_each_node_once():
    calls = []
    count = _counting(calls)
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(30):
        y = count.apply(y)
        y = y * 0.5 + y * 0.5  # two paths rejoin at every level
    y.sum().backward()
    assert len(calls) == 30
    assert x.grad.tolist() == [1.0]


def test_multiple_roots_share_subgraph():
    calls = []
    count = _counting(calls)
    x = torch.tensor([1.0], requires_grad=True)
    h = count.apply(x * 3)
    torch.autograd.backward([(h * 2).sum(), (h * 5).sum()])
    assert calls == [[7.0]]
    assert x.grad.tolist() == [21.0]


def test_graph_freed_when_outputs_die():
    class Saver(Function):
        @staticmethod
        def forward(ctx, t):
            y = t * 2
            ctx.save_for_backward(t)
            ctx.marker = box.pop()
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Marker:
        pass

    box = [Marker()]
    probe = weakref.ref(box[0])
    x = torch.ones(3, requires_grad=True)
    out = Saver.apply(x * 1).sum()
    assert probe() is not None  # kept by the graph, which is kept by `out`
    del out
    gc.collect()
    assert probe() is None


def test_saved_tensors_freed_by_backward():
    class Marker:
        pass

    class Saver(Function):
        @staticmethod
        def forward(ctx, t):
            ctx.marker = box.pop()
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    box = [Marker()]
    probe = weakref.ref(box[0])
    x = torch.ones(3, requires_grad=True)
    out = Saver.apply(x).sum()
    out.backward()  # no retain_graph: the node's formula (and its ctx) is released
    gc.collect()
    assert probe() is None
    assert out.grad_fn is not None  # the graph structure itself lives on with `out`


def test_retain_graph_keeps_saved_state():
    class Marker:
        pass

    class Saver(Function):
        @staticmethod
        def forward(ctx, t):
            ctx.marker = box.pop()
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    box = [Marker()]
    probe = weakref.ref(box[0])
    out = Saver.apply(torch.ones(3, requires_grad=True)).sum()
    out.backward(retain_graph=True)
    gc.collect()
    assert probe() is not None
    del out
    gc.collect()
    assert probe() is None


def test_leaf_does_not_keep_graph_alive():
    class Marker:
        pass

    class Saver(Function):
        @staticmethod
        def forward(ctx, t):
            ctx.marker = box.pop()
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g

    box = [Marker()]
    probe = weakref.ref(box[0])
    w = torch.ones(3, requires_grad=True)
    Saver.apply(w).sum().backward(retain_graph=True)
    gc.collect()
    assert probe() is None and w.grad is not None


def test_hook_closure_freed_with_graph():
    class Marker:
        pass

    marker = Marker()
    probe = weakref.ref(marker)
    x = torch.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g, m=marker: g)
    del marker
    z = y.sum()
    del y
    assert probe() is not None
    del z
    gc.collect()
    assert probe() is None


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_training_loop_memory_stays_flat():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    params = list(model.parameters())
    x = torch.randn(32, 64)
    target = torch.randint(0, 10, (32,))

    def step():
        for p in params:
            p.grad = None
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out, target) + (out.softmax(1) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.01 * p.grad
        return loss.item()

    for _ in range(50):  # warm up allocator caches
        step()
    gc.collect()
    start = _rss_bytes()
    first = step()
    for _ in range(1000):
        last = step()
    gc.collect()
    growth = _rss_bytes() - start
    assert growth < 50 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MB over 1000 steps"
    assert last < first


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_create_graph_loop_memory_stays_flat():
    w = torch.randn(256, 256, requires_grad=True)
    x = torch.randn(8, 256)

    def step():
        y = (x @ w).tanh().sum()
        (g,) = torch.autograd.grad(y, w, create_graph=True)
        (g * g).sum().backward()
        w.grad = None

    for _ in range(20):
        step()
    gc.collect()
    start = _rss_bytes()
    for _ in range(300):
        step()
    gc.collect()
    growth = _rss_bytes() - start
    assert growth < 50 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MB over 300 double-backward steps"


def test_backward_from_many_threads():
    import threading

    errors = []

    def work(k):
        try:
            x = torch.full((4,), float(k), requires_grad=True)
            for _ in range(200):
                x.grad = None
                (x * x).sum().backward()
                assert x.grad.tolist() == [2.0 * k] * 4
        except (AssertionError, RuntimeError) as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
