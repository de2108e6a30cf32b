//! Indexing ops: gather/scatter, index_select, advanced (integer/boolean) indexing and
//! index_put, masks, nonzero, take, flip. Backward formulas sit with each op.

use crate::autograd::{needs_grad, record1};
use crate::tensor::{fmt_shape, wrap_dim, DType, Dims, Elem, Error, Layout, Result, Tensor};
use smallvec::SmallVec;

/// Reads an index tensor as i64 values, checking its dtype.
fn long_values(index: &Tensor, what: &str) -> Result<Vec<i64>> {
    if index.dtype.is_float() || index.dtype == DType::Bool {
        crate::bail!(Runtime, "{}(): Expected dtype int32/int64 for index", what);
    }
    Ok(index.to_vec::<i64>())
}

fn wrap_index(i: i64, size: usize, dim: usize) -> Result<usize> {
    let s = size as i64;
    if i < -s || i >= s {
        return Err(Error::Index(format!(
            "index {} is out of bounds for dimension {} with size {}",
            i, dim, size
        )));
    }
    Ok(if i < 0 { (i + s) as usize } else { i as usize })
}

/// gather/scatter index check: PyTorch accepts no negative indices there and raises RuntimeError.
fn scatter_gather_index(i: i64, size: usize, dim: usize) -> Result<usize> {
    if i < 0 || i >= size as i64 {
        crate::bail!(
            Runtime,
            "index {} is out of bounds for dimension {} with size {}",
            i,
            dim,
            size
        );
    }
    Ok(i as usize)
}

