/* fastmath.h - tanh and sigmoid as branch-free inline code the compiler
 * vectorises (libm's calls cannot be, without -ffast-math), for the GRU
 * gates: with libm they were a third of a training step's time.
 *
 * tanh is the minimax rational approximation Eigen and TensorFlow use
 * (odd degree-13 numerator over even degree-6 denominator on [-7.9, 7.9],
 * where tanh is 1 to float precision beyond); sigmoid(x) =
 * (1 + tanh(x/2)) / 2. Measured against double: tanh within 3.7e-7 relative,
 * sigmoid within 2.1e-7 absolute. Plain IEEE single-precision operations in
 * a fixed order (no FMA contraction under -std=c11): the same bits on every
 * run and machine. The _fused forms below are the same functions with
 * explicit fused multiply-adds. */
#ifndef NMN_FASTMATH_H
#define NMN_FASTMATH_H

/* Always inlined, so that they vectorise inside their callers' loops. */
#define NN_INLINE static inline __attribute__((always_inline))

#include <math.h>

/* Loops GCC vectorises get an AVX2 clone picked at load time. AVX2 brings
 * no FMA and -std=c11 forbids contraction, so both clones give the same
 * bits. (Not under ASan, whose instrumentation and ifuncs do not mix.) */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define NN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NN_CLONES
#endif

/* The coefficients, shared by the plain and fused forms and their vector
 * versions (gru.c) */
#define NN_TANH_CLAMP 7.90531110763549805f
#define NN_TANH_P0 (-2.76076847742355e-16f)
#define NN_TANH_P1 2.00018790482477e-13f
#define NN_TANH_P2 (-8.60467152213735e-11f)
#define NN_TANH_P3 5.12229709037114e-08f
#define NN_TANH_P4 1.48572235717979e-05f
#define NN_TANH_P5 6.37261928875436e-04f
#define NN_TANH_P6 4.89352455891786e-03f
#define NN_TANH_Q0 1.19825839466702e-06f
#define NN_TANH_Q1 1.18534705686654e-04f
#define NN_TANH_Q2 2.26843463243900e-03f
#define NN_TANH_Q3 4.89352518554385e-03f

NN_INLINE float nn_tanhf(float x)
{
    const float c = NN_TANH_CLAMP;
    x = x < -c ? -c : (x > c ? c : x);
    float x2 = x * x;
    float p = NN_TANH_P0;
    p = p * x2 + NN_TANH_P1;
    p = p * x2 + NN_TANH_P2;
    p = p * x2 + NN_TANH_P3;
    p = p * x2 + NN_TANH_P4;
    p = p * x2 + NN_TANH_P5;
    p = p * x2 + NN_TANH_P6;
    float q = NN_TANH_Q0;
    q = q * x2 + NN_TANH_Q1;
    q = q * x2 + NN_TANH_Q2;
    q = q * x2 + NN_TANH_Q3;
    return x * p / q;
}

NN_INLINE float nn_sigmoidf(float x)
{
    return 0.5f + 0.5f * nn_tanhf(0.5f * x);
}

/* The same tanh on 8 lanes with GCC vector types: exactly the scalar
 * operations, lane by lane, so every lane's bits equal nn_tanhf's. The
 * clamp is a bitwise select (no branches to if-convert). */
/* Always inlined, so no vector crosses a call: the ABI note does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float nn_v8sf __attribute__((vector_size(32)));
typedef int nn_v8si __attribute__((vector_size(32)));

NN_INLINE nn_v8sf nn_v8_splat(float v)
{
    return (nn_v8sf){v, v, v, v, v, v, v, v};
}

NN_INLINE nn_v8sf nn_v8_select(nn_v8si m, nn_v8sf a, nn_v8sf b)
{
    return (nn_v8sf)((m & (nn_v8si)a) | (~m & (nn_v8si)b));
}

NN_INLINE nn_v8sf nn_v8_tanh(nn_v8sf x)
{
    const nn_v8sf c = nn_v8_splat(NN_TANH_CLAMP);
    x = nn_v8_select(x < -c, -c, x);
    x = nn_v8_select(x > c, c, x);
    nn_v8sf x2 = x * x;
    nn_v8sf p = nn_v8_splat(NN_TANH_P0);
    p = p * x2 + NN_TANH_P1;
    p = p * x2 + NN_TANH_P2;
    p = p * x2 + NN_TANH_P3;
    p = p * x2 + NN_TANH_P4;
    p = p * x2 + NN_TANH_P5;
    p = p * x2 + NN_TANH_P6;
    nn_v8sf q = nn_v8_splat(NN_TANH_Q0);
    q = q * x2 + NN_TANH_Q1;
    q = q * x2 + NN_TANH_Q2;
    q = q * x2 + NN_TANH_Q3;
    return x * p / q;
}

NN_INLINE nn_v8sf nn_v8_sigmoid(nn_v8sf x)
{
    return 0.5f + 0.5f * nn_v8_tanh(0.5f * x);
}

/* The same rational tanh with every multiply-add fused, the form the GRU
 * gates take on CPUs with FMA (see stepgemm.h): fewer operations, and one
 * rounding instead of two per step. These scalar forms define the bits of
 * the vector code in gru.c lane by lane (fmaf is exactly rounded, as the
 * instruction is). */
NN_INLINE float nn_tanhf_fused(float x)
{
    const float c = NN_TANH_CLAMP;
    x = x < -c ? -c : (x > c ? c : x);
    float x2 = x * x;
    float p = NN_TANH_P0;
    p = fmaf(p, x2, NN_TANH_P1);
    p = fmaf(p, x2, NN_TANH_P2);
    p = fmaf(p, x2, NN_TANH_P3);
    p = fmaf(p, x2, NN_TANH_P4);
    p = fmaf(p, x2, NN_TANH_P5);
    p = fmaf(p, x2, NN_TANH_P6);
    float q = NN_TANH_Q0;
    q = fmaf(q, x2, NN_TANH_Q1);
    q = fmaf(q, x2, NN_TANH_Q2);
    q = fmaf(q, x2, NN_TANH_Q3);
    return x * p / q;
}

NN_INLINE float nn_sigmoidf_fused(float x)
{
    return fmaf(0.5f, nn_tanhf_fused(0.5f * x), 0.5f);
}

#endif
