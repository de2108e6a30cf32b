//! CPU kernels and the differentiable ops built on them.

/// Whether a GPU kernel took the op: `$call` (a `crate::cuda::ops` entry, a `Result<bool>`) runs
/// when `$t` lives on a CUDA device; false in a build without the `cuda` feature. The caller runs
/// the host loop when it is false.
macro_rules! kernel_took {
    ($t:expr, $call:expr) => {{
        #[cfg(feature = "cuda")]
        let took: bool = $t.device().is_cuda() && $call?;
        #[cfg(not(feature = "cuda"))]
        let took = false;
        took
    }};
}

pub mod arith;
pub mod autocast;
pub mod conv;
pub mod elementwise;
pub mod foreach;
pub mod grad_scale;
pub mod gru_layer;
pub mod index;
pub mod iter;
pub mod join;
pub mod matmul;
pub mod nn;
pub mod optim;
pub mod random;
pub mod reduce;
pub mod reduce_fast;
pub mod search;
pub mod sort;
pub mod special;
pub mod threads;
pub mod transpose;
pub mod view;
pub mod vmath;

use crate::tensor::{DType, Tensor};

/// PyTorch's capitalised scalar type name (`Float`, `Long`, ...), used in error messages.
pub fn dtype_title(d: DType) -> &'static str {
    match d {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::F32 => "Float",
        DType::F64 => "Double",
    }
}

/// `torch.FloatTensor`-style type name.
pub fn type_name(t: &Tensor) -> String {
    format!("torch.{}Tensor ", dtype_title(t.dtype))
}
