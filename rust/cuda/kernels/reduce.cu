// Reductions over the contiguous last dimension, and over a whole buffer in two passes.
// Launch with blockDim.x = 256 (block reductions need full warps: any multiple of 32 up to 1024
// works). Row kernels: one block per row, any grid (e.g. min(rows, 65535)); blocks loop over the
// rows past the grid. Input is contiguous [rows, cols]; cols may be 0.
//
//   sum_rows_<dt>(T* out, const T* in, i64 rows, i64 cols)      out[rows]; f16/bf16/f32 accumulate in f32
//   max_rows_<dt>, min_rows_<dt> (same arguments)               NaN-propagating; -inf/+inf when cols == 0
//   argmax_rows_<dt>, argmin_rows_<dt>(i64* out, const T* in, i64 rows, i64 cols)
//                             first index of the max/min; a NaN counts as the extreme (first NaN wins)
//   sum_all_<dt>(A* partial, const T* in, i64 n)      partial[blockIdx.x] = sum of that block's share,
//                             A = f32 for f32/f16/bf16, f64 for f64, i64 for i64/i32/u8
//   max_all_<dt>, min_all_<dt>(T* partial, const T* in, i64 n)   the same, partials in T
//
// The *_all kernels are two-pass: launch with G blocks (any G >= 1, e.g. min(ceil(n/256), 1024))
// into a G-element buffer, then launch once more with ONE block on that buffer:
// sum_all_f32 for f32/f16/bf16 partials, sum_all_f64 for f64, sum_all_i64 for integer ones;
// max_all_<dt>/min_all_<dt> again for max/min. partial[0] of the second launch is the result.

template <class T> __device__ __forceinline__ void sum_rows(T* out, const T* in, i64 rows, i64 cols) {
    typedef typename Acc<T>::type A;
    BLOCK_ROW_LOOP(row, rows) {
        const T* x = in + row * cols;
        A s = 0;
        BLOCK_COL_LOOP(c, cols) s += (A)to_compute(x[c]);
        s = block_reduce(s, SumOp());
        if (threadIdx.x == 0) out[row] = from_compute<T>((typename Compute<T>::type)s);
    }
}

template <class T, class Op> __device__ __forceinline__ void extreme_rows(T* out, const T* in, i64 rows, i64 cols, Op op) {
    typedef typename Acc<T>::type A;
    BLOCK_ROW_LOOP(row, rows) {
        const T* x = in + row * cols;
        A m = op.template identity<A>();
        BLOCK_COL_LOOP(c, cols) m = op(m, (A)to_compute(x[c]));
        m = block_reduce(m, op);
        if (threadIdx.x == 0) out[row] = from_compute<T>(m);
    }
}

// (value, index) preference for arg-reductions: NaN first, then the larger (smaller) value,
// then the lower index, so the result is the first occurrence whatever the reduction order.
template <bool IS_MAX, class A> __device__ __forceinline__ bool arg_better(A a, i64 ia, A b, i64 ib) {
    if (is_nan(a)) return !is_nan(b) || ia < ib;
    if (is_nan(b)) return false;
    if (a == b) return ia < ib;
    return IS_MAX ? a > b : a < b;
}

template <bool IS_MAX, class A> __device__ __forceinline__ void block_arg_reduce(A& v, i64& idx) {
    __shared__ A vals[32];
    __shared__ i64 idxs[32];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nwarps = (blockDim.x + 31) >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const A ov = __shfl_down_sync(FT_FULL_MASK, v, o);
        const i64 oi = __shfl_down_sync(FT_FULL_MASK, idx, o);
        if (arg_better<IS_MAX>(ov, oi, v, idx)) { v = ov; idx = oi; }
    }
    __syncthreads();  // the previous row may still be reading vals[]/idxs[]
    if (lane == 0) { vals[warp] = v; idxs[warp] = idx; }
    __syncthreads();
    if (warp == 0) {
        // Every lane of warp 0 has a real entry to compare: the surplus lanes repeat entry 0.
        v = vals[lane < nwarps ? lane : 0];
        idx = idxs[lane < nwarps ? lane : 0];
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const A ov = __shfl_down_sync(FT_FULL_MASK, v, o);
            const i64 oi = __shfl_down_sync(FT_FULL_MASK, idx, o);
            if (arg_better<IS_MAX>(ov, oi, v, idx)) { v = ov; idx = oi; }
        }
    }
}

