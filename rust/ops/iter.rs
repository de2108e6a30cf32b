//! Strided iteration shared by every elementwise kernel: operands are coalesced into as few
//! dimensions as possible, the flat index range is cut into runs along the innermost dimension,
//! and big ranges are split across rayon threads. Inner loops see raw pointers plus byte strides
//! and take a contiguous fast path the compiler vectorises.

use crate::tensor::{Dims, Elem, Layout, Tensor};
use rayon::prelude::*;
use smallvec::SmallVec;

/// Work below this many elements stays on the calling thread.
pub const PAR_THRESHOLD: usize = 1 << 15;

#[derive(Clone, Copy)]
struct Ptrs<const N: usize>([*mut u8; N]);
// SAFETY: kernels only write disjoint output elements from different threads.
unsafe impl<const N: usize> Send for Ptrs<N> {}
unsafe impl<const N: usize> Sync for Ptrs<N> {}

/// Drops size-1 dims and merges neighbours that are contiguous with each other in every operand.
pub(crate) fn coalesce<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
) -> (Dims, [Dims; N]) {
    let mut out_shape: Dims = SmallVec::new();
    let mut out_strides: [Dims; N] = std::array::from_fn(|_| SmallVec::new());
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        if let Some(&last) = out_shape.last() {
            let mergeable =
                (0..N).all(|k| *out_strides[k].last().unwrap() == strides[k][d] * shape[d]);
            if mergeable {
                *out_shape.last_mut().unwrap() = last * shape[d];
                for k in 0..N {
                    *out_strides[k].last_mut().unwrap() = strides[k][d];
                }
                continue;
            }
        }
        out_shape.push(shape[d]);
        for k in 0..N {
            out_strides[k].push(strides[k][d]);
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for s in out_strides.iter_mut() {
            s.push(0);
        }
    }
    (out_shape, out_strides)
}

/// Calls `f(pointers, run_length, byte_strides)` for each innermost run in the flat range `[start, end)`.
///
/// # Safety
/// `base` pointers with `strides` (elements of `sizes` bytes) must address valid memory for `shape`.
unsafe fn runs<const N: usize>(
    shape: &[usize],
    strides: &[Dims; N],
    base: [*mut u8; N],
    sizes: [usize; N],
    start: usize,
    end: usize,
    f: &(impl Fn([*mut u8; N], usize, [isize; N]) + Sync),
) {
    let nd = shape.len();
    let inner = shape[nd - 1];
    let inner_bytes: [isize; N] = std::array::from_fn(|k| (strides[k][nd - 1] * sizes[k]) as isize);
    let mut idx = start;
    while idx < end {
        let (mut row, col) = (idx / inner, idx % inner);
        let len = (inner - col).min(end - idx);
        let mut ptrs = base;
        for k in 0..N {
            ptrs[k] = ptrs[k].offset(col as isize * inner_bytes[k]);
        }
        for d in (0..nd - 1).rev() {
            let i = row % shape[d];
            row /= shape[d];
            for k in 0..N {
                ptrs[k] = ptrs[k].add(i * strides[k][d] * sizes[k]);
            }
        }
        f(ptrs, len, inner_bytes);
        idx += len;
    }
}

/// Runs `f` over every innermost run of operands that share `shape` (already broadcast).
pub fn zip<const N: usize>(
    shape: &[usize],
    layouts: [&Layout; N],
    base: [*mut u8; N],
    sizes: [usize; N],
    f: impl Fn([*mut u8; N], usize, [isize; N]) + Sync,
) {
    let total: usize = shape.iter().product();
    if total == 0 {
        return;
    }
    let (cshape, cstrides) = coalesce(shape, std::array::from_fn(|k| &layouts[k].strides[..]));
    let base = Ptrs(base);
    let threads = if total < PAR_THRESHOLD {
        1
    } else {
        crate::ops::threads::get_num_threads()
    };
    if threads <= 1 {
        // SAFETY: layouts describe valid memory behind base.
        unsafe { runs(&cshape, &cstrides, base.0, sizes, 0, total, &f) };
        return;
    }
    let chunks = (threads * 4).min(total / (PAR_THRESHOLD / 4)).max(1);
    let chunk = total.div_ceil(chunks);
    (0..chunks).into_par_iter().for_each(|c| {
        let b = base;
        let (s, e) = (c * chunk, ((c + 1) * chunk).min(total));
        // SAFETY: as above; chunks write disjoint output elements.
        unsafe { runs(&cshape, &cstrides, b.0, sizes, s, e, &f) };
    });
}

