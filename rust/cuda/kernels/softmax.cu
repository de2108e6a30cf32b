// Softmax and log-softmax over the contiguous last dimension, forward and backward.
// Launch with blockDim.x = 256 (block reductions need full warps: any multiple of 32 up to 1024
// works); one block per row, any grid (e.g. min(rows, 65535)); blocks loop over further rows.
// All tensors are contiguous [rows, cols]; f16/bf16 compute in f32, f32 in f32, f64 in f64.
//
//   softmax_rows_<dt>(T* out, const T* in, i64 rows, i64 cols)
//   log_softmax_rows_<dt>(T* out, const T* in, i64 rows, i64 cols)
//   softmax_backward_rows_<dt>(T* grad_in, const T* grad_out, const T* out, i64 rows, i64 cols)
//                                    grad_in = y * (g - sum(g * y)),  y = softmax output
//   log_softmax_backward_rows_<dt>(T* grad_in, const T* grad_out, const T* out, i64 rows, i64 cols)
//                                    grad_in = g - exp(y) * sum(g),   y = log_softmax output
//
// out may alias in (and grad_in may alias grad_out): each element is read for the last time
// by the same thread that writes it, after the row's reductions.

__device__ __forceinline__ float exp_acc(float x) { return expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }
__device__ __forceinline__ float log_acc(float x) { return logf(x); }
__device__ __forceinline__ double log_acc(double x) { return log(x); }


template <bool LOG, class T> __device__ __forceinline__ void softmax_rows(T* out, const T* in, i64 rows, i64 cols) {
    typedef typename Acc<T>::type A;
    BLOCK_ROW_LOOP(row, rows) {
        const T* x = in + row * cols;
        T* y = out + row * cols;
        // Subtracting the row max keeps exp() in range; a NaN max makes the whole row NaN, and
        // an all -inf row gives NaN (exp(-inf - -inf)), as in PyTorch.
        A m = neg_inf<A>();
        BLOCK_COL_LOOP(c, cols) m = max_nan(m, load_acc(x, c));
        m = block_reduce(m, MaxOp());
        A s = 0;
        BLOCK_COL_LOOP(c, cols) s += exp_acc(load_acc(x, c) - m);
        s = block_reduce(s, SumOp());
        if (LOG) {
            const A shift = m + log_acc(s);
            BLOCK_COL_LOOP(c, cols) store_acc(y, c, load_acc(x, c) - shift);
        } else {
            // A true division (not a reciprocal multiply), as PyTorch's epilogue does.
            BLOCK_COL_LOOP(c, cols) store_acc(y, c, exp_acc(load_acc(x, c) - m) / s);
        }
    }
}

template <bool LOG, class T>
__device__ __forceinline__ void softmax_backward_rows(T* grad_in, const T* grad_out, const T* out, i64 rows, i64 cols) {
    typedef typename Acc<T>::type A;
    BLOCK_ROW_LOOP(row, rows) {
        const T* g = grad_out + row * cols;
        const T* y = out + row * cols;
        T* gi = grad_in + row * cols;
        A s = 0;
        if (LOG) {
            BLOCK_COL_LOOP(c, cols) s += load_acc(g, c);
        } else {
            BLOCK_COL_LOOP(c, cols) s += load_acc(g, c) * load_acc(y, c);
        }
        s = block_reduce(s, SumOp());
        if (LOG) {
            BLOCK_COL_LOOP(c, cols) store_acc(gi, c, load_acc(g, c) - exp_acc(load_acc(y, c)) * s);
        } else {
            BLOCK_COL_LOOP(c, cols) store_acc(gi, c, load_acc(y, c) * (load_acc(g, c) - s));
        }
    }
}

#define SOFTMAX_KERNELS(T)                                                                            \
    extern "C" __global__ void softmax_rows_##T(T* out, const T* in, i64 rows, i64 cols) {            \
        softmax_rows<false>(out, in, rows, cols);                                                     \
    }                                                                                                 \
    extern "C" __global__ void log_softmax_rows_##T(T* out, const T* in, i64 rows, i64 cols) {        \
        softmax_rows<true>(out, in, rows, cols);                                                      \
    }                                                                                                 \
    extern "C" __global__ void softmax_backward_rows_##T(T* grad_in, const T* grad_out, const T* out, \
                                                         i64 rows, i64 cols) {                        \
        softmax_backward_rows<false>(grad_in, grad_out, out, rows, cols);                             \
    }                                                                                                 \
    extern "C" __global__ void log_softmax_backward_rows_##T(T* grad_in, const T* grad_out,           \
                                                             const T* out, i64 rows, i64 cols) {      \
        softmax_backward_rows<true>(grad_in, grad_out, out, rows, cols);                              \
    }

SOFTMAX_KERNELS(f32)
SOFTMAX_KERNELS(f64)
SOFTMAX_KERNELS(f16)
SOFTMAX_KERNELS(bf16)
