//! Matrix products on a GPU through cuBLAS (dlopened by cudarc): f32 (TF32 tensor cores when
//! `torch.backends.cuda.matmul.allow_tf32` is set), f64, f16 and bf16 (f32 accumulation), batched
//! and strided. The emulated device has no cuBLAS; its products run on the host.
//!
//! Row-major `C[n×m] = A[n×k] · B[k×m]` is column-major `Cᵀ = Bᵀ · Aᵀ`, so B goes first: a
//! row-major matrix with unit column stride is a column-major transpose with ld = its row stride,
//! and one with unit row stride is column-major as it is (ld = its column stride).

use super::device::Gpu;
use crate::tensor::{DType, Error, Result, Tensor};
use cudarc::cublas::{result as blas, sys};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

static ALLOW_TF32: AtomicBool = AtomicBool::new(false);

/// `torch.backends.cuda.matmul.allow_tf32` (False by default, as in PyTorch).
pub fn set_allow_tf32(on: bool) {
    ALLOW_TF32.store(on, Ordering::Relaxed);
}

pub fn allow_tf32() -> bool {
    ALLOW_TF32.load(Ordering::Relaxed)
}

/// A cuBLAS handle bound to the device's stream, created on first use; None where the library
/// cannot be loaded (cudarc panics on a missing library, caught here).
pub fn handle(stream: *mut c_void) -> Option<usize> {
    std::panic::catch_unwind(|| {
        let h = blas::create_handle().ok()?;
        // SAFETY: h is a fresh handle; the stream belongs to the current context.
        unsafe { blas::set_stream(h, stream as sys::cudaStream_t) }.ok()?;
        Some(h as usize)
    })
    .ok()
    .flatten()
}

/// How one operand is read: (transpose?, leading dimension, batch stride), B-first convention.
/// None when neither of its two matrix dims has unit stride.
fn operand(t: &Tensor, rows: usize, cols: usize) -> Option<(sys::cublasOperation_t, i64, i64)> {
    let (sb, sr, sc) = (t.strides()[0], t.strides()[1], t.strides()[2]);
    let batch = if t.shape()[0] == 1 { 0 } else { sb as i64 };
    if sc == 1 && sr >= cols.max(1) {
        Some((sys::cublasOperation_t::CUBLAS_OP_N, sr as i64, batch))
    } else if sr == 1 && sc >= rows.max(1) {
        Some((sys::cublasOperation_t::CUBLAS_OP_T, sc as i64, batch))
    } else {
        None
    }
}

/// `out[b] = a[b] @ b[b]` for 3-D operands of one floating dtype on the device of contiguous
/// `out` ([nb, n, m]); a is [nb|1, n, k], b is [nb|1, k, m], any strides. False when cuBLAS is
/// not there or the case is not one it takes.
pub fn bmm(gpu: &Gpu, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<bool> {
    use sys::cublasComputeType_t as C;
    use sys::cudaDataType as D;
    let Some(handle) = gpu.blas_handle() else {
        return Ok(false);
    };
    let h = *handle;
    let (nb, n, k, m) = (out.shape()[0], a.shape()[1], a.shape()[2], b.shape()[2]);
    let fits = |v: usize| i32::try_from(v).is_ok();
    if !out.is_contiguous() || ![nb, n, k, m].into_iter().all(fits) {
        return Ok(false);
    }
    let (dtype, compute) = match a.dtype {
        DType::F32 if allow_tf32() => (D::CUDA_R_32F, C::CUBLAS_COMPUTE_32F_FAST_TF32),
        DType::F32 => (D::CUDA_R_32F, C::CUBLAS_COMPUTE_32F),
        DType::F64 => (D::CUDA_R_64F, C::CUBLAS_COMPUTE_64F),
        DType::F16 => (D::CUDA_R_16F, C::CUBLAS_COMPUTE_32F),
        DType::BF16 => (D::CUDA_R_16BF, C::CUBLAS_COMPUTE_32F),
        _ => return Ok(false),
    };
    // Operands cuBLAS cannot read as they are are copied contiguous (a kernel on the device).
    let (a, b) = (a.clone(), b.clone());
    let a = if operand(&a, n, k).is_some() {
        a
    } else {
        a.contiguous()?
    };
    let b = if operand(&b, k, m).is_some() {
        b
    } else {
        b.contiguous()?
    };
    let (Some((op_a, lda, sa)), Some((op_b, ldb, sb))) = (operand(&a, n, k), operand(&b, k, m))
    else {
        return Ok(false);
    };
    let (one32, zero32, one64, zero64) = (1f32, 0f32, 1f64, 0f64);
    let (alpha, beta): (*const c_void, *const c_void) = if a.dtype == DType::F64 {
        (&one64 as *const f64 as _, &zero64 as *const f64 as _)
    } else {
        (&one32 as *const f32 as _, &zero32 as *const f32 as _)
    };
    gpu.make_current()?;
    gpu.mark_pending();
    // SAFETY: pointers are into live device storages of this GPU with the extents checked above
    // (each operand's leading dimension covers its rows, batch strides come from the layouts);
    // alpha/beta point to host values of the compute type; the handle is bound to this
    // device's stream.
    unsafe {
        blas::gemm_strided_batched_ex(
            h as sys::cublasHandle_t,
            op_b,
            op_a,
            m as i32,
            n as i32,
            k as i32,
            alpha,
            b.device_data_ptr() as *const c_void,
            dtype,
            ldb as i32,
            sb,
            a.device_data_ptr() as *const c_void,
            dtype,
            lda as i32,
            sa,
            beta,
            out.device_data_ptr() as *mut c_void,
            dtype,
            m as i32,
            (n * m) as i64,
            nb as i32,
            compute,
            sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
        )
    }
    .map_err(|e| Error::Runtime(format!("CUDA error in cublasGemmStridedBatchedEx: {:?}", e)))?;
    Ok(true)
}
