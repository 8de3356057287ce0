#include "CKernels.h"
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

// Generic: the build target's baseline (SSE2 on x86-64, NEON on arm64): 4-float vectors.
#define SUFFIX generic
#define TARGET
#define VW 4
#define OB 2
#define XB 2
#define JB 5
#include "conv_body.h"

#if defined(__x86_64__)
// AVX2 + FMA: 8-float vectors, 16 registers: forward 4 channels × 2 vectors = 8 accumulators;
// filter gradient 2 channels × 5 columns = 10.
#define SUFFIX avx2
#define TARGET __attribute__((target("avx2,fma")))
#define VW 8
#define OB 4
#define XB 2
#define JB 5
#include "conv_body.h"

// AVX-512F: 16-float vectors, 32 registers: forward 4 × 3 = 12 accumulators; filter 4 × 5 = 20.
#define SUFFIX avx512
#define TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define VW 16
#define OB 4
#define XB 3
#define JB 5
#include "conv_body.h"
#endif

int lk_kernel_supported(int variant) {
    if (variant == LK_KERNEL_GENERIC) return 1;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const unsigned long long xcr0 = ((unsigned long long)hi << 32) | lo;
    if ((xcr0 & 0x6) != 0x6) return 0;                       // XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512vl = (b >> 31) & 1;
    if (variant == LK_KERNEL_AVX2) return avx2 && fma;
    if (variant == LK_KERNEL_AVX512) return avx2 && fma && avx512f && avx512vl && (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM state
#endif
    return 0;
}

void lk_conv2d_forward_f32(int variant, const float *x, const float *w, float *y,
                           long n0, long n1, long C, long H, long W, long O, long kh, long kw, long p, int accumulate) {
    if (n1 <= n0) return;
#if defined(__x86_64__)
    if (variant == LK_KERNEL_AVX512) { forward_avx512(x, w, y, n0, n1, C, H, W, O, kh, kw, p, accumulate); return; }
    if (variant == LK_KERNEL_AVX2) { forward_avx2(x, w, y, n0, n1, C, H, W, O, kh, kw, p, accumulate); return; }
#endif
    forward_generic(x, w, y, n0, n1, C, H, W, O, kh, kw, p, accumulate);
}

void lk_conv2d_filter_f32(int variant, const float *x, const float *g, float *dw,
                          long n0, long n1, long C, long H, long W, long O, long kh, long kw, long p) {
    if (n1 <= n0) return;
#if defined(__x86_64__)
    if (variant == LK_KERNEL_AVX512) { filter_avx512(x, g, dw, n0, n1, C, H, W, O, kh, kw, p); return; }
    if (variant == LK_KERNEL_AVX2) { filter_avx2(x, g, dw, n0, n1, C, H, W, O, kh, kw, p); return; }
#endif
    filter_generic(x, g, dw, n0, n1, C, H, W, O, kh, kw, p);
}
