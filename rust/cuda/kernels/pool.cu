// 2-D max pooling over contiguous [planes, h, w] (planes = n * c), forward with the argmax and
// backward through it. Launch with blockDim.x = 256 (any block size is correct; nothing here
// reduces) and any grid: grid-stride loops over planes * oh * ow outputs.
//
//   struct PoolGeo { i64 planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw; }
//
//   max_pool2d_<dt>(T* out, i64* idx, const T* x, PoolGeo g)            dt: f32 f64 f16 bf16
//       out = the window's maximum; idx (may be null) = its index in the h*w plane. As PyTorch:
//       the first tap in the window starts, a larger value or a NaN replaces it, the first NaN
//       ends the search; a window without taps gives -inf and index 0.
//   max_pool2d_backward_<dt>(T* grad_x, const T* grad_out, const i64* idx, PoolGeo g)  dt: f32 f64
//       grad_x[plane, idx] += grad_out, by atomicAdd (overlapping windows may share an argmax):
//       the caller zeroes grad_x first.

struct PoolGeo {
    i64 planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
};

template <class T> __device__ __forceinline__ void max_pool2d(T* out, i64* idx, const T* x, const PoolGeo& g) {
    typedef typename Compute<T>::type C;
    GRID_STRIDE_LOOP(i, g.planes * g.oh * g.ow) {
        const i64 ox = i % g.ow, oy = (i / g.ow) % g.oh, plane = i / (g.ow * g.oh);
        const T* src = x + plane * g.h * g.w;
        C best = neg_inf<C>();
        i64 at = -1;
        for (i64 ki = 0; ki < g.kh; ++ki) {
            const i64 iy = oy * g.sh - g.ph + ki * g.dh;
            if (iy < 0 || iy >= g.h) continue;
            bool stop = false;
            for (i64 kj = 0; kj < g.kw; ++kj) {
                const i64 ix = ox * g.sw - g.pw + kj * g.dw;
                if (ix < 0 || ix >= g.w) continue;
                const C v = to_compute(src[iy * g.w + ix]);
                if (at < 0 || v > best || is_nan(v)) {
                    best = v;
                    at = iy * g.w + ix;
                    if (is_nan(v)) { stop = true; break; }
                }
            }
            if (stop) break;
        }
        out[i] = from_compute<T>(best);
        if (idx) idx[i] = at < 0 ? 0 : at;
    }
}

template <class T>
__device__ __forceinline__ void max_pool2d_backward(T* grad_x, const T* grad_out, const i64* idx, const PoolGeo& g) {
    GRID_STRIDE_LOOP(i, g.planes * g.oh * g.ow) {
        const i64 plane = i / (g.ow * g.oh);
        atomicAdd(grad_x + plane * g.h * g.w + idx[i], grad_out[i]);
    }
}

#define POOL_KERNELS(T)                                                                               \
    extern "C" __global__ void max_pool2d_##T(T* out, i64* idx, const T* x, PoolGeo g) { max_pool2d(out, idx, x, g); }

#define POOL_BACKWARD_KERNELS(T)                                                                      \
    extern "C" __global__ void max_pool2d_backward_##T(T* grad_x, const T* grad_out, const i64* idx, PoolGeo g) { \
        max_pool2d_backward(grad_x, grad_out, idx, g);                                                \
    }

POOL_KERNELS(f32)
POOL_KERNELS(f64)
POOL_KERNELS(f16)
POOL_KERNELS(bf16)
POOL_BACKWARD_KERNELS(f32)
POOL_BACKWARD_KERNELS(f64)
