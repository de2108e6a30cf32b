//! Joining and splitting: cat, stack, split, chunk, unbind, repeat, roll, tril/triu.

use crate::autograd::{needs_grad, record1};
use crate::tensor::{fmt_shape, result_type, wrap_dim, Device, Rank, Result, Tensor};

impl Tensor {
    /// `cat(tensors, dim)`: dtypes promote; 1-D empty tensors are skipped as in PyTorch.
    pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        if tensors.is_empty() {
            crate::bail!(Runtime, "torch.cat(): expected a non-empty list of Tensors");
        }
        let parts: Vec<&Tensor> = tensors
            .iter()
            .filter(|t| !(t.ndim() == 1 && t.numel() == 0))
            .collect();
        let dtype = result_type(
            &tensors
                .iter()
                .map(|t| (t.dtype, Rank::Dim))
                .collect::<Vec<_>>(),
        );
        let dev = Device::same(&tensors.iter().collect::<Vec<_>>())?;
        if parts.is_empty() {
            return Tensor::empty(&[0], dtype, dev);
        }
        let first = parts[0];
        if first.ndim() == 0 {
            crate::bail!(
                Runtime,
                "zero-dimensional tensor (at position 0) cannot be concatenated"
            );
        }
        let d = wrap_dim(dim, first.ndim())?;
        let mut total = 0;
        for (i, t) in parts.iter().enumerate() {
            if t.ndim() != first.ndim() {
                crate::bail!(
                    Runtime,
                    "Tensors must have same number of dimensions: got {} and {}",
                    first.ndim(),
                    t.ndim()
                );
            }
            for a in 0..first.ndim() {
                if a != d && t.shape()[a] != first.shape()[a] {
                    crate::bail!(
                        Runtime,
                        "Sizes of tensors must match except in dimension {}. Expected size {} but got size {} for tensor number {} in the list.",
                        d, first.shape()[a], t.shape()[a], i
                    );
                }
            }
            total += t.shape()[d];
        }
        let mut shape = first.shape().to_vec();
        shape[d] = total;
        let out = Tensor::empty(&shape, dtype, dev)?;
        let mut at = 0;
        let mut sizes = Vec::new();
        for t in &parts {
            let n = t.shape()[d];
            out.with_layout(out.layout.narrow(d, at, n)).copy_raw(t)?;
            at += n;
            sizes.push((n, t.dtype));
        }
        let owned: Vec<Tensor> = parts.iter().map(|t| (*t).clone()).collect();
        let refs: Vec<&Tensor> = owned.iter().collect();
        if dtype.is_float() && needs_grad(&refs) {
            let n_in = owned.len();
            let out = crate::autograd::record("CatBackward0", &refs, vec![out], move |g| {
                let Some(g) = &g[0] else {
                    return Ok(vec![None; n_in]);
                };
                let mut at = 0;
                let mut res = Vec::new();
                for &(n, dt) in &sizes {
                    res.push(if dt.is_float() {
                        Some(g.slice(d, at, at + n, 1)?.cast(dt)?)
                    } else {
                        None
                    });
                    at += n;
                }
                Ok(res)
            });
            return Ok(out.into_iter().next().expect("one output"));
        }
        Ok(out)
    }

    /// `stack(tensors, dim)`.
    pub fn stack(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        if tensors.is_empty() {
            crate::bail!(Runtime, "stack expects a non-empty TensorList");
        }
        let d = wrap_dim(dim, tensors[0].ndim() + 1)?;
        for (i, t) in tensors.iter().enumerate() {
            if t.shape() != tensors[0].shape() {
                crate::bail!(
                    Runtime,
                    "stack expects each tensor to be equal size, but got {} at entry 0 and {} at entry {}",
                    fmt_shape(tensors[0].shape()),
                    fmt_shape(t.shape()),
                    i
                );
            }
        }
        let u: Result<Vec<Tensor>> = tensors.iter().map(|t| t.unsqueeze(d as i64)).collect();
        Tensor::cat(&u?, d as i64)
    }

    /// `split(sizes, dim)`: views.
    pub fn split_sizes(&self, sizes: &[usize], dim: i64) -> Result<Vec<Tensor>> {
        let d = wrap_dim(dim, self.ndim())?;
        let total: usize = sizes.iter().sum();
        if total != self.shape()[d] {
            crate::bail!(
                Runtime,
                "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {}), but got split_sizes=[{}]",
                self.shape()[d],
                d,
                sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        let mut at = 0;
        let mut out = Vec::new();
        for &n in sizes {
            out.push(self.slice(d, at, at + n, 1)?);
            at += n;
        }
        Ok(out)
    }

    /// `split(split_size, dim)`: equal chunks of `size`, the last may be smaller.
    pub fn split_size(&self, size: usize, dim: i64) -> Result<Vec<Tensor>> {
        let d = wrap_dim(dim, self.ndim())?;
        let n = self.shape()[d];
        if size == 0 && n > 0 {
            crate::bail!(
                Runtime,
                "split_size can only be 0 if dimension size is 0, but got dimension size of {}",
                n
            );
        }
        let mut sizes = Vec::new();
        let mut left = n;
        while left > 0 {
            sizes.push(size.min(left));
            left -= size.min(left);
        }
        if sizes.is_empty() {
            sizes.push(0);
        }
        self.split_sizes(&sizes, dim)
    }

    /// `chunk(chunks, dim)`.
    pub fn chunk(&self, chunks: usize, dim: i64) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            crate::bail!(
                Runtime,
                "chunk expects `chunks` to be greater than 0, got: 0"
            );
        }
        let d = wrap_dim(dim, self.ndim())?;
        let size = self.shape()[d].div_ceil(chunks).max(1);
        self.split_size(size, dim)
    }

    pub fn unbind(&self, dim: i64) -> Result<Vec<Tensor>> {
        let d = wrap_dim(dim, self.ndim())?;
        (0..self.shape()[d])
            .map(|i| self.select(d as i64, i as i64))
            .collect()
    }

    /// `repeat(sizes)`: tiles the tensor (a copy).
    pub fn repeat(&self, reps: &[usize]) -> Result<Tensor> {
        if reps.len() < self.ndim() {
            crate::bail!(
                Runtime,
                "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
            );
        }
        let lead = reps.len() - self.ndim();
        let mut src_shape = vec![1usize; lead];
        src_shape.extend_from_slice(self.shape());
        let x = self.reshape(&src_shape)?;
        // interleave: [1, d0, 1, d1, ...] expanded to [r0, d0, r1, d1, ...]
        let mut inter = Vec::new();
        let mut expd = Vec::new();
        let mut fin = Vec::new();
        for (i, &d) in src_shape.iter().enumerate() {
            inter.extend([1, d]);
            expd.extend([reps[i] as i64, d as i64]);
            fin.push(reps[i] * d);
        }
        x.reshape(&inter)?
            .expand(&expd)?
            .contiguous()?
            .reshape(&fin)
    }

    /// `roll(shifts, dims)`; with no dims the flattened tensor rolls.
    pub fn roll(&self, shifts: &[i64], dims: &[i64]) -> Result<Tensor> {
        if dims.is_empty() {
            let flat = self.reshape(&[self.numel()])?;
            return flat.roll(shifts, &[0])?.reshape(self.shape());
        }
        if shifts.len() != dims.len() {
            crate::bail!(
                Runtime,
                "shifts and dimensions must align. shifts: {}, dims:{}",
                shifts.len(),
                dims.len()
            );
        }
        let mut x = self.clone();
        for (&s, &dm) in shifts.iter().zip(dims) {
            let d = wrap_dim(dm, x.ndim())?;
            let n = x.shape()[d] as i64;
            if n == 0 {
                continue;
            }
            let k = ((s % n) + n) % n;
            if k == 0 {
                continue;
            }
            let a = x.slice(d, (n - k) as usize, n as usize, 1)?;
            let b = x.slice(d, 0, (n - k) as usize, 1)?;
            x = Tensor::cat(&[a, b], d as i64)?;
        }
        Ok(x)
    }

    /// `tril(k)` / `triu(k)` on the last two dims.
    pub fn tri(&self, k: i64, upper: bool) -> Result<Tensor> {
        if self.ndim() < 2 {
            crate::bail!(
                Runtime,
                "{}: input tensor must have at least 2 dimensions",
                if upper { "triu" } else { "tril" }
            );
        }
        let gpu = if self.device().is_cuda() {
            let out = Tensor::empty(self.shape(), self.dtype, self.device())?;
            kernel_took!(out, crate::cuda::ops::tri(&out, &self.detach(), k, upper)).then_some(out)
        } else {
            None
        };
        let out = match gpu {
            Some(out) => out,
            None => self.tri_host(k, upper)?,
        };
        if needs_grad(&[self]) {
            return Ok(record1(
                if upper {
                    "TriuBackward0"
                } else {
                    "TrilBackward0"
                },
                &[self],
                out,
                move |g| Ok(vec![Some(g.tri(k, upper)?)]),
            ));
        }
        Ok(out)
    }

    /// `tri` as a `where` with a mask built on the host.
    fn tri_host(&self, k: i64, upper: bool) -> Result<Tensor> {
        let (r, c) = (self.shape()[self.ndim() - 2], self.shape()[self.ndim() - 1]);
        let mut m = vec![false; r * c];
        for i in 0..r {
            for j in 0..c {
                let d = j as i64 - i as i64;
                m[i * c + j] = if upper { d >= k } else { d <= k };
            }
        }
        let mask = Tensor::from_vec_on(&m, &[r, c], self.device())?;
        let z = Tensor::zeros(&[], self.dtype, self.device())?;
        Tensor::where_(&mask, &self.detach(), &z)
    }
}
