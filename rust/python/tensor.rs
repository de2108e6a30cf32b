//! `ferrotorch.Tensor`: the Rust tensor as a Python class. Hot methods are here; the long tail of
//! aliases and keyword-heavy wrappers is added from Python (`ferrotorch/_tensor.py`).

use super::convert::{
    self, dims_arg, dtype_arg, dtype_obj, index_int, int_list, other_arg, other_of, scalar_of,
    Other,
};
use super::{guard, guard_nogil};
use crate::ops::elementwise::{BinaryOp, Operand, UnaryOp};
use crate::ops::iter::PAR_THRESHOLD;
use crate::tensor::{DType, Scalar, Tensor};
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyEllipsis, PyFloat, PyInt, PyList, PySlice, PyTuple, PyType};

#[pyclass(name = "Tensor", module = "ferrotorch", subclass, weakref, dict)]
pub struct PyTensor {
    pub t: Tensor,
}

pub fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyTensor { t })?.into_any())
}

pub fn wrap_vec(py: Python<'_>, ts: Vec<Tensor>) -> PyResult<Py<PyAny>> {
    let items: Vec<Py<PyAny>> = ts
        .into_iter()
        .map(|t| wrap(py, t))
        .collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

pub fn tensor_arg(obj: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    match obj.cast::<PyTensor>() {
        Ok(t) => Ok(t
            .try_borrow()
            .map_err(|_| {
                PyRuntimeError::new_err("tensor is being modified in place by this same call")
            })?
            .t
            .clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected Tensor as argument, but got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))),
    }
}

fn big(t: &Tensor) -> bool {
    t.numel() >= PAR_THRESHOLD
}

fn size_obj(py: Python<'_>, shape: &[usize]) -> PyResult<Py<PyAny>> {
    static SIZE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let cls = SIZE.get_or_try_init(py, || -> PyResult<_> {
        Ok(py.import("ferrotorch._size")?.getattr("Size")?.unbind())
    })?;
    let tup = PyTuple::new(py, shape)?;
    Ok(cls.bind(py).call1((tup,))?.unbind())
}

fn binary_op(name: &str) -> PyResult<BinaryOp> {
    use BinaryOp::*;
    Ok(match name {
        "add" => Add,
        "sub" => Sub,
        "mul" => Mul,
        "div" => Div,
        "floor_divide" => FloorDiv,
        "remainder" => Rem,
        "fmod" => Fmod,
        "pow" => Pow,
        "maximum" => Maximum,
        "minimum" => Minimum,
        "atan2" => Atan2,
        "eq" => Eq,
        "ne" => Ne,
        "lt" => Lt,
        "le" => Le,
        "gt" => Gt,
        "ge" => Ge,
        "logical_and" => And,
        "logical_or" => Or,
        "logical_xor" => Xor,
        "bitwise_and" => BitAnd,
        "bitwise_or" => BitOr,
        "bitwise_xor" => BitXor,
        "bitwise_left_shift" => Shl,
        "bitwise_right_shift" => Shr,
        _ => return Err(PyValueError::new_err(format!("unknown binary op {}", name))),
    })
}

fn unary_op(name: &str, a: f64, b: f64, c: f64) -> PyResult<UnaryOp> {
    use UnaryOp::*;
    Ok(match name {
        "neg" => Neg,
        "abs" => Abs,
        "sign" => Sign,
        "exp" => Exp,
        "exp2" => Exp2,
        "expm1" => Expm1,
        "log" => Log,
        "log1p" => Log1p,
        "log2" => Log2,
        "log10" => Log10,
        "sqrt" => Sqrt,
        "rsqrt" => Rsqrt,
        "square" => Square,
        "sin" => Sin,
        "cos" => Cos,
        "tan" => Tan,
        "asin" => Asin,
        "acos" => Acos,
        "atan" => Atan,
        "sinh" => Sinh,
        "cosh" => Cosh,
        "tanh" => Tanh,
        "asinh" => Asinh,
        "acosh" => Acosh,
        "atanh" => Atanh,
        "sigmoid" => Sigmoid,
        "logsigmoid" => LogSigmoid,
        "floor" => Floor,
        "ceil" => Ceil,
        "round" => Round,
        "round_decimals" => RoundDecimals(a as i64),
        "trunc" => Trunc,
        "frac" => Frac,
        "reciprocal" => Reciprocal,
        "relu" => Relu,
        "gelu" => Gelu,
        "gelu_tanh" => GeluTanh,
        "silu" => Silu,
        "mish" => Mish,
        "erf" => Erf,
        "erfc" => Erfc,
        "erfinv" => Erfinv,
        "lgamma" => Lgamma,
        "digamma" => Polygamma(0.0),
        "polygamma" => Polygamma(a),
        "softsign" => Softsign,
        "hardsigmoid" => Hardsigmoid,
        "hardswish" => Hardswish,
        "selu" => Selu,
        "logical_not" => LogicalNot,
        "bitwise_not" => BitNot,
        "isnan" => IsNan,
        "isinf" => IsInf,
        "isfinite" => IsFinite,
        "isposinf" => IsPosInf,
        "isneginf" => IsNegInf,
        "signbit" => SignBit,
        "pow_scalar" => PowScalar(a),
        "rpow_scalar" => RPowScalar(a),
        "leaky_relu" => LeakyRelu(a),
        "elu" => Elu(a, b, c),
        "celu" => Celu(a),
        "softplus" => Softplus(a, b),
        "clamp" => Clamp(a, b),
        "threshold" => Threshold(a, b),
        "nan_to_num" => NanToNum(a, b, c),
        _ => return Err(PyValueError::new_err(format!("unknown unary op {}", name))),
    })
}

impl PyTensor {
    fn bin(&self, py: Python<'_>, other: &Bound<'_, PyAny>, op: BinaryOp) -> PyResult<Py<PyAny>> {
        let Some(o) = other_of(other) else {
            return Ok(py.NotImplemented());
        };
        let t = &self.t;
        let r = guard_nogil(py, big(t), || t.binary(o.operand(), op))?;
        wrap(py, r)
    }
    /// `other (op) self` for a Python number on the left.
    fn rbin(&self, py: Python<'_>, other: &Bound<'_, PyAny>, op: BinaryOp) -> PyResult<Py<PyAny>> {
        let Some(o) = other_of(other) else {
            return Ok(py.NotImplemented());
        };
        let t = &self.t;
        let r = guard(|| match o {
            Other::S(s) => t.rbinary(s, op),
            Other::T(left) => left.binary(Operand::T(t), op),
        })?;
        wrap(py, r)
    }
    /// In-place ops take `slf: &Bound` so arguments (which may be self) are read before the mutable borrow.
    fn ibin(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, op: BinaryOp) -> PyResult<()> {
        let o = other_arg(other)?;
        let mut me = slf.borrow_mut();
        let big = big(&me.t);
        let t = &mut me.t;
        guard_nogil(slf.py(), big, || t.binary_(o.operand(), op))
    }
    fn un(&self, py: Python<'_>, op: UnaryOp) -> PyResult<Py<PyAny>> {
        let t = &self.t;
        let r = guard_nogil(py, big(t), || t.unary(op))?;
        wrap(py, r)
    }
}

