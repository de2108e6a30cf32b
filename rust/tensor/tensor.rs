use super::{DType, Device, Elem, Error, Layout, Result, Storage};
use crate::autograd::AutogradMeta;
use std::sync::Arc;

/// A Python number as an operand: ints stay exact, floats are f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => super::default_dtype(),
        }
    }
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }
    pub fn to_i64(self) -> i64 {
        match self {
            Scalar::Bool(b) => b as i64,
            Scalar::Int(i) => i,
            Scalar::Float(f) => f as i64,
        }
    }
    pub fn to_elem<T: Elem>(self) -> T {
        match self {
            Scalar::Bool(b) => T::from_i64(b as i64),
            Scalar::Int(i) => T::from_i64(i),
            Scalar::Float(f) => T::from_f64(f),
        }
    }
}

#[derive(Clone)]
pub struct Tensor {
    pub storage: Arc<Storage>,
    pub layout: Layout,
    pub dtype: DType,
    /// None for tensors that neither require grad nor came out of a recorded op.
    pub autograd: Option<Arc<AutogradMeta>>,
}

/// What an `arange` / `linspace` holds: `arange` in double or (integer dtypes and arguments) in
/// i64, or `linspace` from start to end.
#[derive(Clone, Copy, Debug)]
pub enum Ramp {
    Float { start: f64, step: f64 },
    Int { start: i64, step: i64 },
    Linspace { start: f64, end: f64 },
}

impl Tensor {
    pub fn from_storage(storage: Arc<Storage>, layout: Layout, dtype: DType) -> Tensor {
        Tensor {
            storage,
            layout,
            dtype,
            autograd: None,
        }
    }

    /// Uninitialised contiguous tensor on `device`.
    pub fn empty(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        check_numel(shape)?;
        let layout = Layout::contiguous(shape);
        let storage = Storage::uninit_on(layout.numel(), dtype, device)?;
        Ok(Tensor::from_storage(Arc::new(storage), layout, dtype))
    }

    pub fn zeros(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        if device.is_cuda() {
            // a fill kernel on the device rather than host writes into its memory
            return Tensor::full(shape, Scalar::Int(0), dtype, device);
        }
        check_numel(shape)?;
        let layout = Layout::contiguous(shape);
        let storage = Storage::zeroed(layout.numel(), dtype)?;
        Ok(Tensor::from_storage(Arc::new(storage), layout, dtype))
    }

    pub fn full(shape: &[usize], value: Scalar, dtype: DType, device: Device) -> Result<Tensor> {
        let t = Tensor::empty(shape, dtype, device)?;
        t.fill_raw(value);
        Ok(t)
    }

    /// `n` elements of `ramp` written on a GPU by a kernel, so creating them never waits for the
    /// device. None off a GPU or where the kernel does not run: the caller fills them on the host.
    pub fn ramp_on_device(
        n: usize,
        dtype: DType,
        device: Device,
        ramp: Ramp,
    ) -> Result<Option<Tensor>> {
        #[cfg(feature = "cuda")]
        if device.is_cuda() {
            let out = Tensor::empty(&[n], dtype, device)?;
            return Ok(crate::cuda::ops::ramp(&out, ramp)?.then_some(out));
        }
        let _ = (n, dtype, device, ramp);
        Ok(None)
    }

    /// A CPU tensor holding `data`.
    pub fn from_vec<T: Elem>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        Tensor::from_vec_on(data, shape, Device::Cpu)
    }

    /// A tensor on `device` holding `data` (values computed on the host for a device output).
    pub fn from_vec_on<T: Elem>(data: &[T], shape: &[usize], device: Device) -> Result<Tensor> {
        if data.len() != super::numel(shape) {
            crate::bail!(
                Runtime,
                "from_vec: {} values for shape {}",
                data.len(),
                super::fmt_shape(shape)
            );
        }
        let storage = Storage::uninit_on(data.len(), T::DTYPE, device)?;
        // SAFETY: the storage holds data.len() elements of T; the regions do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), storage.as_ptr() as *mut T, data.len())
        };
        Ok(Tensor::from_storage(
            Arc::new(storage),
            Layout::contiguous(shape),
            T::DTYPE,
        ))
    }

    pub fn device(&self) -> Device {
        self.storage.device()
    }

    /// A contiguous copy on `device` (self when it already lives there), cut from the graph.
    pub fn to_device_raw(&self, device: Device) -> Result<Tensor> {
        if self.device() == device {
            return Ok(self.detach());
        }
        let out = Tensor::empty(self.shape(), self.dtype, device)?;
        out.copy_raw(self)?;
        Ok(out)
    }

    /// A 0-dim CPU tensor: it may join tensors of any device (see `Device::common`).
    pub fn scalar_tensor(value: Scalar, dtype: DType) -> Result<Tensor> {
        Tensor::full(&[], value, dtype, Device::Cpu)
    }

    pub fn shape(&self) -> &[usize] {
        &self.layout.shape
    }
    pub fn strides(&self) -> &[usize] {
        &self.layout.strides
    }
    pub fn ndim(&self) -> usize {
        self.layout.ndim()
    }
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Pointer to the first element of this view.
    pub fn data_ptr(&self) -> *mut u8 {
        // SAFETY: offset lies within the storage for any valid layout.
        unsafe {
            self.storage
                .as_ptr()
                .add(self.layout.offset * self.dtype.size())
        }
    }

    /// `data_ptr` for a kernel queued on the tensor's device (no wait for earlier kernels).
    pub fn device_data_ptr(&self) -> u64 {
        self.storage.device_ptr() as u64 + (self.layout.offset * self.dtype.size()) as u64
    }

    /// The same data under a new layout, sharing storage (no autograd record).
    pub fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor {
            storage: self.storage.clone(),
            layout,
            dtype: self.dtype,
            autograd: None,
        }
    }

    /// Same storage and layout, cut from the graph.
    pub fn detach(&self) -> Tensor {
        self.with_layout(self.layout.clone())
    }

    /// Values in row-major order, cast to T.
    pub fn to_vec<T: Elem>(&self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.numel());
        crate::dispatch_all!(self.dtype, S => {
            crate::ops::iter::for_each_elem::<S>(self, |v| out.push(v.cast::<T>()));
        });
        out
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<Scalar> {
        if self.numel() != 1 {
            return Err(Error::Runtime(format!(
                "a Tensor with {} elements cannot be converted to Scalar",
                self.numel()
            )));
        }
        let p = self.data_ptr();
        // SAFETY: one element of self.dtype lives at p.
        Ok(crate::dispatch_all!(self.dtype, T => {
            let v = unsafe { *(p as *const T) };
            match self.dtype {
                DType::Bool => Scalar::Bool(v.to_i64() != 0),
                d if d.is_float() => Scalar::Float(v.to_f64()),
                _ => Scalar::Int(v.to_i64()),
            }
        }))
    }

    pub fn bump_version(&self) {
        self.storage.bump_version();
    }
}

/// Refuses shapes whose element count overflows (the allocation would silently be too small).
fn check_numel(shape: &[usize]) -> Result<()> {
    if shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .and_then(|n| n.checked_mul(16))
        .is_none()
    {
        return Err(Error::OutOfMemory(format!(
            "Trying to create tensor of shape {} : its number of elements overflows",
            crate::tensor::fmt_shape(shape)
        )));
    }
    Ok(())
}