/// Multi-indices of a shape in row-major order, visited one by one.
fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize]) -> Result<()>) -> Result<()> {
    let n: usize = shape.iter().product();
    let mut idx: Dims = SmallVec::from_elem(0, shape.len());
    for _ in 0..n {
        f(&idx)?;
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(())
}

fn offset_of(l: &Layout, idx: &[usize]) -> usize {
    l.offset
        + idx
            .iter()
            .zip(&l.strides)
            .map(|(i, s)| i * s)
            .sum::<usize>()
}

impl Tensor {
    /// `gather(dim, index)`.
    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        crate::tensor::Device::same(&[self, index])?;
        let d = wrap_dim(dim, self.ndim())?;
        if index.ndim() != self.ndim().max(1) && self.ndim() > 0 {
            crate::bail!(
                Runtime,
                "Index tensor must have the same number of dimensions as input tensor"
            );
        }
        let gpu = if self.ndim() > 0
            && !index.dtype.is_float()
            && index.dtype != DType::Bool
            && (0..self.ndim()).all(|a| a == d || index.shape()[a] <= self.shape()[a])
        {
            // an index out of range is a device-side assert there (PyTorch's CUDA semantics)
            gpu_gather(self, index, d, index.shape())?
        } else {
            None
        };
        let out = if let Some(out) = gpu {
            out
        } else {
            let iv = long_values(index, "gather")?;
            let out = Tensor::empty(index.shape(), self.dtype, self.device())?;
            crate::dispatch_all!(self.dtype, T => {
                let src = self.data_ptr() as *const T;
                let dst = out.data_ptr() as *mut T;
                let mut k = 0;
                for_each_index(index.shape(), |ix| {
                    for (a, &s) in ix.iter().enumerate() {
                        if a != d && self.ndim() > 0 && s >= self.shape()[a] {
                            crate::bail!(Runtime, "Size does not match at dimension {} expected index {} to be smaller than self {} apart from dimension {}", a, fmt_shape(index.shape()), fmt_shape(self.shape()), d);
                        }
                    }
                    let size = if self.ndim() == 0 { 1 } else { self.shape()[d] };
                    let j = scatter_gather_index(iv[k], size, d)?;
                    let mut off: isize = 0;
                    for (a, &s) in ix.iter().enumerate() {
                        if self.ndim() > 0 {
                            off += ((if a == d { j } else { s }) * self.strides()[a]) as isize;
                        }
                    }
                    // SAFETY: every coordinate was bounds-checked against self's shape.
                    unsafe { *dst.add(k) = *src.offset(off) };
                    k += 1;
                    Ok(())
                })?;
            });
            out
        };
        if needs_grad(&[self]) {
            let (shape, ix) = (self.shape().to_vec(), index.clone());
            return Ok(record1("GatherBackward0", &[self], out, move |g| {
                Ok(vec![Some(
                    Tensor::zeros(&shape, g.dtype, g.device())?
                        .scatter_valid_index(d, &ix, g, true)?,
                )])
            }));
        }
        Ok(out)
    }

    /// A contiguous copy of self with `src` scattered into it by `mode` (no autograd record).
    fn scatter_raw(
        &self,
        d: usize,
        index: &Tensor,
        src: &Tensor,
        mode: ScatterMode,
        check_index: bool,
    ) -> Result<Tensor> {
        crate::tensor::Device::same(&[self, index])?;
        crate::tensor::Device::common(&[self, src])?;
        let out = self.detach().clone_contiguous()?;
        let src_c = src.cast_raw(self.dtype)?;
        #[cfg(not(feature = "cuda"))]
        let _ = check_index;
        if !kernel_took!(
            out,
            crate::cuda::ops::scatter(&out, d, index, &src_c, mode, check_index)
        ) {
            scatter_into(&out, d, index, &src_c, mode)?;
        }
        Ok(out)
    }

    /// Out-of-place `scatter(dim, index, src)` / `scatter_add` (accumulate).
    pub fn scatter_op(
        &self,
        d: usize,
        index: &Tensor,
        src: &Tensor,
        accumulate: bool,
    ) -> Result<Tensor> {
        self.scatter_checked(d, index, src, accumulate, true)
    }

    /// `scatter_op` with an index already known to be in range (the gradients of gather, max(dim),
    /// sort): a GPU kernel then sets no device-side assert for it.
    pub(crate) fn scatter_valid_index(
        &self,
        d: usize,
        index: &Tensor,
        src: &Tensor,
        accumulate: bool,
    ) -> Result<Tensor> {
        self.scatter_checked(d, index, src, accumulate, false)
    }

    /// `scatter_reduce`'s combining step, out of place and without autograd: each of `src`'s
    /// elements combined into its place of a copy of self by `mode` (the caller adds the gradient).
    pub fn scatter_mode(
        &self,
        d: usize,
        index: &Tensor,
        src: &Tensor,
        mode: ScatterMode,
    ) -> Result<Tensor> {
        self.detach().scatter_raw(d, index, src, mode, true)
    }

    fn scatter_checked(
        &self,
        d: usize,
        index: &Tensor,
        src: &Tensor,
        accumulate: bool,
        check_index: bool,
    ) -> Result<Tensor> {
        let mode = if accumulate {
            ScatterMode::Add
        } else {
            ScatterMode::Store
        };
        let out = self.scatter_raw(d, index, src, mode, check_index)?;
        if needs_grad(&[self, src]) {
            let ix = index.clone();
            let src_shape = src.shape().to_vec();
            let name = if accumulate {
                "ScatterAddBackward0"
            } else {
                "ScatterBackward0"
            };
            return Ok(record1(name, &[self, src], out, move |g| {
                let gs = if accumulate {
                    g.clone()
                } else {
                    g.scatter_valid_index(
                        d,
                        &ix,
                        &Tensor::zeros(&[], g.dtype, g.device())?.broadcast_to(ix.shape())?,
                        false,
                    )?
                };
                let gsrc = g.gather(d as i64, &ix)?;
                let gsrc = if gsrc.shape() == src_shape.as_slice() {
                    gsrc
                } else {
                    gsrc.sum_to(&src_shape)?
                };
                Ok(vec![Some(gs), Some(gsrc)])
            }));
        }
        Ok(out)
    }

    /// `index_select(dim, index)`: on a GPU, a gather with the index broadcast over the other dims.
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        crate::tensor::Device::same(&[self, index])?;
        if index.ndim() > 1 {
            crate::bail!(Index, "index_select(): Index is supposed to be a vector");
        }
        if index.dtype.is_float() || index.dtype == DType::Bool {
            crate::bail!(
                Runtime,
                "index_select(): Expected dtype int32/int64 for index"
            );
        }
        let d = wrap_dim(dim, self.ndim())?;
        let flat = index.reshape(&[index.numel()])?.cast_raw(DType::I64)?;
        let gpu = if self.ndim() > 0 {
            DeviceIndex::select(d, flat.clone()).gather(self)?
        } else {
            None
        };
        let out = match gpu {
            Some(out) => out,
            None => {
                let size = self.shape().get(d).copied().unwrap_or(1) as i64;
                if flat.to_vec::<i64>().iter().any(|&i| i < 0 || i >= size) {
                    crate::bail!(Index, "index out of range in self");
                }
                let mut idx: Vec<Option<Tensor>> = vec![None; d];
                idx.push(Some(flat.clone()));
                self.detach().index(&idx)?
            }
        };
        if needs_grad(&[self]) && self.ndim() > 0 {
            let orig = self.shape().to_vec();
            let mut idx: Vec<Option<Tensor>> = vec![None; d];
            idx.push(Some(flat));
            return Ok(record1("IndexSelectBackward0", &[self], out, move |g| {
                let z = Tensor::zeros(&orig, g.dtype, g.device())?;
                // the forward checked the index
                Ok(vec![Some(z.index_put_checked(&idx, g, true, false)?)])
            }));
        }
        Ok(out)
    }

    /// Advanced indexing `self[indices]`: one optional index tensor per leading dim (None = `:`).
    pub fn index(&self, indices: &[Option<Tensor>]) -> Result<Tensor> {
        if let Some(out) = self.gpu_index(indices)? {
            return Ok(out);
        }
        if let Some(out) = self.gpu_mask_index(indices)? {
            return Ok(out);
        }
        let plan = AdvPlan::new(self, indices)?;
        let out = Tensor::empty(&plan.out_shape_raw(), self.dtype, self.device())?;
        crate::dispatch_all!(self.dtype, T => {
            let src = self.storage.as_ptr() as *const T;
            let dst = out.data_ptr() as *mut T;
            let rest = plan.rest_offsets();
            let mut k = 0;
            for &b in &plan.offsets {
                for &r in &rest {
                    // SAFETY: offsets were bounds-checked in AdvPlan::new.
                    unsafe { *dst.add(k) = *src.add(b + r) };
                    k += 1;
                }
            }
        });
        let out = plan.arrange(out)?;
        if needs_grad(&[self]) {
            let shape = self.shape().to_vec();
            let idx: Vec<Option<Tensor>> = indices.to_vec();
            return Ok(record1("IndexBackward0", &[self], out, move |g| {
                let z = Tensor::zeros(&shape, g.dtype, g.device())?;
                Ok(vec![Some(z.index_put(&idx, g, true)?)])
            }));
        }
        Ok(out)
    }

    /// `self[mask]` for a boolean mask over the leading dims, on a GPU: the mask's flat nonzero
    /// positions select rows of `self` viewed as [mask elements, rest] (index_select, whose
    /// gradient scatters on the device). None for other cases; a mismatched mask takes the host
    /// path, which raises PyTorch's error.
    fn gpu_mask_index(&self, indices: &[Option<Tensor>]) -> Result<Option<Tensor>> {
        let [Some(mask)] = indices else {
            return Ok(None);
        };
        let k = mask.ndim();
        let fits = matches!(mask.dtype, DType::Bool | DType::U8)
            && k > 0
            && k <= self.ndim()
            && mask.shape() == &self.shape()[..k]
            && self.device() == mask.device();
        if !fits || !self.device().is_cuda() {
            return Ok(None);
        }
        let Some(flat) = gpu_nonzero(mask, &[mask.numel()])? else {
            return Ok(None);
        };
        let rest = &self.shape()[k..];
        let rows = self.reshape(&[&[mask.numel()][..], rest].concat())?;
        let picked = rows.index_select(0, &flat.reshape(&[flat.shape()[0]])?)?;
        Ok(Some(picked))
    }

    /// `self[..., i, j, ...]` with integer index tensors as a gather on a GPU (`DeviceIndex`);
    /// None for other cases. An index out of range is a device-side assert there, as on PyTorch.
    fn gpu_index(&self, indices: &[Option<Tensor>]) -> Result<Option<Tensor>> {
        let Some(one) = DeviceIndex::of(self, indices)? else {
            return Ok(None);
        };
        let Some(out) = one.gather(self)? else {
            return Ok(None);
        };
        if needs_grad(&[self]) {
            let shape = self.shape().to_vec();
            let idx: Vec<Option<Tensor>> = indices.to_vec();
            return Ok(Some(record1("IndexBackward0", &[self], out, move |g| {
                let z = Tensor::zeros(&shape, g.dtype, g.device())?;
                // the forward checked the index
                Ok(vec![Some(z.index_put_checked(&idx, g, true, false)?)])
            })));
        }
        Ok(Some(out))
    }

    /// Out-of-place `index_put(indices, values, accumulate)`.
    pub fn index_put(
        &self,
        indices: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
    ) -> Result<Tensor> {
        self.index_put_checked(indices, values, accumulate, true)
    }

    /// `index_put`; without `check_index` (an index known to be in range) a GPU kernel sets no
    /// device-side assert for it.
    fn index_put_checked(
        &self,
        indices: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
        check_index: bool,
    ) -> Result<Tensor> {
        let out = self.detach().clone_contiguous()?;
        index_put_raw(
            &out,
            indices,
            &values.cast_raw(self.dtype)?,
            accumulate,
            check_index,
        )?;
        if needs_grad(&[self, values]) {
            let idx: Vec<Option<Tensor>> = indices.to_vec();
            let vshape = values.shape().to_vec();
            return Ok(record1(
                "IndexPutBackward0",
                &[self, values],
                out,
                move |g| {
                    let gs = if accumulate {
                        g.clone()
                    } else {
                        g.index_put(&idx, &Tensor::zeros(&[], g.dtype, g.device())?, false)?
                    };
                    let gv = g.index(&idx)?.sum_to(&vshape)?;
                    Ok(vec![Some(gs), Some(gv)])
                },
            ));
        }
        Ok(out)
    }

    /// In-place `index_put_` (also `self[indices] = values`).
    pub fn index_put_(
        &mut self,
        indices: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        if needs_grad(&[self, values]) {
            self.check_inplace()?;
            let r = self.saved_copy()?.index_put(indices, values, accumulate)?;
            return self.assign_result(r);
        }
        index_put_raw(
            self,
            indices,
            &values.cast_raw(self.dtype)?,
            accumulate,
            true,
        )?;
        self.bump_version();
        Ok(())
    }

    /// `masked_fill(mask, value)`.
    pub fn masked_fill(&self, mask: &Tensor, value: &Tensor) -> Result<Tensor> {
        crate::tensor::Device::same(&[self, mask])?;
        crate::tensor::Device::common(&[self, value])?;
        if mask.dtype != DType::Bool {
            crate::bail!(
                Runtime,
                "masked_fill_ only supports boolean masks, but got mask with dtype {}",
                mask.dtype.name().replace("int64", "long")
            );
        }
        if value.ndim() != 0 {
            crate::bail!(Runtime, "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).", value.ndim());
        }
        crate::tensor::broadcast_shapes(self.shape(), mask.shape())?;
        let v = value.cast(self.dtype)?;
        let r = Tensor::where_(mask, &v, self)?;
        if r.shape() != self.shape() {
            crate::bail!(
                Runtime,
                "output with shape {} doesn't match the broadcast shape {}",
                fmt_shape(self.shape()),
                fmt_shape(r.shape())
            );
        }
        Ok(r)
    }

    /// `masked_select(mask)` → 1-D.
    pub fn masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        let shape = crate::tensor::broadcast_shapes(self.shape(), mask.shape())?;
        let x = self.broadcast_to(&shape)?;
        let m = mask.broadcast_to(&shape)?;
        x.index(&[Some(m)])
    }

    /// `nonzero()` → [N, ndim] int64.
    pub fn nonzero(&self) -> Result<Tensor> {
        if self.ndim() > 0 {
            if let Some(nz) = gpu_nonzero(self, self.shape())? {
                return Ok(nz);
            }
        }
        let vals = self.to_vec::<bool>();
        let mut out: Vec<i64> = Vec::new();
        let mut k = 0;
        for_each_index(self.shape(), |ix| {
            if vals[k] {
                out.extend(ix.iter().map(|&i| i as i64));
            }
            k += 1;
            Ok(())
        })?;
        let n = out.len() / self.ndim().max(1);
        if self.ndim() == 0 {
            return Tensor::from_vec_on::<i64>(&[], &[usize::from(vals[0]), 0], self.device());
        }
        Tensor::from_vec_on(&out, &[n, self.ndim()], self.device())
    }

    /// `take(index)`: indexes the flattened tensor.
    pub fn take(&self, index: &Tensor) -> Result<Tensor> {
        let flat = self.reshape(&[self.numel()])?;
        let r = flat.index(&[Some(index.clone())])?;
        Ok(r)
    }

    /// `flip(dims)`: a copy with the listed dims reversed.
    pub fn flip(&self, dims: &[i64]) -> Result<Tensor> {
        let mut fl = vec![false; self.ndim()];
        for &d in dims {
            fl[wrap_dim(d, self.ndim())?] = true;
        }
        let out = Tensor::empty(self.shape(), self.dtype, self.device())?;
        let mask = fl
            .iter()
            .enumerate()
            .fold(0u64, |m, (d, &f)| m | ((f as u64) << d));
        #[cfg(not(feature = "cuda"))]
        let _ = mask;
        if !kernel_took!(self, crate::cuda::ops::flip(&out, self, mask)) {
            crate::dispatch_all!(self.dtype, T => {
            let src = self.storage.as_ptr() as *const T;
            let dst = out.data_ptr() as *mut T;
            let mut k = 0;
            let shape = self.shape().to_vec();
            for_each_index(&shape, |ix| {
                let src_ix: Vec<usize> = ix.iter().enumerate().map(|(a, &i)| if fl[a] { shape[a] - 1 - i } else { i }).collect();
                // SAFETY: src_ix is within shape.
                unsafe { *dst.add(k) = *src.add(offset_of(&self.layout, &src_ix)) };
                k += 1;
                Ok(())
            })?;
            });
        }
        if needs_grad(&[self]) {
            let d = dims.to_vec();
            return Ok(record1("FlipBackward0", &[self], out, move |g| {
                Ok(vec![Some(g.flip(&d)?)])
            }));
        }
        Ok(out)
    }
}

