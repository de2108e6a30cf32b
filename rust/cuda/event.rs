//! `torch.cuda.Event`: a marker queued on a device's stream, to wait for or time the work queued
//! before it. On the emulated device, whose work runs synchronously, recording an event reads the
//! host clock.

use super::device::{drv, Gpu};
use crate::tensor::Result;
use cudarc::driver::{result, sys, DriverError};
use std::time::Instant;

pub struct Event {
    gpu: &'static Gpu,
    timing: bool,
    marker: Marker,
    recorded: bool,
}

enum Marker {
    Driver(sys::CUevent),
    /// When it was last recorded.
    Emulated(Instant),
}

// SAFETY: a CUevent is a driver handle usable from any thread with its context current, which
// every method makes it first.
unsafe impl Send for Event {}
unsafe impl Sync for Event {}

fn ready(r: std::result::Result<(), DriverError>) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(DriverError(sys::CUresult::CUDA_ERROR_NOT_READY)) => Ok(false),
        Err(e) => Err(drv("cuEventQuery", e)),
    }
}

impl Event {
    /// An unrecorded event; `timing` lets `elapsed_ms` measure between two of them.
    pub fn new(gpu: &'static Gpu, timing: bool) -> Result<Event> {
        let marker = match gpu.stream()? {
            Some(_) => {
                let flags = if timing {
                    sys::CUevent_flags::CU_EVENT_DEFAULT
                } else {
                    sys::CUevent_flags::CU_EVENT_DISABLE_TIMING
                };
                Marker::Driver(result::event::create(flags).map_err(|e| drv("cuEventCreate", e))?)
            }
            None => Marker::Emulated(Instant::now()),
        };
        Ok(Event {
            gpu,
            timing,
            marker,
            recorded: false,
        })
    }

    pub fn gpu(&self) -> &'static Gpu {
        self.gpu
    }

    /// Queues the event after the work queued on the device so far.
    pub fn record(&mut self) -> Result<()> {
        match &mut self.marker {
            // SAFETY: the event and the stream belong to the device's context, made current.
            Marker::Driver(e) => {
                let Some(stream) = self.gpu.stream()? else {
                    crate::bail!(Runtime, "a driver event on a device without a stream");
                };
                unsafe { result::event::record(*e, stream) }.map_err(|e| drv("cuEventRecord", e))?
            }
            Marker::Emulated(at) => *at = Instant::now(),
        }
        self.recorded = true;
        Ok(())
    }

    /// Whether the work before the event has finished (true for an unrecorded event, as in CUDA).
    pub fn query(&self) -> Result<bool> {
        match &self.marker {
            Marker::Driver(e) if self.recorded => {
                self.gpu.make_current()?;
                // SAFETY: a live event of the current context.
                ready(unsafe { result::event::query(*e) })
            }
            _ => Ok(true),
        }
    }

    /// Waits until the work before the event has finished.
    pub fn synchronize(&self) -> Result<()> {
        if let Marker::Driver(e) = &self.marker {
            if self.recorded {
                self.gpu.make_current()?;
                // SAFETY: a live event of the current context.
                unsafe { result::event::synchronize(*e) }
                    .map_err(|e| drv("cuEventSynchronize", e))?;
            }
        }
        Ok(())
    }

    /// Milliseconds from this event to `end`, once both have completed (PyTorch's errors otherwise).
    pub fn elapsed_ms(&self, end: &Event) -> Result<f64> {
        if !self.timing || !end.timing {
            crate::bail!(
                Runtime,
                "Both events must be created with argument 'enable_timing=True'."
            );
        }
        if !self.recorded || !end.recorded {
            crate::bail!(
                Runtime,
                "Both events must be recorded before calculating elapsed time."
            );
        }
        if self.gpu.ordinal != end.gpu.ordinal {
            crate::bail!(
                Runtime,
                "Both events must be recorded on the same device (cuda:{} and cuda:{})",
                self.gpu.ordinal,
                end.gpu.ordinal
            );
        }
        match (&self.marker, &end.marker) {
            (Marker::Driver(a), Marker::Driver(b)) => {
                end.synchronize()?;
                // SAFETY: two recorded, completed timing events of the current context.
                let ms = unsafe { result::event::elapsed(*a, *b) }
                    .map_err(|e| drv("cuEventElapsedTime", e))?;
                Ok(ms as f64)
            }
            (Marker::Emulated(a), Marker::Emulated(b)) => Ok(if b >= a {
                b.duration_since(*a).as_secs_f64() * 1e3
            } else {
                -(a.duration_since(*b).as_secs_f64() * 1e3)
            }),
            _ => crate::bail!(Runtime, "events of one device are all of one kind"),
        }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if let Marker::Driver(e) = self.marker {
            if self.gpu.make_current().is_ok() {
                // SAFETY: created above, destroyed once; the driver releases it when it completes.
                let _ = unsafe { result::event::destroy(e) };
            }
        }
    }
}
