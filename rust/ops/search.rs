//! `torch.searchsorted` / `torch.bucketize`: where values would go in rows sorted along the last
//! dim, by binary search (one thread per value on a GPU).

use super::iter::PAR_THRESHOLD;
use crate::tensor::{fmt_shape, promote_types, DType, Device, Elem, Result, Tensor};
use rayon::prelude::*;

impl Tensor {
    /// For each of `values`, the index of the first element of its row of `self` that is not
    /// below it (`right`: not below or equal). `self` is 1-D (one row for every value) or has
    /// `values`' leading dims (row r for the values of row r). int64 indices (int32 if `out_int32`).
    pub fn searchsorted(&self, values: &Tensor, right: bool, out_int32: bool) -> Result<Tensor> {
        Device::same(&[self, values])?;
        let (sd, vd) = (self.shape(), values.shape());
        if sd.is_empty() {
            crate::bail!(
                Runtime,
                "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 dimension"
            );
        }
        let shared = sd.len() == 1;
        if !shared && (vd.len() != sd.len() || sd[..sd.len() - 1] != vd[..vd.len() - 1]) {
            crate::bail!(
                Runtime,
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of \
                 boundaries tensor and input value tensor must match, but we got boundaries tensor {} and input \
                 value tensor {}",
                fmt_shape(sd),
                fmt_shape(vd)
            );
        }
        let dt = promote_types(self.dtype, values.dtype);
        if dt == DType::Bool {
            crate::bail!(
                Runtime,
                "torch.searchsorted(): bool tensors are not supported"
            );
        }
        let seq = self.cast(dt)?.contiguous()?;
        let vals = values.cast(dt)?.contiguous()?;
        let k = sd[sd.len() - 1];
        let n = vals.numel();
        let m = if shared { n } else { vd[vd.len() - 1] };
        let seq_rows = if shared { 1 } else { seq.numel() / k.max(1) };
        let out = Tensor::empty(vd, DType::I64, self.device())?;
        if n > 0 {
            let took = kernel_took!(
                self,
                crate::cuda::ops::search_sorted(&out, &seq, &vals, seq_rows, k, m, right)
            );
            if !took {
                crate::dispatch_all!(dt, T => search_host::<T>(&out, &seq, &vals, (seq_rows, k, m), right));
            }
        }
        if out_int32 {
            out.cast(DType::I32)
        } else {
            Ok(out)
        }
    }
}

/// The host search over contiguous `seq` ([seq_rows, k]) and `vals` (rows of m) into `out`.
fn search_host<T: Elem>(
    out: &Tensor,
    seq: &Tensor,
    vals: &Tensor,
    dims: (usize, usize, usize),
    right: bool,
) {
    let (seq_rows, k, m) = dims;
    // SAFETY: all three are contiguous host tensors of these sizes; out is written only here.
    let (s, v, o) = unsafe {
        (
            std::slice::from_raw_parts(seq.data_ptr() as *const T, seq_rows * k),
            std::slice::from_raw_parts(vals.data_ptr() as *const T, vals.numel()),
            std::slice::from_raw_parts_mut(out.data_ptr() as *mut i64, vals.numel()),
        )
    };
    let one = |(j, (o, &x)): (usize, (&mut i64, &T))| {
        let r = if seq_rows == 1 { 0 } else { j / m };
        let row = &s[r * k..(r + 1) * k];
        // PyTorch's bounds, midpoint for midpoint (so a NaN in the row steers the search as it does
        // there, and on the GPU): move past e while !(e >= x) (right: !(e > x))
        let (mut lo, mut hi) = (0, k);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // e is "below" x unless e >= x (right: e > x); an unordered pair (NaN) counts as below
            let above = match row[mid].partial_cmp(&x) {
                Some(std::cmp::Ordering::Greater) => true,
                Some(std::cmp::Ordering::Equal) => !right,
                _ => false,
            };
            if !above {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        *o = lo as i64;
    };
    if o.len() >= PAR_THRESHOLD {
        o.par_iter_mut().zip(v.par_iter()).enumerate().for_each(one);
    } else {
        o.iter_mut().zip(v).enumerate().for_each(one);
    }
}