/// How a scatter combines a source element into its target: scatter's store, scatter_add's sum,
/// and scatter_reduce's prod, amax and amin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScatterMode {
    Store,
    Add,
    Mul,
    Max,
    Min,
}

/// `t (mode) v` for one element (max/min propagate NaN, as torch.maximum/minimum).
fn combine<T: Elem>(mode: ScatterMode, t: T, v: T) -> T {
    let nan = |x: T| x.partial_cmp(&x).is_none();
    match mode {
        ScatterMode::Store => v,
        ScatterMode::Add => add_elem(t, v),
        ScatterMode::Mul if T::DTYPE.is_float() => T::from_f64(t.to_f64() * v.to_f64()),
        ScatterMode::Mul => T::from_i64(t.to_i64().wrapping_mul(v.to_i64())),
        ScatterMode::Max | ScatterMode::Min if nan(t) => t,
        ScatterMode::Max if nan(v) || v > t => v,
        ScatterMode::Min if nan(v) || v < t => v,
        ScatterMode::Max | ScatterMode::Min => t,
    }
}

fn scatter_into(
    out: &Tensor,
    d: usize,
    index: &Tensor,
    src: &Tensor,
    mode: ScatterMode,
) -> Result<()> {
    let iv = long_values(index, "scatter")?;
    if index.ndim() != out.ndim() && out.ndim() > 0 {
        crate::bail!(
            Runtime,
            "Index tensor must have the same number of dimensions as self tensor"
        );
    }
    let src_b = if src.ndim() == 0 {
        src.broadcast_to(index.shape())?
    } else {
        src.clone()
    };
    crate::dispatch_all!(out.dtype, T => {
        let dst = out.data_ptr() as *mut T;
        let sp = src_b.storage.as_ptr() as *const T;
        let mut k = 0;
        for_each_index(index.shape(), |ix| {
            let size = if out.ndim() == 0 { 1 } else { out.shape()[d] };
            let j = scatter_gather_index(iv[k], size, d)?;
            let mut off = 0usize;
            for (a, &s) in ix.iter().enumerate() {
                if out.ndim() == 0 {
                    break;
                }
                let c = if a == d { j } else { s };
                if c >= out.shape()[a] {
                    crate::bail!(Runtime, "Expected index {} to be smaller than self {} apart from dimension {}", fmt_shape(index.shape()), fmt_shape(out.shape()), d);
                }
                off += c * out.strides()[a];
            }
            for (a, &s) in ix.iter().enumerate() {
                if a < src_b.ndim() && s >= src_b.shape()[a] {
                    crate::bail!(Runtime, "Expected index {} to be smaller than src {}", fmt_shape(index.shape()), fmt_shape(src_b.shape()));
                }
            }
            // SAFETY: coordinates were checked against out's and src's shapes.
            unsafe {
                let v = *sp.add(offset_of(&src_b.layout, ix));
                let p = dst.add(off);
                *p = combine(mode, *p, v);
            }
            k += 1;
            Ok(())
        })?;
    });
    Ok(())
}

