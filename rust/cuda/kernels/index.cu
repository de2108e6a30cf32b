// Gathers and scatters along one dimension: torch.gather, index_select as a gather whose index is
// broadcast over the other dimensions, torch.scatter/scatter_add (also the gradients of gather and
// max(dim)). Launch with blockDim.x = 256 (any block size is correct; nothing here reduces) and any
// grid: a grid-stride loop over the n elements of the index.
//
//   gather_<dt>(T* out, const T* in, Strides si, const i64* idx, Strides sx, i64 dim, i64 size,
//               i64 n, int* err)
//       out is contiguous with the index's shape sx.shape; si holds the input's strides (its
//       shape entries are unused). out[i] = in[coords of i, with coordinate `dim` replaced by
//       j = idx[offset_of(i, sx)]]. A j outside [0, size) writes 0 and sets *err = 1 (a device-side
//       assert flag) when err is not null.
//
//   scatter_<dt>(T* out, Strides so, const T* src, Strides ss, const i64* idx, Strides sx, i64 dim,
//                i64 size, i64 n, int* err)
//       for each element i of the index (shape sx.shape): out[coords of i, with coordinate `dim`
//       replaced by j = idx[offset_of(i, sx)]] = src[coords of i], both through their strides (so,
//       ss; shape entries unused). Repeated targets take one of their values (which is unspecified,
//       as in PyTorch). A j outside [0, size) writes nothing and sets *err = 1 when err is not null.
//   scatter_add_<dt>(same arguments)   the same with +=, by atomicAdd (dt: f32 f64 i64 i32)
//   scatter_mul_/scatter_max_/scatter_min_<dt>(same arguments)   *=, max, min by compare-and-swap
//       (scatter_reduce's prod / amax / amin; NaN propagates; dt: f32 f64 i64 i32)
//
// Advanced indexing with several index tensors (x[i, j], x[:, i, j]): one flat index into the
// indexed dims merged, so that one gather or scatter along the merged dim does the rest.
//   merge_index_i64(i64* out, const i64* idx, i64 k, i64 n, Strides sizes)
//       idx is [k, n] contiguous (the k index tensors, broadcast together); sizes.shape[0..k] are
//       the indexed dims' sizes (strides unused). out[i] = the row-major position of
//       (idx[0][i], ..., idx[k-1][i]) among those dims, negatives wrapped. A coordinate outside
//       [-size, size) makes out[i] the product of the sizes: one past the merged dim's end, which
//       the gather and scatter kernels report.
//
// Nonzero (torch.nonzero, and the boolean masks of x[mask] and masked_select, whose positions
// are nonzero's flat indices): three launches over chunks of the input, so the result keeps
// row-major order without a device-wide scan.
//   nonzero_count_<dt>(i64* counts, const T* in, Strides s, i64 n, i64 chunk)
//       one block per chunk b (grid = ceil(n / chunk)): counts[b] = how many of the row-major
//       elements [b*chunk, (b+1)*chunk) of in (read through s) are nonzero.
//   nonzero_offsets_i64(i64* counts, i64 blocks)
//       ONE block: counts[0..blocks] become their exclusive prefix sums, counts[blocks] the total
//       (the host reads that one value to size the result).
//   nonzero_write_<dt>(i64* out, const i64* counts, const T* in, Strides s, i64 n, i64 chunk,
//                      Strides coords)
//       the same chunks: block b writes its nonzeros, in order, from row counts[b] of out
//       [total, coords.ndim], each row the element's coordinates in coords.shape (strides
//       unused; coords = [n] writes flat indices).
//
// dt in f32 f64 f16 bf16 i64 i32 u8.

template <class T>
__device__ __forceinline__ void gather(T* out, const T* in, const Strides& si, const i64* idx, const Strides& sx,
                                       i64 dim, i64 size, i64 n, int* err) {
    GRID_STRIDE_LOOP(i, n) {
        const i64 j = idx[offset_of(i, sx)];
        if (j < 0 || j >= size) {
            if (err != nullptr) *err = 1;
            out[i] = T();
            continue;
        }
        i64 off = 0, linear = i;
#pragma unroll 1
        for (int d = sx.ndim - 1; d >= 0; --d) {
            const i64 q = linear / sx.shape[d];
            off += (d == dim ? j : linear - q * sx.shape[d]) * si.stride[d];
            linear = q;
        }
        out[i] = in[off];
    }
}

#define GATHER_KERNEL(T)                                                                           \
    extern "C" __global__ void gather_##T(T* out, const T* in, Strides si, const i64* idx, Strides sx, \
                                          i64 dim, i64 size, i64 n, int* err) {                    \
        gather(out, in, si, idx, sx, dim, size, n, err);                                           \
    }

