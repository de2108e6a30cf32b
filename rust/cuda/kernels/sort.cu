// Sorting along one dim: sort, argsort, topk, msort; and searching sorted rows (searchsorted, bucketize).
//
//   sort_rows_<dt>(T* vals, i64* idx, const T* in, i64 outer, i64 len, i64 inner, i64 k, i32 descending)
//       in viewed as [outer, len, inner]; each (o, i) is one row of len elements, sorted by one
//       block in shared memory (a bitonic network over the row padded to a power of two, at most
//       SORT_MAX elements: longer rows are the host's). The first k of each sorted row go to vals
//       and idx, viewed as [outer, k, inner]. dt: f32 f64 f16 bf16 i64 i32 u8.
//
//   search_sorted_<dt>(i64* out, const T* seq, const T* vals, i64 seq_rows, i64 k, i64 m, i64 n,
//                      i32 right)
//       n values in rows of m; value j searches row (j / m) of seq ([seq_rows, k], one row shared
//       when seq_rows == 1). out[j] = where the binary search of PyTorch's lower bound (right: upper
//       bound) stops: it moves past seq[mid] while !(seq[mid] >= v) (right: !(seq[mid] > v)), so
//       comparisons with NaN count as "below" (a NaN value ends up past the whole row).
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

template <class T>
__device__ __forceinline__ void search_sorted(i64* out, const T* seq, const T* vals, i64 seq_rows, i64 k, i64 m,
                                              i64 n, bool right) {
    typedef typename Compute<T>::type K;
    GRID_STRIDE_LOOP(j, n) {
        const T* row = seq + (seq_rows == 1 ? 0 : (j / m) * k);
        const K v = to_compute(vals[j]);
        i64 lo = 0, hi = k;
        while (lo < hi) {
            const i64 mid = lo + (hi - lo) / 2;
            const K s = to_compute(row[mid]);
            if (right ? !(s > v) : !(s >= v)) lo = mid + 1;
            else hi = mid;
        }
        out[j] = lo;
    }
}

#define SEARCH_KERNEL(T)                                                                                  \
    extern "C" __global__ void search_sorted_##T(i64* out, const T* seq, const T* vals, i64 seq_rows, i64 k, \
                                                 i64 m, i64 n, i32 right) {                               \
        search_sorted(out, seq, vals, seq_rows, k, m, n, right != 0);                                     \
    }

SEARCH_KERNEL(f32)
SEARCH_KERNEL(f64)
SEARCH_KERNEL(f16)
SEARCH_KERNEL(bf16)
SEARCH_KERNEL(i64)
SEARCH_KERNEL(i32)
SEARCH_KERNEL(u8)

SORT_KERNELS(f32)
SORT_KERNELS(f64)
SORT_KERNELS(f16)
SORT_KERNELS(bf16)
SORT_KERNELS(i64)
SORT_KERNELS(i32)
SORT_KERNELS(u8)