fn add_elem<T: Elem>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else if T::DTYPE == DType::Bool {
        T::from_i64(((a.to_i64() + b.to_i64()) != 0) as i64)
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}

fn index_put_raw(
    out: &Tensor,
    indices: &[Option<Tensor>],
    values: &Tensor,
    accumulate: bool,
    check_index: bool,
) -> Result<()> {
    if gpu_index_put(out, indices, values, accumulate, check_index)? {
        return Ok(());
    }
    let plan = AdvPlan::new(out, indices)?;
    // values broadcast to the indexing result's shape, then laid out like the raw (unarranged) result
    let res_shape = plan.result_shape();
    let v = values.broadcast_to(&res_shape).map_err(|_| {
        Error::Runtime(format!(
            "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of shape {}",
            fmt_shape(values.shape()),
            fmt_shape(&res_shape)
        ))
    })?;
    let v = plan.unarrange(&v)?.clone_contiguous()?;
    crate::dispatch_all!(out.dtype, T => {
        let dst = out.storage.as_ptr() as *mut T;
        let vals = v.to_vec::<T>();
        let rest = plan.rest_offsets();
        let mut k = 0;
        for &b in &plan.offsets {
            for &r in &rest {
                // SAFETY: offsets were bounds-checked in AdvPlan::new.
                unsafe {
                    let p = dst.add(b + r);
                    *p = if accumulate { add_elem(*p, vals[k]) } else { vals[k] };
                }
                k += 1;
            }
        }
    });
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn gpu_index_put(_: &Tensor, _: &[Option<Tensor>], _: &Tensor, _: bool, _: bool) -> Result<bool> {
    Ok(false)
}

/// `out[..., i, j, ...] (+)= values` with integer index tensors as a scatter on a GPU (contiguous
/// out; non-adjacent index dims go through a permuted copy that is written back). False when a
/// kernel did not take it. An index out of range writes nothing and, with `check_index`, is a
/// device-side assert.
#[cfg(feature = "cuda")]
fn gpu_index_put(
    out: &Tensor,
    indices: &[Option<Tensor>],
    values: &Tensor,
    accumulate: bool,
    check_index: bool,
) -> Result<bool> {
    if !out.is_contiguous() {
        return Ok(false);
    }
    let Some(one) = DeviceIndex::of(out, indices)? else {
        return Ok(false);
    };
    let Ok(v) = values.broadcast_to(&one.result_shape(out.shape())) else {
        return Ok(false); // the host path raises the shape mismatch
    };
    let target = match one.perm {
        Some(_) => one.merged(&out.clone_contiguous()?)?.contiguous()?,
        None => one.merged(out)?,
    };
    let shape = one.flat_shape(target.shape());
    let v = v.detach().contiguous()?.reshape(&shape)?;
    let index = one.broadcast(&shape);
    let done = crate::cuda::ops::scatter(
        &target,
        one.dim,
        &index,
        &v,
        if accumulate {
            ScatterMode::Add
        } else {
            ScatterMode::Store
        },
        check_index,
    )?;
    if done && one.perm.is_some() {
        let arranged = one.arranged(out)?;
        arranged.copy_raw(&target.reshape(arranged.shape())?)?;
    }
    Ok(done)
}

/// A gather kernel when x lives on a GPU that runs it (None: take the host path).
fn gpu_gather(x: &Tensor, index: &Tensor, dim: usize, shape: &[usize]) -> Result<Option<Tensor>> {
    #[cfg(feature = "cuda")]
    if x.device().is_cuda() {
        return crate::cuda::ops::gather(x, index, dim, shape);
    }
    let _ = (x, index, dim, shape);
    Ok(None)
}

/// Integer index tensors on a GPU as one flat index along one dim: `x[:, i, j]` gathers x viewed
/// as [a0, a1*a2, ...] at the merged position of (i, j) (`merge_index_i64`: negatives wrapped, an
/// index out of range one past the merged dim's end, which the kernels report). Index dims that
/// are not adjacent are permuted to the front first, where PyTorch puts their result. Also
/// index_select's index (one dim, not wrapped).
struct DeviceIndex {
    /// Brings the index dims to the front (None when they are adjacent).
    perm: Option<Vec<i64>>,
    /// The first index dim (after `perm`) and how many are merged from it.
    dim: usize,
    count: usize,
    /// The index tensors' broadcast shape.
    shape: Dims,
    flat: Tensor,
}

impl DeviceIndex {
    fn of(x: &Tensor, indices: &[Option<Tensor>]) -> Result<Option<DeviceIndex>> {
        let dims: Vec<usize> = (0..indices.len())
            .filter(|&d| indices[d].is_some())
            .collect();
        let index = |d: usize| indices[d].as_ref().expect("a position of Some");
        let fits =
            |t: &Tensor| t.device() == x.device() && matches!(t.dtype, DType::I64 | DType::I32);
        if !x.device().is_cuda()
            || dims.is_empty()
            || indices.len() > x.ndim()
            || !dims.iter().all(|&d| fits(index(d)))
        {
            return Ok(None);
        }
        let mut shape: Dims = SmallVec::new();
        for &d in &dims {
            match crate::tensor::broadcast_shapes(&shape, index(d).shape()) {
                Ok(s) => shape = s,
                Err(_) => return Ok(None), // the host path raises the mismatch
            }
        }
        let broadcast: Vec<Tensor> = dims
            .iter()
            .map(|&d| index(d).detach().broadcast_to(&shape))
            .collect::<Result<_>>()?;
        let sizes: Vec<usize> = dims.iter().map(|&d| x.shape()[d]).collect();
        let Some(flat) = gpu_merge_index(&broadcast, &sizes)? else {
            return Ok(None);
        };
        let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
        let perm = (!adjacent).then(|| {
            let rest = (0..x.ndim()).filter(|d| !dims.contains(d));
            dims.iter().copied().chain(rest).map(|d| d as i64).collect()
        });
        Ok(Some(DeviceIndex {
            perm,
            dim: if adjacent { dims[0] } else { 0 },
            count: dims.len(),
            shape,
            flat,
        }))
    }

    /// index_select's index along `dim`.
    fn select(dim: usize, flat: Tensor) -> DeviceIndex {
        DeviceIndex {
            perm: None,
            dim,
            count: 1,
            shape: flat.shape().into(),
            flat,
        }
    }

    /// x with the index dims in front when permuted.
    fn arranged(&self, x: &Tensor) -> Result<Tensor> {
        match &self.perm {
            Some(p) => x.permute(p),
            None => Ok(x.clone()),
        }
    }

    /// `arranged(x)` with the index dims merged into one (a copy when its layout cannot merge them).
    fn merged(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.arranged(x)?;
        let s = x.shape();
        let end = self.dim + self.count;
        let mut shape = s[..self.dim].to_vec();
        shape.push(s[self.dim..end].iter().product());
        shape.extend_from_slice(&s[end..]);
        x.reshape(&shape)
    }

    /// The indexing result's shape: `arranged(x)`'s with the index dims replaced by the index shape.
    fn result_shape(&self, x: &[usize]) -> Vec<usize> {
        let x: Vec<usize> = match &self.perm {
            Some(p) => p.iter().map(|&d| x[d as usize]).collect(),
            None => x.to_vec(),
        };
        let mut s = x[..self.dim].to_vec();
        s.extend_from_slice(&self.shape);
        s.extend_from_slice(&x[self.dim + self.count..]);
        s
    }

    /// A merged shape with the index dim replaced by the number of indices.
    fn flat_shape(&self, merged: &[usize]) -> Vec<usize> {
        let mut s = merged.to_vec();
        s[self.dim] = self.flat.numel();
        s
    }

    /// The flat index as a view of `shape` (a flat shape), broadcast over every other dim.
    fn broadcast(&self, shape: &[usize]) -> Tensor {
        let mut strides = vec![0; shape.len()];
        strides[self.dim] = self.flat.strides()[0];
        self.flat.with_layout(Layout {
            shape: shape.iter().copied().collect(),
            strides: strides.into_iter().collect(),
            offset: self.flat.layout.offset,
        })
    }

    /// Gathers `x[indices]` (None: no kernel took it).
    fn gather(&self, x: &Tensor) -> Result<Option<Tensor>> {
        let merged = self.merged(&x.detach())?;
        let shape = self.flat_shape(merged.shape());
        let Some(out) = gpu_gather(&merged, &self.broadcast(&shape), self.dim, &shape)? else {
            return Ok(None);
        };
        Ok(Some(out.reshape(&self.result_shape(x.shape()))?))
    }
}

/// `cuda::ops::merge_index` on a GPU (None elsewhere).
fn gpu_merge_index(indices: &[Tensor], sizes: &[usize]) -> Result<Option<Tensor>> {
    #[cfg(feature = "cuda")]
    return crate::cuda::ops::merge_index(indices, sizes);
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (indices, sizes);
        Ok(None)
    }
}

