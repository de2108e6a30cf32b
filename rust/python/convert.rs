//! Python ↔ core conversions: dtype and device objects, shapes, dims, scalars, nested data.

use super::tensor::PyTensor;
use crate::ops::elementwise::Operand;
use crate::tensor::{default_dtype, DType, Device, Scalar, Tensor, ALL_DTYPES};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyTuple};

#[pyclass(
    name = "dtype",
    module = "ferrotorch",
    frozen,
    eq,
    hash,
    skip_from_py_object
)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDType {
    pub d: DType,
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("torch.{}", self.d.name())
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.d.is_float()
    }
    #[getter]
    fn is_complex(&self) -> bool {
        false
    }
    #[getter]
    fn is_signed(&self) -> bool {
        !matches!(self.d, DType::Bool | DType::U8)
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.d.size()
    }
    /// Pickles as a reference to the module attribute, like torch's dtypes.
    fn __reduce__(&self) -> (String,) {
        (self.d.name().to_string(),)
    }
}

#[pyclass(
    name = "device",
    module = "ferrotorch",
    frozen,
    eq,
    hash,
    skip_from_py_object
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDevice {
    pub kind: String,
    pub index: Option<i64>,
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (r#type, index=None))]
    fn new(r#type: &Bound<'_, PyAny>, index: Option<i64>) -> PyResult<Self> {
        if let Ok(d) = r#type.cast::<PyDevice>() {
            return Ok(d.get().clone());
        }
        if let Ok(i) = r#type.extract::<i64>() {
            return Ok(PyDevice {
                kind: "cuda".into(),
                index: Some(i),
            });
        }
        let s: String = r#type.extract()?;
        parse_device(&s, index)
    }
    #[getter]
    fn r#type(&self) -> String {
        self.kind.clone()
    }
    #[getter]
    fn index(&self) -> Option<i64> {
        self.index
    }
    fn __repr__(&self) -> String {
        match self.index {
            Some(i) => format!("device(type='{}', index={})", self.kind, i),
            None => format!("device(type='{}')", self.kind),
        }
    }
    fn __str__(&self) -> String {
        match self.index {
            Some(i) => format!("{}:{}", self.kind, i),
            None => self.kind.clone(),
        }
    }
    /// `with torch.device('cuda'):` makes it the default device inside the block.
    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        let prev = set_default(Some(slf.clone()));
        ENTERED.with(|e| e.borrow_mut().push(prev));
        slf
    }
    fn __exit__(&self, _ty: &Bound<'_, PyAny>, _value: &Bound<'_, PyAny>, _tb: &Bound<'_, PyAny>) {
        let prev = ENTERED.with(|e| e.borrow_mut().pop()).flatten();
        set_default(prev);
    }
    fn __reduce__(&self) -> PyResult<(Py<PyAny>, (String,))> {
        Python::attach(|py| {
            let cls = py.import("ferrotorch")?.getattr("device")?.unbind();
            Ok((cls, (self.__str__(),)))
        })
    }
}

pub fn parse_device(s: &str, index: Option<i64>) -> PyResult<PyDevice> {
    let (kind, idx) =
        match s.split_once(':') {
            Some((k, i)) => (
                k,
                Some(i.parse::<i64>().map_err(|_| {
                    PyRuntimeError::new_err(format!("Invalid device string: '{}'", s))
                })?),
            ),
            None => (s, index),
        };
    match kind {
        "cpu" | "cuda" | "meta" | "mps" => Ok(PyDevice { kind: kind.into(), index: idx }),
        _ => Err(PyRuntimeError::new_err(format!(
            "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type at start of device string: {}",
            s
        ))),
    }
}

/// A device argument (str, device, int) → the device; CUDA is refused on this build.
pub fn device_arg(obj: &Bound<'_, PyAny>) -> PyResult<PyDevice> {
    let d = PyDevice::new(obj, None)?;
    Ok(d)
}