/// Python's `x[idx]` parsed into a sequence of basic and advanced items.
enum Item {
    Int(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    None,
    Ellipsis,
    Tensor(Tensor),
}

/// PyTorch (like numpy before 1.23) reads a short list that holds a tensor, a sequence, a slice, `...` or
/// None as a tuple of indices: `t[[mask]]` is `t[mask]`, `t[[[0, 1], [1, 0]]]` is `t[[0, 1], [1, 0]]`.
fn list_is_tuple(idx: &Bound<'_, PyAny>) -> bool {
    let Ok(l) = idx.cast::<PyList>() else {
        return false;
    };
    l.len() < 32
        && l.iter().any(|o| {
            o.is_none()
                || o.is(PyEllipsis::get(o.py()))
                || o.cast::<PyTensor>().is_ok()
                || o.cast::<PySlice>().is_ok()
                || o.cast::<PyList>().is_ok()
                || o.cast::<PyTuple>().is_ok()
                || o.hasattr("__array_interface__").unwrap_or(false)
        })
}

fn parse_index(idx: &Bound<'_, PyAny>) -> PyResult<Vec<Item>> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = idx.cast::<PyTuple>() {
        t.iter().collect()
    } else if list_is_tuple(idx) {
        idx.cast::<PyList>()?.iter().collect()
    } else {
        vec![idx.clone()]
    };
    let mut out = Vec::new();
    for it in items {
        if it.is_none() {
            out.push(Item::None);
        } else if it.is(PyEllipsis::get(it.py())) {
            out.push(Item::Ellipsis);
        } else if let Ok(s) = it.cast::<PySlice>() {
            let get = |n: &str| -> PyResult<Option<i64>> {
                let v = s.getattr(n)?;
                if v.is_none() {
                    Ok(None)
                } else {
                    Ok(Some(index_int(&v)?))
                }
            };
            out.push(Item::Slice(get("start")?, get("stop")?, get("step")?));
        } else if it.is_instance_of::<PyBool>() {
            let b = it.is_truthy()?;
            out.push(Item::Tensor(guard(|| {
                Tensor::full(
                    &[],
                    Scalar::Bool(b),
                    DType::Bool,
                    crate::tensor::Device::Cpu,
                )
            })?));
        } else if let Ok(t) = it.cast::<PyTensor>() {
            out.push(Item::Tensor(t.borrow().t.clone()));
        } else if let Ok(i) = index_int(&it) {
            out.push(Item::Int(i));
        } else if it.cast::<PyList>().is_ok() || it.hasattr("__array_interface__")? {
            let n = convert::parse_nested(&it)?;
            let d = n.infer_dtype();
            if d.is_float() && !n.f.is_empty() {
                return Err(PyIndexError::new_err(
                    "tensors used as indices must be long, int, byte or bool tensors",
                ));
            }
            out.push(Item::Tensor(guard(|| {
                n.to_tensor(if d.is_float() { DType::I64 } else { d })
            })?));
        } else {
            return Err(PyIndexError::new_err(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices (got ".to_string()
                    + &it.get_type().name()?.to_string()
                    + ")",
            ));
        }
    }
    Ok(out)
}

/// Applies basic items as views; returns the view and the advanced indices per result dim.
fn apply_index(t: &Tensor, items: &[Item]) -> crate::Result<(Tensor, Vec<Option<Tensor>>)> {
    let consumed: usize = items
        .iter()
        .map(|i| match i {
            Item::Int(_) | Item::Slice(..) => 1,
            Item::Tensor(x) if x.dtype == DType::Bool || x.dtype == DType::U8 => x.ndim(),
            Item::Tensor(_) => 1,
            _ => 0,
        })
        .sum();
    if consumed > 0 && t.ndim() == 0 {
        crate::bail!(
            Index,
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"
        );
    }
    if consumed > t.ndim() {
        crate::bail!(
            Index,
            "too many indices for tensor of dimension {}",
            t.ndim()
        );
    }
    let mut x = t.clone();
    let mut dim = 0usize;
    let mut src_dim = 0usize; // the dim of `t` the next item indexes (for error messages)
    let mut adv: Vec<Option<Tensor>> = Vec::new();
    let mut has_adv = false;
    for it in items {
        match it {
            Item::Int(i) => {
                let size = x.shape()[dim] as i64;
                if *i < -size || *i >= size {
                    crate::bail!(
                        Index,
                        "index {} is out of bounds for dimension {} with size {}",
                        i,
                        src_dim,
                        size
                    );
                }
                x = x.select(dim as i64, *i)?;
                src_dim += 1;
            }
            Item::Slice(start, stop, step) => {
                let size = x.shape()[dim] as i64;
                let step = step.unwrap_or(1);
                if step <= 0 {
                    crate::bail!(Value, "step must be greater than zero");
                }
                let clamp = |v: i64| -> i64 { (if v < 0 { v + size } else { v }).clamp(0, size) };
                let s = start.map(clamp).unwrap_or(0);
                let e = stop.map(clamp).unwrap_or(size);
                x = x.slice(dim, s as usize, e.max(s) as usize, step as usize)?;
                adv.push(None);
                dim += 1;
                src_dim += 1;
            }
            Item::None => {
                x = x.unsqueeze(dim as i64)?;
                adv.push(None);
                dim += 1;
            }
            Item::Ellipsis => {
                let n = t.ndim() - consumed;
                for _ in 0..n {
                    adv.push(None);
                }
                dim += n;
                src_dim += n;
            }
            Item::Tensor(ix) => {
                has_adv = true;
                if ix.ndim() == 0 && ix.dtype == DType::Bool {
                    // x[True] adds a dim of size 1 (or 0 for False)
                    x = x.unsqueeze(dim as i64)?;
                    if ix.item()?.to_i64() == 0 {
                        x = x.slice(dim, 0, 0, 1)?;
                    }
                    adv.push(None);
                    dim += 1;
                    continue;
                }
                let n = if ix.dtype == DType::Bool || ix.dtype == DType::U8 {
                    ix.ndim()
                } else {
                    1
                };
                adv.push(Some(ix.clone()));
                dim += n;
                src_dim += n;
            }
        }
    }
    if !has_adv {
        adv.clear();
    }
    Ok((x, adv))
}

pub fn tolist(py: Python<'_>, t: &Tensor) -> PyResult<Py<PyAny>> {
    super::watch_sync(|| tolist_unwatched(py, t))
}

fn tolist_unwatched(py: Python<'_>, t: &Tensor) -> PyResult<Py<PyAny>> {
    let vals: Vec<Py<PyAny>> = match t.dtype {
        DType::Bool => t
            .to_vec::<bool>()
            .into_iter()
            .map(|v| PyBool::new(py, v).to_owned().into_any().unbind())
            .collect(),
        d if d.is_float() => t
            .to_vec::<f64>()
            .into_iter()
            .map(|v| PyFloat::new(py, v).into_any().unbind())
            .collect(),
        _ => t
            .to_vec::<i64>()
            .into_iter()
            .map(|v| PyInt::new(py, v).into_any().unbind())
            .collect(),
    };
    if t.ndim() == 0 {
        return Ok(vals.into_iter().next().expect("one element"));
    }
    fn build(
        py: Python<'_>,
        shape: &[usize],
        vals: &mut std::vec::IntoIter<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let mut items = Vec::with_capacity(shape[0]);
        for _ in 0..shape[0] {
            if shape.len() == 1 {
                items.push(vals.next().expect("enough values"));
            } else {
                items.push(build(py, &shape[1..], vals)?);
            }
        }
        Ok(PyList::new(py, items)?.into_any().unbind())
    }
    build(py, t.shape(), &mut vals.into_iter())
}

fn scalar_to_py(py: Python<'_>, s: Scalar) -> PyResult<Py<PyAny>> {
    Ok(match s {
        Scalar::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Scalar::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        Scalar::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
    })
}

#[pymethods]
impl PyTensor {
    /// `Tensor(*sizes)`, `Tensor(data)`, `Tensor()`: the legacy float32 constructor.
    #[new]
    #[pyo3(signature = (*args))]
    fn py_new(args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let t = if args.is_empty() {
            guard(|| Tensor::empty(&[0], DType::F32, crate::tensor::Device::Cpu))?
        } else if args.len() == 1 && args.get_item(0)?.cast::<PyTensor>().is_ok() {
            args.get_item(0)?.cast::<PyTensor>()?.borrow().t.detach()
        } else if args.iter().all(|a| index_int(&a).is_ok())
            || (args.len() == 1 && args.get_item(0)?.get_type().name()? == "Size")
        {
            let shape: Vec<usize> = convert::shape_args(args)?
                .iter()
                .map(|&d| d.max(0) as usize)
                .collect();
            guard(|| Tensor::empty(&shape, DType::F32, crate::tensor::Device::Cpu))?
        } else {
            let n = convert::parse_nested(&args.get_item(0)?)?;
            guard(|| n.to_tensor(DType::F32))?
        };
        Ok(PyTensor { t })
    }