GATHER_KERNEL(f32)
GATHER_KERNEL(f64)
GATHER_KERNEL(f16)
GATHER_KERNEL(bf16)
GATHER_KERNEL(i64)
GATHER_KERNEL(i32)
GATHER_KERNEL(u8)

// Storage offsets in out (coordinate `dim` replaced by j) and in src of index element i.
__device__ __forceinline__ void scatter_offsets(i64 i, i64 j, const Strides& sx, const Strides& so,
                                                const Strides& ss, i64 dim, i64& out_off, i64& src_off) {
    out_off = 0;
    src_off = 0;
#pragma unroll 1
    for (int d = sx.ndim - 1; d >= 0; --d) {
        const i64 q = i / sx.shape[d];
        const i64 c = i - q * sx.shape[d];
        out_off += (d == dim ? j : c) * so.stride[d];
        src_off += c * ss.stride[d];
        i = q;
    }
}

enum ScatterOp { S_STORE, S_ADD, S_MUL, S_MAX, S_MIN };

// atomicAdd for the types the hardware adds atomically (i64 as its two's-complement u64).
__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(i32* p, i32 v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(i64* p, i64 v) { atomicAdd((u64*)p, (u64)v); }

// x = x (op) v by compare-and-swap on the element's bits: scatter_reduce's prod, amax and amin
// (NaN propagates through amax/amin, as in PyTorch).
template <int OP, class T> __device__ __forceinline__ T combine(T a, T b) {
    return OP == S_MUL ? a * b : OP == S_MAX ? max_nan(a, b) : min_nan(a, b);
}
// An element's bits, for atomicCAS (32- or 64-bit words).
__device__ __forceinline__ unsigned to_bits(float v) { return __float_as_uint(v); }
__device__ __forceinline__ float from_bits(unsigned b, float) { return __uint_as_float(b); }
__device__ __forceinline__ unsigned long long to_bits(double v) { return (unsigned long long)__double_as_longlong(v); }
__device__ __forceinline__ double from_bits(unsigned long long b, double) { return __longlong_as_double((long long)b); }
__device__ __forceinline__ unsigned to_bits(i32 v) { return (unsigned)v; }
__device__ __forceinline__ i32 from_bits(unsigned b, i32) { return (i32)b; }
__device__ __forceinline__ unsigned long long to_bits(i64 v) { return (unsigned long long)v; }
__device__ __forceinline__ i64 from_bits(unsigned long long b, i64) { return (i64)b; }

template <int OP, class T> __device__ __forceinline__ void atomic_combine(T* p, T v) {
    typedef decltype(to_bits(v)) B;
    B* a = (B*)p;
    B old = *a, assumed;
    do {
        assumed = old;
        old = atomicCAS(a, assumed, to_bits(combine<OP>(from_bits(assumed, v), v)));
    } while (assumed != old);
}

// Plain store, atomic add or a CAS-combine (a struct, so that only the dtypes of the reducing
// scatters need atomics).
template <int OP> struct ScatterStore {
    template <class T> __device__ static __forceinline__ void apply(T* p, T v) { atomic_combine<OP>(p, v); }
};
template <> struct ScatterStore<S_STORE> {
    template <class T> __device__ static __forceinline__ void apply(T* p, T v) { *p = v; }
};
template <> struct ScatterStore<S_ADD> {
    template <class T> __device__ static __forceinline__ void apply(T* p, T v) { atomic_add(p, v); }
};

template <int ADD, class T>
__device__ __forceinline__ void scatter(T* out, const Strides& so, const T* src, const Strides& ss, const i64* idx,
                                        const Strides& sx, i64 dim, i64 size, i64 n, int* err) {
    GRID_STRIDE_LOOP(i, n) {
        const i64 j = idx[offset_of(i, sx)];
        if (j < 0 || j >= size) {
            if (err != nullptr) *err = 1;
            continue;
        }
        i64 o, s;
        scatter_offsets(i, j, sx, so, ss, dim, o, s);
        ScatterStore<ADD>::apply(out + o, src[s]);
    }
}

#define SCATTER_KERNEL(name, ADD, T)                                                                  \
    extern "C" __global__ void name##_##T(T* out, Strides so, const T* src, Strides ss, const i64* idx, \
                                          Strides sx, i64 dim, i64 size, i64 n, int* err) {            \
        scatter<ADD>(out, so, src, ss, idx, sx, dim, size, n, err);                                   \
    }

