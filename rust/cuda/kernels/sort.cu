// Sorting along one dim: sort, argsort, topk, msort.
//
//   sort_rows_<dt>(T* vals, i64* idx, const T* in, i64 outer, i64 len, i64 inner, i64 k, i32 descending)
//       in viewed as [outer, len, inner]; each (o, i) is one row of len elements, sorted by one
//       block in shared memory (a bitonic network over the row padded to a power of two, at most
//       SORT_MAX elements: longer rows are the host's). The first k of each sorted row go to vals
//       and idx, viewed as [outer, k, inner]. dt: f32 f64 f16 bf16 i64 i32 u8.
//
// The order is the host's (rust/ops/sort.rs, a stable sort): NaN is the largest value, and equal
// values keep their index order in both directions, so results match the CPU exactly. Launch
// with blockDim.x = 256; blocks loop over the rows past the grid.

#define SORT_MAX 2048

// Whether (a, ia) comes before (b, ib). Padding carries index -1 and goes after everything.
template <class K>
__device__ __forceinline__ bool sorts_before(K a, i32 ia, K b, i32 ib, bool descending) {
    if (ia < 0) return false;
    if (ib < 0) return true;
    const bool an = is_nan(a), bn = is_nan(b);
    if (an || bn) {
        if (an && bn) return ia < ib;
        return descending ? an : bn;
    }
    if (a == b) return ia < ib;
    return descending ? a > b : a < b;
}

template <class T>
__device__ __forceinline__ void sort_rows(T* vals, i64* idx, const T* in, i64 outer, i64 len, i64 inner,
                                          i64 k, bool descending) {
    typedef typename Compute<T>::type K;
    __shared__ K keys[SORT_MAX];
    __shared__ i32 ids[SORT_MAX];
    i64 p = 1;
    while (p < len) p <<= 1;
    BLOCK_ROW_LOOP(row, outer * inner) {
        const i64 o = row / inner, i = row - o * inner;
        const T* src = in + o * len * inner + i;
        for (i64 j = threadIdx.x; j < p; j += blockDim.x) {
            const bool real = j < len;
            keys[j] = real ? to_compute(src[j * inner]) : (K)0;
            ids[j] = real ? (i32)j : -1;
        }
        __syncthreads();
        for (i64 size = 2; size <= p; size <<= 1) {
            for (i64 stride = size >> 1; stride > 0; stride >>= 1) {
                for (i64 t = threadIdx.x; t < p / 2; t += blockDim.x) {
                    const i64 a = 2 * stride * (t / stride) + t % stride, b = a + stride;
                    // ascending runs where bit `size` of a is clear, descending where it is set
                    const bool up = (a & size) == 0;
                    const bool swap = up ? sorts_before(keys[b], ids[b], keys[a], ids[a], descending)
                                         : sorts_before(keys[a], ids[a], keys[b], ids[b], descending);
                    if (swap) {
                        const K kk = keys[a];
                        keys[a] = keys[b];
                        keys[b] = kk;
                        const i32 ii = ids[a];
                        ids[a] = ids[b];
                        ids[b] = ii;
                    }
                }
                __syncthreads();
            }
        }
        const i64 base = o * k * inner + i;
        for (i64 j = threadIdx.x; j < k; j += blockDim.x) {
            vals[base + j * inner] = src[(i64)ids[j] * inner];
            idx[base + j * inner] = ids[j];
        }
        __syncthreads();
    }
}

#define SORT_KERNELS(T)                                                                            \
    extern "C" __global__ void sort_rows_##T(T* vals, i64* idx, const T* in, i64 outer, i64 len,   \
                                             i64 inner, i64 k, i32 descending) {                   \
        sort_rows(vals, idx, in, outer, len, inner, k, descending != 0);                           \
    }

SORT_KERNELS(f32)
SORT_KERNELS(f64)
SORT_KERNELS(f16)
SORT_KERNELS(bf16)
SORT_KERNELS(i64)
SORT_KERNELS(i32)
SORT_KERNELS(u8)