thread_local! {
    /// `torch.set_default_device` / `with torch.device(...)`: where factory functions put a tensor
    /// given no device (None: the CPU). Per thread, as PyTorch's device context.
    static DEFAULT_DEVICE: std::cell::RefCell<Option<PyDevice>> = const { std::cell::RefCell::new(None) };
    /// The defaults that `with torch.device(...)` blocks replaced, innermost last.
    static ENTERED: std::cell::RefCell<Vec<Option<PyDevice>>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn set_default(dev: Option<PyDevice>) -> Option<PyDevice> {
    let dev = dev.filter(|d| d.kind != "cpu");
    DEFAULT_DEVICE.with(|c| c.replace(dev))
}

/// `torch.set_default_device(device)` (None or 'cpu': the CPU).
#[pyfunction]
pub fn _set_default_device(device: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let dev = match device {
        Some(d) if !d.is_none() => Some(device_arg(d)?),
        _ => None,
    };
    set_default(dev);
    Ok(())
}

/// The device `set_default_device` set (None: the CPU).
#[pyfunction]
pub fn _get_default_device() -> Option<PyDevice> {
    DEFAULT_DEVICE.with(|c| c.borrow().clone())
}

/// The device a new tensor is requested on (None: the default device, normally the CPU). A CUDA
/// request first asks `ferrotorch.cuda._lazy_init`, which raises PyTorch's error where CUDA cannot be used.
pub fn device_opt(dev: Option<&Bound<'_, PyAny>>) -> PyResult<Device> {
    match dev {
        Some(d) if !d.is_none() => device_arg(d)?.to_core(d.py()),
        _ => match DEFAULT_DEVICE.with(|c| c.borrow().clone()) {
            None => Ok(Device::Cpu),
            Some(d) => Python::attach(|py| d.to_core(py)),
        },
    }
}

impl PyDevice {
    pub fn to_core(&self, py: Python<'_>) -> PyResult<Device> {
        match self.kind.as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => {
                let current = py.import("ferrotorch.cuda")?.call_method0("_lazy_init")?;
                let index = match self.index {
                    Some(i) => i,
                    None => current.extract()?,
                };
                Ok(Device::Cuda(usize::try_from(index).map_err(|_| {
                    PyRuntimeError::new_err(format!(
                        "Device index must not be negative, got {}",
                        index
                    ))
                })?))
            }
            k => Err(PyRuntimeError::new_err(format!(
                "cannot create a tensor on device '{}'",
                k
            ))),
        }
    }

    pub fn from_core(d: Device) -> PyDevice {
        match d {
            Device::Cpu => PyDevice {
                kind: "cpu".into(),
                index: None,
            },
            Device::Cuda(i) => PyDevice {
                kind: "cuda".into(),
                index: Some(i as i64),
            },
        }
    }
}

/// A dtype argument: a ferrotorch dtype or the Python types float/int/bool.
pub fn dtype_arg(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.cast::<PyDType>() {
        return Ok(d.get().d);
    }
    let py = obj.py();
    if obj.is(py.get_type::<PyFloat>()) {
        return Ok(DType::F64);
    }
    if obj.is(py.get_type::<PyBool>()) {
        return Ok(DType::Bool);
    }
    if obj.is(py.get_type::<PyInt>()) {
        return Ok(DType::I64);
    }
    if let Ok(name) = obj.getattr("name").and_then(|n| n.extract::<String>()) {
        // numpy dtypes and scalar types
        if let Some(d) = numpy_name_dtype(&name) {
            return Ok(d);
        }
    }
    if let Ok(s) = obj.extract::<String>() {
        let s = s.trim_start_matches("torch.");
        if let Some(d) = DType::from_name(s) {
            return Ok(d);
        }
    }
    Err(PyTypeError::new_err(format!(
        "dtype must be ferrotorch.dtype, not {}",
        obj.get_type().name()?
    )))
}

pub fn numpy_name_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "float64" => DType::F64,
        "float32" => DType::F32,
        "float16" => DType::F16,
        "int64" => DType::I64,
        "int32" => DType::I32,
        "int16" => DType::I16,
        "int8" => DType::I8,
        "uint8" => DType::U8,
        "bool" => DType::Bool,
        _ => return None,
    })
}

