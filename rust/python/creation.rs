//! Module-level functions: factories, random sampling, joining, global settings.

use super::convert::{device_opt, dtype_arg, dtype_obj, parse_nested, scalar_of, shape_args};
use super::guard;
use super::tensor::{tensor_arg, wrap, PyTensor};
use crate::ops::random::{self, Generator, Rng};
use crate::tensor::{default_dtype, DType, Device, Ramp, Scalar, Tensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::{Arc, Mutex};

/// `torch.Generator`.
#[pyclass(name = "Generator", module = "ferrotorch")]
pub struct PyGenerator {
    pub g: Generator,
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(device: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        // One generator serves every device: values on CUDA are drawn on the host.
        device_opt(device)?;
        Ok(PyGenerator {
            g: Arc::new(Mutex::new(Rng::new(67280421310721))),
        })
    }
    fn manual_seed(slf: PyRef<'_, Self>, seed: i64) -> PyRef<'_, Self> {
        *slf.g.lock().unwrap_or_else(|e| e.into_inner()) = Rng::new(seed as u64);
        slf
    }
    fn initial_seed(&self) -> u64 {
        self.g
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .initial_seed()
    }
    fn seed(&self) -> u64 {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        *self.g.lock().unwrap_or_else(|e| e.into_inner()) = Rng::new(s);
        s
    }
    fn get_state(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let r = self.g.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut v: Vec<i64> = r.state().iter().map(|&x| x as i64).collect();
        v.push(r.initial_seed() as i64);
        wrap(py, guard(|| Tensor::from_vec(&v, &[5]))?)
    }
    fn set_state(&self, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = tensor_arg(state)?.to_vec::<i64>();
        if v.len() != 5 {
            return Err(PyRuntimeError::new_err(
                "Generator.set_state: invalid state",
            ));
        }
        let mut r = Rng::new(v[4] as u64);
        r.set_state([v[0] as u64, v[1] as u64, v[2] as u64, v[3] as u64]);
        *self.g.lock().unwrap_or_else(|e| e.into_inner()) = r;
        Ok(())
    }
    #[getter]
    fn device(&self) -> super::convert::PyDevice {
        super::convert::PyDevice {
            kind: "cpu".into(),
            index: None,
        }
    }
}

fn gen_of(g: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Generator>> {
    match g {
        Some(g) if !g.is_none() => Ok(Some(g.cast::<PyGenerator>()?.borrow().g.clone())),
        _ => Ok(None),
    }
}

/// The new tensor on `dev` (host-built values are copied there), with requires_grad set.
fn finish(py: Python<'_>, dev: Device, mut t: Tensor, requires_grad: bool) -> PyResult<Py<PyAny>> {
    if t.device() != dev {
        t = guard(|| t.to_device_raw(dev))?;
    }
    if requires_grad {
        guard(|| t.set_requires_grad(true))?;
    }
    wrap(py, t)
}

fn dtype_or(dtype: Option<&Bound<'_, PyAny>>, default: DType) -> PyResult<DType> {
    match dtype {
        Some(d) if !d.is_none() => dtype_arg(d),
        _ => Ok(default),
    }
}

fn shape_of(size: &Bound<'_, PyTuple>) -> PyResult<Vec<usize>> {
    let s = shape_args(size)?;
    if let Some(&d) = s.iter().find(|&&d| d < 0) {
        return Err(PyRuntimeError::new_err(format!(
            "Trying to create tensor with negative dimension {}: {:?}",
            d, s
        )));
    }
    Ok(s.iter().map(|&d| d as usize).collect())
}

/// `tensor(data, dtype=None, device=None, requires_grad=False)`: always copies.
#[pyfunction]
#[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false, pin_memory=false))]
fn tensor(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<Py<PyAny>> {
    let _ = pin_memory;
    let dev = device_opt(device)?;
    let t = if let Ok(t) = data.cast::<PyTensor>() {
        let src = t.borrow().t.detach();
        let d = dtype_or(dtype, src.dtype)?;
        guard(|| src.cast_raw(d)?.clone_contiguous())?
    } else if data.hasattr("__array_interface__")? && data.getattr("dtype").is_ok() {
        // a copy anyway: numpy scalars and negative strides are fine here
        let np = py.import("numpy")?;
        let mut arr = np.getattr("asarray")?.call1((data,))?;
        if !arr.getattr("flags")?.getattr("c_contiguous")?.is_truthy()? {
            arr = arr.call_method0("copy")?;
        }
        let src = super::numpy::from_numpy(py, &arr)?;
        let src = tensor_arg(src.bind(py))?;
        let d = dtype_or(dtype, src.dtype)?;
        guard(|| src.cast_raw(d)?.clone_contiguous())?
    } else {
        let n = parse_nested(data)?;
        let d = dtype_or(dtype, n.infer_dtype())?;
        guard(|| n.to_tensor(d))?
    };
    finish(py, dev, t, requires_grad)
}

/// `as_tensor(data, dtype=None)`: shares memory with tensors and numpy arrays when it can.
#[pyfunction]
#[pyo3(signature = (data, dtype=None, device=None))]
fn as_tensor(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let dev = device_opt(device)?;
    let src = if let Ok(t) = data.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if dtype_or(dtype, t.dtype)? == t.dtype && t.device() == dev {
            return Ok(data.clone().unbind());
        }
        t
    } else if data.hasattr("__array_interface__")? && data.getattr("dtype").is_ok() {
        let arr = py.import("numpy")?.getattr("asarray")?.call1((data,))?;
        tensor_arg(super::numpy::from_numpy(py, &arr)?.bind(py))?
    } else {
        let n = parse_nested(data)?;
        let d = dtype_or(dtype, n.infer_dtype())?;
        return finish(py, dev, guard(|| n.to_tensor(d))?, false);
    };
    let d = dtype_or(dtype, src.dtype)?;
    finish(py, dev, guard(|| src.cast(d))?, false)
}

macro_rules! factory {
    ($name:ident, $fill:expr) => {
        #[pyfunction]
        #[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false, memory_format=None))]
        #[allow(clippy::too_many_arguments)]
        fn $name(
            py: Python<'_>,
            size: &Bound<'_, PyTuple>,
            out: Option<&Bound<'_, PyAny>>,
            dtype: Option<&Bound<'_, PyAny>>,
            layout: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
            pin_memory: bool,
            memory_format: Option<&Bound<'_, PyAny>>,
        ) -> PyResult<Py<PyAny>> {
            let _ = (layout, pin_memory, memory_format, out);
            let dev = device_opt(device)?;
            let shape = shape_of(size)?;
            let d = dtype_or(dtype, default_dtype())?;
            let fill: Option<Scalar> = $fill;
            let t = guard(|| match fill {
                Some(v) => Tensor::full(&shape, v, d, dev),
                None => Tensor::zeros(&shape, d, dev),
            })?;
            finish(py, dev, t, requires_grad)
        }
    };
}
factory!(zeros, None);
factory!(ones, Some(Scalar::Int(1)));

#[pyfunction]
#[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false, memory_format=None))]
#[allow(clippy::too_many_arguments)]
fn empty(
    py: Python<'_>,
    size: &Bound<'_, PyTuple>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory, memory_format, out);
    let dev = device_opt(device)?;
    let shape = shape_of(size)?;
    let d = dtype_or(dtype, default_dtype())?;
    finish(
        py,
        dev,
        guard(|| Tensor::zeros(&shape, d, dev))?,
        requires_grad,
    )
}

#[pyfunction]
#[pyo3(signature = (size, fill_value, *, dtype=None, device=None, requires_grad=false))]
fn full(
    py: Python<'_>,
    size: &Bound<'_, PyAny>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = device_opt(device)?;
    let shape: Vec<usize> = super::convert::int_list(size)?
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    let v = scalar_of(fill_value)
        .ok_or_else(|| PyTypeError::new_err("full(): fill_value must be a Number"))?;
    let d = dtype_or(
        dtype,
        if matches!(v, Scalar::Float(_)) {
            default_dtype()
        } else {
            v.dtype()
        },
    )?;
    finish(
        py,
        dev,
        guard(|| Tensor::full(&shape, v, d, dev))?,
        requires_grad,
    )
}

/// `arange(end)`, `arange(start, end, step=1)`.
#[pyfunction]
#[pyo3(signature = (start, end=None, step=None, *, dtype=None, device=None, requires_grad=false))]
fn arange(
    py: Python<'_>,
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = device_opt(device)?;
    let num = |o: &Bound<'_, PyAny>| {
        scalar_of(o).ok_or_else(|| PyTypeError::new_err("arange(): arguments must be numbers"))
    };
    let (s, e) = match end {
        Some(e) if !e.is_none() => (num(start)?, num(e)?),
        _ => (Scalar::Int(0), num(start)?),
    };
    let st = match step {
        Some(x) if !x.is_none() => num(x)?,
        _ => Scalar::Int(1),
    };
    let any_float = [s, e, st].iter().any(|v| matches!(v, Scalar::Float(_)));
    let d = dtype_or(
        dtype,
        if any_float {
            default_dtype()
        } else {
            DType::I64
        },
    )?;
    let (sf, ef, stf) = (s.to_f64(), e.to_f64(), st.to_f64());
    if stf == 0.0 {
        return Err(PyRuntimeError::new_err("step must be nonzero"));
    }
    if (stf > 0.0 && ef < sf) || (stf < 0.0 && ef > sf) {
        return Err(PyRuntimeError::new_err(
            "upper bound and larger bound inconsistent with step sign",
        ));
    }
    let n = ((ef - sf) / stf).ceil().max(0.0) as usize;
    let ramp = if any_float || d.is_float() {
        Ramp::Float {
            start: sf,
            step: stf,
        }
    } else {
        Ramp::Int {
            start: s.to_i64(),
            step: st.to_i64(),
        }
    };
    if let Some(t) = guard(|| Tensor::ramp_on_device(n, d, dev, ramp))? {
        return finish(py, dev, t, requires_grad);
    }
    let t = guard(|| {
        if any_float || d.is_float() {
            let v: Vec<f64> = (0..n).map(|i| sf + i as f64 * stf).collect();
            Tensor::from_vec(&v, &[n])?.cast_raw(d)
        } else {
            let (si, sti) = (s.to_i64(), st.to_i64());
            let v: Vec<i64> = (0..n as i64).map(|i| si + i * sti).collect();
            Tensor::from_vec(&v, &[n])?.cast_raw(d)
        }
    })?;
    finish(py, dev, t, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, *, dtype=None, device=None, requires_grad=false))]
fn linspace(
    py: Python<'_>,
    start: f64,
    end: f64,
    steps: i64,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = device_opt(device)?;
    if steps < 0 {
        return Err(PyRuntimeError::new_err(
            "number of steps must be non-negative",
        ));
    }
    let n = steps as usize;
    let d = dtype_or(dtype, default_dtype())?;
    if let Some(t) = guard(|| Tensor::ramp_on_device(n, d, dev, Ramp::Linspace { start, end }))? {
        return finish(py, dev, t, requires_grad);
    }
    // symmetric evaluation, as PyTorch does, so the end point is exact; float32 (and the half types)
    // compute in float32 with fused multiply-adds, as PyTorch's kernel does, to match it bit for bit
    let v: Vec<f64> = if d == DType::F64 || !d.is_float() {
        let step = if n > 1 {
            (end - start) / (n - 1) as f64
        } else {
            0.0
        };
        (0..n)
            .map(|i| match i {
                _ if n == 1 => start,
                _ if i < n / 2 => step.mul_add(i as f64, start),
                _ => (-step).mul_add((n - 1 - i) as f64, end),
            })
            .collect()
    } else {
        let (s, e) = (start as f32, end as f32);
        let step = if n > 1 { (e - s) / (n - 1) as f32 } else { 0.0 };
        (0..n)
            .map(|i| match i {
                _ if n == 1 => s as f64,
                _ if i < n / 2 => step.mul_add(i as f32, s) as f64,
                _ => (-step).mul_add((n - 1 - i) as f32, e) as f64,
            })
            .collect()
    };
    finish(
        py,
        dev,
        guard(|| Tensor::from_vec(&v, &[n])?.cast_raw(d))?,
        requires_grad,
    )
}

#[pyfunction]
#[pyo3(signature = (n, m=None, *, dtype=None, device=None, requires_grad=false))]
fn eye(
    py: Python<'_>,
    n: usize,
    m: Option<usize>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = device_opt(device)?;
    let m = m.unwrap_or(n);
    let d = dtype_or(dtype, default_dtype())?;
    let mut v = vec![0f64; n * m];
    for i in 0..n.min(m) {
        v[i * m + i] = 1.0;
    }
    finish(
        py,
        dev,
        guard(|| Tensor::from_vec(&v, &[n, m])?.cast_raw(d))?,
        requires_grad,
    )
}

/// Shared body of rand/randn: a fresh tensor filled by `fill`.
fn random_factory(
    py: Python<'_>,
    size: &Bound<'_, PyTuple>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    fill: impl FnOnce(&Tensor, Option<&Generator>) -> crate::Result<()>,
) -> PyResult<Py<PyAny>> {
    let dev = device_opt(device)?;
    let shape = shape_of(size)?;
    let d = dtype_or(dtype, default_dtype())?;
    if !d.is_float() {
        return Err(PyRuntimeError::new_err(format!(
            "\"check_uniform_bounds\" not implemented for '{}'",
            crate::ops::dtype_title(d)
        )));
    }
    let g = gen_of(generator)?;
    let t = guard(|| {
        let t = Tensor::empty(&shape, d, dev)?;
        fill(&t, g.as_ref())?;
        Ok(t)
    })?;
    finish(py, dev, t, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (*size, generator=None, dtype=None, device=None, requires_grad=false, out=None))]
fn rand(
    py: Python<'_>,
    size: &Bound<'_, PyTuple>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = out;
    random_factory(py, size, generator, dtype, device, requires_grad, |t, g| {
        t.uniform_(0.0, 1.0, g)
    })
}

#[pyfunction]
#[pyo3(signature = (*size, generator=None, dtype=None, device=None, requires_grad=false, out=None))]
fn randn(
    py: Python<'_>,
    size: &Bound<'_, PyTuple>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = out;
    random_factory(py, size, generator, dtype, device, requires_grad, |t, g| {
        t.normal_(0.0, 1.0, g)
    })
}

/// `randint(low=0, high, size)`.
#[pyfunction]
#[pyo3(signature = (*args, low=None, high=None, generator=None, dtype=None, device=None, requires_grad=false, size=None))]
#[allow(clippy::too_many_arguments)]
fn randint(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    low: Option<i64>,
    high: Option<i64>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    size: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let dev = device_opt(device)?;
    let mut ints: Vec<i64> = low.into_iter().collect();
    let mut shape_obj = size.cloned();
    for a in args.iter() {
        if let Ok(i) = super::convert::index_int(&a) {
            ints.push(i);
        } else {
            shape_obj = Some(a);
        }
    }
    ints.extend(high);
    let (low, high) = match ints.as_slice() {
        [h] => (0, *h),
        [l, h] => (*l, *h),
        _ => return Err(PyTypeError::new_err(
            "randint() received an invalid combination of arguments - expected (low=0, high, size)",
        )),
    };
    let shape: Vec<usize> = match shape_obj {
        Some(s) => super::convert::int_list(&s)?
            .iter()
            .map(|&d| d.max(0) as usize)
            .collect(),
        None => {
            return Err(PyTypeError::new_err(
                "randint() missing required argument 'size'",
            ))
        }
    };
    let d = dtype_or(dtype, DType::I64)?;
    let g = gen_of(generator)?;
    let t = guard(|| {
        let t = Tensor::empty(&shape, d, dev)?;
        t.random_int_(low, high, g.as_ref())?;
        Ok(t)
    })?;
    finish(py, dev, t, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (n, *, generator=None, dtype=None, device=None, requires_grad=false))]
fn randperm(
    py: Python<'_>,
    n: i64,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = device_opt(device)?;
    if n < 0 {
        return Err(PyRuntimeError::new_err(format!(
            "n must be non-negative, got{}",
            n
        )));
    }
    let n = n as usize;
    let g = gen_of(generator)?;
    let d = dtype_or(dtype, DType::I64)?;
    finish(
        py,
        dev,
        guard(|| Tensor::randperm(n, d, g.as_ref()))?,
        requires_grad,
    )
}

/// In-place samplers used by Tensor methods and nn.init.
#[pyfunction]
#[pyo3(signature = (t, kind, a=0.0, b=1.0, generator=None))]
fn _sample_(
    t: &Bound<'_, PyTensor>,
    kind: &str,
    a: f64,
    b: f64,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let g = gen_of(generator)?;
    let x = t.borrow().t.clone();
    if crate::autograd::is_grad_enabled() && x.is_leaf() && x.requires_grad() {
        return Err(PyRuntimeError::new_err(
            "a leaf Variable that requires grad is being used in an in-place operation.",
        ));
    }
    guard(|| match kind {
        "uniform" => x.uniform_(a, b, g.as_ref()),
        "normal" => x.normal_(a, b, g.as_ref()),
        "bernoulli" => x.bernoulli_scalar_(a, g.as_ref()),
        "random" => x.random_int_(a as i64, b as i64, g.as_ref()),
        "exponential" => x.exponential_(a, g.as_ref()),
        _ => crate::bail!(Value, "unknown sampler {}", kind),
    })
}

#[pyfunction]
#[pyo3(signature = (input, *, generator=None))]
fn bernoulli(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(input)?;
    let g = gen_of(generator)?;
    wrap(py, guard(|| t.bernoulli(g.as_ref()))?)
}

#[pyfunction]
#[pyo3(signature = (input, num_samples, replacement=false, *, generator=None))]
fn multinomial(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    num_samples: usize,
    replacement: bool,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(input)?;
    let g = gen_of(generator)?;
    wrap(
        py,
        guard(|| t.multinomial(num_samples, replacement, g.as_ref()))?,
    )
}

#[pyfunction]
fn manual_seed(seed: i64) {
    random::manual_seed(seed as u64);
}

#[pyfunction]
fn initial_seed() -> u64 {
    random::default_generator()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .initial_seed()
}

#[pyfunction]
fn _default_generator(py: Python<'_>) -> PyResult<Py<PyGenerator>> {
    Py::new(
        py,
        PyGenerator {
            g: random::default_generator().clone(),
        },
    )
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
fn cat(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    if tensors.cast::<PyTensor>().is_ok() {
        return Err(PyTypeError::new_err(
            "cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor",
        ));
    }
    let ts: Vec<Tensor> = tensors
        .try_iter()?
        .map(|t| tensor_arg(&t?))
        .collect::<PyResult<_>>()?;
    let r = guard(|| Tensor::cat(&ts, dim))?;
    write_out(py, r, out)
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
fn stack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    if tensors.cast::<PyTensor>().is_ok() {
        return Err(PyTypeError::new_err(
            "stack(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor",
        ));
    }
    let ts: Vec<Tensor> = tensors
        .try_iter()?
        .map(|t| tensor_arg(&t?))
        .collect::<PyResult<_>>()?;
    let r = guard(|| Tensor::stack(&ts, dim))?;
    write_out(py, r, out)
}

/// Writes `r` into `out` when given (resizing is not supported: shapes must match), else returns r.
fn write_out(py: Python<'_>, r: Tensor, out: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    match out {
        Some(o) if !o.is_none() => {
            let dst = o.cast::<PyTensor>()?;
            {
                let mut d = dst.borrow_mut();
                if !crate::ops::elementwise::can_cast(r.dtype, d.t.dtype) {
                    return Err(PyRuntimeError::new_err(format!(
                        "result type {} can't be cast to the desired output type {}",
                        crate::ops::dtype_title(r.dtype),
                        crate::ops::dtype_title(d.t.dtype)
                    )));
                }
                if d.t.shape() != r.shape() {
                    if d.t.numel() == 0 || d.t.is_contiguous() {
                        let fresh = guard(|| Tensor::empty(r.shape(), d.t.dtype, r.device()))?;
                        d.t.storage = fresh.storage;
                        d.t.layout = fresh.layout;
                    } else {
                        return Err(PyRuntimeError::new_err("out tensor has the wrong shape"));
                    }
                }
                let t = &mut d.t;
                guard(|| t.copy_(&r))?;
            }
            Ok(o.clone().unbind())
        }
        _ => wrap(py, r),
    }
}

#[pyfunction]
#[pyo3(signature = (result, out))]
fn _write_out(
    py: Python<'_>,
    result: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    write_out(py, tensor_arg(result)?, Some(out))
}

#[pyfunction]
fn _where(
    py: Python<'_>,
    cond: &Bound<'_, PyAny>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let c = tensor_arg(cond)?;
    let to_t = |o: &Bound<'_, PyAny>, like: Option<&Tensor>| -> PyResult<Tensor> {
        if let Ok(t) = tensor_arg(o) {
            return Ok(t);
        }
        let s = scalar_of(o)
            .ok_or_else(|| PyTypeError::new_err("where(): expected Tensor or Number"))?;
        let d = match like {
            Some(t) if t.dtype.is_float() || !matches!(s, Scalar::Float(_)) => t.dtype,
            _ => s.dtype(),
        };
        guard(|| Tensor::scalar_tensor(s, d))
    };
    let at = tensor_arg(a).ok();
    let bt = tensor_arg(b).ok();
    let x = to_t(a, bt.as_ref())?;
    let y = to_t(b, at.as_ref().or(Some(&x)))?;
    wrap(py, guard(|| Tensor::where_(&c, &x, &y))?)
}

