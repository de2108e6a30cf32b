// Layer norm over the contiguous last dimension: forward, grad of the input, grads of the affine
// parameters. Launch with blockDim.x = 256 (block reductions need full warps: any multiple of 32
// up to 1024 works). Tensors are contiguous [rows, cols]; weight/bias are [cols] or null.
// A (the statistics type) is f32 for f32/f16/bf16 and f64 for f64, as PyTorch's mean/rstd.
//
//   layer_norm_rows_<dt>(T* out, A* mean_out, A* rstd_out, const T* in, const T* weight,
//                        const T* bias, i64 rows, i64 cols, double eps)
//       one block per row, any grid. mean_out/rstd_out ([rows]) may be null.
//       var is the biased variance (divides by cols); rstd = 1/sqrt(var + eps).
//   layer_norm_backward_rows_<dt>(T* grad_in, const T* grad_out, const T* in, const A* mean,
//                                 const A* rstd, const T* weight, i64 rows, i64 cols)
//       one block per row, any grid; weight may be null (no affine).
//       grad_in = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * w, xhat = (x - mean) * rstd
//   layer_norm_affine_grad_<dt>(T* dweight, T* dbias, const T* grad_out, const T* in,
//                               const A* mean, const A* rstd, i64 rows, i64 cols)
//       dweight[c] = sum_r g * xhat, dbias[c] = sum_r g (either output may be null).
//       Each block owns 32 columns at a time: grid = ceil(cols / 32) (fewer is also correct).

__device__ __forceinline__ float rsqrt_acc(float x) { return rsqrtf(x); }
__device__ __forceinline__ double rsqrt_acc(double x) { return rsqrt(x); }


template <class T>
__device__ __forceinline__ void layer_norm_rows(T* out, typename Acc<T>::type* mean_out, typename Acc<T>::type* rstd_out,
                                                const T* in, const T* weight, const T* bias, i64 rows, i64 cols,
                                                double eps) {
    typedef typename Acc<T>::type A;
    const A inv_cols = (A)1 / (A)cols;
    BLOCK_ROW_LOOP(row, rows) {
        const T* x = in + row * cols;
        T* y = out + row * cols;
        // Two passes over the row (mean, then the mean of squared deviations): no cancellation
        // of E[x^2] - E[x]^2, and the second read mostly hits L2.
        A s = 0;
        BLOCK_COL_LOOP(c, cols) s += load_acc(x, c);
        const A mean = block_reduce(s, SumOp()) * inv_cols;
        A sq = 0;
        BLOCK_COL_LOOP(c, cols) {
            const A d = load_acc(x, c) - mean;
            sq += d * d;
        }
        const A var = block_reduce(sq, SumOp()) * inv_cols;
        const A rstd = rsqrt_acc(var + (A)eps);
        BLOCK_COL_LOOP(c, cols) {
            A v = (load_acc(x, c) - mean) * rstd;
            if (weight) v *= load_acc(weight, c);
            if (bias) v += load_acc(bias, c);
            store_acc(y, c, v);
        }
        if (threadIdx.x == 0) {
            if (mean_out) mean_out[row] = mean;
            if (rstd_out) rstd_out[row] = rstd;
        }
    }
}

