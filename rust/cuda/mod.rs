//! Feature `cuda`: the GPU runtime. Nothing CUDA is needed to build or to import: the driver and
//! NVRTC are dlopened on first use (cudarc, `dynamic-loading`), and a machine without them simply
//! reports no devices.
//!
//! - `runtime`: finds the driver, counts and names devices, remembers the process that initialised
//!   CUDA (a forked child must not touch it).
//! - `nvrtc`: compiles the kernel sources for a device architecture into CUBIN, cached on disk.
//! - `kernels`: the CUDA C sources (`kernels/*.cu`) and their shared prelude.
//! - `device`: one GPU's context, stream, loaded kernels and memory; `allocator` its caching allocator.
//! - `event`: `torch.cuda.Event`, markers on a device's stream for waiting and timing.
//! - `blas`: matrix products through cuBLAS.
//! - `ops`: the tensor ops that run as kernels on a CUDA device (the rest compute on the host).
//! - `emulator`: kernels for the emulated device (host C++ builds of the sources, from the tests).

pub mod allocator;
pub mod blas;
pub mod device;
pub mod emulator;
pub mod event;
pub mod kernels;
pub mod nvrtc;
pub mod ops;
pub mod optim;
pub mod runtime;