#[pyfunction]
fn get_default_dtype(py: Python<'_>) -> PyResult<Py<PyAny>> {
    dtype_obj(py, default_dtype())
}

#[pyfunction]
fn set_default_dtype(d: &Bound<'_, PyAny>) -> PyResult<()> {
    let d = dtype_arg(d)?;
    if !d.is_float() {
        return Err(PyTypeError::new_err(
            "only floating-point types are supported as the default type",
        ));
    }
    crate::tensor::set_default_dtype(d);
    Ok(())
}

#[pyfunction]
fn set_num_threads(n: usize) -> PyResult<()> {
    if n == 0 {
        return Err(PyRuntimeError::new_err(
            "Number of threads must be positive",
        ));
    }
    crate::ops::threads::set_num_threads(n);
    Ok(())
}

#[pyfunction]
fn get_num_threads() -> usize {
    crate::ops::threads::get_num_threads()
}

#[pyfunction]
fn _empty_cache() {
    crate::tensor::empty_cache();
}

#[pyfunction]
fn promote_types(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    dtype_obj(
        py,
        crate::tensor::promote_types(dtype_arg(a)?, dtype_arg(b)?),
    )
}

#[pyfunction]
fn can_cast(from_: &Bound<'_, PyAny>, to: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(crate::ops::elementwise::can_cast(
        dtype_arg(from_)?,
        dtype_arg(to)?,
    ))
}

