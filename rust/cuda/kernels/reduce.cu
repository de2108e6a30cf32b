// Reductions: over the contiguous last dimension (a block per row), over the middle dimension of
// a contiguous [outer, cols, inner] buffer (a thread per output), and over a whole buffer in two
// passes. Launch with blockDim.x = 256 (block reductions need full warps: any multiple of 32 up to
// 1024 works) and any grid: row kernels loop over the rows past the grid, the others grid-stride.
//
//   <op>_rows_<dt>(O* out, const T* in, i64 rows, i64 cols)      out[rows] from contiguous [rows, cols]
//   <op>_mid_<dt>(O* out, const T* in, i64 outer, i64 cols, i64 inner)
//                             out[outer, inner] reduces in[outer, cols, inner] over cols
//   argmax_rows_<dt>, argmin_rows_<dt>(i64* out, const T* in, i64 rows, i64 cols)
//                             first index of the max/min; a NaN counts as the extreme (first NaN wins)
//   <op>_all_<dt>(P* partial, const T* in, i64 n)   partial[blockIdx.x] = that block's share
//
//   cumsum_<dt>, cumprod_<dt>(T* out, const T* in, i64 outer, i64 cols, i64 inner)
//                             out[o, c, i] = the running sum/product of in[o, 0..=c, i], a thread
//                             per (o, i) (dt: f32 f64 f16 bf16 i64; torch.cumsum makes ints i64)
//
// op is sum, prod, max or min. O, the result type: sums and products of integers (and bools, as
// u8) are i64, as torch.sum/prod; everything else keeps T. Accumulation is in Acc<T> (f32 for
// f16/bf16/f32, f64 for f64, i64 for integers). max/min propagate NaN; an empty reduction gives
// the op's identity (0, 1, -inf, +inf; the type's lowest/highest for integers).
//
// The *_all kernels are two-pass: launch with G blocks (any G >= 1, e.g. min(ceil(n/256), 1024))
// into a G-element buffer, then launch once more with ONE block on that buffer. Partials P are
// Acc<T> for sum/prod (second pass: sum_all_f32/prod_all_f32 for f32/f16/bf16, *_f64 for f64,
// *_i64 for integers) and T for max/min (second pass: the same kernel). partial[0] of the second
// launch is the result.

struct ProdOp {
    template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return a * b; }
    template <class T> __device__ __forceinline__ T identity() const { return (T)1; }
};

// The result type of a sum or product.
template <class T> struct Wide { typedef T type; };
template <> struct Wide<i32> { typedef i64 type; };
template <> struct Wide<u8> { typedef i64 type; };

template <class O, class A> __device__ __forceinline__ O store_as(A v) {
    return from_compute<O>((typename Compute<O>::type)v);
}

template <class T, class O, class Op>
__device__ __forceinline__ void reduce_rows(O* out, const T* in, i64 rows, i64 cols, Op op) {
    typedef typename Acc<T>::type A;
    BLOCK_ROW_LOOP(row, rows) {
        const T* x = in + row * cols;
        A m = op.template identity<A>();
        BLOCK_COL_LOOP(c, cols) m = op(m, (A)to_compute(x[c]));
        m = block_reduce(m, op);
        if (threadIdx.x == 0) out[row] = store_as<O>(m);
    }
}

// Consecutive threads take consecutive inner positions, so their loads coalesce.
template <class T, class O, class Op>
__device__ __forceinline__ void reduce_mid(O* out, const T* in, i64 outer, i64 cols, i64 inner, Op op) {
    typedef typename Acc<T>::type A;
    GRID_STRIDE_LOOP(j, outer * inner) {
        const i64 o = j / inner;
        const T* x = in + o * cols * inner + (j - o * inner);
        A m = op.template identity<A>();
        for (i64 c = 0; c < cols; ++c) m = op(m, (A)to_compute(x[c * inner]));
        out[j] = store_as<O>(m);
    }
}

template <class T, class P, class Op> __device__ __forceinline__ void reduce_all(P* partial, const T* in, i64 n, Op op) {
    typedef typename Acc<T>::type A;
    A m = op.template identity<A>();
    GRID_STRIDE_LOOP(i, n) m = op(m, (A)to_compute(in[i]));
    m = block_reduce(m, op);
    if (threadIdx.x == 0) partial[blockIdx.x] = store_as<P>(m);
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

#define OP_KERNELS(name, Op, T, O, P)                                                           \
    extern "C" __global__ void name##_rows_##T(O* out, const T* in, i64 rows, i64 cols) {        \
        reduce_rows(out, in, rows, cols, Op());                                                  \
    }                                                                                            \
    extern "C" __global__ void name##_mid_##T(O* out, const T* in, i64 outer, i64 cols, i64 inner) { \
        reduce_mid(out, in, outer, cols, inner, Op());                                           \
    }                                                                                            \
    extern "C" __global__ void name##_all_##T(P* partial, const T* in, i64 n) {                  \
        reduce_all(partial, in, n, Op());                                                        \
    }

#define REDUCE_KERNELS(T)                                                                        \
    OP_KERNELS(sum, SumOp, T, Wide<T>::type, Acc<T>::type)                                       \
    OP_KERNELS(prod, ProdOp, T, Wide<T>::type, Acc<T>::type)                                     \
    OP_KERNELS(max, MaxOp, T, T, T)                                                              \
    OP_KERNELS(min, MinOp, T, T, T)                                                              \
    extern "C" __global__ void argmax_rows_##T(i64* out, const T* in, i64 rows, i64 cols) {      \
        arg_rows<true>(out, in, rows, cols);                                                     \
    }                                                                                            \
    extern "C" __global__ void argmin_rows_##T(i64* out, const T* in, i64 rows, i64 cols) {      \
        arg_rows<false>(out, in, rows, cols);                                                    \
    }

REDUCE_KERNELS(f32)
REDUCE_KERNELS(f64)
REDUCE_KERNELS(f16)
REDUCE_KERNELS(bf16)
REDUCE_KERNELS(i64)
REDUCE_KERNELS(i32)
REDUCE_KERNELS(u8)

template <class T, class Op>
__device__ __forceinline__ void scan_mid(T* out, const T* in, i64 outer, i64 cols, i64 inner, Op op) {
    typedef typename Acc<T>::type A;
    GRID_STRIDE_LOOP(j, outer * inner) {
        const i64 o = j / inner;
        const i64 base = o * cols * inner + (j - o * inner);
        A m = op.template identity<A>();
        for (i64 c = 0; c < cols; ++c) {
            m = op(m, (A)to_compute(in[base + c * inner]));
            out[base + c * inner] = store_as<T>(m);
        }
    }
}

#define SCAN_KERNELS(T)                                                                              \
    extern "C" __global__ void cumsum_##T(T* out, const T* in, i64 outer, i64 cols, i64 inner) {    \
        scan_mid(out, in, outer, cols, inner, SumOp());                                             \
    }                                                                                                \
    extern "C" __global__ void cumprod_##T(T* out, const T* in, i64 outer, i64 cols, i64 inner) {   \
        scan_mid(out, in, outer, cols, inner, ProdOp());                                            \
    }

SCAN_KERNELS(f32)
SCAN_KERNELS(f64)
SCAN_KERNELS(f16)
SCAN_KERNELS(bf16)
SCAN_KERNELS(i64)
