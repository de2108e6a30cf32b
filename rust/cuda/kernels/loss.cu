// Negative log-likelihood over class-index targets, and the fused cross-entropy backward.
// Launch with blockDim.x = 256 (any block size is correct; nothing here reduces) and any grid:
// grid-stride loops over rows (nll_rows) or over rows * cols elements (the backwards).
// logprobs is contiguous [rows, cols] (cols = classes); target is i64 [rows]; weight is [cols]
// or null (all ones). A target equal to ignore_index contributes nothing; any other target
// outside [0, cols) sets *err = 1 (when err is not null) and is treated as below.
//
//   nll_rows_<dt>(T* loss_out, const T* logprobs, const i64* target, const T* weight,
//                 i64 rows, i64 cols, i64 ignore_index, T* row_weight_out, int* err)
//       loss_out[r] = -w[t] * logprobs[r, t]; 0 for ignored rows, NaN for out-of-range targets.
//       row_weight_out[r] (may be null) = w[t], 0 for ignored/out-of-range rows: its sum is
//       the divisor of reduction='mean'.
//   cross_entropy_backward_rows_<dt>(T* grad_in, const T* logprobs, const i64* target,
//                 const T* weight, i64 rows, i64 cols, i64 ignore_index, const T* grad,
//                 i64 grad_stride, int* err)
//       grad_in[r, c] = (exp(logprobs[r, c]) - [c == t]) * w[t] * grad[r * grad_stride]
//       (grad of cross-entropy w.r.t. the logits, given log_softmax(logits)). grad is the loss's
//       gradient per row (grad_stride 1, reduction='none') or one value for every row
//       (grad_stride 0: grad_output for 'sum', grad_output / sum of the row weights for 'mean'),
//       read on the device, so the backward never waits for it. Ignored/out-of-range rows are 0.
//   nll_backward_rows_<dt>(T* grad_in, const i64* target, const T* weight, i64 rows, i64 cols,
//                 i64 ignore_index, const T* grad, i64 grad_stride, int* err)
//       grad_in[r, c] = [c == t] * -w[t] * grad[r * grad_stride] (every element written).

__device__ __forceinline__ float exp_acc(float x) { return expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }

// Weight of row r's target, or 0 when the row contributes nothing (ignored or invalid target).
template <class T>
__device__ __forceinline__ typename Acc<T>::type target_weight(i64 t, const T* weight, i64 cols, i64 ignore_index,
                                                               int* err) {
    typedef typename Acc<T>::type A;
    if (t == ignore_index) return 0;
    if (t < 0 || t >= cols) {
        if (err) *err = 1;  // every writer stores the same value: the race is benign
        return 0;
    }
    return weight ? (A)to_compute(weight[t]) : (A)1;
}

template <class T>
__device__ __forceinline__ void nll_rows(T* loss_out, const T* logprobs, const i64* target, const T* weight, i64 rows,
                                         i64 cols, i64 ignore_index, T* row_weight_out, int* err) {
    typedef typename Acc<T>::type A;
    typedef typename Compute<T>::type C;
    GRID_STRIDE_LOOP(r, rows) {
        const i64 t = target[r];
        const A w = target_weight(t, weight, cols, ignore_index, err);
        A loss = 0;
        if (t != ignore_index) {
            const bool valid = t >= 0 && t < cols;
            loss = valid ? -w * (A)to_compute(logprobs[r * cols + t]) : quiet_nan<A>();
        }
        loss_out[r] = from_compute<T>((C)loss);
        if (row_weight_out) row_weight_out[r] = from_compute<T>((C)w);
    }
}

template <bool FROM_LOGPROBS, class T>
__device__ __forceinline__ void nll_grad_rows(T* grad_in, const T* logprobs, const i64* target, const T* weight,
                                              i64 rows, i64 cols, i64 ignore_index, const T* grad,
                                              i64 grad_stride, int* err) {
    typedef typename Acc<T>::type A;
    typedef typename Compute<T>::type C;
    GRID_STRIDE_LOOP(i, rows * cols) {
        const i64 r = i / cols;
        const i64 c = i - r * cols;
        const i64 t = target[r];
        // Only the target column reports a bad target, so each row sets err once.
        const A w = target_weight(t, weight, cols, ignore_index, c == 0 ? err : (int*)0);
        A gi = 0;
        if (w != (A)0) {
            const A k = w * (A)to_compute(grad[r * grad_stride]);
            const A onehot = c == t ? (A)1 : (A)0;
            if (FROM_LOGPROBS) {
                const A lp = (A)to_compute(logprobs[i]);
                gi = (exp_acc(lp) - onehot) * k;
            } else {
                gi = -onehot * k;
            }
        }
        grad_in[i] = from_compute<T>((C)gi);
    }
}

#define LOSS_KERNELS(T)                                                                                  \
    extern "C" __global__ void nll_rows_##T(T* loss_out, const T* logprobs, const i64* target,            \
                                            const T* weight, i64 rows, i64 cols, i64 ignore_index,       \
                                            T* row_weight_out, int* err) {                               \
        nll_rows(loss_out, logprobs, target, weight, rows, cols, ignore_index, row_weight_out, err);     \
    }                                                                                                    \
    extern "C" __global__ void cross_entropy_backward_rows_##T(T* grad_in, const T* logprobs,            \
                                                               const i64* target, const T* weight,       \
                                                               i64 rows, i64 cols, i64 ignore_index,     \
                                                               const T* grad, i64 grad_stride,           \
                                                               int* err) {                               \
        nll_grad_rows<true>(grad_in, logprobs, target, weight, rows, cols, ignore_index, grad,           \
                            grad_stride, err);                                                           \
    }                                                                                                    \
    extern "C" __global__ void nll_backward_rows_##T(T* grad_in, const i64* target, const T* weight,      \
                                                     i64 rows, i64 cols, i64 ignore_index,               \
                                                     const T* grad, i64 grad_stride, int* err) {         \
        nll_grad_rows<false>(grad_in, (const T*)0, target, weight, rows, cols, ignore_index, grad,       \
                             grad_stride, err);                                                          \
    }

LOSS_KERNELS(f32)
LOSS_KERNELS(f64)
LOSS_KERNELS(f16)
LOSS_KERNELS(bf16)
