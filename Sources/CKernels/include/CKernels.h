#ifndef LANDSCAPE_CKERNELS_H
#define LANDSCAPE_CKERNELS_H

// Direct (non-GEMM) convolution kernels of Landscape, in three variants chosen at run time:
// 0 generic (the build target's baseline vectors), 1 AVX2 + FMA, 2 AVX-512F+VL (x86-64 only).
// Float32, stride 1, zero padding, cross-correlation (PyTorch's conv2d): meant for layers with
// few input channels (C·kH·kW small), where im2col + GEMM is memory-bound.

#ifdef __cplusplus
extern "C" {
#endif

/// Variants: 0 generic, 1 AVX2+FMA, 2 AVX-512F+VL.
enum { LK_KERNEL_GENERIC = 0, LK_KERNEL_AVX2 = 1, LK_KERNEL_AVX512 = 2 };

/// 1 when this CPU and OS can run `variant` (CPUID and XGETBV), else 0.
int lk_kernel_supported(int variant);

/// y[n, o, :, :] (+)= Σ_{c,i,j} w[o, c, i, j] · x[n, c, y + i − p, x + j − p] for the images
/// n in [n0, n1) of x [N, C, H, W] and y [N, O, H + 2p − kh + 1, W + 2p − kw + 1];
/// w [O, C, kh, kw]. Overwrites y's images, or adds to them when `accumulate` ≠ 0.
void lk_conv2d_forward_f32(int variant, const float *x, const float *w, float *y,
                           long n0, long n1, long C, long H, long W, long O, long kh, long kw, long p,
                           int accumulate);

/// dw[o, c, i, j] += Σ_{n ∈ [n0, n1), y, x} g[n, o, y, x] · x[n, c, y + i − p, x + j − p]
/// (zero outside the image); shapes as in lk_conv2d_forward_f32, g like y.
void lk_conv2d_filter_f32(int variant, const float *x, const float *g, float *dw,
                          long n0, long n1, long C, long H, long W, long O, long kh, long kw, long p);

#ifdef __cplusplus
}
#endif
#endif