pub fn dtype_obj(py: Python<'_>, d: DType) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyDType { d })?.into_any())
}

/// Sizes from `f(2, 3)`, `f((2, 3))`, `f([2, 3])`, `f(torch.Size([2, 3]))`.
pub fn shape_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if a.cast::<PyTuple>().is_ok() || a.cast::<PyList>().is_ok() {
            return int_list(&a);
        }
    }
    int_list(args.as_any())
}

/// A sequence of ints (or a single int) as Vec<i64>.
pub fn int_list(obj: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if let Ok(i) = index_int(obj) {
        return Ok(vec![i]);
    }
    let mut v = Vec::new();
    for item in obj.try_iter()? {
        let item = item?;
        v.push(index_int(&item).map_err(|_| {
            PyTypeError::new_err(format!(
                "expected a sequence of integers but got an element of type {}",
                item.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?);
    }
    Ok(v)
}

/// An int through `__index__` (Python ints, numpy ints, one-element integer tensors).
pub fn index_int(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("expected an integer, got bool"));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return i.extract::<i64>();
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = &t
            .try_borrow()
            .map_err(|_| PyTypeError::new_err("tensor is busy"))?
            .t;
        if t.numel() == 1 && !t.dtype.is_float() && t.dtype != DType::Bool {
            return Ok(super::guard(|| t.item())?.to_i64());
        }
        return Err(PyTypeError::new_err(
            "only integer tensors of a single element can be converted to an index",
        ));
    }
    let idx = obj.call_method0("__index__")?;
    idx.extract::<i64>()
}

/// Dims argument: None, an int, or a sequence of ints.
pub fn dims_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => Ok(Some(int_list(o)?)),
    }
}

/// A Python number as a Scalar (None when `obj` is not a number).
pub fn scalar_of(obj: &Bound<'_, PyAny>) -> Option<Scalar> {
    if let Ok(b) = obj.cast::<PyBool>() {
        return Some(Scalar::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return i.extract::<i64>().ok().map(Scalar::Int);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Some(Scalar::Float(f.value()));
    }
    if obj.cast::<PyTensor>().is_ok() {
        return None;
    }
    // numpy scalars
    let tname = obj.get_type().name().ok()?.to_string();
    if tname.starts_with("int") || tname.starts_with("uint") {
        return obj
            .call_method0("__index__")
            .ok()?
            .extract::<i64>()
            .ok()
            .map(Scalar::Int);
    }
    if tname.starts_with("float") {
        return obj
            .call_method0("__float__")
            .ok()?
            .extract::<f64>()
            .ok()
            .map(Scalar::Float);
    }
    if tname == "bool_" {
        return obj.is_truthy().ok().map(Scalar::Bool);
    }
    None
}

/// A binary op's other operand, owned.
pub enum Other {
    T(Tensor),
    S(Scalar),
}

impl Other {
    pub fn operand(&self) -> Operand<'_> {
        match self {
            Other::T(t) => Operand::T(t),
            Other::S(s) => Operand::S(*s),
        }
    }
    /// As a tensor (scalars become 0-dim tensors of their natural dtype).
    pub fn tensor(&self) -> crate::Result<Tensor> {
        match self {
            Other::T(t) => Ok(t.clone()),
            Other::S(s) => Tensor::scalar_tensor(*s, s.dtype()),
        }
    }
}

pub fn other_of(obj: &Bound<'_, PyAny>) -> Option<Other> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return t.try_borrow().ok().map(|t| Other::T(t.t.clone()));
    }
    scalar_of(obj).map(Other::S)
}

