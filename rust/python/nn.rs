//! Bindings of the fused nn kernels (`ferrotorch._C._nn_*`), called from `nn.functional`.

use super::guard;
use super::tensor::{tensor_arg, wrap, wrap_vec};
use crate::ops::conv::Conv2d;
use pyo3::prelude::*;

fn opt_tensor(o: Option<&Bound<'_, PyAny>>) -> PyResult<Option<crate::Tensor>> {
    match o {
        Some(x) if !x.is_none() => Ok(Some(tensor_arg(x)?)),
        _ => Ok(None),
    }
}

#[pyfunction]
#[pyo3(signature = (x, weight, bias=None))]
fn _nn_linear(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let (t, w, b) = (tensor_arg(x)?, tensor_arg(weight)?, opt_tensor(bias)?);
    wrap(
        py,
        py.detach(|| guard(|| crate::Tensor::linear(&t, &w, b.as_ref())))?,
    )
}

#[pyfunction]
fn _nn_softmax(py: Python<'_>, x: &Bound<'_, PyAny>, dim: i64, log: bool) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(x)?;
    wrap(py, py.detach(|| guard(|| t.softmax(dim, log)))?)
}

#[pyfunction]
#[pyo3(signature = (x, n_norm, weight=None, bias=None, eps=1e-5))]
fn _nn_layer_norm(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n_norm: usize,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    eps: f64,
) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(x)?;
    let (w, b) = (opt_tensor(weight)?, opt_tensor(bias)?);
    wrap(
        py,
        py.detach(|| guard(|| t.layer_norm(n_norm, w.as_ref(), b.as_ref(), eps)))?,
    )
}

#[pyfunction]
#[pyo3(signature = (x, weight, bias, stride, padding, dilation, groups))]
#[allow(clippy::too_many_arguments)]
fn _nn_conv2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
    stride: (usize, usize),
    padding: (usize, usize),
    dilation: (usize, usize),
    groups: usize,
) -> PyResult<Py<PyAny>> {
    let (t, w, b) = (tensor_arg(x)?, tensor_arg(weight)?, opt_tensor(bias)?);
    let p = Conv2d {
        stride,
        padding,
        dilation,
        groups,
    };
    wrap(py, py.detach(|| guard(|| t.conv2d(&w, b.as_ref(), p)))?)
}

#[pyfunction]
#[pyo3(signature = (x, kernel, stride, padding, dilation, ceil_mode, return_indices=true))]
#[allow(clippy::too_many_arguments)]
fn _nn_max_pool2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    dilation: (usize, usize),
    ceil_mode: bool,
    return_indices: bool,
) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(x)?;
    let (v, i) = py.detach(|| {
        guard(|| t.max_pool2d(kernel, stride, padding, dilation, ceil_mode, return_indices))
    })?;
    wrap_vec(py, vec![v, i])
}

#[pyfunction]
#[pyo3(signature = (x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override=None))]
#[allow(clippy::too_many_arguments)]
fn _nn_avg_pool2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(x)?;
    wrap(
        py,
        py.detach(|| {
            guard(|| {
                t.avg_pool2d(
                    kernel,
                    stride,
                    padding,
                    ceil_mode,
                    count_include_pad,
                    divisor_override,
                )
            })
        })?,
    )
}

#[pyfunction]
fn _nn_lstm_cell(
    py: Python<'_>,
    xg: &Bound<'_, PyAny>,
    hg: &Bound<'_, PyAny>,
    c: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let (xg, hg, c) = (tensor_arg(xg)?, tensor_arg(hg)?, tensor_arg(c)?);
    let (h, c) = py.detach(|| guard(|| crate::Tensor::lstm_cell(&xg, &hg, &c)))?;
    wrap_vec(py, vec![h, c])
}

#[pyfunction]
#[pyo3(signature = (xg, h0, c0, w_hh, b_hh=None, reverse=false))]
fn _nn_lstm_layer(
    py: Python<'_>,
    xg: &Bound<'_, PyAny>,
    h0: &Bound<'_, PyAny>,
    c0: &Bound<'_, PyAny>,
    w_hh: &Bound<'_, PyAny>,
    b_hh: Option<&Bound<'_, PyAny>>,
    reverse: bool,
) -> PyResult<Py<PyAny>> {
    let (xg, h0, c0, w) = (
        tensor_arg(xg)?,
        tensor_arg(h0)?,
        tensor_arg(c0)?,
        tensor_arg(w_hh)?,
    );
    let b = opt_tensor(b_hh)?;
    let (out, h, c) =
        py.detach(|| guard(|| crate::Tensor::lstm_layer(&xg, &h0, &c0, &w, b.as_ref(), reverse)))?;
    wrap_vec(py, vec![out, h, c])
}

