//! The PyO3 bindings: argument parsing and error mapping only; the work happens in `ops`.
#![allow(non_snake_case)]

mod autograd;
mod convert;
mod creation;
#[cfg(feature = "cuda")]
mod cuda;
mod nn;
mod numpy;
mod optim;
mod tensor;

use crate::tensor::Error;
use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;

// `torch.OutOfMemoryError` (= `torch.cuda.OutOfMemoryError`): raised by the CPU and the device
// allocators alike, as PyTorch's c10::OutOfMemoryError is.
pyo3::create_exception!(
    _C,
    OutOfMemoryError,
    PyRuntimeError,
    "An allocation failed: the device (or host) is out of memory."
);

/// Maps a core error to the exception PyTorch raises.
pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::OutOfMemory(m) => OutOfMemoryError::new_err(m),
        Error::Index(m) => PyIndexError::new_err(m),
        Error::Type(m) => PyTypeError::new_err(m),
        Error::Value(m) => PyValueError::new_err(m),
        Error::NotImplemented(m) => PyNotImplementedError::new_err(m),
    }
}

/// Runs core code, turning errors into Python exceptions and any panic into a RuntimeError
/// (never a PanicException).
pub fn guard<R>(f: impl FnOnce() -> crate::Result<R>) -> PyResult<R> {
    watch_sync(
        || match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(r) => {
                #[cfg(feature = "cuda")]
                if let Some(msg) = crate::cuda::device::take_failed_assert() {
                    return Err(PyRuntimeError::new_err(msg));
                }
                r.map_err(to_py)
            }
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown".into());
                Err(PyRuntimeError::new_err(format!(
                    "internal error in ferrotorch: {}",
                    msg
                )))
            }
        },
    )
}

/// Runs `f`, then answers `torch.cuda.set_sync_debug_mode` if `f` waited for a device (bindings
/// that read device memory outside `guard` go through this).
pub fn watch_sync<R>(f: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    #[cfg(feature = "cuda")]
    {
        let (r, waited) = crate::cuda::device::sync_watch(f);
        if let Some(mode) = waited {
            report_sync(mode)?;
        }
        r
    }
    #[cfg(not(feature = "cuda"))]
    f()
}

/// `torch.cuda.set_sync_debug_mode`'s answer to a call that waited for the device: PyTorch's
/// UserWarning (mode 1) or RuntimeError (mode 2).
#[cfg(feature = "cuda")]
fn report_sync(mode: u8) -> PyResult<()> {
    const MSG: &std::ffi::CStr = c"called a synchronizing CUDA operation";
    if mode >= 2 {
        return Err(PyRuntimeError::new_err(MSG.to_string_lossy().into_owned()));
    }
    Python::attach(|py| {
        let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
        PyErr::warn(py, &category, MSG, 1)
    })
}

/// Like `guard`, releasing the GIL while the (large) work runs.
pub fn guard_nogil<R: Send>(
    py: Python<'_>,
    big: bool,
    f: impl FnOnce() -> crate::Result<R> + Send,
) -> PyResult<R> {
    if big {
        py.detach(|| guard(f))
    } else {
        guard(f)
    }
}

#[pymodule]
#[allow(non_snake_case)]
fn _C(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Panics are turned into exceptions by `guard`; keep their messages off stderr.
    std::panic::set_hook(Box::new(|_| {}));
    m.add("OutOfMemoryError", m.py().get_type::<OutOfMemoryError>())?;
    tensor::register(m)?;
    convert::register(m)?;
    creation::register(m)?;
    numpy::register(m)?;
    autograd::register(m)?;
    nn::register(m)?;
    optim::register(m)?;
    #[cfg(feature = "cuda")]
    cuda::register(m)?;
    Ok(())
}
