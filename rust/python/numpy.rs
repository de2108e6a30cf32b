//! numpy interop without a numpy crate: `__array_interface__` both ways, so `from_numpy` and
//! `.numpy()` share memory (the other side's owner is kept alive by a reference).

use super::convert::numpy_name_dtype;
use super::guard;
use super::tensor::wrap;
use crate::tensor::{DType, Layout, Storage, Tensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Arc;

fn typestr(d: DType) -> PyResult<&'static str> {
    Ok(match d {
        DType::Bool => "|b1",
        DType::U8 => "|u1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::BF16 => return Err(PyTypeError::new_err("Got unsupported ScalarType BFloat16")),
    })
}

/// Holds a tensor's storage alive for a numpy array that views it.
#[pyclass(module = "ferrotorch._C", frozen)]
struct ArrayRef {
    t: Tensor,
}

#[pymethods]
impl ArrayRef {
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let size = self.t.dtype.size();
        d.set_item("shape", PyTuple::new(py, self.t.shape())?)?;
        let strides: Vec<usize> = self.t.strides().iter().map(|s| s * size).collect();
        d.set_item("strides", PyTuple::new(py, strides)?)?;
        d.set_item("typestr", typestr(self.t.dtype)?)?;
        d.set_item("data", (self.t.data_ptr() as usize, false))?;
        d.set_item("version", 3)?;
        Ok(d)
    }
}

fn to_numpy(py: Python<'_>, t: &Tensor) -> PyResult<Py<PyAny>> {
    typestr(t.dtype)?;
    let np = py.import("numpy")?;
    let holder = Py::new(py, ArrayRef { t: t.clone() })?;
    Ok(np.call_method1("asarray", (holder,))?.unbind())
}

/// `Tensor.numpy()`: shares memory; refuses tensors that require grad unless forced.
pub fn tensor_numpy(py: Python<'_>, t: &Tensor, force: bool) -> PyResult<Py<PyAny>> {
    if t.requires_grad() && !force {
        return Err(PyRuntimeError::new_err(
            "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
        ));
    }
    if t.device().is_cuda() {
        if !force {
            return Err(not_on_host(t));
        }
        return to_numpy(py, &guard(|| t.to_device_raw(crate::tensor::Device::Cpu))?);
    }
    to_numpy(py, t)
}

/// PyTorch's refusal to view device memory as a numpy array.
fn not_on_host(t: &Tensor) -> PyErr {
    PyTypeError::new_err(format!(
        "can't convert {} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
        t.device()
    ))
}

/// `Tensor.__array__(dtype)`.
pub fn tensor_array(
    py: Python<'_>,
    t: &Tensor,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    if t.device().is_cuda() {
        return Err(not_on_host(t));
    }
    let t = if t.dtype == DType::BF16 {
        guard(|| t.cast_raw(DType::F32))?
    } else {
        t.detach()
    };
    let a = to_numpy(py, &t)?;
    match dtype {
        Some(d) if !d.is_none() => Ok(a.bind(py).call_method1("astype", (d,))?.unbind()),
        _ => Ok(a),
    }
}

/// `from_numpy(arr)`: a tensor over the array's memory, strides kept.
#[pyfunction]
pub fn from_numpy(py: Python<'_>, arr: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let np = py.import("numpy")?;
    if !arr.is_instance(&np.getattr("ndarray")?)? {
        return Err(PyTypeError::new_err(format!(
            "expected np.ndarray (got {})",
            arr.get_type().name()?
        )));
    }
    let name: String = arr.getattr("dtype")?.getattr("name")?.extract()?;
    let dtype = numpy_name_dtype(&name).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "can't convert np.ndarray of type numpy.{}. The only supported types are: float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, uint16, uint8, and bool.",
            name
        ))
    })?;
    if !arr
        .getattr("dtype")?
        .getattr("isnative")?
        .extract::<bool>()?
    {
        return Err(PyValueError::new_err("given numpy array has byte order different from the native byte order. Conversion between byte orders is currently not supported."));
    }
    let iface = arr.getattr("__array_interface__")?;
    let shape: Vec<usize> = iface.get_item("shape")?.extract()?;
    let (ptr, _ro): (usize, bool) = iface.get_item("data")?.extract()?;
    let size = dtype.size();
    let strides_b: Vec<isize> = match iface.get_item("strides")? {
        s if s.is_none() => crate::tensor::contiguous_strides(&shape)
            .iter()
            .map(|&s| (s * size) as isize)
            .collect(),
        s => s.extract()?,
    };
    if strides_b.iter().any(|&s| s < 0) {
        return Err(PyValueError::new_err(
            "At least one stride in the given numpy array is negative, and tensors with negative strides are not currently supported. (You can probably work around this by making a copy of your array  with array.copy().) ",
        ));
    }
    if strides_b
        .iter()
        .any(|&s| !(s as usize).is_multiple_of(size))
    {
        return Err(PyValueError::new_err(
            "given numpy array strides not a multiple of the element byte size. Copy the numpy array to reallocate the memory.",
        ));
    }
    let strides: Vec<usize> = strides_b.iter().map(|&s| s as usize / size).collect();
    let layout = Layout {
        shape: shape.as_slice().into(),
        strides: strides.as_slice().into(),
        offset: 0,
    };
    let nbytes = layout.storage_extent() * size;
    let owner: Py<PyAny> = arr.clone().unbind();
    // SAFETY: the array's buffer covers `nbytes` from `ptr` and lives as long as `owner`.
    let storage = unsafe { Storage::borrowed(ptr as *mut u8, nbytes, Box::new(owner)) };
    wrap(py, Tensor::from_storage(Arc::new(storage), layout, dtype))
}

/// `_tensor_from_bytes(data, dtype, numel)`: a new 1-D tensor copied from a bytes-like object.
#[pyfunction]
fn _tensor_from_bytes(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: &Bound<'_, PyAny>,
    numel: usize,
) -> PyResult<Py<PyAny>> {
    let d = super::convert::dtype_arg(dtype)?;
    let buf = pyo3::buffer::PyUntypedBuffer::get(data)?;
    let need = numel * d.size();
    if buf.len_bytes() < need {
        return Err(PyRuntimeError::new_err(format!(
            "storage has {} bytes but {} elements of {} need {}",
            buf.len_bytes(),
            numel,
            d.name(),
            need
        )));
    }
    if !buf.is_c_contiguous() {
        return Err(PyValueError::new_err("buffer must be contiguous"));
    }
    let t = guard(|| Tensor::empty(&[numel], d, crate::tensor::Device::Cpu))?;
    // SAFETY: the buffer holds at least `need` contiguous bytes; t owns `need` fresh bytes.
    unsafe { std::ptr::copy_nonoverlapping(buf.buf_ptr() as *const u8, t.data_ptr(), need) };
    wrap(py, t)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrayRef>()?;
    m.add_function(wrap_pyfunction!(from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(_tensor_from_bytes, m)?)?;
    Ok(())
}