#[pyfunction]
#[pyo3(signature = (xg, h0, w_hh, b_hh=None, reverse=false))]
fn _nn_gru_layer(
    py: Python<'_>,
    xg: &Bound<'_, PyAny>,
    h0: &Bound<'_, PyAny>,
    w_hh: &Bound<'_, PyAny>,
    b_hh: Option<&Bound<'_, PyAny>>,
    reverse: bool,
) -> PyResult<Py<PyAny>> {
    let (xg, h0, w) = (tensor_arg(xg)?, tensor_arg(h0)?, tensor_arg(w_hh)?);
    let b = opt_tensor(b_hh)?;
    let (out, h) =
        py.detach(|| guard(|| crate::Tensor::gru_layer(&xg, &h0, &w, b.as_ref(), reverse)))?;
    wrap_vec(py, vec![out, h])
}

#[pyfunction]
fn _nn_gru_cell(
    py: Python<'_>,
    xg: &Bound<'_, PyAny>,
    hg: &Bound<'_, PyAny>,
    hx: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let (xg, hg, hx) = (tensor_arg(xg)?, tensor_arg(hg)?, tensor_arg(hx)?);
    wrap(
        py,
        py.detach(|| guard(|| crate::Tensor::gru_cell(&xg, &hg, &hx)))?,
    )
}

#[pyfunction]
fn _nn_split(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    sizes: Vec<usize>,
    dim: i64,
) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(x)?;
    wrap_vec(py, py.detach(|| guard(|| t.split_one_node(&sizes, dim)))?)
}

#[pyfunction]
#[pyo3(signature = (weight, indices, padding_idx=None, scale_grad_by_freq=false))]
fn _nn_embedding(
    py: Python<'_>,
    weight: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    padding_idx: Option<i64>,
    scale_grad_by_freq: bool,
) -> PyResult<Py<PyAny>> {
    let (w, i) = (tensor_arg(weight)?, tensor_arg(indices)?);
    wrap(
        py,
        py.detach(|| guard(|| crate::Tensor::embedding(&w, &i, padding_idx, scale_grad_by_freq)))?,
    )
}

fn loss_reduction(reduction: &str) -> PyResult<crate::ops::nn::LossReduction> {
    use crate::ops::nn::LossReduction;
    match reduction {
        "none" => Ok(LossReduction::None),
        "mean" => Ok(LossReduction::Mean),
        "sum" => Ok(LossReduction::Sum),
        _ => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{reduction} is not a valid value for reduction"
        ))),
    }
}

/// nll_loss as kernels on a GPU; None where they do not take it (the caller computes it).
#[pyfunction]
#[pyo3(signature = (x, target, weight=None, ignore_index=-100, reduction="mean"))]
fn _nn_nll_loss_device(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    ignore_index: i64,
    reduction: &str,
) -> PyResult<Option<Py<PyAny>>> {
    let red = loss_reduction(reduction)?;
    let (t, y, w) = (tensor_arg(x)?, tensor_arg(target)?, opt_tensor(weight)?);
    let out = guard(|| crate::Tensor::nll_loss_device(&t, &y, w.as_ref(), ignore_index, red))?;
    out.map(|o| wrap(py, o)).transpose()
}

#[pyfunction]
#[pyo3(signature = (x, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"))]
fn _nn_cross_entropy(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: &str,
) -> PyResult<Py<PyAny>> {
    let red = loss_reduction(reduction)?;
    let (t, y, w) = (tensor_arg(x)?, tensor_arg(target)?, opt_tensor(weight)?);
    wrap(
        py,
        py.detach(|| {
            guard(|| {
                crate::Tensor::cross_entropy_index(
                    &t,
                    &y,
                    w.as_ref(),
                    ignore_index,
                    label_smoothing,
                    red,
                )
            })
        })?,
    )
}

#[pyfunction]
#[pyo3(signature = (x, weight=None, bias=None, running_mean=None, running_var=None, momentum=0.1, eps=1e-5))]
#[allow(clippy::too_many_arguments)]
fn _nn_batch_norm_train(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    running_mean: Option<&Bound<'_, PyAny>>,
    running_var: Option<&Bound<'_, PyAny>>,
    momentum: f64,
    eps: f64,
) -> PyResult<Py<PyAny>> {
    let t = tensor_arg(x)?;
    let (w, b) = (opt_tensor(weight)?, opt_tensor(bias)?);
    let (rm, rv) = (opt_tensor(running_mean)?, opt_tensor(running_var)?);
    wrap(
        py,
        py.detach(|| {
            guard(|| {
                crate::Tensor::batch_norm_train(
                    &t,
                    w.as_ref(),
                    b.as_ref(),
                    rm.as_ref(),
                    rv.as_ref(),
                    momentum,
                    eps,
                )
            })
        })?,
    )
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_nn_linear, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_softmax, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_lstm_cell, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_lstm_layer, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_gru_cell, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_gru_layer, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_split, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_embedding, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_nll_loss_device, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_batch_norm_train, m)?)?;
    Ok(())
}
