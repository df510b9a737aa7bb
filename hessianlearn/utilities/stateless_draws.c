/* Stateless uniform and Gaussian draws from TensorFlow's Philox stream, compiled for the host.
 *
 * Built and loaded by hessianlearn/utilities/stateless_draws.py (ctypes; no Python or
 * TensorFlow headers), which also holds the TensorFlow-op form of the same Gaussian.
 *
 * The stream: with 64-bit key K and 128-bit counter C (TensorFlow's
 * StatelessRandomGetKeyCounter of a seed), 32-bit word j is word j % 4 of Philox-4x32-10
 * (K, C + j / 4), C counted as one 128-bit integer: the words of TensorFlow's CPU kernel of
 * StatelessRandomUniformV2 (alg 1). Here eight counters run in one AVX2 register (two
 * registers interleaved) where the CPU has AVX2, else one at a time.
 *
 * hl_uniform: float32 element i is word i as ((w & 0x7fffff) | 0x3f800000) read as a float,
 *   minus 1; float64 element i is words 2i, 2i + 1 as ((w_2i & 0xfffff) << 32 | w_2i+1) under
 *   the exponent of 1.0, minus 1 (TensorFlow's mapping, bit for bit).
 * hl_gaussian_f32_parts: Box-Muller on the float32 uniforms u_0 = uniform i and u_1 = uniform
 *   n_pairs + i (i < n_pairs), with log, cos and sin as the fixed sequence of IEEE float32
 *   operations written out in box_muller() (no libm, no FMA contraction: -ffp-contract=off).
 *   The Python module evaluates the same sequence with TensorFlow ops, so both give the same
 *   bits; the polynomial coefficients come from there.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HL_AVX2 1
#endif

#define MUL_A 0xD2511F53u
#define MUL_B 0xCD9E8D57u
#define WEYL_A 0x9E3779B9u
#define WEYL_B 0xBB67AE85u
#define CHUNK 1024 /* pairs per Box-Muller chunk: its uniforms stay in L1 */

/* c += n for the 128-bit counter c (little-endian 32-bit words). */
static void add128(uint32_t c[4], uint64_t n) {
    uint32_t lo = (uint32_t)n, hi = (uint32_t)(n >> 32);
    c[0] += lo;
    if (c[0] < lo) ++hi;
    c[1] += hi;
    if (c[1] < hi) {
        if (++c[2] == 0) ++c[3];
    }
}

/* The four words of Philox(K, C + g). */
static void philox_block(uint32_t k0, uint32_t k1, const uint32_t base[4], uint64_t g, uint32_t w[4]) {
    uint32_t c[4] = {base[0], base[1], base[2], base[3]};
    add128(c, g);
    for (int r = 0; r < 10; ++r) {
        uint64_t p0 = (uint64_t)MUL_A * c[0], p1 = (uint64_t)MUL_B * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[1] = (uint32_t)p1;
        c[3] = (uint32_t)p0;
        c[0] = n0;
        c[2] = n2;
        k0 += WEYL_A;
        k1 += WEYL_B;
    }
    memcpy(w, c, sizeof(c));
}