template <bool IS_MAX, class T> __device__ __forceinline__ void arg_rows(i64* out, const T* in, i64 rows, i64 cols) {
    typedef typename Acc<T>::type A;
    BLOCK_ROW_LOOP(row, rows) {
        const T* x = in + row * cols;
        A v = IS_MAX ? neg_inf<A>() : pos_inf<A>();
        i64 idx = cols;  // a sentinel any real column beats (on ties, by its lower index)
        BLOCK_COL_LOOP(c, cols) {
            const A xc = (A)to_compute(x[c]);
            if (arg_better<IS_MAX>(xc, c, v, idx)) { v = xc; idx = c; }
        }
        block_arg_reduce<IS_MAX>(v, idx);
        // An empty row (cols == 0) gives 0, never the sentinel.
        if (threadIdx.x == 0) out[row] = idx < cols ? idx : 0;
    }
}

template <class T> __device__ __forceinline__ void sum_all(typename Acc<T>::type* partial, const T* in, i64 n) {
    typedef typename Acc<T>::type A;
    A s = 0;
    GRID_STRIDE_LOOP(i, n) s += (A)to_compute(in[i]);
    s = block_reduce(s, SumOp());
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <class T, class Op> __device__ __forceinline__ void extreme_all(T* partial, const T* in, i64 n, Op op) {
    typedef typename Acc<T>::type A;
    A m = op.template identity<A>();
    GRID_STRIDE_LOOP(i, n) m = op(m, (A)to_compute(in[i]));
    m = block_reduce(m, op);
    if (threadIdx.x == 0) partial[blockIdx.x] = from_compute<T>(m);
}

#define ROW_KERNELS(T)                                                                         \
    extern "C" __global__ void sum_rows_##T(T* out, const T* in, i64 rows, i64 cols) {         \
        sum_rows(out, in, rows, cols);                                                         \
    }                                                                                          \
    extern "C" __global__ void max_rows_##T(T* out, const T* in, i64 rows, i64 cols) {         \
        extreme_rows(out, in, rows, cols, MaxOp());                                            \
    }                                                                                          \
    extern "C" __global__ void min_rows_##T(T* out, const T* in, i64 rows, i64 cols) {         \
        extreme_rows(out, in, rows, cols, MinOp());                                            \
    }                                                                                          \
    extern "C" __global__ void argmax_rows_##T(i64* out, const T* in, i64 rows, i64 cols) {    \
        arg_rows<true>(out, in, rows, cols);                                                   \
    }                                                                                          \
    extern "C" __global__ void argmin_rows_##T(i64* out, const T* in, i64 rows, i64 cols) {    \
        arg_rows<false>(out, in, rows, cols);                                                  \
    }

#define ALL_KERNELS(T)                                                                         \
    extern "C" __global__ void sum_all_##T(Acc<T>::type* partial, const T* in, i64 n) {        \
        sum_all(partial, in, n);                                                               \
    }                                                                                          \
    extern "C" __global__ void max_all_##T(T* partial, const T* in, i64 n) {                   \
        extreme_all(partial, in, n, MaxOp());                                                  \
    }                                                                                          \
    extern "C" __global__ void min_all_##T(T* partial, const T* in, i64 n) {                   \
        extreme_all(partial, in, n, MinOp());                                                  \
    }

// Integer sums (torch.sum of an integer or bool tensor is int64): out is i64.
#define INT_SUM_KERNELS(T)                                                                     \
    extern "C" __global__ void sum_rows_##T(i64* out, const T* in, i64 rows, i64 cols) {       \
        BLOCK_ROW_LOOP(row, rows) {                                                            \
            const T* x = in + row * cols;                                                      \
            i64 s = 0;                                                                         \
            BLOCK_COL_LOOP(c, cols) s += (i64)x[c];                                            \
            s = block_reduce(s, SumOp());                                                      \
            if (threadIdx.x == 0) out[row] = s;                                                \
        }                                                                                      \
    }                                                                                          \
    extern "C" __global__ void sum_all_##T(i64* partial, const T* in, i64 n) {                 \
        sum_all(partial, in, n);                                                               \
    }

ROW_KERNELS(f32)
ROW_KERNELS(f64)
ROW_KERNELS(f16)
ROW_KERNELS(bf16)

ALL_KERNELS(f32)
ALL_KERNELS(f64)
ALL_KERNELS(f16)
ALL_KERNELS(bf16)

INT_SUM_KERNELS(i64)
INT_SUM_KERNELS(i32)
INT_SUM_KERNELS(u8)
