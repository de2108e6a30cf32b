//! Sorting: sort, argsort, topk, unique, kthvalue-style selections. NaN sorts as the largest value.

use super::reduce::split3;
use crate::autograd::{needs_grad, record};
use crate::tensor::{is_nan, wrap_dim, Elem, Result, Tensor};
use std::cmp::Ordering;

fn cmp_nan_last<T: Elem>(a: &T, b: &T) -> Ordering {
    let (an, bn) = (is_nan(*a), is_nan(*b));
    match (an, bn) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

impl Tensor {
    /// Sorts along `dim`, keeping the first `k` of each row (all when None). Returns (values, indices).
    pub fn sort_k(&self, dim: i64, descending: bool, k: Option<usize>) -> Result<(Tensor, Tensor)> {
        let d = if self.ndim() == 0 {
            0
        } else {
            wrap_dim(dim, self.ndim())?
        };
        let x = self.detach().contiguous()?;
        let (outer, len, inner) = split3(x.shape(), d);
        let k = k.unwrap_or(len);
        if k > len {
            crate::bail!(Runtime, "selected index k out of range");
        }
        let mut shape = x.shape().to_vec();
        if !shape.is_empty() {
            shape[d] = k;
        }
        let gpu = if x.device().is_cuda() {
            let vals = Tensor::empty(&shape, x.dtype, x.device())?;
            let idx = Tensor::empty(&shape, crate::tensor::DType::I64, x.device())?;
            let took = kernel_took!(
                x,
                crate::cuda::ops::sort_rows(&vals, &idx, &x, (outer, len, inner), k, descending)
            );
            took.then_some((vals, idx))
        } else {
            None
        };
        let (vals, idx) = if let Some(pair) = gpu {
            pair
        } else {
            crate::dispatch_all!(x.dtype, T => {
                let src = x.to_vec::<T>();
                let mut ov: Vec<T> = Vec::with_capacity(outer * k * inner);
                let mut oi: Vec<i64> = Vec::with_capacity(outer * k * inner);
                ov.resize(outer * k * inner, T::default());
                oi.resize(outer * k * inner, 0);
                let mut order: Vec<usize> = Vec::with_capacity(len);
                for o in 0..outer {
                    for i in 0..inner {
                        order.clear();
                        order.extend(0..len);
                        let at = |j: usize| src[(o * len + j) * inner + i];
                        order.sort_by(|&a, &b| {
                            let c = cmp_nan_last(&at(a), &at(b));
                            if descending { c.reverse() } else { c }
                        });
                        for (j, &src_j) in order.iter().take(k).enumerate() {
                            ov[(o * k + j) * inner + i] = at(src_j);
                            oi[(o * k + j) * inner + i] = src_j as i64;
                        }
                    }
                }
                (Tensor::from_vec_on(&ov, &shape, x.device())?, Tensor::from_vec_on(&oi, &shape, x.device())?)
            })
        };
        if needs_grad(&[self]) {
            let (orig, ix) = (self.shape().to_vec(), idx.clone());
            let name = if k == len {
                "SortBackward0"
            } else {
                "TopkBackward0"
            };
            let mut outs = record(name, &[self], vec![vals], move |g| {
                let Some(g) = &g[0] else {
                    return Ok(vec![None]);
                };
                Ok(vec![Some(
                    Tensor::zeros(&orig, g.dtype, g.device())?
                        .scatter_valid_index(d, &ix, g, false)?,
                )])
            });
            return Ok((outs.remove(0), idx));
        }
        Ok((vals, idx))
    }

    /// `topk(k, dim, largest, sorted)`.
    pub fn topk(&self, k: usize, dim: i64, largest: bool) -> Result<(Tensor, Tensor)> {
        self.sort_k(dim, largest, Some(k))
    }

    /// `unique(sorted=True, return_inverse, return_counts)` over the flattened tensor.
    pub fn unique(&self) -> Result<(Tensor, Tensor, Tensor)> {
        let x = self.detach();
        crate::dispatch_all!(x.dtype, T => {
            let v = x.to_vec::<T>();
            let mut order: Vec<usize> = (0..v.len()).collect();
            order.sort_by(|&a, &b| cmp_nan_last(&v[a], &v[b]));
            let mut uniq: Vec<T> = Vec::new();
            let mut counts: Vec<i64> = Vec::new();
            let mut inverse = vec![0i64; v.len()];
            for &i in &order {
                if uniq.last().map(|u| cmp_nan_last(u, &v[i]) != Ordering::Equal).unwrap_or(true) {
                    uniq.push(v[i]);
                    counts.push(0);
                }
                *counts.last_mut().expect("pushed") += 1;
                inverse[i] = uniq.len() as i64 - 1;
            }
            let n = uniq.len();
            Ok((Tensor::from_vec_on(&uniq, &[n], x.device())?, Tensor::from_vec_on(&inverse, x.shape(), x.device())?, Tensor::from_vec_on(&counts, &[n], x.device())?))
        })
    }
}
