//! Autograd from Python: backward/grad, grad mode, graph nodes, hooks and custom Functions.

use super::tensor::{tensor_arg, wrap, PyTensor};
use super::{guard, to_py};
use crate::autograd::{self, engine, Hook, Node};
use crate::tensor::{Error, Result, Tensor};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::sync::Arc;

/// A `grad_fn`: one node of the recorded graph.
#[pyclass(name = "Node", module = "ferrotorch.autograd.graph", frozen)]
pub struct PyNode {
    pub node: Arc<Node>,
}

#[pymethods]
impl PyNode {
    fn name(&self) -> String {
        self.node.name.to_string()
    }
    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!(
            "<{} object at {:#x}>",
            slf.get().node.name,
            slf.as_ptr() as usize
        )
    }
    #[getter]
    fn next_functions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let items: Vec<Py<PyAny>> = self
            .node
            .next_edges
            .iter()
            .map(|e| -> PyResult<Py<PyAny>> {
                match e {
                    Some(e) => {
                        let n = Py::new(
                            py,
                            PyNode {
                                node: e.node.clone(),
                            },
                        )?
                        .into_any();
                        Ok(PyTuple::new(
                            py,
                            [n, e.input_nr.into_pyobject(py)?.into_any().unbind()],
                        )?
                        .into_any()
                        .unbind())
                    }
                    None => Ok(PyTuple::new(
                        py,
                        [py.None(), 0usize.into_pyobject(py)?.into_any().unbind()],
                    )?
                    .into_any()
                    .unbind()),
                }
            })
            .collect::<PyResult<_>>()?;
        Ok(PyTuple::new(py, items)?.into_any().unbind())
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyNode>()
            .map(|o| Arc::ptr_eq(&o.get().node, &self.node))
            .unwrap_or(false)
    }
    fn __hash__(&self) -> isize {
        Arc::as_ptr(&self.node) as isize
    }
}

/// Wraps a Python callable `hook(grad) -> Optional[Tensor]` as a core hook.
pub fn py_hook(f: Py<PyAny>) -> Hook {
    Arc::new(move |g: &Tensor| -> Result<Option<Tensor>> {
        Python::attach(|py| {
            let arg = wrap(py, g.clone()).map_err(|e| Error::Runtime(e.to_string()))?;
            let r = f.bind(py).call1((arg,)).map_err(|e| py_error(py, e))?;
            if r.is_none() {
                Ok(None)
            } else {
                Ok(Some(
                    tensor_arg(&r).map_err(|e| Error::Runtime(e.to_string()))?,
                ))
            }
        })
    })
}

thread_local! {
    /// The Python exception a hook or custom backward raised, re-raised as itself (type,
    /// traceback) once the backward pass has unwound back to Python.
    static PENDING: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}

/// Keeps a Python exception when it passes through the core as an Error.
fn py_error(py: Python<'_>, e: PyErr) -> Error {
    let t = e.get_type(py);
    let msg = e.value(py).to_string();
    let name = t.name().map(|n| n.to_string()).unwrap_or_default();
    PENDING.with(|p| *p.borrow_mut() = Some(e));
    match name.as_str() {
        "IndexError" => Error::Index(msg),
        "TypeError" => Error::Type(msg),
        "ValueError" => Error::Value(msg),
        "NotImplementedError" => Error::NotImplemented(msg),
        _ => Error::Runtime(msg),
    }
}

/// The error of a backward pass as Python sees it: the original exception of a Python callback.
fn backward_error(e: PyErr) -> PyErr {
    PENDING.with(|p| p.borrow_mut().take()).unwrap_or(e)
}

fn tensors(list: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    list.try_iter()?.map(|t| tensor_arg(&t?)).collect()
}

fn opt_tensors(list: &Bound<'_, PyAny>) -> PyResult<Vec<Option<Tensor>>> {
    list.try_iter()?
        .map(|t| {
            let t = t?;
            if t.is_none() {
                Ok(None)
            } else {
                tensor_arg(&t).map(Some)
            }
        })
        .collect()
}