/// Geometry of an advanced-indexing op: per index combination a storage offset, plus the
/// layout of the dims that were not indexed.
struct AdvPlan {
    offsets: Vec<usize>,
    index_shape: Dims,
    rest: Layout,
    /// Where the index dims go in the result (None: in front, when index tensors are not adjacent).
    insert_at: Option<usize>,
}

impl AdvPlan {
    fn new(x: &Tensor, indices: &[Option<Tensor>]) -> Result<AdvPlan> {
        // booleans become one long index per mask dim
        let mut idx: Vec<Option<Tensor>> = Vec::new();
        for i in indices {
            match i {
                Some(t) if t.dtype == DType::Bool || t.dtype == DType::U8 => {
                    let dim0 = idx.len();
                    for k in 0..t.ndim() {
                        if dim0 + k >= x.ndim() || t.shape()[k] != x.shape()[dim0 + k] {
                            crate::bail!(
                                Index,
                                "The shape of the mask {} at index {} does not match the shape of the indexed tensor {} at index {}",
                                fmt_shape(t.shape()), k, fmt_shape(x.shape()), dim0 + k
                            );
                        }
                    }
                    let nz = t.nonzero()?;
                    for k in 0..t.ndim() {
                        idx.push(Some(nz.select(1, k as i64)?));
                    }
                    if t.ndim() == 0 {
                        crate::bail!(Index, "0-dim boolean index is not supported");
                    }
                }
                Some(t) if t.dtype.is_float() || t.dtype == DType::I8 || t.dtype == DType::I16 => {
                    crate::bail!(
                        Index,
                        "tensors used as indices must be long, int, byte or bool tensors"
                    );
                }
                other => idx.push(other.clone()),
            }
        }
        if idx.len() > x.ndim() {
            crate::bail!(
                Index,
                "too many indices for tensor of dimension {} (got {})",
                x.ndim(),
                idx.len()
            );
        }
        let dims: Vec<usize> = (0..idx.len()).filter(|&i| idx[i].is_some()).collect();
        let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
        let mut ishape: Dims = SmallVec::new();
        for d in &dims {
            ishape =
                crate::tensor::broadcast_shapes(&ishape, idx[*d].as_ref().expect("index").shape())
                    .map_err(|_| {
                        Error::Index(
                            "shape mismatch: indexing tensors could not be broadcast together"
                                .into(),
                        )
                    })?;
        }
        let n: usize = ishape.iter().product();
        let mut offsets = vec![0usize; n];
        for &d in &dims {
            let t = idx[d].as_ref().expect("index").broadcast_to(&ishape)?;
            let vals = long_values(&t, "index")?;
            for (o, &v) in offsets.iter_mut().zip(&vals) {
                let i = wrap_index(v, x.shape()[d], d).map_err(|_| {
                    Error::Index(format!(
                        "index {} is out of bounds for dimension {} with size {}",
                        v,
                        d,
                        x.shape()[d]
                    ))
                })?;
                *o += i * x.strides()[d];
            }
        }
        for o in offsets.iter_mut() {
            *o += x.layout.offset;
        }
        let rest_dims: Vec<usize> = (0..x.ndim()).filter(|d| !dims.contains(d)).collect();
        let rest = Layout {
            shape: rest_dims.iter().map(|&d| x.shape()[d]).collect(),
            strides: rest_dims.iter().map(|&d| x.strides()[d]).collect(),
            offset: 0,
        };
        let insert_at = if adjacent && !dims.is_empty() {
            Some(dims[0])
        } else {
            None
        };
        Ok(AdvPlan {
            offsets,
            index_shape: ishape,
            rest,
            insert_at,
        })
    }