    /// `Tensor._make_subclass(cls, data, require_grad)`: `cls` instance sharing data's storage.
    #[staticmethod]
    #[pyo3(signature = (cls, data, require_grad=false))]
    fn _make_subclass(
        cls: &Bound<'_, PyType>,
        data: &Bound<'_, PyAny>,
        require_grad: bool,
    ) -> PyResult<Py<PyAny>> {
        let mut t = tensor_arg(data)?.detach();
        guard(|| t.set_requires_grad(require_grad))?;
        // Tensor.__new__(cls): a `cls` instance without running cls.__new__/__init__
        let obj = cls
            .py()
            .get_type::<PyTensor>()
            .call_method1("__new__", (cls,))?;
        obj.cast::<PyTensor>()?.borrow_mut().t = t;
        Ok(obj.unbind())
    }

    // ---- metadata ----
    #[getter]
    fn shape(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        size_obj(py, self.t.shape())
    }
    #[pyo3(signature = (dim=None))]
    fn size(&self, py: Python<'_>, dim: Option<i64>) -> PyResult<Py<PyAny>> {
        match dim {
            None => size_obj(py, self.t.shape()),
            Some(d) => {
                let d = guard(|| crate::tensor::wrap_dim(d, self.t.ndim()))?;
                Ok(self
                    .t
                    .shape()
                    .get(d)
                    .copied()
                    .unwrap_or(1)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind())
            }
        }
    }
    #[pyo3(signature = (dim=None))]
    fn stride(&self, py: Python<'_>, dim: Option<i64>) -> PyResult<Py<PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.t.strides())?.into_any().unbind()),
            Some(d) => {
                let d = guard(|| crate::tensor::wrap_dim(d, self.t.ndim()))?;
                Ok(self
                    .t
                    .strides()
                    .get(d)
                    .copied()
                    .unwrap_or(1)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind())
            }
        }
    }
    fn dim(&self) -> usize {
        self.t.ndim()
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }
    fn numel(&self) -> usize {
        self.t.numel()
    }
    fn storage_offset(&self) -> usize {
        self.t.layout.offset
    }
    #[pyo3(signature = (memory_format=None))]
    fn is_contiguous(&self, memory_format: Option<&Bound<'_, PyAny>>) -> bool {
        let _ = memory_format;
        self.t.is_contiguous()
    }
    #[getter]
    fn dtype(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        dtype_obj(py, self.t.dtype)
    }
    #[getter]
    fn device(&self) -> convert::PyDevice {
        convert::PyDevice::from_core(self.t.device())
    }
    #[getter]
    fn is_cuda(&self) -> bool {
        self.t.device().is_cuda()
    }
    #[getter]
    fn is_cpu(&self) -> bool {
        !self.t.device().is_cuda()
    }
    /// `.to(device)` (differentiable); `non_blocking` copies are synchronous here.
    fn _to_device(slf: &Bound<'_, Self>, device: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let d = convert::device_arg(device)?.to_core(py)?;
        let me = slf.borrow();
        if me.t.device() == d {
            return Ok(slf.clone().into_any().unbind());
        }
        let t = &me.t;
        let r = guard_nogil(py, big(t), || t.to_device(d))?;
        wrap(py, r)
    }
    fn element_size(&self) -> usize {
        self.t.dtype.size()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.t.dtype.size()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.t.dtype.size() * self.t.numel()
    }
    fn data_ptr(&self) -> usize {
        self.t.data_ptr() as usize
    }
    #[getter]
    fn _version(&self) -> u64 {
        self.t.storage.version()
    }
    fn _storage_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, self.t.storage.bytes())
    }
    fn _storage_id(&self) -> usize {
        self.t.storage.as_ptr() as usize
    }
    fn _storage_numel(&self) -> usize {
        self.t.storage.nbytes() / self.t.dtype.size()
    }
    fn is_floating_point(&self) -> bool {
        self.t.dtype.is_float()
    }
    fn is_complex(&self) -> bool {
        false
    }

    // ---- Python protocol ----
    fn __len__(&self) -> PyResult<usize> {
        if self.t.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.t.shape()[0])
    }
    fn __hash__(slf: PyRef<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }
    fn __bool__(&self) -> PyResult<bool> {
        if self.t.numel() != 1 {
            return Err(PyRuntimeError::new_err(format!(
                "Boolean value of Tensor with {} is ambiguous",
                if self.t.numel() == 0 {
                    "no values"
                } else {
                    "more than one value"
                }
            )));
        }
        Ok(guard(|| self.t.item())?.to_f64() != 0.0)
    }
    fn __float__(&self) -> PyResult<f64> {
        Ok(guard(|| {
            self.t.item().map_err(|_| {
                crate::Error::Value(
                    "only one element tensors can be converted to Python scalars".into(),
                )
            })
        })?
        .to_f64())
    }
    fn __int__(&self) -> PyResult<i64> {
        Ok(guard(|| {
            self.t.item().map_err(|_| {
                crate::Error::Value(
                    "only one element tensors can be converted to Python scalars".into(),
                )
            })
        })?
        .to_i64())
    }
    fn __index__(&self) -> PyResult<i64> {
        if self.t.dtype.is_float() || self.t.dtype == DType::Bool || self.t.numel() != 1 {
            return Err(PyTypeError::new_err(
                "only integer tensors of a single element can be converted to an index",
            ));
        }
        Ok(guard(|| self.t.item())?.to_i64())
    }
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        scalar_to_py(py, guard(|| self.t.item())?)
    }
    fn tolist(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        tolist(py, &self.t)
    }
    #[pyo3(signature = (*, force=false))]
    fn numpy(&self, py: Python<'_>, force: bool) -> PyResult<Py<PyAny>> {
        super::numpy::tensor_numpy(py, &self.t, force)
    }
    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__(
        &self,
        py: Python<'_>,
        dtype: Option<&Bound<'_, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        let _ = copy;
        super::numpy::tensor_array(py, &self.t, dtype)
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        static STR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = slf.py();
        let f = STR.get_or_try_init(py, || -> PyResult<_> {
            Ok(py
                .import("ferrotorch._tensor_str")?
                .getattr("_str")?
                .unbind())
        })?;
        f.bind(py).call1((slf,))?.extract()
    }
    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let t = slf.borrow().t.clone();
        if t.ndim() == 0 {
            return Err(PyTypeError::new_err("iteration over a 0-d tensor"));
        }
        let py = slf.py();
        let parts = guard(|| t.unbind(0))?;
        Ok(wrap_vec(py, parts)?
            .bind(py)
            .try_iter()?
            .into_any()
            .unbind())
    }
    fn __getitem__(&self, py: Python<'_>, idx: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        // fast path: a single int
        if let (Ok(i), false) = (
            idx.cast::<pyo3::types::PyInt>(),
            idx.is_instance_of::<PyBool>(),
        ) {
            let i: i64 = i.extract()?;
            let t = &self.t;
            return wrap(py, guard(|| apply_index(t, &[Item::Int(i)]).map(|r| r.0))?);
        }
        let items = parse_index(idx)?;
        let t = &self.t;
        let r = guard(|| {
            let (x, adv) = apply_index(t, &items)?;
            if adv.is_empty() {
                Ok(x)
            } else {
                x.index(&adv)
            }
        })?;
        wrap(py, r)
    }
    fn __setitem__(
        slf: &Bound<'_, Self>,
        idx: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let items = parse_index(idx)?;
        let dtype = slf.borrow().t.dtype;
        let v = other_arg(value).or_else(|_| -> PyResult<Other> {
            let n = convert::parse_nested(value)?;
            Ok(Other::T(guard(|| n.to_tensor(dtype))?))
        })?;
        let mut me = slf.borrow_mut();
        let t = &mut me.t;
        guard(|| {
            let (view, adv) = apply_index(t, &items)?;
            let vt = match &v {
                Other::T(x) => x.clone(),
                Other::S(s) => Tensor::scalar_tensor(*s, t.dtype)?,
            };
            if !adv.is_empty() {
                if view.shape() == t.shape() && view.layout == t.layout {
                    return t.index_put_(&adv, &vt, false);
                }
                if crate::autograd::needs_grad(&[t, &vt]) {
                    crate::bail!(
                        NotImplemented,
                        "assignment combining slices and index tensors on a tensor that requires grad is not supported yet; index with tensors only"
                    );
                }
                // the view shares t's storage: writing into it writes t
                let mut view = view;
                return view.index_put_(&adv, &vt, false);
            }
            if crate::autograd::needs_grad(&[t, &vt]) {
                t.check_inplace()?;
                // write through the view differentiably: scatter the value into t's shape, select with a mask
                let rel = relative_layout(t, &view);
                let vb = vt.cast(t.dtype)?.broadcast_to(view.shape())?;
                let placed = crate::ops::view::scatter_through(t.shape(), &rel, &vb)?;
                let mask = crate::ops::view::scatter_through(
                    t.shape(),
                    &rel,
                    &Tensor::full(view.shape(), Scalar::Bool(true), DType::Bool, view.device())?,
                )?;
                let r = Tensor::where_(&mask, &placed, &t.saved_copy()?)?;
                return t.assign_result(r);
            }
            view.copy_raw(&vt)?;
            t.bump_version();
            Ok(())
        })
    }

    // ---- arithmetic dunders ----
    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Add)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbin(py, o, BinaryOp::Add)
    }
    fn __iadd__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::Add)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Sub)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbin(py, o, BinaryOp::Sub)
    }
    fn __isub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::Sub)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Mul)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbin(py, o, BinaryOp::Mul)
    }
    fn __imul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::Mul)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Div)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbin(py, o, BinaryOp::Div)
    }
    fn __itruediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::Div)
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::FloorDiv)
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbin(py, o, BinaryOp::FloorDiv)
    }
    fn __ifloordiv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::FloorDiv)
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Rem)
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbin(py, o, BinaryOp::Rem)
    }
    fn __imod__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::Rem)
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if self.t.dtype.is_float() {
            if let Some(s) = scalar_of(o).filter(|s| !matches!(s, Scalar::Bool(_))) {
                return self.un(py, UnaryOp::PowScalar(s.to_f64()));
            }
        }
        self.bin(py, o, BinaryOp::Pow)
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.rbin(py, o, BinaryOp::Pow)
    }
    fn __ipow__(
        slf: &Bound<'_, Self>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::Pow)
    }
    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(b) = tensor_arg(o) else {
            return Ok(py.NotImplemented());
        };
        let a = &self.t;
        wrap(
            py,
            guard_nogil(py, a.numel() * b.numel() >= 4096, || a.matmul(&b))?,
        )
    }
    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(b) = tensor_arg(o) else {
            return Ok(py.NotImplemented());
        };
        wrap(py, guard(|| b.matmul(&self.t))?)
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Neg)
    }
    fn __pos__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Abs)
    }
    fn __invert__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::BitNot)
    }
    fn __and__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::BitAnd)
    }
    fn __rand__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::BitAnd)
    }
    fn __iand__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::BitAnd)
    }
    fn __or__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::BitOr)
    }
    fn __ror__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::BitOr)
    }
    fn __ior__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::BitOr)
    }
    fn __xor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::BitXor)
    }
    fn __rxor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::BitXor)
    }
    fn __ixor__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibin(slf, o, BinaryOp::BitXor)
    }
    fn __lshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Shl)
    }
    fn __rshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Shr)
    }
    fn __eq__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Eq)
    }
    fn __ne__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Ne)
    }
    fn __lt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Lt)
    }
    fn __le__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Le)
    }
    fn __gt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Gt)
    }
    fn __ge__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.bin(py, o, BinaryOp::Ge)
    }

    // ---- named hot ops ----
    #[pyo3(signature = (other, value=None, *, alpha=None))]
    fn add<'py>(
        &self,
        py: Python<'py>,
        other: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (other, alpha) = legacy_alpha("add", other, value, alpha)?;
        self.add_sub(py, &other, alpha.as_ref(), BinaryOp::Add)
    }
    #[pyo3(signature = (other, value=None, *, alpha=None))]
    fn sub<'py>(
        &self,
        py: Python<'py>,
        other: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (other, alpha) = legacy_alpha("sub", other, value, alpha)?;
        self.add_sub(py, &other, alpha.as_ref(), BinaryOp::Sub)
    }
    fn mul(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let r = self.bin(py, other, BinaryOp::Mul)?;
        not_impl_to_type_error(py, r, other)
    }
    #[pyo3(signature = (other, value=None, *, alpha=None))]
    fn add_<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let (other, alpha) = legacy_alpha("add_", other, value, alpha)?;
        Self::iadd_sub(slf, &other, alpha.as_ref(), BinaryOp::Add)?;
        Ok(slf.clone())
    }
    #[pyo3(signature = (other, value=None, *, alpha=None))]
    fn sub_<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let (other, alpha) = legacy_alpha("sub_", other, value, alpha)?;
        Self::iadd_sub(slf, &other, alpha.as_ref(), BinaryOp::Sub)?;
        Ok(slf.clone())
    }
    fn mul_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        Self::ibin(slf, other, BinaryOp::Mul)?;
        Ok(slf.clone())
    }
    fn div_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        Self::ibin(slf, other, BinaryOp::Div)?;
        Ok(slf.clone())
    }

    /// Generic element-wise binary op by name (used by the Python-side wrappers).
    fn _binary(&self, py: Python<'_>, other: &Bound<'_, PyAny>, op: &str) -> PyResult<Py<PyAny>> {
        let op = binary_op(op)?;
        let o = other_arg(other)?;
        let t = &self.t;
        wrap(py, guard_nogil(py, big(t), || t.binary(o.operand(), op))?)
    }
    /// `other (op) self` with a number or tensor on the left.
    fn _rbinary(&self, py: Python<'_>, other: &Bound<'_, PyAny>, op: &str) -> PyResult<Py<PyAny>> {
        let op = binary_op(op)?;
        let o = other_arg(other)?;
        let t = &self.t;
        wrap(
            py,
            guard(|| match o {
                Other::S(s) => t.rbinary(s, op),
                Other::T(left) => left.binary(Operand::T(t), op),
            })?,
        )
    }
    fn _binary_<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        op: &str,
    ) -> PyResult<Bound<'py, Self>> {
        let op = binary_op(op)?;
        Self::ibin(slf, other, op)?;
        Ok(slf.clone())
    }
    #[pyo3(signature = (op, a=0.0, b=0.0, c=0.0))]
    fn _unary(&self, py: Python<'_>, op: &str, a: f64, b: f64, c: f64) -> PyResult<Py<PyAny>> {
        self.un(py, unary_op(op, a, b, c)?)
    }
    /// `op(self, out=out)` written straight into `out`; False when the caller has to fall back
    /// to computing the result and copying it (dtype/shape change, autograd, overlap).
    #[pyo3(signature = (op, out, a=0.0, b=0.0, c=0.0))]
    fn _unary_out(
        &self,
        py: Python<'_>,
        op: &str,
        out: &Bound<'_, PyAny>,
        a: f64,
        b: f64,
        c: f64,
    ) -> PyResult<bool> {
        let op = unary_op(op, a, b, c)?;
        let Ok(dst) = out.cast::<PyTensor>() else {
            return Ok(false);
        };
        let dst = dst.borrow().t.clone();
        let t = &self.t;
        guard_nogil(py, big(t), || t.unary_into(op, &dst))
    }
    #[pyo3(signature = (op, a=0.0, b=0.0, c=0.0))]
    fn _unary_<'py>(
        mut slf: PyRefMut<'py, Self>,
        py: Python<'py>,
        op: &str,
        a: f64,
        b: f64,
        c: f64,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let op = unary_op(op, a, b, c)?;
        let big = big(&slf.t);
        let t = &mut slf.t;
        guard_nogil(py, big, || t.unary_(op))?;
        Ok(slf)
    }

    fn exp(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Exp)
    }
    fn log(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Log)
    }
    fn relu(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Relu)
    }
    fn sigmoid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Sigmoid)
    }
    fn tanh(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Tanh)
    }
    fn sqrt(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Sqrt)
    }
    fn neg(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Neg)
    }
    fn abs(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.un(py, UnaryOp::Abs)
    }

    fn matmul(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let b = tensor_arg(other)?;
        let a = &self.t;
        wrap(
            py,
            guard_nogil(py, a.numel() * b.numel() >= 4096, || a.matmul(&b))?,
        )
    }
    fn mm(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let b = tensor_arg(other)?;
        let a = &self.t;
        wrap(
            py,
            guard_nogil(py, a.numel() * b.numel() >= 4096, || a.mm(&b))?,
        )
    }
    fn bmm(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let b = tensor_arg(other)?;
        let a = &self.t;
        wrap(
            py,
            guard_nogil(py, a.numel() * b.numel() >= 4096, || a.bmm(&b))?,
        )
    }
    fn dot(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let b = tensor_arg(other)?;
        wrap(py, guard(|| self.t.dot(&b))?)
    }

    // ---- reductions ----
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        let x = self.cast_opt(dtype)?;
        wrap(
            py,
            guard_nogil(py, big(&x), || x.sum(d.as_deref(), keepdim))?,
        )
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        let x = self.cast_opt(dtype)?;
        wrap(
            py,
            guard_nogil(py, big(&x), || x.mean(d.as_deref(), keepdim))?,
        )
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn prod(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        let x = self.cast_opt(dtype)?;
        wrap(py, guard(|| x.prod(d.as_deref(), keepdim))?)
    }
    /// (values, indices) along dim; the Python side builds the named tuple.
    fn _max_min_dim(
        &self,
        py: Python<'_>,
        dim: i64,
        keepdim: bool,
        is_max: bool,
    ) -> PyResult<Py<PyAny>> {
        let (v, i) = guard(|| self.t.max_min_dim(dim, keepdim, is_max))?;
        wrap_vec(py, vec![v, i])
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amax(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        wrap(py, guard(|| self.t.amax_amin(d.as_deref(), keepdim, true))?)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amin(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        wrap(
            py,
            guard(|| self.t.amax_amin(d.as_deref(), keepdim, false))?,
        )
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmax(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.argmax_argmin(dim, keepdim, true))?)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmin(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.argmax_argmin(dim, keepdim, false))?)
    }
    fn _var_std(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        correction: f64,
        keepdim: bool,
        take_sqrt: bool,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        wrap(
            py,
            guard(|| self.t.var_std(d.as_deref(), correction, keepdim, take_sqrt))?,
        )
    }
    #[pyo3(signature = (p, dim=None, keepdim=false))]
    fn _norm(
        &self,
        py: Python<'_>,
        p: f64,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        wrap(py, guard(|| self.t.norm(p, d.as_deref(), keepdim))?)
    }
    #[pyo3(signature = (dim, keepdim=false))]
    fn logsumexp(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        let d = int_list(dim)?;
        wrap(py, guard(|| self.t.logsumexp(&d, keepdim))?)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn all(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        wrap(py, guard(|| self.t.all_any(d.as_deref(), keepdim, true))?)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn any(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        wrap(py, guard(|| self.t.all_any(d.as_deref(), keepdim, false))?)
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let x = self.cast_opt(dtype)?;
        wrap(py, guard(|| x.cumulative(dim, true))?)
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let x = self.cast_opt(dtype)?;
        wrap(py, guard(|| x.cumulative(dim, false))?)
    }
    fn _sort(
        &self,
        py: Python<'_>,
        dim: i64,
        descending: bool,
        k: Option<usize>,
    ) -> PyResult<Py<PyAny>> {
        let (v, i) = guard(|| self.t.sort_k(dim, descending, k))?;
        wrap_vec(py, vec![v, i])
    }
    fn _unique(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let (u, inv, c) = guard(|| self.t.unique())?;
        wrap_vec(py, vec![u, inv, c])
    }

    // ---- views ----
    #[pyo3(signature = (*shape))]
    fn view(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        if shape.len() == 1 {
            if let Ok(d) = dtype_arg(&shape.get_item(0)?) {
                if d == self.t.dtype {
                    return wrap(py, self.t.clone());
                }
                return Err(PyRuntimeError::new_err(
                    "view(dtype) with a different dtype is not supported",
                ));
            }
        }
        let s = convert::shape_args(shape)?;
        wrap(py, guard(|| self.t.view(&s))?)
    }
    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let s = convert::shape_args(shape)?;
        wrap(py, guard(|| self.t.reshape_i(&s))?)
    }
    fn transpose(&self, py: Python<'_>, dim0: i64, dim1: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.transpose(dim0, dim1))?)
    }
    fn t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.t())?)
    }
    #[getter(T)]
    fn big_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let n = self.t.ndim() as i64;
        let dims: Vec<i64> = (0..n).rev().collect();
        wrap(py, guard(|| self.t.permute(&dims))?)
    }
    #[getter(mT)]
    fn m_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.t.ndim() < 2 {
            return Err(PyRuntimeError::new_err(format!(
                "tensor.mT is only supported on matrices or batches of matrices. Got {}-D tensor.",
                self.t.ndim()
            )));
        }
        wrap(py, guard(|| self.t.transpose(-2, -1))?)
    }
    #[pyo3(signature = (*dims))]
    fn permute(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let d = convert::shape_args(dims)?;
        wrap(py, guard(|| self.t.permute(&d))?)
    }
    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let d = dims_arg(dim)?;
        wrap(py, guard(|| self.t.squeeze(d.as_deref()))?)
    }
    fn unsqueeze(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.unsqueeze(dim))?)
    }
    #[pyo3(signature = (*sizes))]
    fn expand(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let s = convert::shape_args(sizes)?;
        wrap(py, guard(|| self.t.expand(&s))?)
    }
    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, py: Python<'_>, start_dim: i64, end_dim: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.flatten(start_dim, end_dim))?)
    }
    fn narrow(&self, py: Python<'_>, dim: i64, start: i64, length: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.narrow(dim, start, length))?)
    }
    fn select(&self, py: Python<'_>, dim: i64, index: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.select(dim, index))?)
    }
    fn unfold(
        &self,
        py: Python<'_>,
        dimension: i64,
        size: usize,
        step: usize,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.unfold(dimension, size, step))?)
    }
    #[pyo3(signature = (offset=0, dim1=0, dim2=1))]
    fn diagonal(&self, py: Python<'_>, offset: i64, dim1: i64, dim2: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.diagonal(offset, dim1, dim2))?)
    }
    #[pyo3(signature = (size, stride, storage_offset=None))]
    fn as_strided(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyAny>,
        stride: &Bound<'_, PyAny>,
        storage_offset: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let size: Vec<usize> = int_list(size)?.iter().map(|&x| x.max(0) as usize).collect();
        let stride: Vec<usize> = int_list(stride)?
            .iter()
            .map(|&x| x.max(0) as usize)
            .collect();
        wrap(
            py,
            guard(|| {
                self.t
                    .as_strided(&size, &stride, storage_offset.map(|o| o.max(0) as usize))
            })?,
        )
    }
    fn movedim(&self, py: Python<'_>, source: i64, destination: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.movedim(source, destination))?)
    }
    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.detach())
    }
    fn detach_(slf: PyRefMut<'_, Self>) -> PyRefMut<'_, Self> {
        let mut slf = slf;
        slf.t.autograd = None;
        slf
    }
    #[pyo3(signature = (*, memory_format=None))]
    fn clone(
        &self,
        py: Python<'_>,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = memory_format;
        let t = &self.t;
        wrap(py, guard_nogil(py, big(t), || t.clone_op())?)
    }
    #[pyo3(signature = (memory_format=None))]
    fn contiguous(
        slf: &Bound<'_, Self>,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = memory_format;
        let t = slf.borrow().t.clone();
        if t.is_contiguous() {
            return Ok(slf.clone().into_any().unbind());
        }
        wrap(slf.py(), guard(|| t.contiguous())?)
    }
    fn _split_sizes(&self, py: Python<'_>, sizes: Vec<usize>, dim: i64) -> PyResult<Py<PyAny>> {
        wrap_vec(py, guard(|| self.t.split_sizes(&sizes, dim))?)
    }
    fn _split_size(&self, py: Python<'_>, size: usize, dim: i64) -> PyResult<Py<PyAny>> {
        wrap_vec(py, guard(|| self.t.split_size(size, dim))?)
    }
    #[pyo3(signature = (chunks, dim=0))]
    fn chunk(&self, py: Python<'_>, chunks: usize, dim: i64) -> PyResult<Py<PyAny>> {
        wrap_vec(py, guard(|| self.t.chunk(chunks, dim))?)
    }
    #[pyo3(signature = (dim=0))]
    fn unbind(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        wrap_vec(py, guard(|| self.t.unbind(dim))?)
    }
    #[pyo3(signature = (*sizes))]
    fn repeat(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let s: Vec<usize> = convert::shape_args(sizes)?
            .iter()
            .map(|&x| x.max(0) as usize)
            .collect();
        wrap(py, guard(|| self.t.repeat(&s))?)
    }
    #[pyo3(signature = (*dims))]
    fn flip(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let d = convert::shape_args(dims)?;
        wrap(py, guard(|| self.t.flip(&d))?)
    }
    #[pyo3(signature = (shifts, dims=None))]
    fn roll(
        &self,
        py: Python<'_>,
        shifts: &Bound<'_, PyAny>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let s = int_list(shifts)?;
        let d = dims_arg(dims)?.unwrap_or_default();
        wrap(py, guard(|| self.t.roll(&s, &d))?)
    }
    #[pyo3(signature = (diagonal=0))]
    fn tril(&self, py: Python<'_>, diagonal: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.tri(diagonal, false))?)
    }
    #[pyo3(signature = (diagonal=0))]
    fn triu(&self, py: Python<'_>, diagonal: i64) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.tri(diagonal, true))?)
    }

    // ---- indexing ops ----
    fn index_select(
        &self,
        py: Python<'_>,
        dim: i64,
        index: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let i = tensor_arg(index)?;
        wrap(py, guard(|| self.t.index_select(dim, &i))?)
    }
    /// `torch.searchsorted(self, values)` (self: the sorted boundaries).
    fn _searchsorted(
        &self,
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
        right: bool,
        out_int32: bool,
    ) -> PyResult<Py<PyAny>> {
        let v = tensor_arg(values)?;
        wrap(py, guard(|| self.t.searchsorted(&v, right, out_int32))?)
    }
    fn gather(&self, py: Python<'_>, dim: i64, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let i = tensor_arg(index)?;
        wrap(py, guard(|| self.t.gather(dim, &i))?)
    }
    /// `scatter_reduce`'s combining step ("sum", "prod", "amax", "amin"), without autograd.
    fn _scatter_mode(
        &self,
        py: Python<'_>,
        dim: i64,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        mode: &str,
    ) -> PyResult<Py<PyAny>> {
        use crate::ops::index::ScatterMode;
        let mode = match mode {
            "sum" => ScatterMode::Add,
            "prod" => ScatterMode::Mul,
            "amax" => ScatterMode::Max,
            "amin" => ScatterMode::Min,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown scatter mode '{}'",
                    mode
                )))
            }
        };
        let (i, s) = (tensor_arg(index)?, tensor_arg(src)?);
        let t = &self.t;
        wrap(
            py,
            guard(|| {
                let d = crate::tensor::wrap_dim(dim, t.ndim())?;
                t.scatter_mode(d, &i, &s, mode)
            })?,
        )
    }
    fn _scatter(
        &self,
        py: Python<'_>,
        dim: i64,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        accumulate: bool,
    ) -> PyResult<Py<PyAny>> {
        let i = tensor_arg(index)?;
        let s = other_arg(src)?;
        let t = &self.t;
        wrap(
            py,
            guard(|| {
                let d = crate::tensor::wrap_dim(dim, t.ndim())?;
                let st = match &s {
                    Other::T(x) => x.clone(),
                    Other::S(v) => Tensor::scalar_tensor(*v, t.dtype)?,
                };
                t.scatter_op(d, &i, &st, accumulate)
            })?,
        )
    }
    fn _scatter_<'py>(
        slf: &Bound<'py, Self>,
        dim: i64,
        index: &Bound<'py, PyAny>,
        src: &Bound<'py, PyAny>,
        accumulate: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let r = slf.borrow()._scatter(py, dim, index, src, accumulate)?;
        let r = tensor_arg(r.bind(py))?;
        let mut me = slf.borrow_mut();
        let t = &mut me.t;
        guard(|| {
            if crate::autograd::needs_grad(&[t]) || r.requires_grad() {
                t.check_inplace()?;
            }
            t.assign_result(r)
        })?;
        drop(me);
        Ok(slf.clone())
    }
    fn masked_fill(
        &self,
        py: Python<'_>,
        mask: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let m = tensor_arg(mask)?;
        let v = other_arg(value)?;
        let t = &self.t;
        wrap(
            py,
            guard(|| {
                let vt = match &v {
                    Other::T(x) => x.clone(),
                    Other::S(s) => Tensor::scalar_tensor(*s, t.dtype)?,
                };
                t.masked_fill(&m, &vt)
            })?,
        )
    }
    fn masked_fill_<'py>(
        slf: &Bound<'py, Self>,
        mask: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let r = slf.borrow().masked_fill(py, mask, value)?;
        let r = tensor_arg(r.bind(py))?;
        let mut me = slf.borrow_mut();
        let t = &mut me.t;
        guard(|| {
            if crate::autograd::needs_grad(&[t]) || r.requires_grad() {
                t.check_inplace()?;
                return t.assign_result(r);
            }
            t.copy_raw(&r)?;
            t.bump_version();
            Ok(())
        })?;
        drop(me);
        Ok(slf.clone())
    }
    fn masked_select(&self, py: Python<'_>, mask: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let m = tensor_arg(mask)?;
        wrap(py, guard(|| self.t.masked_select(&m))?)
    }
    fn _nonzero(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.nonzero())?)
    }
    fn take(&self, py: Python<'_>, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let i = tensor_arg(index)?;
        wrap(py, guard(|| self.t.take(&i))?)
    }
    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put_<'py>(
        slf: &Bound<'py, Self>,
        indices: &Bound<'py, PyAny>,
        values: &Bound<'py, PyAny>,
        accumulate: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let idx: Vec<Option<Tensor>> = indices
            .try_iter()?
            .map(|i| {
                i.and_then(|i| {
                    if i.is_none() {
                        Ok(None)
                    } else {
                        tensor_arg(&i).map(Some)
                    }
                })
            })
            .collect::<PyResult<_>>()?;
        let v = tensor_arg(values)?;
        let mut me = slf.borrow_mut();
        let t = &mut me.t;
        guard(|| t.index_put_(&idx, &v, accumulate))?;
        drop(me);
        Ok(slf.clone())
    }
    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put(
        &self,
        py: Python<'_>,
        indices: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        accumulate: bool,
    ) -> PyResult<Py<PyAny>> {
        let idx: Vec<Option<Tensor>> = indices
            .try_iter()?
            .map(|i| {
                i.and_then(|i| {
                    if i.is_none() {
                        Ok(None)
                    } else {
                        tensor_arg(&i).map(Some)
                    }
                })
            })
            .collect::<PyResult<_>>()?;
        let v = tensor_arg(values)?;
        wrap(py, guard(|| self.t.index_put(&idx, &v, accumulate))?)
    }

    // ---- dtype / copies ----
    fn _cast(&self, py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let d = dtype_arg(dtype)?;
        wrap(py, guard(|| self.t.cast(d))?)
    }
    fn float(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.cast(DType::F32))?)
    }
    fn double(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.cast(DType::F64))?)
    }
    fn long(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.cast(DType::I64))?)
    }
    fn int(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.cast(DType::I32))?)
    }
    fn bool(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.cast(DType::Bool))?)
    }
    fn half(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.cast(DType::F16))?)
    }
    fn bfloat16(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, guard(|| self.t.cast(DType::BF16))?)
    }
    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_<'py>(
        slf: &Bound<'py, Self>,
        src: &Bound<'py, PyAny>,
        non_blocking: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let _ = non_blocking;
        let py = slf.py();
        let s = match other_of(src) {
            Some(o) => o.tensor().map_err(super::to_py)?,
            None => {
                let n = convert::parse_nested(src)?;
                guard(|| n.to_tensor(n.infer_dtype()))?
            }
        };
        let mut me = slf.borrow_mut();
        let big = big(&me.t);
        let t = &mut me.t;
        guard_nogil(py, big, || t.copy_(&s))?;
        drop(me);
        Ok(slf.clone())
    }
    fn fill_<'py>(slf: &Bound<'py, Self>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let v = other_arg(value)?;
        let mut me = slf.borrow_mut();
        let t = &mut me.t;
        guard(|| {
            let vt = match &v {
                Other::T(x) => x.clone(),
                Other::S(s) => Tensor::scalar_tensor(*s, t.dtype)?,
            };
            t.copy_(&vt)
        })?;
        drop(me);
        Ok(slf.clone())
    }
    fn zero_(mut slf: PyRefMut<'_, Self>) -> PyResult<PyRefMut<'_, Self>> {
        let t = &mut slf.t;
        guard(|| {
            if crate::autograd::needs_grad(&[t]) {
                let z = Tensor::zeros(&[], t.dtype, t.device())?;
                return t.copy_(&z);
            }
            t.fill_raw(Scalar::Int(0));
            t.bump_version();
            Ok(())
        })?;
        Ok(slf)
    }

    // ---- autograd state ----
    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }
    #[setter(requires_grad)]
    fn set_requires_grad_attr(&mut self, value: bool) -> PyResult<()> {
        guard(|| self.t.set_requires_grad(value))
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(
        mut slf: PyRefMut<'_, Self>,
        requires_grad: bool,
    ) -> PyResult<PyRefMut<'_, Self>> {
        guard(|| slf.t.set_requires_grad(requires_grad))?;
        Ok(slf)
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf()
    }
    #[getter]
    fn get_grad(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.t.grad() {
            Some(g) => Ok(Some(wrap(py, g)?)),
            None => {
                if !self.t.is_leaf()
                    && !self
                        .t
                        .autograd
                        .as_ref()
                        .map(|m| m.lock().retains_grad)
                        .unwrap_or(false)
                {
                    let warnings = py.import("warnings")?;
                    warnings.call_method1(
                        "warn",
                        ("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't be populated during autograd.backward(). If you indeed want the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead.",),
                    )?;
                }
                Ok(None)
            }
        }
    }
    #[setter(grad)]
    fn set_grad_attr(&mut self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = match value {
            Some(v) if !v.is_none() => Some(tensor_arg(v)?.detach()),
            _ => None,
        };
        guard(|| self.t.set_grad(g))
    }
    #[getter]
    fn get_data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.detach())
    }
    /// `x.data = y`: x now reads y's storage, keeping its own autograd identity.
    #[setter(data)]
    fn set_data(mut slf: PyRefMut<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if value.as_ptr() == slf.as_ptr() {
            return Ok(());
        }
        let v = tensor_arg(value)?;
        slf.t.storage = v.storage.clone();
        slf.t.layout = v.layout.clone();
        slf.t.dtype = v.dtype;
        Ok(())
    }
    #[getter]
    fn name(&self) -> Option<String> {
        None
    }
    #[getter]
    fn output_nr(&self) -> usize {
        self.t.autograd.as_ref().map(|m| m.output_nr()).unwrap_or(0)
    }
    fn retain_grad(&mut self) -> PyResult<()> {
        guard(|| self.t.retain_grad())
    }
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t
            .autograd
            .as_ref()
            .map(|m| m.lock().retains_grad)
            .unwrap_or(false)
    }
    #[getter]
    fn grad_fn(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.t.grad_fn() {
            Some(n) => Ok(Some(
                Py::new(py, super::autograd::PyNode { node: n.clone() })?.into_any(),
            )),
            None => Ok(None),
        }
    }
    fn register_hook(&mut self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<Py<PyAny>> {
        let h = super::autograd::py_hook(hook);
        guard(|| self.t.register_hook(h))?;
        Ok(py.None())
    }
    fn register_post_accumulate_grad_hook(
        slf: &Bound<'_, Self>,
        hook: Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if !slf.borrow().t.is_leaf() {
            return Err(PyRuntimeError::new_err(
                "post accumulate grad hooks cannot be registered on non-leaf tensors",
            ));
        }
        let weak: Py<PyAny> = py.import("weakref")?.call_method1("ref", (slf,))?.unbind();
        let meta = slf.borrow_mut().t.meta();
        meta.lock()
            .post_accumulate_hooks
            .push(std::sync::Arc::new(move || {
                Python::attach(|py| {
                    let t = weak
                        .bind(py)
                        .call0()
                        .map_err(|e| crate::Error::Runtime(e.to_string()))?;
                    if !t.is_none() {
                        hook.bind(py)
                            .call1((t,))
                            .map_err(|e| crate::Error::Runtime(e.to_string()))?;
                    }
                    Ok(())
                })
            }));
        Ok(py.None())
    }
}

