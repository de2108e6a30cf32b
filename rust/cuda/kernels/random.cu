// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, as in Random123 / cuRAND).
// Launch with blockDim.x = 256 (any block size is correct) and any grid: the value written at
// element i depends only on (seed, offset, i), never on the launch shape, so a given (seed,
// offset) is reproducible.
//
// Philox is keyed by the seed; its 128-bit counter is (group, offset): the low 64 bits count the
// output groups of this launch, the high 64 bits are the caller's offset. Distinct offsets give
// disjoint streams for a seed: advance the offset by any amount >= 1 between launches (e.g. by 1,
// or by the number of groups used, ceil(n / 4) for f32, ceil(n / 2) for f64).
//
//   uniform_<dt>(T* out, i64 n, u64 seed, u64 offset, double low, double high)  in [low, high)
//   normal_<dt>(T* out, i64 n, u64 seed, u64 offset, double mean, double std)   Box-Muller
//   randint_i64(i64* out, i64 n, u64 seed, u64 offset, i64 low, i64 range)    low + (64 random bits
//       mod range), range >= 1 (2 values per call; the modulo bias is below range / 2^64)
//
// dt in f32, f16 and bf16 (4 values per Philox call, 24-bit uniforms, sampled in f32) and f64 (2
// values per call, 53-bit).

struct Philox4 { u32 x[4]; };

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u  // golden ratio
#define PHILOX_W1 0xBB67AE85u  // sqrt(3) - 1

__device__ __forceinline__ Philox4 philox4x32_10(u64 counter_lo, u64 counter_hi, u64 seed) {
    u32 c0 = (u32)counter_lo, c1 = (u32)(counter_lo >> 32), c2 = (u32)counter_hi, c3 = (u32)(counter_hi >> 32);
    u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        const u32 hi0 = __umulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
        const u32 hi1 = __umulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    Philox4 r;
    r.x[0] = c0;
    r.x[1] = c1;
    r.x[2] = c2;
    r.x[3] = c3;
    return r;
}

// [0, 1) with 24 (f32) or 53 (f64) random bits; the "open" variants give (0, 1] for log().
__device__ __forceinline__ float u01_f32(u32 a) { return (float)(a >> 8) * 5.9604644775390625e-8f; }
__device__ __forceinline__ float u01_open_f32(u32 a) { return (float)((a >> 8) + 1u) * 5.9604644775390625e-8f; }
__device__ __forceinline__ u64 bits53(u32 a, u32 b) { return ((u64)(a >> 5) << 26) | (u64)(b >> 6); }
__device__ __forceinline__ double u01_f64(u32 a, u32 b) { return (double)bits53(a, b) * 1.1102230246251565e-16; }
__device__ __forceinline__ double u01_open_f64(u32 a, u32 b) {
    return (double)(bits53(a, b) + 1ull) * 1.1102230246251565e-16;
}

// low + (high - low) * u can round up to high itself; step back inside the half-open range.
__device__ __forceinline__ float inside_f32(float v, float lo, float hi) {
    return (v >= hi && lo < hi) ? nextafterf(hi, lo) : v;
}
__device__ __forceinline__ double inside_f64(double v, double lo, double hi) {
    return (v >= hi && lo < hi) ? nextafter(hi, lo) : v;
}

// f32, f16 and bf16 sample in f32; a value that rounds up to `high` in a narrower type becomes
// `low`, as PyTorch's kernels do, so the result stays in [low, high).
template <class T>
__device__ __forceinline__ void uniform_float(T* out, i64 n, u64 seed, u64 offset, double low, double high) {
    const float lo = (float)low, hi = (float)high, range = (float)(high - low);
    GRID_STRIDE_LOOP(group, (n + 3) / 4) {
        const Philox4 r = philox4x32_10((u64)group, offset, seed);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const i64 i = group * 4 + k;
            if (i >= n) continue;
            const T v = from_f32<T>(inside_f32(lo + range * u01_f32(r.x[k]), lo, hi));
            out[i] = (to_f32(v) >= hi && lo < hi) ? from_f32<T>(lo) : v;
        }
    }
}

extern "C" __global__ void uniform_f64(f64* out, i64 n, u64 seed, u64 offset, double low, double high) {
    const double range = high - low;
    GRID_STRIDE_LOOP(group, (n + 1) / 2) {
        const Philox4 r = philox4x32_10((u64)group, offset, seed);
#pragma unroll
        for (int k = 0; k < 2; ++k) {
            const i64 i = group * 2 + k;
            if (i < n) out[i] = inside_f64(low + range * u01_f64(r.x[2 * k], r.x[2 * k + 1]), low, high);
        }
    }
}

template <class T>
__device__ __forceinline__ void normal_float(T* out, i64 n, u64 seed, u64 offset, double mean, double std) {
    const float mu = (float)mean, sigma = (float)std;
    GRID_STRIDE_LOOP(group, (n + 3) / 4) {
        const Philox4 r = philox4x32_10((u64)group, offset, seed);
        float z[4];
#pragma unroll
        for (int k = 0; k < 2; ++k) {
            // u1 in (0, 1] keeps log finite; each (u1, u2) pair gives two independent normals.
            const float radius = sqrtf(-2.0f * logf(u01_open_f32(r.x[2 * k])));
            float s, c;
            sincospif(2.0f * u01_f32(r.x[2 * k + 1]), &s, &c);
            z[2 * k] = radius * c;
            z[2 * k + 1] = radius * s;
        }
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const i64 i = group * 4 + k;
            if (i < n) out[i] = from_f32<T>(mu + sigma * z[k]);
        }
    }
}

#define FLOAT_RANDOM_KERNELS(T)                                                                    \
    extern "C" __global__ void uniform_##T(T* out, i64 n, u64 seed, u64 offset, double low, double high) { \
        uniform_float(out, n, seed, offset, low, high);                                            \
    }                                                                                              \
    extern "C" __global__ void normal_##T(T* out, i64 n, u64 seed, u64 offset, double mean, double std) { \
        normal_float(out, n, seed, offset, mean, std);                                             \
    }

FLOAT_RANDOM_KERNELS(f32)
FLOAT_RANDOM_KERNELS(f16)
FLOAT_RANDOM_KERNELS(bf16)

extern "C" __global__ void normal_f64(f64* out, i64 n, u64 seed, u64 offset, double mean, double std) {
    GRID_STRIDE_LOOP(group, (n + 1) / 2) {
        const Philox4 r = philox4x32_10((u64)group, offset, seed);
        const double radius = sqrt(-2.0 * log(u01_open_f64(r.x[0], r.x[1])));
        double s, c;
        sincospi(2.0 * u01_f64(r.x[2], r.x[3]), &s, &c);
        const i64 i = group * 2;
        if (i < n) out[i] = mean + std * (radius * c);
        if (i + 1 < n) out[i + 1] = mean + std * (radius * s);
    }
}

extern "C" __global__ void randint_i64(i64* out, i64 n, u64 seed, u64 offset, i64 low, i64 range) {
    GRID_STRIDE_LOOP(group, (n + 1) / 2) {
        const Philox4 r = philox4x32_10((u64)group, offset, seed);
#pragma unroll
        for (int k = 0; k < 2; ++k) {
            const i64 i = group * 2 + k;
            const u64 bits = ((u64)r.x[2 * k + 1] << 32) | r.x[2 * k];
            if (i < n) out[i] = low + (i64)(bits % (u64)range);
        }
    }
}
