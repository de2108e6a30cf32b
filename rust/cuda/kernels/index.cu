// Gathers along one dimension: torch.gather, and index_select as a gather whose index is
// broadcast over the other dimensions. Launch with blockDim.x = 256 (any block size is correct;
// nothing here reduces) and any grid: a grid-stride loop over the n outputs.
//
//   gather_<dt>(T* out, const T* in, Strides si, const i64* idx, Strides sx, i64 dim, i64 size,
//               i64 n, int* err)
//       out is contiguous with the index's shape sx.shape; si holds the input's strides (its
//       shape entries are unused). out[i] = in[coords of i, with coordinate `dim` replaced by
//       j = idx[offset_of(i, sx)]]. A j outside [0, size) sets *err = 1 and writes 0.
//
// dt in f32 f64 f16 bf16 i64 i32 u8.

template <class T>
__device__ __forceinline__ void gather(T* out, const T* in, const Strides& si, const i64* idx, const Strides& sx,
                                       i64 dim, i64 size, i64 n, int* err) {
    GRID_STRIDE_LOOP(i, n) {
        const i64 j = idx[offset_of(i, sx)];
        if (j < 0 || j >= size) {
            *err = 1;
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
