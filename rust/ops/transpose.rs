//! Copies out of transposed views (`w.t().contiguous()`, the GEMM's transposed right operand, a
//! permute that moves the contiguous dim). The strided walk in `iter::zip` reads one source column
//! per output row, a cache miss per element; here the copy goes tile by tile, so each tile's reads
//! and writes stay in L1.

use super::iter::{coalesce, PAR_THRESHOLD};
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Tile edge: 32×32 elements are at most 8 KiB of source and 8 KiB of output.
const TILE: usize = 32;

/// `out := src` (same dtype, same shape, both on the host; `out` contiguous) when the source, once its
/// dims are merged, is a batch of 2-D transposes: `[.., R, C]` with unit stride along R. Returns
/// false (nothing written) for every other layout, and for ones too thin for tiles to pay.
pub fn transpose_copy(out: &Tensor, src: &Tensor) -> bool {
    if out.device().is_cuda()
        || src.device().is_cuda()
        || out.dtype != src.dtype
        || out.shape() != src.shape()
        || !out.is_contiguous()
    {
        return false;
    }
    let (shape, [so, ss]) = coalesce(out.shape(), [out.strides(), src.strides()]);
    let nd = shape.len();
    if nd < 2 || ss[nd - 2] != 1 || ss[nd - 1] == 1 {
        return false;
    }
    let (rows, cols) = (shape[nd - 2], shape[nd - 1]);
    if rows < 8 || cols < 8 {
        return false;
    }
    debug_assert_eq!(so[nd - 1], 1);
    let plan = Plan {
        batch_shape: shape[..nd - 2].to_vec(),
        batch_strides: ss[..nd - 2].to_vec(),
        rows,
        cols,
        col_stride: ss[nd - 1],
    };
    let (dst, s) = (out.data_ptr() as usize, src.data_ptr() as usize);
    // SAFETY: `out` is a contiguous tensor of `out.numel()` elements and `src`'s layout (merged
    // into `plan`) addresses valid elements of the same size; the tasks write disjoint rows.
    unsafe {
        match out.dtype.size() {
            1 => plan.run::<u8>(dst, s),
            2 => plan.run::<u16>(dst, s),
            4 => plan.run::<u32>(dst, s),
            8 => plan.run::<u64>(dst, s),
            _ => return false,
        }
    }
    true
}

struct Plan {
    batch_shape: Vec<usize>,
    batch_strides: Vec<usize>,
    rows: usize,
    cols: usize,
    /// the source stride of the output's last dim (the source's stride along R is 1)
    col_stride: usize,
}

impl Plan {
    /// # Safety
    /// `dst` holds batch × rows × cols contiguous `T`s; `src` with this plan's strides addresses
    /// valid `T`s.
    unsafe fn run<T: Copy + Send + Sync>(&self, dst: usize, src: usize) {
        let batches: usize = self.batch_shape.iter().product();
        let row_tiles = self.rows.div_ceil(TILE);
        let tasks = batches * row_tiles;
        let task = |i: usize| {
            let (b, rt) = (i / row_tiles, i % row_tiles);
            let mut off = 0;
            let mut rem = b;
            for d in (0..self.batch_shape.len()).rev() {
                off += (rem % self.batch_shape[d]) * self.batch_strides[d];
                rem /= self.batch_shape[d];
            }
            let out = (dst as *mut T).add(b * self.rows * self.cols);
            let inp = (src as *const T).add(off);
            let r0 = rt * TILE;
            let r1 = (r0 + TILE).min(self.rows);
            for c0 in (0..self.cols).step_by(TILE) {
                let c1 = (c0 + TILE).min(self.cols);
                for r in r0..r1 {
                    let orow = out.add(r * self.cols);
                    for c in c0..c1 {
                        *orow.add(c) = *inp.add(r + c * self.col_stride);
                    }
                }
            }
        };
        let total = batches * self.rows * self.cols;
        if total < PAR_THRESHOLD || crate::ops::threads::get_num_threads() <= 1 {
            (0..tasks).for_each(task);
        } else {
            (0..tasks).into_par_iter().for_each(task);
        }
    }
}