template <class T>
__device__ __forceinline__ void layer_norm_backward_rows(T* grad_in, const T* grad_out, const T* in,
                                                         const typename Acc<T>::type* mean,
                                                         const typename Acc<T>::type* rstd, const T* weight,
                                                         i64 rows, i64 cols) {
    typedef typename Acc<T>::type A;
    const A inv_cols = (A)1 / (A)cols;
    BLOCK_ROW_LOOP(row, rows) {
        const T* x = in + row * cols;
        const T* g = grad_out + row * cols;
        T* gi = grad_in + row * cols;
        const A mu = mean[row], rs = rstd[row];
        A sum_gw = 0, sum_gw_xhat = 0;
        BLOCK_COL_LOOP(c, cols) {
            const A gw = weight ? load_acc(g, c) * load_acc(weight, c) : load_acc(g, c);
            sum_gw += gw;
            sum_gw_xhat += gw * (load_acc(x, c) - mu) * rs;
        }
        const A mean_gw = block_reduce(sum_gw, SumOp()) * inv_cols;
        const A mean_gw_xhat = block_reduce(sum_gw_xhat, SumOp()) * inv_cols;
        BLOCK_COL_LOOP(c, cols) {
            const A gw = weight ? load_acc(g, c) * load_acc(weight, c) : load_acc(g, c);
            const A xhat = (load_acc(x, c) - mu) * rs;
            store_acc(gi, c, rs * (gw - mean_gw - xhat * mean_gw_xhat));
        }
    }
}

template <class T>
__device__ __forceinline__ void layer_norm_affine_grad(T* dweight, T* dbias, const T* grad_out, const T* in,
                                                       const typename Acc<T>::type* mean,
                                                       const typename Acc<T>::type* rstd, i64 rows, i64 cols) {
    typedef typename Acc<T>::type A;
    // A 32-column tile; the block's warps split the rows and meet in shared memory. Lanes of a
    // warp read 32 adjacent columns, so global loads coalesce. The +1 avoids bank conflicts.
    __shared__ A part_w[32][33];
    __shared__ A part_b[32][33];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nwarps = blockDim.x >> 5;
    for (i64 tile = blockIdx.x; tile * 32 < cols; tile += gridDim.x) {
        const i64 c = tile * 32 + lane;
        A sw = 0, sb = 0;
        if (c < cols) {
            for (i64 r = warp; r < rows; r += nwarps) {
                const A gv = load_acc(grad_out, r * cols + c);
                sw += gv * (load_acc(in, r * cols + c) - (A)mean[r]) * (A)rstd[r];
                sb += gv;
            }
        }
        __syncthreads();  // the previous tile may still be reading part_*
        part_w[warp][lane] = sw;
        part_b[warp][lane] = sb;
        __syncthreads();
        if (warp == 0 && c < cols) {
            A tw = 0, tb = 0;
            for (int k = 0; k < nwarps; ++k) {
                tw += part_w[k][lane];
                tb += part_b[k][lane];
            }
            if (dweight) store_acc(dweight, c, tw);
            if (dbias) store_acc(dbias, c, tb);
        }
    }
}

#define NORM_KERNELS(T)                                                                                   \
    extern "C" __global__ void layer_norm_rows_##T(T* out, Acc<T>::type* mean_out, Acc<T>::type* rstd_out, \
                                                   const T* in, const T* weight, const T* bias, i64 rows, \
                                                   i64 cols, double eps) {                                \
        layer_norm_rows(out, mean_out, rstd_out, in, weight, bias, rows, cols, eps);                      \
    }                                                                                                     \
    extern "C" __global__ void layer_norm_backward_rows_##T(T* grad_in, const T* grad_out, const T* in,    \
                                                            const Acc<T>::type* mean,                     \
                                                            const Acc<T>::type* rstd, const T* weight,    \
                                                            i64 rows, i64 cols) {                         \
        layer_norm_backward_rows(grad_in, grad_out, in, mean, rstd, weight, rows, cols);                  \
    }                                                                                                     \
    extern "C" __global__ void layer_norm_affine_grad_##T(T* dweight, T* dbias, const T* grad_out,         \
                                                          const T* in, const Acc<T>::type* mean,          \
                                                          const Acc<T>::type* rstd, i64 rows, i64 cols) { \
        layer_norm_affine_grad(dweight, dbias, grad_out, in, mean, rstd, rows, cols);                     \
    }

NORM_KERNELS(f32)
NORM_KERNELS(f64)
NORM_KERNELS(f16)
NORM_KERNELS(bf16)
