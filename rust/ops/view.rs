//! View ops: new layouts over the same storage, no copies. Their backward scatters the gradient
//! through the same layout function applied to a fresh contiguous tensor.

use crate::autograd::{needs_grad, record1};
use crate::tensor::{fmt_shape, infer_shape, wrap_dim, Dims, Error, Layout, Result, Tensor};
use smallvec::SmallVec;

impl Tensor {
    /// A view through `f`, recorded so the gradient flows back through the same layout map.
    pub fn view_op(
        &self,
        name: &'static str,
        f: impl Fn(&Layout) -> Result<Layout>,
    ) -> Result<Tensor> {
        let out = self.with_layout(f(&self.layout)?);
        if needs_grad(&[self]) {
            let shape = self.shape().to_vec();
            let rel = f(&Layout::contiguous(&shape))?;
            return Ok(record1(name, &[self], out, move |g| {
                Ok(vec![Some(scatter_through(&shape, &rel, g)?)])
            }));
        }
        Ok(out)
    }

    /// `view(shape)`: -1 inferred; RuntimeError with PyTorch's hint when strides forbid it.
    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        let shape = infer_shape(shape, self.numel())?;
        let strides = self.layout.view_strides(&shape).ok_or_else(|| {
            Error::Runtime(
                "view size is not compatible with input tensor's size and stride (at least one dimension spans across \
                 two contiguous subspaces). Use .reshape(...) instead."
                    .into(),
            )
        })?;
        self.reshape_view(shape, strides, "ViewBackward0")
    }

    fn reshape_view(&self, shape: Dims, strides: Dims, name: &'static str) -> Result<Tensor> {
        let out = self.with_layout(Layout {
            shape,
            strides,
            offset: self.layout.offset,
        });
        if needs_grad(&[self]) {
            let orig = self.shape().to_vec();
            return Ok(record1(name, &[self], out, move |g| {
                Ok(vec![Some(g.reshape(&orig)?)])
            }));
        }
        Ok(out)
    }

    /// `reshape(shape)`: a view when strides allow, else a copy.
    pub fn reshape_i(&self, shape: &[i64]) -> Result<Tensor> {
        let shape = infer_shape(shape, self.numel())?;
        self.reshape(&shape)
    }

    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if crate::tensor::numel(shape) != self.numel() {
            crate::bail!(
                Runtime,
                "shape '{}' is invalid for input of size {}",
                fmt_shape(shape),
                self.numel()
            );
        }
        match self.layout.view_strides(shape) {
            Some(strides) => self.reshape_view(shape.into(), strides, "ViewBackward0"),
            None => {
                let c = self.clone_op()?;
                c.reshape_view(
                    shape.into(),
                    crate::tensor::contiguous_strides(shape),
                    "UnsafeViewBackward0",
                )
            }
        }
    }

    pub fn transpose(&self, d0: i64, d1: i64) -> Result<Tensor> {
        let (a, b) = (wrap_dim(d0, self.ndim())?, wrap_dim(d1, self.ndim())?);
        if self.ndim() == 0 {
            return Ok(self.clone());
        }
        let out = self.with_layout(self.layout.transpose(a, b));
        if needs_grad(&[self]) {
            return Ok(record1("TransposeBackward0", &[self], out, move |g| {
                Ok(vec![Some(g.transpose(a as i64, b as i64)?)])
            }));
        }
        Ok(out)
    }

    /// `t()`: transpose of a <= 2-D tensor.
    pub fn t(&self) -> Result<Tensor> {
        if self.ndim() > 2 {
            crate::bail!(
                Runtime,
                "t() expects a tensor with <= 2 dimensions, but self is {}D",
                self.ndim()
            );
        }
        if self.ndim() < 2 {
            return Ok(self.clone());
        }
        self.transpose(0, 1)
    }

    pub fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        if dims.len() != self.ndim() {
            crate::bail!(
                Runtime,
                "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
                self.ndim(),
                dims.len()
            );
        }
        let mut seen = vec![false; dims.len()];
        let mut d: Vec<usize> = Vec::with_capacity(dims.len());
        for &x in dims {
            let w = wrap_dim(x, self.ndim())?;
            if seen[w] {
                crate::bail!(Runtime, "permute(): duplicate dims are not allowed.");
            }
            seen[w] = true;
            d.push(w);
        }
        let out = self.with_layout(self.layout.permute(&d));
        if needs_grad(&[self]) {
            let mut inv = vec![0i64; d.len()];
            for (i, &x) in d.iter().enumerate() {
                inv[x] = i as i64;
            }
            return Ok(record1("PermuteBackward0", &[self], out, move |g| {
                Ok(vec![Some(g.permute(&inv)?)])
            }));
        }
        Ok(out)
    }

    pub fn unsqueeze(&self, dim: i64) -> Result<Tensor> {
        let d = wrap_dim(dim, self.ndim() + 1)?;
        let mut shape: Vec<usize> = self.shape().to_vec();
        shape.insert(d, 1);
        let mut strides: Vec<usize> = self.strides().to_vec();
        let s = if d < self.ndim() {
            self.strides()[d] * self.shape()[d]
        } else {
            1
        };
        strides.insert(d, s);
        self.reshape_view(shape.into(), strides.into(), "UnsqueezeBackward0")
    }

    /// `squeeze(dims)`: drops the listed size-1 dims (all size-1 dims when `dims` is None).
    pub fn squeeze(&self, dims: Option<&[i64]>) -> Result<Tensor> {
        let drop: Vec<usize> = match dims {
            None => (0..self.ndim()).filter(|&i| self.shape()[i] == 1).collect(),
            Some(ds) => {
                let mut v = Vec::new();
                for &d in ds {
                    let w = wrap_dim(d, self.ndim())?;
                    if self.ndim() > 0 && self.shape()[w] == 1 {
                        v.push(w);
                    }
                }
                v
            }
        };
        let keep = |i: &usize| !drop.contains(i);
        let shape: Dims = (0..self.ndim())
            .filter(keep)
            .map(|i| self.shape()[i])
            .collect();
        let strides: Dims = (0..self.ndim())
            .filter(keep)
            .map(|i| self.strides()[i])
            .collect();
        self.reshape_view(
            shape,
            strides,
            if dims.is_some() {
                "SqueezeBackward1"
            } else {
                "SqueezeBackward0"
            },
        )
    }

    /// `expand(sizes)`: -1 keeps a dim; new leading dims allowed.
    pub fn expand(&self, sizes: &[i64]) -> Result<Tensor> {
        if sizes.len() < self.ndim() {
            crate::bail!(
                Runtime,
                "expand(torch.FloatTensor{{{}}}, size=[{}]): the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                fmt_shape(self.shape()).trim_matches(|c| c == '[' || c == ']'),
                sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
                sizes.len(),
                self.ndim()
            );
        }
        let lead = sizes.len() - self.ndim();
        let mut target: Dims = SmallVec::new();
        for (i, &s) in sizes.iter().enumerate() {
            if s == -1 {
                if i < lead {
                    crate::bail!(Runtime, "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {}", i);
                }
                target.push(self.shape()[i - lead]);
            } else if s < 0 {
                crate::bail!(Runtime, "invalid shape dimension {}", s);
            } else {
                target.push(s as usize);
            }
        }
        let layout = self.layout.broadcast_to(&target)?;
        let out = self.with_layout(layout);
        if needs_grad(&[self]) {
            let orig = self.shape().to_vec();
            return Ok(record1("ExpandBackward0", &[self], out, move |g| {
                Ok(vec![Some(g.sum_to(&orig)?)])
            }));
        }
        Ok(out)
    }

    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        self.expand(&s)
    }

    /// `narrow(dim, start, length)` and basic slicing: `start:stop:step` along one dim (already clamped).
    pub fn slice(&self, dim: usize, start: usize, stop: usize, step: usize) -> Result<Tensor> {
        if step == 0 {
            crate::bail!(Value, "slice step cannot be zero");
        }
        let len = if stop > start {
            (stop - start).div_ceil(step)
        } else {
            0
        };
        self.view_op("SliceBackward0", move |l| {
            let mut l = l.clone();
            if len > 0 {
                l.offset += start * l.strides[dim];
            }
            l.shape[dim] = len;
            l.strides[dim] *= step;
            Ok(l)
        })
    }

    pub fn narrow(&self, dim: i64, start: i64, length: i64) -> Result<Tensor> {
        let d = wrap_dim(dim, self.ndim())?;
        let size = self.shape()[d] as i64;
        let s = if start < 0 { start + size } else { start };
        if s < 0 || s > size {
            crate::bail!(
                Index,
                "start out of range (expected to be in range of [{}, {}], but got {})",
                -size,
                size,
                start
            );
        }
        if length < 0 {
            crate::bail!(Runtime, "narrow(): length must be non-negative.");
        }
        if s + length > size {
            crate::bail!(
                Runtime,
                "start ({}) + length ({}) exceeds dimension size ({}).",
                start,
                length,
                size
            );
        }
        self.slice(d, s as usize, (s + length) as usize, 1)
    }

    /// `select(dim, index)`: drops the dim.
    pub fn select(&self, dim: i64, index: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            crate::bail!(Index, "select() cannot be applied to a 0-dim tensor.");
        }
        let d = wrap_dim(dim, self.ndim())?;
        let size = self.shape()[d] as i64;
        if index < -size || index >= size {
            crate::bail!(
                Index,
                "select(): index {} out of range for tensor of size {} at dimension {}",
                index,
                crate::tensor::fmt_shape(self.shape()),
                d
            );
        }
        let i = if index < 0 { index + size } else { index } as usize;
        self.view_op("SelectBackward0", move |l| {
            let mut l = l.clone();
            l.offset += i * l.strides[d];
            l.shape.remove(d);
            l.strides.remove(d);
            Ok(l)
        })
    }

    pub fn diagonal(&self, offset: i64, d1: i64, d2: i64) -> Result<Tensor> {
        let (a, b) = (wrap_dim(d1, self.ndim())?, wrap_dim(d2, self.ndim())?);
        if a == b {
            crate::bail!(
                Runtime,
                "diagonal dimensions cannot be identical {}, {}",
                d1,
                d2
            );
        }
        self.view_op("DiagonalBackward0", move |l| {
            let (sa, sb) = (l.shape[a] as i64, l.shape[b] as i64);
            let len = if offset >= 0 {
                sa.min(sb - offset)
            } else {
                (sa + offset).min(sb)
            }
            .max(0) as usize;
            let mut off = l.offset;
            if len > 0 {
                off += if offset >= 0 {
                    offset as usize * l.strides[b]
                } else {
                    (-offset) as usize * l.strides[a]
                };
            }
            let stride = l.strides[a] + l.strides[b];
            let mut shape: Dims = SmallVec::new();
            let mut strides: Dims = SmallVec::new();
            for i in 0..l.ndim() {
                if i != a && i != b {
                    shape.push(l.shape[i]);
                    strides.push(l.strides[i]);
                }
            }
            shape.push(len);
            strides.push(stride);
            Ok(Layout {
                shape,
                strides,
                offset: off,
            })
        })
    }

    /// `unfold(dim, size, step)`: sliding windows as a new last dim.
    pub fn unfold(&self, dim: i64, size: usize, step: usize) -> Result<Tensor> {
        let d = if self.ndim() == 0 {
            0
        } else {
            wrap_dim(dim, self.ndim())?
        };
        let dim_size = if self.ndim() == 0 { 1 } else { self.shape()[d] };
        if size > dim_size {
            crate::bail!(
                Runtime,
                "maximum size for tensor at dimension {} is {} but size is {}",
                d,
                dim_size,
                size
            );
        }
        if step == 0 {
            crate::bail!(Runtime, "step is {} but must be > 0", step);
        }
        self.view_op("UnfoldBackward0", move |l| {
            let mut l = l.clone();
            if l.ndim() == 0 {
                l.shape.push(1);
                l.strides.push(1);
            }
            let st = l.strides[d];
            l.shape[d] = (dim_size - size) / step + 1;
            l.strides[d] = st * step;
            l.shape.push(size);
            l.strides.push(st);
            Ok(l)
        })
    }

    /// `as_strided(size, stride, storage_offset)` over this tensor's storage.
    pub fn as_strided(
        &self,
        size: &[usize],
        stride: &[usize],
        offset: Option<usize>,
    ) -> Result<Tensor> {
        if size.len() != stride.len() {
            crate::bail!(Runtime, "mismatch in length of strides and shape");
        }
        let layout = Layout {
            shape: size.into(),
            strides: stride.into(),
            offset: offset.unwrap_or(self.layout.offset),
        };
        let elems = self.storage.nbytes() / self.dtype.size();
        if layout.storage_extent() > elems {
            crate::bail!(
                Runtime,
                "setStorage: sizes {}, strides {}, storage offset {}, and itemsize {} requiring a storage size of {} are out of bounds for storage of size {}",
                fmt_shape(size),
                fmt_shape(stride),
                layout.offset,
                self.dtype.size(),
                layout.storage_extent() * self.dtype.size(),
                self.storage.nbytes()
            );
        }
        let out = self.with_layout(layout.clone());
        if needs_grad(&[self]) {
            // gradient geometry relative to this (assumed contiguous) input's first element
            let shape = self.shape().to_vec();
            let rel = Layout {
                offset: layout.offset.saturating_sub(self.layout.offset),
                ..layout
            };
            return Ok(record1("AsStridedBackward0", &[self], out, move |g| {
                Ok(vec![Some(scatter_through(&shape, &rel, g)?)])
            }));
        }
        Ok(out)
    }

    pub fn flatten(&self, start: i64, end: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let (s, e) = (wrap_dim(start, self.ndim())?, wrap_dim(end, self.ndim())?);
        if s > e {
            crate::bail!(
                Runtime,
                "flatten() has invalid args: start_dim cannot come after end_dim"
            );
        }
        let mut shape: Vec<usize> = self.shape()[..s].to_vec();
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.reshape(&shape)
    }

    /// `movedim(src, dst)` for single dims.
    pub fn movedim(&self, src: i64, dst: i64) -> Result<Tensor> {
        let (s, d) = (wrap_dim(src, self.ndim())?, wrap_dim(dst, self.ndim())?);
        let mut order: Vec<usize> = (0..self.ndim()).filter(|&i| i != s).collect();
        order.insert(d, s);
        let o: Vec<i64> = order.iter().map(|&x| x as i64).collect();
        self.permute(&o)
    }
}

