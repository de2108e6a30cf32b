//! ferrotorch: PyTorch's API on a Rust core. `tensor` holds the data types, `ops` the kernels
//! and differentiable ops, `autograd` the tape and engine, `python` the PyO3 bindings.

pub mod autograd;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod ops;
pub mod tensor;

#[cfg(feature = "python")]
mod python;

pub use tensor::{DType, Error, Result, Scalar, Tensor};