fn not_impl_to_type_error(
    py: Python<'_>,
    r: Py<PyAny>,
    other: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    if r.bind(py).is(py.NotImplemented()) {
        return Err(PyTypeError::new_err(format!(
            "mul(): argument 'other' must be Tensor or Number, not {}",
            other.get_type().name()?
        )));
    }
    Ok(r)
}

impl PyTensor {
    fn cast_opt(&self, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Tensor> {
        match dtype {
            Some(d) if !d.is_none() => {
                let d = dtype_arg(d)?;
                guard(|| self.t.cast(d))
            }
            _ => Ok(self.t.clone()),
        }
    }
    fn scaled_other(
        &self,
        other: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Other> {
        let o = other_arg(other)?;
        let alpha = alpha.and_then(scalar_of);
        if let Some(Scalar::Float(_)) = alpha {
            let other_int = match &o {
                Other::S(s) => !matches!(s, Scalar::Float(_)),
                Other::T(t) => !t.dtype.is_float(),
            };
            if !self.t.dtype.is_float() && other_int {
                return Err(PyRuntimeError::new_err(
                    "For integral input tensors, argument alpha must not be a floating point number.",
                ));
            }
        }
        match alpha {
            None => Ok(o),
            Some(a) => Ok(match o {
                Other::S(s) => Other::S(match (s, a) {
                    (Scalar::Int(x), Scalar::Int(y)) => Scalar::Int(x * y),
                    _ => Scalar::Float(s.to_f64() * a.to_f64()),
                }),
                Other::T(t) => Other::T(guard(|| t.binary(Operand::S(a), BinaryOp::Mul))?),
            }),
        }
    }
    fn add_sub(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
        op: BinaryOp,
    ) -> PyResult<Py<PyAny>> {
        let o = self.scaled_other(other, alpha)?;
        let t = &self.t;
        wrap(py, guard_nogil(py, big(t), || t.binary(o.operand(), op))?)
    }
    fn iadd_sub(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
        op: BinaryOp,
    ) -> PyResult<()> {
        let o = slf.borrow().scaled_other(other, alpha)?;
        let mut me = slf.borrow_mut();
        let big = big(&me.t);
        let t = &mut me.t;
        guard_nogil(slf.py(), big, || t.binary_(o.operand(), op))
    }
}

/// The layout of `view` relative to a contiguous tensor shaped like `base` (both share storage).
fn relative_layout(base: &Tensor, view: &Tensor) -> crate::tensor::Layout {
    // Map each storage offset of the view back to base coordinates: base is treated as the
    // strided image of a contiguous tensor, so convert by decomposing offsets along base strides.
    let cont = crate::tensor::contiguous_strides(base.shape());
    let to_rel = |off: usize| -> usize {
        let mut rem = off - base.layout.offset;
        let mut order: Vec<usize> = (0..base.ndim()).collect();
        order.sort_by(|&a, &b| base.strides()[b].cmp(&base.strides()[a]));
        let mut r = 0;
        for d in order {
            let s = base.strides()[d];
            if s == 0 || base.shape()[d] == 1 {
                continue;
            }
            let i = rem / s;
            rem -= i * s;
            r += i * cont[d];
        }
        r
    };
    let offset = to_rel(view.layout.offset);
    let strides = view
        .strides()
        .iter()
        .zip(view.shape())
        .map(|(&s, &n)| {
            if n <= 1 {
                0
            } else {
                to_rel(view.layout.offset + s) - offset
            }
        })
        .collect();
    crate::tensor::Layout {
        shape: view.layout.shape.clone(),
        strides,
        offset,
    }
}

/// PyTorch's deprecated overload `add(Number alpha, Tensor other)` (seed code still calls
/// `p.data.add(-lr, p.grad.data)`): warns as PyTorch does and returns `(other, alpha)`.
fn legacy_alpha<'py>(
    name: &str,
    first: &Bound<'py, PyAny>,
    second: Option<&Bound<'py, PyAny>>,
    alpha: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>)> {
    let Some(second) = second else {
        return Ok((first.clone(), alpha.cloned()));
    };
    if alpha.is_some() || first.is_instance_of::<PyTensor>() || scalar_of(first).is_none() {
        return Err(PyTypeError::new_err(format!(
            "{name}() received an invalid combination of arguments - expected (Tensor other, *, Number alpha)"
        )));
    }
    let py = first.py();
    let msg = format!(
        "This overload of {name} is deprecated:\n\t{name}(Number alpha, Tensor other)\nConsider using one of the following signatures instead:\n\t{name}(Tensor other, *, Number alpha = 1)"
    );
    let msg = std::ffi::CString::new(msg).unwrap_or_default();
    PyErr::warn(
        py,
        &py.get_type::<pyo3::exceptions::PyUserWarning>(),
        &msg,
        1,
    )?;
    Ok((second.clone(), Some(first.clone())))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTensor>()?;
    Ok(())
}