SCATTER_KERNEL(scatter, S_STORE, f32)
SCATTER_KERNEL(scatter, S_STORE, f64)
SCATTER_KERNEL(scatter, S_STORE, f16)
SCATTER_KERNEL(scatter, S_STORE, bf16)
SCATTER_KERNEL(scatter, S_STORE, i64)
SCATTER_KERNEL(scatter, S_STORE, i32)
SCATTER_KERNEL(scatter, S_STORE, u8)
#define SCATTER_REDUCING(T)             \
    SCATTER_KERNEL(scatter_add, S_ADD, T) \
    SCATTER_KERNEL(scatter_mul, S_MUL, T) \
    SCATTER_KERNEL(scatter_max, S_MAX, T) \
    SCATTER_KERNEL(scatter_min, S_MIN, T)
SCATTER_REDUCING(f32)
SCATTER_REDUCING(f64)
SCATTER_REDUCING(i64)
SCATTER_REDUCING(i32)

extern "C" __global__ void merge_index_i64(i64* out, const i64* idx, i64 k, i64 n, Strides sizes) {
    i64 total = 1;
    for (int d = 0; d < k; ++d) total *= sizes.shape[d];
    GRID_STRIDE_LOOP(i, n) {
        i64 flat = 0;
        bool bad = false;
#pragma unroll 1
        for (int d = 0; d < k; ++d) {
            const i64 size = sizes.shape[d];
            i64 j = idx[d * n + i];
            if (j < 0) j += size;
            bad = bad || j < 0 || j >= size;
            flat = flat * size + (bad ? 0 : j);
        }
        out[i] = bad ? total : flat;
    }
}

template <class T> __device__ __forceinline__ bool nonzero_at(const T* in, const Strides& s, i64 i) {
    return to_compute(in[offset_of(i, s)]) != 0;
}

template <class T>
__device__ __forceinline__ void nonzero_count(i64* counts, const T* in, const Strides& s, i64 n, i64 chunk) {
    const i64 lo = (i64)blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    i64 c = 0;
    for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x) c += nonzero_at(in, s, i);
    c = block_reduce(c, SumOp());
    if (threadIdx.x == 0) counts[blockIdx.x] = c;
}

extern "C" __global__ void nonzero_offsets_i64(i64* counts, i64 blocks) {
    if (threadIdx.x != 0) return;
    i64 run = 0;
    for (i64 b = 0; b < blocks; ++b) {
        const i64 c = counts[b];
        counts[b] = run;
        run += c;
    }
    counts[blocks] = run;
}

// Tiles of blockDim.x elements: an exclusive scan of the tile's flags (in shared memory) gives
// each nonzero its row; `base` carries the rows of the tiles before.
template <class T>
__device__ __forceinline__ void nonzero_write(i64* out, const i64* counts, const T* in, const Strides& s, i64 n,
                                              i64 chunk, const Strides& coords) {
    __shared__ i64 scan[1024];
    const i64 lo = (i64)blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    i64 base = counts[blockIdx.x];
    for (i64 t0 = lo; t0 < hi; t0 += blockDim.x) {
        const i64 i = t0 + threadIdx.x;
        const bool hit = i < hi && nonzero_at(in, s, i);
        scan[threadIdx.x] = hit;
        __syncthreads();
        for (unsigned o = 1; o < blockDim.x; o <<= 1) {
            const i64 add = threadIdx.x >= o ? scan[threadIdx.x - o] : 0;
            __syncthreads();
            scan[threadIdx.x] += add;
            __syncthreads();
        }
        if (hit) {
            i64* row = out + (base + scan[threadIdx.x] - 1) * coords.ndim;
            i64 linear = i;
            for (int d = coords.ndim - 1; d >= 0; --d) {
                const i64 q = linear / coords.shape[d];
                row[d] = linear - q * coords.shape[d];
                linear = q;
            }
        }
        base += scan[blockDim.x - 1];
        __syncthreads();
    }
}

#define NONZERO_KERNELS(T)                                                                         \
    extern "C" __global__ void nonzero_count_##T(i64* counts, const T* in, Strides s, i64 n, i64 chunk) { \
        nonzero_count(counts, in, s, n, chunk);                                                    \
    }                                                                                              \
    extern "C" __global__ void nonzero_write_##T(i64* out, const i64* counts, const T* in, Strides s, \
                                                 i64 n, i64 chunk, Strides coords) {               \
        nonzero_write(out, counts, in, s, n, chunk, coords);                                       \
    }

NONZERO_KERNELS(f32)
NONZERO_KERNELS(f64)
NONZERO_KERNELS(f16)
NONZERO_KERNELS(bf16)
NONZERO_KERNELS(i64)
NONZERO_KERNELS(i32)
NONZERO_KERNELS(u8)
