//! Binding of the fused optimizer update (`ferrotorch._C._optim_update`), called from `optim`.

use super::guard_nogil;
use super::tensor::{tensor_arg, wrap};
use crate::ops::foreach::{foreach_apply_, foreach_norms, foreach_scale_, ForeachOp};
use crate::ops::grad_scale::unscale_grads;
use crate::ops::optim::{fused_update, Moments, Update};
use crate::Tensor;
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Reads hyper-parameter `name` of a param group as a float (bools read as 0/1).
fn num(h: &Bound<'_, PyDict>, name: &str) -> PyResult<f64> {
    h.get_item(name)?
        .ok_or_else(|| {
            PyKeyError::new_err(format!("optimizer hyper-parameter '{}' is missing", name))
        })?
        .extract::<f64>()
}

fn flag(h: &Bound<'_, PyDict>, name: &str) -> PyResult<bool> {
    Ok(num(h, name)? != 0.0)
}

/// The Adam family's shared hyper-parameters (`beta1`/`beta2` are the group's `betas`).
fn moments(h: &Bound<'_, PyDict>, decoupled: bool) -> PyResult<Moments> {
    Ok(Moments {
        lr: num(h, "lr")?,
        beta1: num(h, "beta1")?,
        beta2: num(h, "beta2")?,
        eps: num(h, "eps")?,
        weight_decay: num(h, "weight_decay")?,
        decoupled,
        maximize: flag(h, "maximize")?,
    })
}

fn parse(kind: &str, h: &Bound<'_, PyDict>) -> PyResult<Update> {
    let (wd, maximize) = (num(h, "weight_decay")?, flag(h, "maximize")?);
    Ok(match kind {
        "sgd" => Update::Sgd {
            lr: num(h, "lr")?,
            momentum: num(h, "momentum")?,
            dampening: num(h, "dampening")?,
            nesterov: flag(h, "nesterov")?,
            weight_decay: wd,
            maximize,
        },
        "adam" | "adamw" => Update::Adam {
            h: moments(h, kind == "adamw")?,
            amsgrad: flag(h, "amsgrad")?,
        },
        "adagrad" => Update::Adagrad {
            eps: num(h, "eps")?,
            weight_decay: wd,
            maximize,
        },
        "rmsprop" => Update::RmsProp {
            lr: num(h, "lr")?,
            alpha: num(h, "alpha")?,
            eps: num(h, "eps")?,
            weight_decay: wd,
            momentum: num(h, "momentum")?,
            centered: flag(h, "centered")?,
            maximize,
        },
        "adadelta" => Update::Adadelta {
            lr: num(h, "lr")?,
            rho: num(h, "rho")?,
            eps: num(h, "eps")?,
            weight_decay: wd,
            maximize,
        },
        "adamax" => Update::Adamax {
            beta1: num(h, "beta1")?,
            beta2: num(h, "beta2")?,
            eps: num(h, "eps")?,
            weight_decay: wd,
            maximize,
        },
        "nadam" => Update::NAdam(moments(h, flag(h, "decoupled_weight_decay")?)?),
        "radam" => Update::RAdam(moments(h, flag(h, "decoupled_weight_decay")?)?),
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown optimizer update '{}'",
                kind
            )))
        }
    })
}

fn tensors(v: &[Bound<'_, PyAny>]) -> PyResult<Vec<Tensor>> {
    v.iter().map(tensor_arg).collect()
}

/// Whether a call over `ts` is worth releasing the GIL for.
fn is_big(ts: &[Tensor]) -> bool {
    ts.iter().map(|t| t.numel()).sum::<usize>() >= crate::ops::iter::PAR_THRESHOLD
}

/// Updates every parameter of one group in place (see `ops::optim`).
#[pyfunction]
fn _optim_update(
    py: Python<'_>,
    kind: &str,
    hyper: &Bound<'_, PyDict>,
    params: Vec<Bound<'_, PyAny>>,
    grads: Vec<Bound<'_, PyAny>>,
    states: Vec<Vec<Bound<'_, PyAny>>>,
    coefs: Vec<Vec<f64>>,
) -> PyResult<()> {
    let u = parse(kind, hyper)?;
    let (p, g) = (tensors(&params)?, tensors(&grads)?);
    let s: Vec<Vec<Tensor>> = states.iter().map(|v| tensors(v)).collect::<PyResult<_>>()?;
    guard_nogil(py, is_big(&p), || fused_update(&u, &p, &g, &s, &coefs))
}

/// GradScaler's unscale of every gradient in place, flagging an inf/NaN in `found_inf`.
#[pyfunction]
fn _amp_foreach_non_finite_check_and_unscale_(
    py: Python<'_>,
    grads: Vec<Bound<'_, PyAny>>,
    found_inf: &Bound<'_, PyAny>,
    inv_scale: f64,
) -> PyResult<()> {
    let (g, found) = (tensors(&grads)?, tensor_arg(found_inf)?);
    guard_nogil(py, is_big(&g), || unscale_grads(&g, &found, inv_scale))
}

/// The norm of each tensor as a 1-D tensor (`torch._foreach_norm` stacks nothing more).
#[pyfunction]
fn _foreach_norms(py: Python<'_>, list: Vec<Bound<'_, PyAny>>, ord: f64) -> PyResult<Py<PyAny>> {
    let ts = tensors(&list)?;
    let norms = guard_nogil(py, is_big(&ts), || foreach_norms(&ts, ord))?;
    wrap(py, norms)
}

/// Every tensor times a one-element tensor, in place (`torch._foreach_mul_`).
#[pyfunction]
fn _foreach_scale_(
    py: Python<'_>,
    list: Vec<Bound<'_, PyAny>>,
    factor: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let (ts, f) = (tensors(&list)?, tensor_arg(factor)?);
    guard_nogil(py, is_big(&ts), || foreach_scale_(&ts, &f))
}

/// `op` ("add", "mul", "lerp" or "copy") in place over `list`, pairwise with `others` or with
/// `scalar`, as tensor-list kernels; False where they do not apply (the caller loops instead).
#[pyfunction]
#[pyo3(signature = (op, list, others, alpha, scalar))]
fn _foreach_apply_(
    py: Python<'_>,
    op: &str,
    list: Vec<Bound<'_, PyAny>>,
    others: Option<Vec<Bound<'_, PyAny>>>,
    alpha: f64,
    scalar: f64,
) -> PyResult<bool> {
    let op = match op {
        "add" => ForeachOp::Add,
        "mul" => ForeachOp::Mul,
        "lerp" => ForeachOp::Lerp,
        "copy" => ForeachOp::Copy,
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown foreach op '{}'",
                op
            )))
        }
    };
    let ts = tensors(&list)?;
    let os = others.as_deref().map(tensors).transpose()?;
    guard_nogil(py, is_big(&ts), || {
        foreach_apply_(op, &ts, os.as_deref(), alpha, scalar)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_foreach_apply_, m)?)?;
    m.add_function(wrap_pyfunction!(_foreach_norms, m)?)?;
    m.add_function(wrap_pyfunction!(_foreach_scale_, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_update, m)?)?;
    m.add_function(wrap_pyfunction!(
        _amp_foreach_non_finite_check_and_unscale_,
        m
    )?)?;
    Ok(())
}