#ifdef HL_AVX2
/* hi and lo 32 bits of m * c in each of eight lanes. */
__attribute__((target("avx2"))) static inline void mul_hi_lo(__m256i c, __m256i m, __m256i *hi, __m256i *lo) {
    __m256i even = _mm256_mul_epu32(c, m);
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* Words c0..c3 of eight counters in stream order (32 words). */
__attribute__((target("avx2"))) static inline void store_words(__m256i c0, __m256i c1, __m256i c2, __m256i c3,
                                                               uint32_t *dst) {
    __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
    __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    _mm256_storeu_si256((__m256i *)dst, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256((__m256i *)(dst + 8), _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256((__m256i *)(dst + 16), _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256((__m256i *)(dst + 24), _mm256_permute2x128_si256(u2, u3, 0x31));
}

/* Groups g0, g0 + 16, ... while whole blocks of 16 fit before g0 + n_groups and the low
 * counter word does not wrap inside a block; returns how many groups were done. */
__attribute__((target("avx2"))) static uint64_t words_avx2(uint32_t k0, uint32_t k1, const uint32_t base[4],
                                                           uint64_t g0, uint64_t n_groups, uint32_t *out) {
    const __m256i mul_a = _mm256_set1_epi32((int)MUL_A), mul_b = _mm256_set1_epi32((int)MUL_B);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), eight = _mm256_set1_epi32(8);
    uint64_t g = 0;
    for (; g + 16 <= n_groups; g += 16) {
        uint32_t first[4] = {base[0], base[1], base[2], base[3]};
        add128(first, g0 + g);
        if (first[0] > UINT32_MAX - 16) break;
        __m256i a0 = _mm256_add_epi32(_mm256_set1_epi32((int)first[0]), lanes), b0 = _mm256_add_epi32(a0, eight);
        __m256i a1 = _mm256_set1_epi32((int)first[1]), b1 = a1;
        __m256i a2 = _mm256_set1_epi32((int)first[2]), b2 = a2;
        __m256i a3 = _mm256_set1_epi32((int)first[3]), b3 = a3;
        uint32_t ka = k0, kb = k1;
        for (int r = 0; r < 10; ++r) {
            __m256i ha0, la0, hb0, lb0, ha2, la2, hb2, lb2;
            __m256i key_a = _mm256_set1_epi32((int)ka), key_b = _mm256_set1_epi32((int)kb);
            mul_hi_lo(a0, mul_a, &ha0, &la0);
            mul_hi_lo(b0, mul_a, &hb0, &lb0);
            mul_hi_lo(a2, mul_b, &ha2, &la2);
            mul_hi_lo(b2, mul_b, &hb2, &lb2);
            a0 = _mm256_xor_si256(_mm256_xor_si256(ha2, a1), key_a);
            b0 = _mm256_xor_si256(_mm256_xor_si256(hb2, b1), key_a);
            a2 = _mm256_xor_si256(_mm256_xor_si256(ha0, a3), key_b);
            b2 = _mm256_xor_si256(_mm256_xor_si256(hb0, b3), key_b);
            a1 = la2;
            b1 = lb2;
            a3 = la0;
            b3 = lb0;
            ka += WEYL_A;
            kb += WEYL_B;
        }
        store_words(a0, a1, a2, a3, out + 4 * g);
        store_words(b0, b1, b2, b3, out + 4 * g + 32);
    }
    return g;
}

static int use_avx2(int simd) { return simd && __builtin_cpu_supports("avx2"); }
#else
static int use_avx2(int simd) { (void)simd; return 0; }
#endif

/* The 4 n_groups words of groups g0 .. g0 + n_groups - 1 into out. */
static void group_words(const uint32_t key[2], const uint32_t base[4], uint64_t g0, uint64_t n_groups, int simd,
                        uint32_t *out) {
    uint64_t g = 0;
#ifdef HL_AVX2
    if (use_avx2(simd)) g = words_avx2(key[0], key[1], base, g0, n_groups, out);
#endif
    for (; g < n_groups; ++g) philox_block(key[0], key[1], base, g0 + g, out + 4 * g);
}

/* Words start .. start + n - 1 of the stream into out (n <= CHUNK), through scratch (the
 * whole groups they fall in: at most CHUNK / 4 + 2 groups). */
static void stream_words(const uint32_t key[2], const uint32_t base[4], uint64_t start, uint64_t n, int simd,
                         uint32_t *scratch, uint32_t *out) {
    uint64_t g0 = start / 4, skip = start % 4, n_groups = (skip + n + 3) / 4;
    group_words(key, base, g0, n_groups, simd, scratch);
    memcpy(out, scratch + skip, n * sizeof(uint32_t));
}

static void unpack(const uint64_t *key64, const uint64_t *counter64, uint32_t key[2], uint32_t base[4]) {
    key[0] = (uint32_t)key64[0];
    key[1] = (uint32_t)(key64[0] >> 32);
    base[0] = (uint32_t)counter64[0];
    base[1] = (uint32_t)(counter64[0] >> 32);
    base[2] = (uint32_t)counter64[1];
    base[3] = (uint32_t)(counter64[1] >> 32);
}

static float bits_to_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof(f));
    return f;
}

static uint32_t float_to_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof(b));
    return b;
}

/* n uniforms in [0, 1) into out: float32 if dtype_bytes is 4, float64 if 8 (else returns -1).
 * simd = 0 keeps to the one-counter-at-a-time code. */
