// One variant of the direct convolution kernels; included by ckernels.c once per variant with
// SUFFIX (name suffix), TARGET (function attribute), VW (floats per vector), OB (output
// channels per register block), XB (vectors per forward block), JB (kernel columns per
// filter-gradient block) defined; undefines them at its end.
//
// Layout: each image is copied into a zero-bordered scratch [C, Hp, pitch] whose row pitch is
// W + 2p rounded up to VW, so output position (y, x) is the flat index q = y·pitch + x and the
// input it reads for tap (c, i, j) is scratch[c·plane + q + i·pitch + j]: every tap is one
// contiguous vector load. Columns x ≥ Wo of the flat output are computed and dropped (forward),
// or masked to exact zeros (filter gradient, so that no NaN or infinity outside the sum leaks in).

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define VEC CAT(vec_, SUFFIX)
#define IVEC CAT(ivec_, SUFFIX)

typedef float VEC __attribute__((ext_vector_type(VW), aligned(4)));
typedef int IVEC __attribute__((ext_vector_type(VW), aligned(4)));

TARGET static inline VEC CAT(load_, SUFFIX)(const float *p) { VEC v; __builtin_memcpy(&v, p, sizeof v); return v; }
TARGET static inline void CAT(store_, SUFFIX)(float *p, VEC v) { __builtin_memcpy(p, &v, sizeof v); }

TARGET static void CAT(forward_, SUFFIX)(const float *x, const float *w, float *y, long n0, long n1, long C, long H, long W,
                                        long O, long kh, long kw, long p, int accumulate) {
    const long Hp = H + 2 * p, Wp = W + 2 * p, Ho = Hp - kh + 1, Wo = Wp - kw + 1;
    const long pitch = (Wp + VW - 1) / VW * VW, plane = Hp * pitch, K = C * kh * kw;
    const long Q = Ho * pitch, step = (long)VW * XB, Qr = (Q + step - 1) / step * step;
    const long Ob = (O + OB - 1) / OB * OB;
    // scratch: padded image (+ slack for the last block's reads), packed weights [Ob/OB][K][OB], block output [OB][Qr]
    const long xsCount = C * plane + Qr + kh * pitch + kw + VW;
    float *xs = (float *)calloc((size_t)xsCount, sizeof(float));
    float *wp = (float *)calloc((size_t)(Ob * K), sizeof(float));
    float *ys = (float *)malloc(sizeof(float) * (size_t)(OB * Qr));
    long *offsets = (long *)malloc(sizeof(long) * (size_t)K);
    if (!xs || !wp || !ys || !offsets) abort();
    for (long c = 0; c < C; c++) for (long i = 0; i < kh; i++) for (long j = 0; j < kw; j++)
        offsets[(c * kh + i) * kw + j] = c * plane + i * pitch + j;
    for (long o = 0; o < O; o++) for (long k = 0; k < K; k++) wp[(o / OB) * K * OB + k * OB + o % OB] = w[o * K + k];
    for (long n = n0; n < n1; n++) {
        const float *xn = x + n * C * H * W;
        for (long c = 0; c < C; c++) for (long r = 0; r < H; r++)
            __builtin_memcpy(xs + c * plane + (r + p) * pitch + p, xn + (c * H + r) * W, sizeof(float) * (size_t)W);
        for (long ob = 0; ob < Ob; ob += OB) {
            const float *wb = wp + (ob / OB) * K * OB;
            for (long q0 = 0; q0 < Qr; q0 += step) {
                VEC acc[OB][XB];
                for (int o = 0; o < OB; o++) for (int b = 0; b < XB; b++) acc[o][b] = (VEC)0.0f;
                const float *xq = xs + q0;
                for (long k = 0; k < K; k++) {
                    const float *src = xq + offsets[k];
                    VEC xv[XB];
                    for (int b = 0; b < XB; b++) xv[b] = CAT(load_, SUFFIX)(src + b * VW);
                    for (int o = 0; o < OB; o++) {
                        const VEC wv = (VEC)wb[k * OB + o];
                        for (int b = 0; b < XB; b++) acc[o][b] += wv * xv[b];
                    }
                }
                for (int o = 0; o < OB; o++) for (int b = 0; b < XB; b++) CAT(store_, SUFFIX)(ys + o * Qr + q0 + b * VW, acc[o][b]);
            }
            for (long o = ob; o < ob + OB && o < O; o++) {
                float *yo = y + (n * O + o) * Ho * Wo;
                const float *so = ys + (o - ob) * Qr;
                for (long r = 0; r < Ho; r++) {
                    if (accumulate) { for (long c = 0; c < Wo; c++) yo[r * Wo + c] += so[r * pitch + c]; }
                    else __builtin_memcpy(yo + r * Wo, so + r * pitch, sizeof(float) * (size_t)Wo);
                }
            }
        }
    }
    free(xs); free(wp); free(ys); free(offsets);
}

