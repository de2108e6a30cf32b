"""``torch.cuda`` streams, events, device properties and memory counters.

A device queues all its work on one stream: every ``Stream`` names it, ``torch.cuda.stream(s)``
makes ``s`` current, and events record on it (driver events on a GPU; the host clock on the
emulated device, whose work runs synchronously). Without CUDA these raise as in PyTorch.
"""

from __future__ import annotations

import time

import ferrotorch as torch
import numpy as np
import pytest

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@needs_cuda
def test_elapsed_time_measures_the_work_between_two_events() -> None:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    x = torch.ones(256, 256, device="cuda")
    y = (x @ x).sum()
    time.sleep(0.05)  # the host waits: the stream is idle, the events still 50 ms apart
    end.record()
    end.synchronize()
    assert end.query() and start.query()
    ms = start.elapsed_time(end)
    assert ms >= 40.0
    assert end.elapsed_time(start) <= -40.0
    assert y.item() == 256.0**3
    assert start.device == torch.device("cuda", 0)


@needs_cuda
def test_event_errors_match_pytorch() -> None:
    plain, timed = torch.cuda.Event(), torch.cuda.Event(enable_timing=True)
    assert plain.query()  # an unrecorded event has nothing to wait for
    plain.synchronize()
    with pytest.raises(RuntimeError, match="Both events must be recorded before calculating elapsed time"):
        timed.elapsed_time(torch.cuda.Event(enable_timing=True))
    plain.record()
    timed.record()
    with pytest.raises(RuntimeError, match="Both events must be created with argument 'enable_timing=True'"):
        plain.elapsed_time(timed)
    with pytest.raises(RuntimeError, match="interprocess"):
        torch.cuda.Event(interprocess=True)


@needs_cuda
def test_stream_context_makes_a_stream_current_and_keeps_results() -> None:
    default = torch.cuda.current_stream()
    assert default == torch.cuda.default_stream(0) and default.device == torch.device("cuda", 0)
    side = torch.cuda.Stream()
    a = torch.arange(12.0).reshape(3, 4).cuda()
    side.wait_stream(default)
    with torch.cuda.stream(side) as s:
        assert s is side and torch.cuda.current_stream() is side
        b = (a * 2).sum(0)
        b.record_stream(side)
        event = side.record_event()
    assert torch.cuda.current_stream() is not side and torch.cuda.current_stream() == default
    default.wait_event(event)
    event.synchronize()
    side.synchronize()
    assert side.query() and event.query()
    np.testing.assert_array_equal(b.cpu().numpy(), (np.arange(12.0).reshape(3, 4) * 2).sum(0))
    with torch.cuda.stream(None) as nothing:  # PyTorch's no-op form
        assert nothing is None and torch.cuda.current_stream() is not side
    assert isinstance(side.cuda_stream, int) and "torch.cuda.Stream device=cuda:0" in repr(side)


@needs_cuda
def test_device_properties_and_memory_info() -> None:
    props = torch.cuda.get_device_properties(0)
    assert props.name == torch.cuda.get_device_name(0)
    assert props.total_memory > 0 and props.multi_processor_count >= 1
    assert repr(props).startswith(f"_CudaDeviceProperties(name='{props.name}', major={props.major}")
    assert f"total_memory={props.total_memory >> 20}MB" in repr(props)
    assert torch.cuda.get_device_properties("cuda:0") == props
    free, total = torch.cuda.mem_get_info()
    assert 0 < free <= total
    assert isinstance(torch.cuda.is_bf16_supported(), bool)
    torch.cuda.init()
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        torch.cuda.get_device_properties(torch.cuda.device_count())


@needs_cuda
def test_reset_peak_memory_stats_restarts_the_peak() -> None:
    base = torch.cuda.memory_allocated()
    x = torch.empty(1 << 20, device="cuda")  # 4 MiB
    del x
    assert torch.cuda.max_memory_allocated() >= base + (4 << 20)
    torch.cuda.reset_peak_memory_stats()
    assert torch.cuda.max_memory_allocated() == torch.cuda.memory_allocated() == base
    stats = torch.cuda.memory_stats()
    assert stats["allocated_bytes.all.current"] == base and stats["allocated_bytes.all.peak"] == base
    assert stats["reserved_bytes.all.current"] == torch.cuda.memory_reserved()


def test_streams_and_events_without_cuda_raise() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available")
    assert torch.cuda.is_bf16_supported() is False
    with pytest.raises((RuntimeError, AssertionError)):
        torch.cuda.Event(enable_timing=True).record()
    with pytest.raises((RuntimeError, AssertionError)):
        torch.cuda.Stream()
    with pytest.raises((RuntimeError, AssertionError)):
        torch.cuda.get_device_properties(0)
    torch.cuda.reset_peak_memory_stats()  # nothing to reset, and no error, as memory_allocated