int hl_uniform(const uint64_t *key64, const uint64_t *counter64, uint64_t n, int dtype_bytes, int simd, void *out) {
    uint32_t key[2], base[4];
    if (dtype_bytes != 4 && dtype_bytes != 8) return -1;
    unpack(key64, counter64, key, base);
    uint64_t n_words = dtype_bytes == 4 ? n : 2 * n;
    uint32_t *words = (uint32_t *)out;
    /* whole groups straight into out, the last partial group through a small buffer */
    group_words(key, base, 0, n_words / 4, simd, words);
    if (n_words % 4) {
        uint32_t last[4];
        philox_block(key[0], key[1], base, n_words / 4, last);
        memcpy(words + 4 * (n_words / 4), last, (n_words % 4) * sizeof(uint32_t));
    }
    if (dtype_bytes == 4) {
        float *values = (float *)out;
        for (uint64_t i = 0; i < n; ++i) values[i] = bits_to_float((words[i] & 0x7fffffu) | 0x3f800000u) - 1.0f;
        return 0;
    }
    /* double i takes words 2i and 2i + 1, the very bytes it is written over: in place */
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t bits = ((uint64_t)(words[2 * i] & 0xfffffu) << 32) | words[2 * i + 1] | (1023ull << 52);
        double d;
        memcpy(&d, &bits, sizeof(d));
        ((double *)out)[i] = d - 1.0;
    }
    return 0;
}

/* Coefficients (float32), in this order, as the Python module defines them:
 *   0: sqrt(2) (the mantissa fold), 1: -2 ln 2,
 *   2..5: 1/9, 1/7, 1/5, 1/3 (atanh series: ln m = 2 s (1 + s^2/3 + ...), s = (m - 1)/(m + 1)),
 *   6..10: sin(pi f / 2) = f (s1 + f^2 (s3 + ...)): s9, s7, s5, s3, s1,
 *   11..14: cos(pi f / 2) = 1 + f^2 (c2 + ...): c8, c6, c4, c2. */
#define BOX_MULLER_BODY                                                                                          \
    const float k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6], k7 = k[7];          \
    const float k8 = k[8], k9 = k[9], k10 = k[10], k11 = k[11], k12 = k[12], k13 = k[13], k14 = k[14];          \
    for (uint64_t i = 0; i < n; ++i) {                                                                           \
        float u0 = bits_to_float((w0[i] & 0x7fffffu) | 0x3f800000u) - 1.0f;                                      \
        float u1 = bits_to_float((w1[i] & 0x7fffffu) | 0x3f800000u) - 1.0f;                                      \
        /* -2 ln v, v = 1 - u0 in (0, 1], from v = m 2^e with m in [sqrt(2)/2, sqrt(2)) */                       \
        float v = 1.0f - u0;                                                                                     \
        uint32_t b = float_to_bits(v);                                                                           \
        int32_t exponent = (int32_t)(b >> 23) - 127;                                                             \
        float m = bits_to_float((b & 0x7fffffu) | 0x3f800000u);                                                  \
        int32_t fold = m > k0 ? 1 : 0; /* m 2^e = (m / 2) 2^(e + 1) */                                         \
        m = m * bits_to_float(0x3f800000u - ((uint32_t)fold << 23));                                             \
        float e = (float)(exponent + fold);                                                                      \
        float s = (m - 1.0f) / (m + 1.0f);                                                                       \
        float s2 = s * s;                                                                                        \
        float p = (((k2 * s2 + k3) * s2 + k4) * s2 + k5) * s2 + 1.0f;                                    \
        float r = sqrtf(e * k1 + (s * p) * -4.0f);                                                             \
        /* 2 pi u1 = (pi / 2)(q + f), q = floor(4 u1 + 1/2) (a cast: >= 0), f in [-1/2, 1/2]; exact */          \
        int32_t quarter = (int32_t)(4.0f * u1 + 0.5f);                                                           \
        float f = 4.0f * u1 - (float)quarter;                                                                    \
        float f2 = f * f;                                                                                        \
        float sn = f * ((((k6 * f2 + k7) * f2 + k8) * f2 + k9) * f2 + k10);                            \
        float cs = (((k11 * f2 + k12) * f2 + k13) * f2 + k14) * f2 + 1.0f;                               \
        uint32_t quadrant = (uint32_t)quarter & 3u;                                                              \
        uint32_t swap = 0u - (quadrant & 1u); /* all ones in quadrants 1 and 3 */                                \
        float c = bits_to_float((float_to_bits(sn) & swap) | (float_to_bits(cs) & ~swap));                       \
        float d = bits_to_float((float_to_bits(cs) & swap) | (float_to_bits(sn) & ~swap));                       \
        float cos_ = bits_to_float(float_to_bits(c) ^ ((((quadrant + 1u) >> 1) & 1u) << 31));                    \
        float sin_ = bits_to_float(float_to_bits(d) ^ ((quadrant >> 1) << 31));                                  \
        z0[i] = r * cos_;                                                                                        \
        z1[i] = r * sin_;                                                                                        \
    }