TARGET static void CAT(filter_, SUFFIX)(const float *x, const float *g, float *dw, long n0, long n1, long C, long H, long W,
                                       long O, long kh, long kw, long p) {
    const long Hp = H + 2 * p, Wp = W + 2 * p, Ho = Hp - kh + 1, Wo = Wp - kw + 1;
    const long pitch = (Wp + VW - 1) / VW * VW, plane = Hp * pitch, K = C * kh * kw;
    const long Q = Ho * pitch, Ob = (O + OB - 1) / OB * OB, kwb = (kw + JB - 1) / JB * JB, chunks = pitch / VW;
    const long xsCount = C * plane + kh * pitch + kwb + 2 * VW;
    float *xs = (float *)calloc((size_t)xsCount, sizeof(float));
    float *gs = (float *)calloc((size_t)(Ob * Q), sizeof(float));     // g with row pitch `pitch`, zero beyond Wo and for o ≥ O
    VEC *acc = (VEC *)calloc((size_t)(Ob * C * kh * kwb), sizeof(VEC)); // [Ob][C·kh][kwb] vector partial sums
    IVEC *mask = (IVEC *)malloc(sizeof(IVEC) * (size_t)chunks);          // lanes x < Wo of each chunk of a row
    if (!xs || !gs || !acc || !mask) abort();
    for (long m = 0; m < chunks; m++) for (int l = 0; l < VW; l++) mask[m][l] = (m * VW + l < Wo) ? -1 : 0;
    for (long n = n0; n < n1; n++) {
        const float *xn = x + n * C * H * W, *gn = g + n * O * Ho * Wo;
        for (long c = 0; c < C; c++) for (long r = 0; r < H; r++)
            __builtin_memcpy(xs + c * plane + (r + p) * pitch + p, xn + (c * H + r) * W, sizeof(float) * (size_t)W);
        for (long o = 0; o < O; o++) for (long r = 0; r < Ho; r++)
            __builtin_memcpy(gs + o * Q + r * pitch, gn + (o * Ho + r) * Wo, sizeof(float) * (size_t)Wo);
        for (long ob = 0; ob < Ob; ob += OB) {
            for (long ci = 0; ci < C * kh; ci++) {
                const float *xr = xs + (ci / kh) * plane + (ci % kh) * pitch;
                for (long jb = 0; jb < kwb; jb += JB) {
                    VEC a[OB][JB];
                    VEC *slot = acc + (ob * C * kh + ci) * kwb + jb;   // + o·C·kh·kwb + j
                    for (int o = 0; o < OB; o++) for (int j = 0; j < JB; j++) a[o][j] = slot[o * C * kh * kwb + j];
                    long m = 0;
                    for (long q = 0; q < Q; q += VW) {
                        VEC gv[OB];
                        for (int o = 0; o < OB; o++) gv[o] = CAT(load_, SUFFIX)(gs + (ob + o) * Q + q);
                        const IVEC mk = mask[m];
                        for (int j = 0; j < JB; j++) {
                            IVEC bits;
                            VEC xv = CAT(load_, SUFFIX)(xr + q + jb + j);
                            __builtin_memcpy(&bits, &xv, sizeof bits);
                            bits &= mk;
                            __builtin_memcpy(&xv, &bits, sizeof bits);
                            for (int o = 0; o < OB; o++) a[o][j] += gv[o] * xv;
                        }
                        if (++m == chunks) m = 0;
                    }
                    for (int o = 0; o < OB; o++) for (int j = 0; j < JB; j++) slot[o * C * kh * kwb + j] = a[o][j];
                }
            }
        }
    }
    for (long o = 0; o < O; o++) for (long ci = 0; ci < C * kh; ci++) for (long j = 0; j < kw; j++) {
        const VEC v = acc[(o * C * kh + ci) * kwb + j];
        float s = 0;
        for (int l = 0; l < VW; l++) s += v[l];
        dw[o * K + ci * kw + j] += s;
    }
    free(xs); free(gs); free(acc); free(mask);
}

#undef VEC
#undef IVEC
// The variant's parameters, so that ckernels.c can define the next one.
#undef SUFFIX
#undef TARGET
#undef VW
#undef OB
#undef XB
#undef JB
