//! The host GEMM: every CPU matrix product goes through `gemm_strided`, which picks the layout the
//! `gemm` crate runs fastest before calling it.
//!
//! Measured on AVX-512 (64×784 @ 784×256, 2 threads): a column-major right operand (`x @ w.t()`,
//! Linear's forward) written to a row-major output runs ~2× slower than any other layout, while
//! the same product written column-major does not. Such products therefore run into a
//! column-major scratch that is transposed into place (m·n elements moved), or, when the output is
//! the larger side, with the right operand copied row-major first (k·n moved).

use crate::tensor::Elem;
use gemm::Parallelism;
use half::f16;

/// Products of at least this many multiply-adds take the layout detour (below, moving data costs
/// more than the slow packing).
const RELAYOUT_MIN: usize = 32 * 32 * 32;

/// The element types the `gemm` crate implements.
pub(super) trait GemmElem: Elem {}
impl GemmElem for f32 {}
impl GemmElem for f64 {}
impl GemmElem for f16 {}

/// A strided matrix operand: base pointer and (row, column) strides in elements.
#[derive(Clone, Copy)]
pub(super) struct Operand<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// Rayon inside one GEMM once it is big enough to split.
pub(super) fn gemm_par(work: usize) -> Parallelism {
    let threads = super::threads::get_num_threads();
    if threads > 1 && work >= 48 * 48 * 48 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// `dst[m, n] = (accumulate ? dst : 0) + lhs[m, k] @ rhs[k, n]`, `dst` row-major with row stride
/// `dst_rs`.
///
/// # Safety
/// Every element addressed through the operands' strides must be readable, `dst`'s `m × n` block
/// writable, and `dst` must not overlap the operands.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_strided<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: usize,
    accumulate: bool,
    lhs: Operand<T>,
    rhs: Operand<T>,
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                std::slice::from_raw_parts_mut(dst.add(i * dst_rs), n).fill(T::zero());
            }
        }
        return;
    }
    let slow_layout = rhs.rs == 1 && rhs.cs != 1 && n > 1 && m > 1;
    if !slow_layout || m * n * k < RELAYOUT_MIN {
        return raw(
            m,
            n,
            k,
            (dst, 1, dst_rs as isize),
            accumulate,
            lhs,
            rhs,
            par,
        );
    }
    let moved_out = m * n * if accumulate { 2 } else { 1 };
    if moved_out <= k * n {
        // column-major scratch [m, n] (element (i, j) at j·m + i), transposed into dst after
        let mut scratch = vec![T::zero(); m * n];
        if accumulate {
            transpose_into(dst, m, n, dst_rs, scratch.as_mut_ptr(), m);
        }
        let sp = scratch.as_mut_ptr();
        raw(m, n, k, (sp, m as isize, 1), accumulate, lhs, rhs, par);
        transpose_into(scratch.as_ptr(), n, m, m, dst, dst_rs);
    } else {
        // the right operand copied row-major: [k, n] with row stride n
        let mut packed = vec![T::zero(); k * n];
        transpose_into(rhs.ptr, n, k, rhs.cs as usize, packed.as_mut_ptr(), n);
        let row_major = Operand {
            ptr: packed.as_ptr(),
            rs: n as isize,
            cs: 1,
        };
        raw(
            m,
            n,
            k,
            (dst, 1, dst_rs as isize),
            accumulate,
            lhs,
            row_major,
            par,
        );
    }
}

/// `dst[c, r] = src[r, c]` for `src [rows, cols]` with row stride `src_rs` (columns contiguous)
/// into `dst` with row stride `dst_rs`, in 32×32 tiles so both sides stay in cache (a plain loop
/// with power-of-two strides thrashes L1). Serial: splitting it over the pool measured slower.
unsafe fn transpose_into<T: Copy>(
    src: *const T,
    rows: usize,
    cols: usize,
    src_rs: usize,
    dst: *mut T,
    dst_rs: usize,
) {
    const TILE: usize = 32;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for c in c0..(c0 + TILE).min(cols) {
                let out = dst.add(c * dst_rs);
                for r in r0..(r0 + TILE).min(rows) {
                    *out.add(r) = *src.add(r * src_rs + c);
                }
            }
        }
    }
}

/// The `gemm` crate's call: `dst` given as (pointer, column stride, row stride).
#[allow(clippy::too_many_arguments)]
unsafe fn raw<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: (*mut T, isize, isize),
    accumulate: bool,
    lhs: Operand<T>,
    rhs: Operand<T>,
    par: Parallelism,
) {
    gemm::gemm::<T>(
        m,
        n,
        k,
        dst.0,
        dst.1,
        dst.2,
        accumulate,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        T::one(),
        T::one(),
        false,
        false,
        false,
        par,
    )
}

/// [`gemm_strided`] on slices: `dst[m, n]` contiguous, operands as (data, row stride, column
/// stride).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_into<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    lhs: (&[T], usize, usize),
    rhs: (&[T], usize, usize),
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n, "gemm_into: destination too small");
    let reach = |rows: usize, cols: usize, (s, rs, cs): (&[T], usize, usize)| {
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < s.len(),
            "gemm_into: operand too small"
        );
    };
    reach(m, k, lhs);
    reach(k, n, rhs);
    let op = |(s, rs, cs): (&[T], usize, usize)| Operand {
        ptr: s.as_ptr(),
        rs: rs as isize,
        cs: cs as isize,
    };
    // SAFETY: the asserts above bound every addressed element by the slices; dst is a distinct
    // &mut slice.
    unsafe {
        gemm_strided(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            n,
            accumulate,
            op(lhs),
            op(rhs),
            par,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout the detours take, against a plain triple loop.
    #[test]
    fn layouts_match_the_naive_product() {
        let (m, n, k) = (40, 36, 100);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
        let init: Vec<f64> = (0..m * n).map(|i| (i % 3) as f64).collect();
        // a row-major [m, k]; b column-major [k, n] (element (p, j) at j·k + p)
        let naive = |acc: bool| {
            let mut out = if acc { init.clone() } else { vec![0.0; m * n] };
            for i in 0..m {
                for j in 0..n {
                    for p in 0..k {
                        out[i * n + j] += a[i * k + p] * b[j * k + p];
                    }
                }
            }
            out
        };
        for acc in [false, true] {
            // m·n·2 <= k·n picks the scratch; a tall lhs picks the packed rhs
            for rows in [m, 4 * m] {
                let a_rows: Vec<f64> = (0..rows)
                    .flat_map(|i| a[(i % m) * k..(i % m + 1) * k].to_vec())
                    .collect();
                let mut dst: Vec<f64> = (0..rows)
                    .flat_map(|i| init[(i % m) * n..(i % m + 1) * n].to_vec())
                    .collect();
                if !acc {
                    dst.iter_mut().for_each(|v| *v = f64::NAN);
                }
                gemm_into(
                    rows,
                    n,
                    k,
                    &mut dst,
                    acc,
                    (&a_rows, k, 1),
                    (&b, 1, k),
                    Parallelism::None,
                );
                let want = naive(acc);
                for i in 0..rows {
                    assert_eq!(
                        &dst[i * n..(i + 1) * n],
                        &want[(i % m) * n..(i % m + 1) * n]
                    );
                }
            }
        }
    }
}