pub fn other_arg(obj: &Bound<'_, PyAny>) -> PyResult<Other> {
    other_of(obj).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "unsupported operand type: expected Tensor or Number, got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

/// Nested Python data (lists/tuples of numbers or one-element tensors) flattened with its shape.
pub struct Nested {
    pub shape: Vec<usize>,
    pub f: Vec<f64>,
    pub i: Vec<i64>,
    pub any_float: bool,
    /// promotion of every leaf's dtype (Python float: the default dtype, int: int64, numpy scalars and
    /// tensors: their own), as torch.tensor infers it; None for empty data
    pub dtype: Option<DType>,
}

pub fn parse_nested(obj: &Bound<'_, PyAny>) -> PyResult<Nested> {
    let mut n = Nested {
        shape: Vec::new(),
        f: Vec::new(),
        i: Vec::new(),
        any_float: false,
        dtype: None,
    };
    walk(obj, 0, &mut n)?;
    Ok(n)
}

fn walk(obj: &Bound<'_, PyAny>, depth: usize, n: &mut Nested) -> PyResult<()> {
    if let Some(s) = scalar_of(obj) {
        if depth < n.shape.len() {
            return Err(PyValueError::new_err(format!(
                "expected sequence of length {} at dim {} (got a scalar)",
                n.shape[depth], depth
            )));
        }
        let exact = obj.is_exact_instance_of::<PyFloat>()
            || obj.is_exact_instance_of::<PyInt>()
            || obj.is_exact_instance_of::<PyBool>();
        let numpy = if exact {
            None
        } else {
            obj.get_type()
                .name()
                .ok()
                .and_then(|t| numpy_name_dtype(&t.to_string()))
        };
        push_scalar(n, s, numpy.unwrap_or_else(|| s.dtype()));
        return Ok(());
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if (t.numel() != 1 || depth < n.shape.len()) && t.ndim() > 0 {
            // a tensor inside a list: expand it as nested data
            let list = super::tensor::tolist(obj.py(), &t)?;
            return walk(list.bind(obj.py()), depth, n);
        }
        let s = super::guard(|| t.item())?;
        push_scalar(n, s, t.dtype);
        return Ok(());
    }
    let seq: Vec<Bound<'_, PyAny>> =
        if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
            obj.try_iter()?.collect::<PyResult<_>>()?
        } else if obj.hasattr("__array_interface__")? || obj.hasattr("tolist")? {
            let l = obj.call_method0("tolist")?;
            return walk(&l, depth, n);
        } else {
            let name = obj
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            if obj.is_instance_of::<pyo3::types::PyString>() {
                return Err(PyTypeError::new_err(format!(
                    "new(): invalid data type '{}'",
                    name
                )));
            }
            return Err(PyRuntimeError::new_err(format!(
                "Could not infer dtype of {}",
                name
            )));
        };
    if depth == n.shape.len() {
        if !n.f.is_empty() {
            return Err(PyValueError::new_err(format!(
                "expected a scalar at dim {} (got a sequence)",
                depth
            )));
        }
        n.shape.push(seq.len());
    } else if n.shape[depth] != seq.len() {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            n.shape[depth],
            depth,
            seq.len()
        )));
    }
    for item in &seq {
        walk(item, depth + 1, n)?;
    }
    Ok(())
}

fn push_scalar(n: &mut Nested, s: Scalar, dtype: DType) {
    n.any_float |= matches!(s, Scalar::Float(_));
    n.dtype = Some(
        n.dtype
            .map_or(dtype, |d| crate::tensor::promote_types(d, dtype)),
    );
    n.f.push(s.to_f64());
    n.i.push(s.to_i64());
}

impl Nested {
    /// The dtype torch.tensor infers.
    pub fn infer_dtype(&self) -> DType {
        self.dtype.unwrap_or_else(default_dtype)
    }
    pub fn to_tensor(&self, dtype: DType) -> crate::Result<Tensor> {
        if self.any_float || dtype.is_float() {
            Tensor::from_vec(&self.f, &self.shape)?.cast_raw(dtype)
        } else {
            Tensor::from_vec(&self.i, &self.shape)?.cast_raw(dtype)
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDType>()?;
    m.add_class::<PyDevice>()?;
    m.add_function(wrap_pyfunction!(_set_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(_get_default_device, m)?)?;
    for d in ALL_DTYPES {
        m.add(d.name(), PyDType { d })?;
    }
    Ok(())
}