#[pyfunction]
fn result_type(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let rank = |o: &Bound<'_, PyAny>| -> PyResult<(DType, crate::tensor::Rank)> {
        if let Ok(t) = tensor_arg(o) {
            return Ok((
                t.dtype,
                if t.ndim() == 0 {
                    crate::tensor::Rank::ZeroDim
                } else {
                    crate::tensor::Rank::Dim
                },
            ));
        }
        let s = scalar_of(o)
            .ok_or_else(|| PyTypeError::new_err("result_type(): expected Tensor or Number"))?;
        Ok((s.dtype(), crate::tensor::Rank::Scalar))
    };
    dtype_obj(py, crate::tensor::result_type(&[rank(a)?, rank(b)?]))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGenerator>()?;
    for f in [
        wrap_pyfunction!(tensor, m)?,
        wrap_pyfunction!(as_tensor, m)?,
        wrap_pyfunction!(zeros, m)?,
        wrap_pyfunction!(ones, m)?,
        wrap_pyfunction!(empty, m)?,
        wrap_pyfunction!(full, m)?,
        wrap_pyfunction!(arange, m)?,
        wrap_pyfunction!(linspace, m)?,
        wrap_pyfunction!(eye, m)?,
        wrap_pyfunction!(rand, m)?,
        wrap_pyfunction!(randn, m)?,
        wrap_pyfunction!(randint, m)?,
        wrap_pyfunction!(randperm, m)?,
        wrap_pyfunction!(_sample_, m)?,
        wrap_pyfunction!(bernoulli, m)?,
        wrap_pyfunction!(multinomial, m)?,
        wrap_pyfunction!(manual_seed, m)?,
        wrap_pyfunction!(initial_seed, m)?,
        wrap_pyfunction!(_default_generator, m)?,
        wrap_pyfunction!(cat, m)?,
        wrap_pyfunction!(stack, m)?,
        wrap_pyfunction!(_write_out, m)?,
        wrap_pyfunction!(_where, m)?,
        wrap_pyfunction!(get_default_dtype, m)?,
        wrap_pyfunction!(set_default_dtype, m)?,
        wrap_pyfunction!(set_num_threads, m)?,
        wrap_pyfunction!(get_num_threads, m)?,
        wrap_pyfunction!(_empty_cache, m)?,
        wrap_pyfunction!(promote_types, m)?,
        wrap_pyfunction!(can_cast, m)?,
        wrap_pyfunction!(result_type, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}