/// The gradient of a view: zeros of the input's shape with `g` added through `rel`
/// (the view's layout relative to a contiguous input). Differentiable: its own backward reads back through `rel`.
pub fn scatter_through(shape: &[usize], rel: &Layout, g: &Tensor) -> Result<Tensor> {
    let out = Tensor::zeros(shape, g.dtype, g.device())?;
    let target = out.with_layout(rel.clone());
    if rel.is_non_overlapping() {
        target.copy_raw(&g.detach())?;
    } else {
        scatter_add_overlapping(&out, &target, g)?;
    }
    if needs_grad(&[g]) {
        let rel = rel.clone();
        return Ok(record1("AsStridedScatterBackward0", &[g], out, move |gg| {
            Ok(vec![Some(
                gg.contiguous()?
                    .with_layout(rel.clone())
                    .clone_contiguous()?,
            )])
        }));
    }
    Ok(out)
}

/// `out[target] += g` element by element in order, for windows that overlap (unfold, as_strided).
fn scatter_add_overlapping(out: &Tensor, target: &Tensor, g: &Tensor) -> Result<()> {
    let g_c = g.contiguous()?;
    crate::dispatch_all!(g.dtype, T => {
        let vals = g_c.to_vec::<T>();
        let mut i = 0;
        let base = out.storage.as_ptr() as *mut T;
        for_each_offset(&target.layout, |off| {
            // SAFETY: off lies within `out`, whose layout `rel` was derived from.
            unsafe { *base.add(off) = add_elem(*base.add(off), vals[i]) };
            i += 1;
        });
    });
    Ok(())
}

fn add_elem<T: crate::tensor::Elem>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}

/// Visits the storage offset of every element of `l` in row-major order.
pub fn for_each_offset(l: &Layout, mut f: impl FnMut(usize)) {
    let n = l.numel();
    if n == 0 {
        return;
    }
    let nd = l.ndim();
    let mut idx: Dims = SmallVec::from_elem(0, nd);
    let mut off = l.offset;
    for _ in 0..n {
        f(off);
        for d in (0..nd).rev() {
            idx[d] += 1;
            off += l.strides[d];
            if idx[d] < l.shape[d] {
                break;
            }
            off -= l.strides[d] * l.shape[d];
            idx[d] = 0;
        }
    }
}
