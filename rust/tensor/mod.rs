//! The tensor: shared storage + layout + dtype + autograd metadata.

mod device;
mod dtype;
mod error;
mod layout;
mod storage;
#[allow(clippy::module_inception)]
mod tensor;

pub use device::Device;
pub use dtype::{
    default_dtype, is_nan, promote_types, result_type, set_default_dtype, DType, Elem, FloatElem,
    Rank, ALL_DTYPES,
};
pub use error::{Error, Result};
pub use layout::{
    broadcast_shapes, contiguous_strides, fmt_shape, infer_shape, numel, wrap_dim, Dims, Layout,
};
pub use storage::{empty_cache, Storage};
pub use tensor::{Ramp, Scalar, Tensor};