/// Gradients for the roots: given, or ones for scalar outputs.
fn root_grads(roots: &[Tensor], grads: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
    roots
        .iter()
        .zip(grads.into_iter().chain(std::iter::repeat(None)))
        .map(|(r, g)| match g {
            Some(g) => {
                if g.shape() != r.shape() {
                    crate::bail!(
                        Runtime,
                        "Mismatch in shape: grad_output[0] has a shape of {} and output[0] has a shape of {}.",
                        crate::tensor::fmt_shape(g.shape()),
                        crate::tensor::fmt_shape(r.shape())
                    );
                }
                Ok(g)
            }
            None => {
                if r.numel() != 1 {
                    crate::bail!(Runtime, "grad can be implicitly created only for scalar outputs");
                }
                if !r.dtype.is_float() {
                    crate::bail!(Runtime, "grad can be implicitly created only for real scalar outputs but got {}", r.dtype.name());
                }
                Tensor::full(r.shape(), crate::Scalar::Float(1.0), r.dtype, r.device())
            }
        })
        .collect()
}

#[pyfunction]
#[pyo3(signature = (tensors, grad_tensors, retain_graph, create_graph, inputs=None))]
fn _backward(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    grad_tensors: &Bound<'_, PyAny>,
    retain_graph: bool,
    create_graph: bool,
    inputs: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let roots = self::tensors(tensors)?;
    let grads = opt_tensors(grad_tensors)?;
    let inputs = match inputs {
        Some(i) if !i.is_none() => Some(self::tensors(i)?),
        _ => None,
    };
    PENDING.with(|p| p.borrow_mut().take());
    py.detach(|| {
        guard(|| {
            for r in &roots {
                if !r.requires_grad() {
                    crate::bail!(
                        Runtime,
                        "element 0 of tensors does not require grad and does not have a grad_fn"
                    );
                }
            }
            let g = root_grads(&roots, grads)?;
            engine::run(engine::Request {
                roots: &roots,
                grads: g,
                retain_graph,
                create_graph,
                inputs: inputs.as_deref(),
                accumulate: true,
            })
        })
    })
    .map_err(backward_error)?;
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused))]
fn _grad(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    inputs: &Bound<'_, PyAny>,
    grad_outputs: &Bound<'_, PyAny>,
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> PyResult<Py<PyAny>> {
    let roots = tensors(outputs)?;
    let ins = tensors(inputs)?;
    let grads = opt_tensors(grad_outputs)?;
    PENDING.with(|p| p.borrow_mut().take());
    let res = py.detach(|| {
        guard(|| {
            for r in &roots {
                if !r.requires_grad() {
                    crate::bail!(Runtime, "element 0 of tensors does not require grad and does not have a grad_fn");
                }
            }
            let g = root_grads(&roots, grads)?;
            let r = engine::run(engine::Request {
                roots: &roots,
                grads: g,
                retain_graph,
                create_graph,
                inputs: Some(&ins),
                accumulate: false,
            })?;
            if !allow_unused && r.iter().any(|x| x.is_none()) {
                crate::bail!(
                    Runtime,
                    "One of the differentiated Tensors appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."
                );
            }
            Ok(r)
        })
    })
    .map_err(backward_error)?;
    let items: Vec<Py<PyAny>> = res
        .into_iter()
        .map(|g| match g {
            Some(g) => wrap(py, g),
            None => Ok(py.None()),
        })
        .collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

#[pyfunction]
fn is_grad_enabled() -> bool {
    autograd::is_grad_enabled()
}

/// Anomaly mode's NaN check on every backward node's gradients.
#[pyfunction]
fn _set_anomaly_check_nan(on: bool) {
    engine::set_check_nan(on);
}

#[pyfunction]
fn _set_grad_enabled(enabled: bool) -> bool {
    autograd::set_grad_enabled(enabled)
}

/// Sets the autocast dtype of "cpu" or "cuda" (None: off) for this thread; returns nothing (the
/// Python context manager keeps the previous state).
#[pyfunction]
#[pyo3(signature = (device_type, dtype=None))]
fn _autocast_set(device_type: &str, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let dt = dtype.map(super::convert::dtype_arg).transpose()?;
    crate::ops::autocast::set(device_type == "cuda", dt);
    Ok(())
}

#[pyfunction]
fn is_inference_mode_enabled() -> bool {
    autograd::is_inference_mode_enabled()
}

#[pyfunction]
fn _set_inference_mode(enabled: bool) -> bool {
    autograd::set_inference_mode(enabled)
}

/// Records a Python `autograd.Function` call: `outputs` come back attached to one node whose
/// backward calls `backward(*grads) -> tuple of input grads`.
#[pyfunction]
fn _record_function(
    py: Python<'_>,
    name: String,
    inputs: &Bound<'_, PyAny>,
    outputs: &Bound<'_, PyList>,
    differentiable: Vec<bool>,
    backward: Py<PyAny>,
) -> PyResult<Py<PyAny>> {
    let ins = tensors(inputs)?;
    let outs = tensors(outputs.as_any())?;
    let n_in = ins.len();
    let out_meta: Vec<(Vec<usize>, crate::DType, crate::tensor::Device)> = outs
        .iter()
        .map(|t| (t.shape().to_vec(), t.dtype, t.device()))
        .collect();
    let f: autograd::BackwardFn = Box::new(
        move |grads: &[Option<Tensor>]| -> Result<Vec<Option<Tensor>>> {
            Python::attach(|py| {
                // undefined output gradients are materialised as zeros, as PyTorch does by default
                let args: Vec<Py<PyAny>> = grads
                    .iter()
                    .zip(&out_meta)
                    .map(|(g, (shape, dt, dev))| -> PyResult<Py<PyAny>> {
                        match g {
                            Some(g) => wrap(py, g.clone()),
                            None => wrap(py, Tensor::zeros(shape, *dt, *dev).map_err(to_py)?),
                        }
                    })
                    .collect::<PyResult<_>>()
                    .map_err(|e| py_error(py, e))?;
                let r = backward
                    .bind(py)
                    .call1(PyTuple::new(py, args).map_err(|e| py_error(py, e))?)
                    .map_err(|e| py_error(py, e))?;
                let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = r.cast::<PyTuple>() {
                    t.iter().collect()
                } else {
                    vec![r.clone()]
                };
                if items.len() < n_in {
                    crate::bail!(
                    Runtime,
                    "function backward returned an incorrect number of gradients (expected {}, got {})",
                    n_in,
                    items.len()
                );
                }
                items
                    .iter()
                    .take(n_in)
                    .map(|g| {
                        if g.is_none() {
                            Ok(None)
                        } else {
                            tensor_arg(g).map(Some).map_err(|e| py_error(py, e))
                        }
                    })
                    .collect()
            })
        },
    );
    let refs: Vec<&Tensor> = ins.iter().collect();
    let mut recorded = autograd::record_boxed(name.into(), &refs, outs.clone(), f);
    for (r, (d, o)) in recorded.iter_mut().zip(differentiable.iter().zip(&outs)) {
        if !d {
            r.autograd = o.autograd.clone();
        }
    }
    super::tensor::wrap_vec(py, recorded)
}

/// `ctx.saved_tensors` for a tensor the Function returned: the output again, attached to the running
/// node when a graph of the backward pass is being built (double backward through saved outputs).
#[pyfunction]
fn _saved_output(py: Python<'_>, t: &Bound<'_, PyAny>, output_nr: usize) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(t)?;
    wrap(py, autograd::attach_to_running(&t, output_nr))
}

/// Gives `dst` the autograd history of `src` (in-place custom functions, `mark_dirty`).
#[pyfunction]
fn _take_history(dst: &Bound<'_, PyTensor>, src: &Bound<'_, PyAny>) -> PyResult<()> {
    let s = tensor_arg(src)?;
    let mut d = dst.borrow_mut();
    if d.t.is_leaf() && d.t.requires_grad() {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "a leaf Variable that requires grad has been used in an in-place operation.",
        ));
    }
    // the same bookkeeping as a built-in in-place op: a view rebases its base
    autograd::take_history(&mut d.t, &s);
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNode>()?;
    m.add_function(wrap_pyfunction!(_backward, m)?)?;
    m.add_function(wrap_pyfunction!(_grad, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_autocast_set, m)?)?;
    m.add_function(wrap_pyfunction!(_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_anomaly_check_nan, m)?)?;
    m.add_function(wrap_pyfunction!(is_inference_mode_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_inference_mode, m)?)?;
    m.add_function(wrap_pyfunction!(_record_function, m)?)?;
    m.add_function(wrap_pyfunction!(_take_history, m)?)?;
    m.add_function(wrap_pyfunction!(_saved_output, m)?)?;
    Ok(())
}
