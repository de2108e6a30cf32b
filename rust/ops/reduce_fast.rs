//! Contiguous fast paths for max/min/amax/amin/argmax/argmin, in the manner of `sum_lanes`: several
//! independent lane accumulators the compiler vectorises, NaN tracked per lane on the side (a NaN
//! anywhere makes the result NaN, and its first position the arg-result, as in PyTorch).
//! The general strided `fold` in reduce.rs handles every other layout.
// `x != x` is the NaN test for any `Elem` (always false for integers and bool).
#![allow(clippy::eq_op)]

use super::iter::PAR_THRESHOLD;
use crate::tensor::{Elem, Tensor};
use rayon::prelude::*;

/// Four AVX-512 registers of f32 (eight of f64): independent chains hide the max/min latency.
const LANES: usize = 64;

#[inline(always)]
fn pick<T: Elem, const MAX: bool>(acc: T, x: T) -> T {
    if MAX {
        if x > acc {
            x
        } else {
            acc
        }
    } else if x < acc {
        x
    } else {
        acc
    }
}

/// Max (`MAX`) or min of a non-empty slice; NaN if any element is NaN.
fn extreme_lanes<T: Elem, const MAX: bool>(s: &[T]) -> T {
    super::vmath::simd_call(
        #[inline(always)]
        || extreme_lanes_inline::<T, MAX>(s),
    )
}

#[inline(always)]
fn extreme_lanes_inline<T: Elem, const MAX: bool>(s: &[T]) -> T {
    let first = s[0];
    let mut acc = [first; LANES];
    let mut nan = [false; LANES];
    let chunks = s.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            let x = c[i];
            let is_nan = x != x;
            nan[i] |= is_nan;
            acc[i] = pick::<T, MAX>(acc[i], x);
        }
    }
    let mut m = first;
    let mut any_nan = false;
    for i in 0..LANES {
        any_nan |= nan[i];
        m = pick::<T, MAX>(m, acc[i]);
    }
    for &x in rest {
        let is_nan = x != x;
        any_nan |= is_nan;
        m = pick::<T, MAX>(m, x);
    }
    if any_nan {
        // return one of the NaNs themselves
        *s.iter().find(|&&x| x != x).unwrap_or(&m)
    } else {
        m
    }
}

/// The extreme of `s`, split across threads when `par`.
fn extreme<T: Elem, const MAX: bool>(s: &[T], par: bool, threads: usize) -> T {
    if !par {
        return extreme_lanes::<T, MAX>(s);
    }
    let chunk = s.len().div_ceil(threads * 4).max(LANES);
    let parts: Vec<T> = s.par_chunks(chunk).map(extreme_lanes::<T, MAX>).collect();
    extreme_lanes::<T, MAX>(&parts)
}

/// First index of `target` in `s` (of the first NaN when `target` is NaN).
fn position_of<T: Elem>(s: &[T], target: T) -> usize {
    let want_nan = target != target;
    let hit = |x: T| if want_nan { x != x } else { x == target };
    let mut base = 0;
    for c in s.chunks(LANES * 4) {
        // a branch-free test per block, then the exact position inside the block that has it
        if c.iter().fold(false, |a, &x| a | hit(x)) {
            return base + c.iter().position(|&x| hit(x)).unwrap_or(0);
        }
        base += c.len();
    }
    0
}

fn extreme_index<T: Elem, const MAX: bool>(s: &[T], par: bool, threads: usize) -> (T, usize) {
    let m = extreme::<T, MAX>(s, par, threads);
    if !par {
        return (m, position_of(s, m));
    }
    let chunk = s.len().div_ceil(threads * 4).max(LANES);
    let want_nan = m != m;
    let i = s
        .par_chunks(chunk)
        .enumerate()
        .filter_map(|(c, part)| {
            let found = if want_nan {
                part.iter().any(|&x| x != x)
            } else {
                part.contains(&m)
            };
            found.then(|| c * chunk + position_of(part, m))
        })
        .min()
        .unwrap_or(0);
    (m, i)
}

/// Column-wise extreme of `rows` rows of length `p` (a reduction over leading dims).
fn extreme_cols<T: Elem, const MAX: bool>(data: &[T], p: usize, lo: usize, hi: usize) -> Vec<T> {
    let mut acc = data[lo..hi].to_vec();
    let mut nan = vec![false; hi - lo];
    for row in data.chunks_exact(p) {
        let row = &row[lo..hi];
        for ((a, n), &x) in acc.iter_mut().zip(nan.iter_mut()).zip(row) {
            let is_nan = x != x;
            *n |= is_nan;
            *a = pick::<T, MAX>(*a, x);
        }
    }
    if nan.iter().any(|&n| n) {
        for (j, a) in acc.iter_mut().enumerate() {
            if nan[j] {
                let col = data.chunks_exact(p).map(|r| r[lo + j]);
                *a = col.clone().find(|&x| x != x).unwrap_or(*a);
            }
        }
    }
    acc
}

fn trailing(dims: &[usize], nd: usize) -> bool {
    dims.iter()
        .enumerate()
        .all(|(i, &d)| d == nd - dims.len() + i)
}