    fn rest_offsets(&self) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.rest.numel());
        super::view::for_each_offset(&self.rest, |o| v.push(o));
        v
    }

    /// Shape of the raw gather: index dims first, then the rest.
    fn out_shape_raw(&self) -> Vec<usize> {
        let mut s = self.index_shape.to_vec();
        s.extend_from_slice(&self.rest.shape);
        s
    }

    /// Permutation taking the raw gather to PyTorch's result order.
    fn perm(&self) -> Vec<i64> {
        let (ni, nr) = (self.index_shape.len(), self.rest.ndim());
        let mut p: Vec<i64> = Vec::new();
        match self.insert_at {
            Some(at) => {
                p.extend((ni..ni + at).map(|i| i as i64));
                p.extend((0..ni).map(|i| i as i64));
                p.extend((ni + at..ni + nr).map(|i| i as i64));
            }
            None => p.extend((0..ni + nr).map(|i| i as i64)),
        }
        p
    }

    fn result_shape(&self) -> Vec<usize> {
        let raw = self.out_shape_raw();
        self.perm().iter().map(|&i| raw[i as usize]).collect()
    }

    fn arrange(&self, raw: Tensor) -> Result<Tensor> {
        raw.permute(&self.perm())
    }

    fn unarrange(&self, t: &Tensor) -> Result<Tensor> {
        let p = self.perm();
        let mut inv = vec![0i64; p.len()];
        for (i, &x) in p.iter().enumerate() {
            inv[x as usize] = i as i64;
        }
        t.permute(&inv)
    }
}

/// `cuda::ops::nonzero` where x is on a GPU with the kernels (None elsewhere).
fn gpu_nonzero(x: &Tensor, coords: &[usize]) -> Result<Option<Tensor>> {
    #[cfg(feature = "cuda")]
    if x.device().is_cuda() {
        return crate::cuda::ops::nonzero(&x.detach(), coords);
    }
    let _ = (x, coords);
    Ok(None)
}
