//! The `torch._foreach_*` ops that matter on a GPU: `_foreach_norm` and `_foreach_mul_` by a
//! one-element tensor (what clip_grad_norm_ runs over every gradient), and the in-place add_ /
//! mul_ / lerp_ / copy_ / zero_ of EMA updates and `zero_grad`. On a GPU each is one or two
//! launches per list of up to 32 tensors (the tensor-list kernels of `cuda::optim`) instead of
//! several launches per tensor; elsewhere they compose the per-tensor ops.

use super::elementwise::{BinaryOp, Operand};
use crate::tensor::{Device, Result, Tensor};

/// The `ord` norm of each of `ts` (floating, one dtype, one device) as a 1-D tensor.
pub fn foreach_norms(ts: &[Tensor], ord: f64) -> Result<Tensor> {
    let Some(first) = ts.first() else {
        crate::bail!(
            Runtime,
            "_foreach_norm: tensor list must have at least one tensor."
        );
    };
    Device::same(&ts.iter().collect::<Vec<_>>())?;
    if let Some(t) = ts.iter().find(|t| t.dtype != first.dtype) {
        crate::bail!(
            Runtime,
            "_foreach_norm: all tensors must share a dtype, got {} and {}",
            first.dtype.name(),
            t.dtype.name()
        );
    }
    if !first.dtype.is_float() {
        crate::bail!(
            Runtime,
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
            super::dtype_title(first.dtype)
        );
    }
    #[cfg(feature = "cuda")]
    if first.device().is_cuda() {
        if let Some(norms) = crate::cuda::optim::tensor_norms(ts, ord)? {
            return Ok(norms);
        }
    }
    let norms = ts
        .iter()
        .map(|t| t.norm(ord, None, false))
        .collect::<Result<Vec<_>>>()?;
    Tensor::stack(&norms, 0)
}

/// `t *= factor` for each of `ts`, in place; `factor` holds one element.
pub fn foreach_scale_(ts: &[Tensor], factor: &Tensor) -> Result<()> {
    if factor.numel() != 1 {
        crate::bail!(
            Runtime,
            "_foreach_mul_: the scalar tensor must hold one element, got shape {:?}",
            factor.shape()
        );
    }
    let took = kernel_took!(factor, crate::cuda::optim::scale_by(ts, factor));
    if took {
        ts.iter().for_each(|t| t.bump_version());
        return Ok(());
    }
    for t in ts {
        t.clone().binary_(Operand::T(factor), BinaryOp::Mul)?;
    }
    Ok(())
}

/// The in-place elementwise ops of the tensor-list kernel (`foreach_apply` in optim.cu).
#[derive(Clone, Copy, Debug)]
#[repr(i32)]
pub enum ForeachOp {
    /// `x += alpha * other` (or `+ scalar`).
    Add = 0,
    /// `x *= other` (or `* scalar`).
    Mul = 1,
    /// `x = lerp(x, other, scalar)`.
    Lerp = 2,
    /// `x = other` (or `= scalar`).
    Copy = 3,
}

/// `op` in place over `ts` with `others` (pairwise) or `scalar`, as tensor-list kernels. False
/// where they do not apply (host tensors, mixed dtypes or devices, strided, integer, shapes that
/// differ): the caller then runs the per-tensor ops, which also broadcast and check.
pub fn foreach_apply_(
    op: ForeachOp,
    ts: &[Tensor],
    others: Option<&[Tensor]>,
    alpha: f64,
    scalar: f64,
) -> Result<bool> {
    let Some(first) = ts.first() else {
        return Ok(true);
    };
    #[cfg(not(feature = "cuda"))]
    let _ = (op, others, alpha, scalar, first);
    let took = kernel_took!(
        first,
        crate::cuda::optim::foreach_apply(op, ts, others, alpha, scalar)
    );
    if took {
        ts.iter().for_each(|t| t.bump_version());
    }
    Ok(took)
}