static void box_muller(const uint32_t *restrict w0, const uint32_t *restrict w1, uint64_t n, const float *restrict k,
                       float *restrict z0, float *restrict z1) {
    BOX_MULLER_BODY
}

#ifdef HL_AVX2
__attribute__((target("avx2"))) static void box_muller_avx2(const uint32_t *restrict w0, const uint32_t *restrict w1,
                                                            uint64_t n, const float *restrict k, float *restrict z0,
                                                            float *restrict z1) {
    BOX_MULLER_BODY
}
#endif

/* Pairs [j0, j1) of one matrix: out[i] = r cos, out[n_pairs + i] = r sin while below n_out. */
static void gaussian_range(const uint32_t key[2], const uint32_t base[4], uint64_t n_pairs, uint64_t n_out,
                           uint64_t j0, uint64_t j1, const float *k, int simd, float *out) {
    uint32_t scratch[4 * (CHUNK / 4 + 2)], w0[CHUNK], w1[CHUNK];
    float sines[CHUNK];
    int avx2 = use_avx2(simd);
    for (uint64_t j = j0; j < j1; j += CHUNK) {
        uint64_t n = j1 - j < CHUNK ? j1 - j : CHUNK;
        stream_words(key, base, j, n, simd, scratch, w0);
        stream_words(key, base, n_pairs + j, n, simd, scratch, w1);
#ifdef HL_AVX2
        if (avx2)
            box_muller_avx2(w0, w1, n, k, out + j, sines);
        else
#endif
            box_muller(w0, w1, n, k, out + j, sines);
        uint64_t kept = n_out - n_pairs > j ? n_out - n_pairs - j : 0;
        memcpy(out + n_pairs + j, sines, (kept < n ? kept : n) * sizeof(float));
    }
    (void)avx2;
}

/* The float32 Box-Muller normals of matrix p from key64[p], counter64[2p]: with uniforms u_i,
 * outs[p][i] = r_i cos 2 pi u_{n_pairs[p] + i} and outs[p][n_pairs[p] + i] = r_i sin ... for
 * i < n_pairs[p] (the sines while below n_out[p], n_pairs[p] <= n_out[p] <= 2 n_pairs[p]); the
 * pairs of all matrices split evenly over `threads` threads (1 to 16). */
struct share {
    uint64_t n_parts, first, last; /* pairs [first, last) of all parts laid end to end */
    const uint64_t *key64, *counter64, *n_pairs, *n_out;
    const float *k;
    int simd;
    float **outs;
};

static void *gaussian_share(void *argument) {
    const struct share *w = (const struct share *)argument;
    uint64_t offset = 0;
    for (uint64_t p = 0; p < w->n_parts; offset += w->n_pairs[p], ++p) {
        if (w->last <= offset) break;
        uint64_t lo = w->first > offset ? w->first - offset : 0, hi = w->last - offset;
        if (hi > w->n_pairs[p]) hi = w->n_pairs[p];
        if (lo >= hi) continue;
        uint32_t key[2], base[4];
        unpack(w->key64 + p, w->counter64 + 2 * p, key, base);
        gaussian_range(key, base, w->n_pairs[p], w->n_out[p], lo, hi, w->k, w->simd, w->outs[p]);
    }
    return NULL;
}

int hl_gaussian_f32_parts(uint64_t n_parts, const uint64_t *key64, const uint64_t *counter64,
                          const uint64_t *n_pairs, const uint64_t *n_out, const float *k, int simd, int threads,
                          float **outs) {
    uint64_t total = 0;
    for (uint64_t p = 0; p < n_parts; ++p) {
        if (n_out[p] < n_pairs[p] || n_out[p] > 2 * n_pairs[p]) return -1;
        total += n_pairs[p];
    }
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    struct share shares[16];
    pthread_t ids[16];
    int started[16] = {0};
    for (int t = 0; t < threads; ++t) {
        shares[t] = (struct share){n_parts, total * t / threads, total * (t + 1) / threads, key64, counter64,
                                   n_pairs, n_out, k, simd, outs};
    }
    for (int t = 1; t < threads; ++t) started[t] = pthread_create(&ids[t], NULL, gaussian_share, &shares[t]) == 0;
    gaussian_share(&shares[0]);
    for (int t = 1; t < threads; ++t) {
        if (started[t])
            pthread_join(ids[t], NULL);
        else
            gaussian_share(&shares[t]); /* no thread: do its share here */
    }
    return 0;
}
