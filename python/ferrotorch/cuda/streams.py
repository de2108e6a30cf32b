"""``torch.cuda.Stream`` and ``torch.cuda.Event``.

ferrotorch queues all of a device's work on one stream. Every ``Stream`` of a device names that
stream, so work issued "on" a side stream is ordered as if it were issued on the default one:
results are those of PyTorch, without the overlap. ``wait_stream``/``wait_event`` therefore have
nothing to wait for; events are real driver events (timing included) on that stream.
"""

from __future__ import annotations

import threading
from typing import Any

from .. import _C

_current = threading.local()  # device index -> the Stream that torch.cuda.stream(s) made current


def _device(device: Any) -> Any:
    from . import _index

    return _C.device("cuda", _index(device))


class Stream:
    """A CUDA stream of ``device`` (None: the current device). ``priority`` is kept, not used."""

    def __init__(self, device: Any = None, priority: int = 0, **kwargs: Any) -> None:
        self.device = _device(device)
        self.priority = priority

    def query(self) -> bool:
        """Whether all work queued on the stream has finished."""
        e = Event()
        e.record(self)
        return e.query()

    def synchronize(self) -> None:
        """Waits for the work queued on the stream."""
        from . import synchronize

        synchronize(self.device)

    def wait_event(self, event: Event) -> None:
        """Makes later work wait for ``event``: already so, the device's work runs in order."""
        _same_device(self, event)

    def wait_stream(self, stream: Stream) -> None:
        """Makes later work wait for ``stream``'s queued work: already so (one stream per device)."""
        _same_device(self, stream)

    def record_event(self, event: Event | None = None) -> Event:
        event = Event() if event is None else event
        event.record(self)
        return event

    @property
    def cuda_stream(self) -> int:
        """The driver's handle of the device's stream (0 on the emulated device)."""
        return _C._cuda_stream_handle(self.device.index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream) and other.device == self.device

    def __hash__(self) -> int:
        return hash(("cuda stream", self.device.index))

    def __repr__(self) -> str:
        return f"<torch.cuda.Stream device={self.device} cuda_stream={self.cuda_stream:#x}>"


class Event:
    """A marker on a device's stream: ``record`` it after some work, then ``synchronize`` to wait
    for that work or ``elapsed_time`` (ms) between two events made with ``enable_timing=True``."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False) -> None:
        if interprocess:
            raise RuntimeError("interprocess CUDA events are not supported by ferrotorch")
        self.enable_timing = enable_timing
        self.blocking = blocking
        self._handle: Any = None  # created on first record, on the recording stream's device

    @property
    def device(self) -> Any:
        return None if self._handle is None else _C.device("cuda", self._handle.device_index)

    def record(self, stream: Stream | None = None) -> None:
        """Queues the event after the work queued so far on ``stream`` (None: the current one)."""
        stream = current_stream() if stream is None else stream
        if self._handle is None:
            self._handle = _C._CudaEvent(stream.device.index, self.enable_timing)
        elif self._handle.device_index != stream.device.index:
            raise RuntimeError(f"Event device {self.device} does not match recording stream's device {stream.device}.")
        self._handle.record()

    def wait(self, stream: Stream | None = None) -> None:
        """Makes ``stream``'s later work wait for the event: already so (one stream per device)."""
        if stream is not None:
            _same_device(stream, self)

    def query(self) -> bool:
        """Whether the work before the event has finished (True before it is recorded)."""
        return True if self._handle is None else self._handle.query()

    def synchronize(self) -> None:
        """Waits for the work queued before the event."""
        if self._handle is not None:
            self._handle.synchronize()

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds between this event and ``end_event`` (both recorded, with timing)."""
        if self._handle is None or end_event._handle is None:
            if not (self.enable_timing and end_event.enable_timing):
                raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        return self._handle.elapsed_time(end_event._handle)

    def __repr__(self) -> str:
        return f"<torch.cuda.Event {'recorded' if self._handle is not None else 'uninitialized'}>"


def _same_device(a: Stream | Event, b: Stream | Event) -> None:
    if a.device is not None and b.device is not None and a.device != b.device:
        raise RuntimeError(f"a stream of {a.device} cannot wait for work of {b.device}: "
                           "ferrotorch orders work within one device only")


def current_stream(device: Any = None) -> Stream:
    """The stream work on ``device`` is queued on (the one ``torch.cuda.stream`` made current)."""
    d = _device(device)
    return getattr(_current, "streams", {}).get(d.index) or Stream(d)


def default_stream(device: Any = None) -> Stream:
    return Stream(device)


def set_stream(stream: Stream) -> None:
    if not hasattr(_current, "streams"):
        _current.streams = {}
    _current.streams[stream.device.index] = stream


class StreamContext:
    """``with torch.cuda.stream(s):`` makes ``s`` the current stream of its device in the block
    (None: a no-op, as in PyTorch)."""

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream
        self.prev: Stream | None = None

    def __enter__(self) -> Stream | None:
        if self.stream is not None:
            self.prev = current_stream(self.stream.device)
            set_stream(self.stream)
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None and self.prev is not None:
            set_stream(self.prev)


def stream(stream: Stream | None) -> StreamContext:
    return StreamContext(stream)