/// Reads every element in row-major order (sequential).
pub fn for_each_elem<T: Elem>(t: &Tensor, mut f: impl FnMut(T)) {
    let total = t.numel();
    if total == 0 {
        return;
    }
    if t.is_contiguous() {
        // SAFETY: a contiguous view of `total` elements starts at data_ptr.
        let s = unsafe { std::slice::from_raw_parts(t.data_ptr() as *const T, total) };
        s.iter().for_each(|&v| f(v));
        return;
    }
    let nd = t.ndim();
    let mut idx: Dims = SmallVec::from_elem(0, nd);
    let base = t.data_ptr() as *const T;
    for _ in 0..total {
        let off: usize = idx.iter().zip(t.strides()).map(|(i, s)| i * s).sum();
        // SAFETY: off addresses an element inside the view.
        f(unsafe { *base.add(off) });
        for d in (0..nd).rev() {
            idx[d] += 1;
            if idx[d] < t.shape()[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// out[i] = f(a[i]) over a shared shape; `out` may alias `a` exactly.
pub fn map1<A: Elem, O: Elem>(out: &Tensor, a: &Tensor, f: impl Fn(A) -> O + Sync) {
    let sizes = [O::DTYPE.size(), A::DTYPE.size()];
    zip(
        out.shape(),
        [&out.layout, &a.layout],
        [out.data_ptr(), a.data_ptr()],
        sizes,
        |p, len, s| unsafe {
            let (po, pa) = (p[0] as *mut O, p[1] as *const A);
            if s[0] == sizes[0] as isize && s[1] == sizes[1] as isize {
                if std::ptr::addr_eq(po, pa) && sizes[0] == sizes[1] {
                    // in place: one base pointer, so the compiler sees no overlap to check for
                    for i in 0..len {
                        *po.add(i) = f(*(po.add(i) as *const A));
                    }
                } else {
                    for i in 0..len {
                        *po.add(i) = f(*pa.add(i));
                    }
                }
            } else {
                for i in 0..len as isize {
                    *po.byte_offset(i * s[0]) = f(*pa.byte_offset(i * s[1]));
                }
            }
        },
    );
}

/// out[i] = f(a[i], b[i]) over a shared (broadcast) shape; `out` may alias an input exactly.
pub fn map2<A: Elem, B: Elem, O: Elem>(
    out: &Tensor,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(A, B) -> O + Sync,
) {
    let sizes = [O::DTYPE.size(), A::DTYPE.size(), B::DTYPE.size()];
    let layouts = [&out.layout, &a.layout, &b.layout];
    let ptrs = [out.data_ptr(), a.data_ptr(), b.data_ptr()];
    zip(out.shape(), layouts, ptrs, sizes, |p, len, s| unsafe {
        let (po, pa, pb) = (p[0] as *mut O, p[1] as *const A, p[2] as *const B);
        let contig = |k: usize| s[k] == sizes[k] as isize;
        // in place over `a` (out aliases it exactly): read and write through one base pointer,
        // so the vectoriser needs no runtime overlap check that would send it to the scalar loop
        let inplace = std::ptr::addr_eq(po, pa) && sizes[0] == sizes[1];
        if contig(0) && contig(1) && contig(2) {
            if inplace {
                for i in 0..len {
                    *po.add(i) = f(*(po.add(i) as *const A), *pb.add(i));
                }
            } else {
                for i in 0..len {
                    *po.add(i) = f(*pa.add(i), *pb.add(i));
                }
            }
        } else if contig(0) && contig(1) && s[2] == 0 {
            let bv = *pb;
            if inplace {
                for i in 0..len {
                    *po.add(i) = f(*(po.add(i) as *const A), bv);
                }
            } else {
                for i in 0..len {
                    *po.add(i) = f(*pa.add(i), bv);
                }
            }
        } else if contig(0) && s[1] == 0 && contig(2) {
            let av = *pa;
            for i in 0..len {
                *po.add(i) = f(av, *pb.add(i));
            }
        } else {
            for i in 0..len as isize {
                *po.byte_offset(i * s[0]) = f(*pa.byte_offset(i * s[1]), *pb.byte_offset(i * s[2]));
            }
        }
    });
}

/// out[i] = f(a[i], b[i], c[i]) over a shared (broadcast) shape.
pub fn map3<A: Elem, B: Elem, C: Elem, O: Elem>(
    out: &Tensor,
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    f: impl Fn(A, B, C) -> O + Sync,
) {
    let sizes = [
        O::DTYPE.size(),
        A::DTYPE.size(),
        B::DTYPE.size(),
        C::DTYPE.size(),
    ];
    let layouts = [&out.layout, &a.layout, &b.layout, &c.layout];
    let ptrs = [out.data_ptr(), a.data_ptr(), b.data_ptr(), c.data_ptr()];
    zip(out.shape(), layouts, ptrs, sizes, |p, len, s| unsafe {
        let (po, pa, pb, pc) = (
            p[0] as *mut O,
            p[1] as *const A,
            p[2] as *const B,
            p[3] as *const C,
        );
        for i in 0..len as isize {
            *po.byte_offset(i * s[0]) = f(
                *pa.byte_offset(i * s[1]),
                *pb.byte_offset(i * s[2]),
                *pc.byte_offset(i * s[3]),
            );
        }
    });
}
