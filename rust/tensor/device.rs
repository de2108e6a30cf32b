//! Where a tensor's storage lives. CUDA storage is memory every processor can address (managed
//! memory on a GPU, host memory on the emulated device), so an op without a GPU kernel still
//! computes correctly on the CPU; what the device decides is where outputs go and which tensors
//! may be mixed.

use super::{Error, Result, Tensor};
use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    #[default]
    Cpu,
    Cuda(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{}", i),
        }
    }
}

impl Device {
    pub fn is_cuda(self) -> bool {
        matches!(self, Device::Cuda(_))
    }

    /// The one device all of `ts` live on, as PyTorch checks it for an op's tensor arguments.
    /// A zero-dimensional CPU tensor may join tensors of another device (PyTorch reads it as a
    /// Python number).
    pub fn common(ts: &[&Tensor]) -> Result<Device> {
        let scalar_like = |t: &Tensor| t.device() == Device::Cpu && t.ndim() == 0;
        let Some(main) = ts.iter().find(|t| !scalar_like(t)).or(ts.first()) else {
            return Ok(Device::Cpu);
        };
        let d = main.device();
        for t in ts {
            if t.device() != d && !scalar_like(t) {
                return Err(mismatch(d, t.device()));
            }
        }
        Ok(d)
    }

    /// Like `common`, but every tensor must be on the same device (no 0-dim CPU exception):
    /// PyTorch's rule for matmul, conv, indexing and the nn kernels.
    pub fn same(ts: &[&Tensor]) -> Result<Device> {
        let first = ts.first().map(|t| t.device()).unwrap_or_default();
        for t in ts {
            if t.device() != first {
                return Err(mismatch(first, t.device()));
            }
        }
        Ok(first)
    }
}

fn mismatch(a: Device, b: Device) -> Error {
    let (a, b) = if a.is_cuda() { (a, b) } else { (b, a) };
    Error::Runtime(format!(
        "Expected all tensors to be on the same device, but found at least two devices, {} and {}!",
        a, b
    ))
}
