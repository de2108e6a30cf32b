//! Autocast (`torch.autocast`): per thread, the lower-precision dtype matrix products run in on
//! each device type (None: off). Python's context manager sets it; matmul, mm, bmm and linear
//! cast their floating-point operands to it first (a differentiable cast, so gradients reach
//! the f32 parameters in f32). The ops PyTorch runs in f32 under autocast are cast in Python.

use crate::tensor::{DType, Result, Tensor};
use std::cell::Cell;

thread_local! {
    static CPU: Cell<Option<DType>> = const { Cell::new(None) };
    static CUDA: Cell<Option<DType>> = const { Cell::new(None) };
}

fn slot(cuda: bool) -> &'static std::thread::LocalKey<Cell<Option<DType>>> {
    if cuda {
        &CUDA
    } else {
        &CPU
    }
}

/// Sets the autocast dtype of a device type (None turns it off), returning the previous one.
pub fn set(cuda: bool, dtype: Option<DType>) -> Option<DType> {
    slot(cuda).with(|s| s.replace(dtype))
}

pub fn get(cuda: bool) -> Option<DType> {
    slot(cuda).with(|s| s.get())
}

/// The operands cast to their device's autocast dtype, when autocast is on there, every operand
/// is floating point and one is not in that dtype yet; None leaves them as they are.
pub fn lower(ts: &[&Tensor]) -> Result<Option<Vec<Tensor>>> {
    let Some(first) = ts.first() else {
        return Ok(None);
    };
    let Some(dt) = get(first.device().is_cuda()) else {
        return Ok(None);
    };
    if !ts.iter().all(|t| t.dtype.is_float()) || ts.iter().all(|t| t.dtype == dt) {
        return Ok(None);
    }
    ts.iter()
        .map(|t| t.cast(dt))
        .collect::<Result<_>>()
        .map(Some)
}