/// `amax/amin` of a contiguous tensor over a trailing block of dims (rows, or everything) or a
/// leading block (columns); None for other dim sets, empty tensors or empty dim lists.
pub fn extreme_contiguous<T: Elem>(x: &Tensor, dims: &[usize], is_max: bool) -> Option<Vec<T>> {
    let (nd, n) = (x.ndim(), x.numel());
    if dims.is_empty() || n == 0 || !x.is_contiguous() || T::DTYPE != x.dtype {
        return None;
    }
    let k: usize = dims.iter().map(|&d| x.shape()[d]).product();
    // SAFETY: a contiguous view of n elements starts at data_ptr.
    let data = unsafe { std::slice::from_raw_parts(x.data_ptr() as *const T, n) };
    let threads = super::threads::get_num_threads();
    let par = n >= PAR_THRESHOLD && threads > 1;
    let p = n / k;
    if trailing(dims, nd) {
        let row = |s: &[T]| {
            if is_max {
                extreme_lanes::<T, true>(s)
            } else {
                extreme_lanes::<T, false>(s)
            }
        };
        if p == 1 {
            return Some(vec![if is_max {
                extreme::<T, true>(data, par, threads)
            } else {
                extreme::<T, false>(data, par, threads)
            }]);
        }
        return Some(if par {
            data.par_chunks(k).map(row).collect()
        } else {
            data.chunks(k).map(row).collect()
        });
    }
    if dims.iter().enumerate().all(|(i, &d)| d == i) {
        let cols = |lo: usize, hi: usize| {
            if is_max {
                extreme_cols::<T, true>(data, p, lo, hi)
            } else {
                extreme_cols::<T, false>(data, p, lo, hi)
            }
        };
        if par && p >= threads * 64 {
            let chunk = p.div_ceil(threads * 4);
            let parts: Vec<Vec<T>> = (0..p.div_ceil(chunk))
                .into_par_iter()
                .map(|c| cols(c * chunk, ((c + 1) * chunk).min(p)))
                .collect();
            return Some(parts.concat());
        }
        return Some(cols(0, p));
    }
    None
}

/// `max/min(dim)` values and first indices for a contiguous tensor whose reduced dim is innermost
/// (every later dim has size 1); None otherwise.
pub fn arg_extreme_rows<T: Elem>(
    x: &Tensor,
    dim: usize,
    is_max: bool,
) -> Option<(Vec<T>, Vec<i64>)> {
    let n = x.numel();
    if x.ndim() == 0 || n == 0 || !x.is_contiguous() || T::DTYPE != x.dtype {
        return None;
    }
    if x.shape()[dim + 1..].iter().any(|&s| s != 1) {
        return None;
    }
    let k = x.shape()[dim];
    // SAFETY: a contiguous view of n elements starts at data_ptr.
    let data = unsafe { std::slice::from_raw_parts(x.data_ptr() as *const T, n) };
    let threads = super::threads::get_num_threads();
    let par = n >= PAR_THRESHOLD && threads > 1;
    let one = |s: &[T], par: bool| {
        if is_max {
            extreme_index::<T, true>(s, par, threads)
        } else {
            extreme_index::<T, false>(s, par, threads)
        }
    };
    let r: Vec<(T, usize)> = if n == k {
        vec![one(data, par)]
    } else if par {
        data.par_chunks(k).map(|s| one(s, false)).collect()
    } else {
        data.chunks(k).map(|s| one(s, false)).collect()
    };
    Some((
        r.iter().map(|v| v.0).collect(),
        r.iter().map(|v| v.1 as i64).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference<T: Elem>(s: &[T], is_max: bool) -> (T, usize) {
        let mut best = (s[0], 0);
        for (i, &x) in s.iter().enumerate() {
            let b = best.0;
            if b != b {
                break;
            }
            if x != x || (is_max && x > b) || (!is_max && x < b) {
                best = (x, i);
            }
        }
        best
    }

    #[test]
    fn lanes_match_a_sequential_scan() {
        for n in [1usize, 2, 15, 16, 17, 33, 100, 1001, 40_000, 100_003] {
            let v: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1013) as f32 - 500.0).collect();
            let mut with_nan = v.clone();
            with_nan[n * 2 / 3] = f32::NAN;
            for s in [&v, &with_nan] {
                for is_max in [true, false] {
                    let (m, i) = reference(s, is_max);
                    for par in [false, true] {
                        let got = if is_max {
                            extreme_index::<f32, true>(s, par, 2)
                        } else {
                            extreme_index::<f32, false>(s, par, 2)
                        };
                        assert_eq!(got.1, i, "n={n} max={is_max} par={par}");
                        assert!(got.0 == m || (got.0.is_nan() && m.is_nan()));
                    }
                }
            }
            let iv: Vec<i64> = v.iter().map(|&x| x as i64).collect();
            assert_eq!(
                extreme_index::<i64, true>(&iv, false, 1),
                reference(&iv, true)
            );
        }
    }

    #[test]
    fn tensor_paths_rows_columns_and_nan() {
        let v: Vec<f32> = (0..3 * 37).map(|i| ((i * 31) % 17) as f32).collect();
        let mut v2 = v.clone();
        v2[40] = f32::NAN; // row 1, column 3
        let t = Tensor::from_vec(&v2, &[3, 37]).unwrap();
        let rows = extreme_contiguous::<f32>(&t, &[1], true).unwrap();
        assert!(rows[1].is_nan());
        assert_eq!(rows[0], 16.0);
        let cols = extreme_contiguous::<f32>(&t, &[0], false).unwrap();
        assert_eq!(cols.len(), 37);
        assert!(cols[3].is_nan());
        for j in (0..37).filter(|&j| j != 3) {
            let want = (0..3).map(|r| v[r * 37 + j]).fold(f32::INFINITY, f32::min);
            assert_eq!(cols[j], want);
        }
        let (vals, idx) = arg_extreme_rows::<f32>(&t, 1, true).unwrap();
        assert!(vals[1].is_nan());
        assert_eq!(idx[1], 3);
        assert!(arg_extreme_rows::<f32>(&t, 0, true).is_none());
    }
}
