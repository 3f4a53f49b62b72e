/*
 * The kernels of decode_kernels.cu (and cuda-jna's test_kernels.cu) for the CPU stand-in of
 * libcuda: each one computes what its CUDA twin computes, walks the same grid (so a grid too small
 * for its data shows), refuses the launch shapes its twin cannot take, and checks every range it
 * touches against the live allocations.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stand_in.h"

static float bf2f(uint16_t b) { uint32_t u = (uint32_t) b << 16; float f; memcpy(&f, &u, 4); return f; }
static uint16_t f2bf(float f) { uint32_t u; memcpy(&u, &f, 4); if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t) ((u >> 16) | 0x40u); u += 0x7fffu + ((u >> 16) & 1u); return (uint16_t) (u >> 16); }
static float ld(const void* p, long long i, int es) { return es == 4 ? ((const float*) p)[i] : bf2f(((const uint16_t*) p)[i]); }
static void st(void* p, long long i, float v, int es) { if (es == 4) ((float*) p)[i] = v; else ((uint16_t*) p)[i] = f2bf(v); }
#define P(i) (*(void**) a[i])
#define I(i) (*(int*) a[i])
#define F(i) (*(float*) a[i])
#define L(i) (*(long long*) a[i])
static void bad(const char* k, const char* why) { fprintf(stderr, "cuda stand-in: kernel %s: %s\n", k, why); fflush(stderr); abort(); }

static void embed(void** a, Dim g, Dim b, int es) {
  const char* table = P(0); const int* tok = P(1); char* out = P(2); int hidden = I(3), vocab = I(4);
  check_range(tok, 4); int t = *tok; t = t < 0 ? 0 : (t >= vocab ? vocab - 1 : t);
  check_range(table + (size_t) t * hidden * es, (size_t) hidden * es);
  long long threads = (long long) g.x * b.x;
  for (long long i = 0; i < threads && i < hidden; i++) { check_range(out + i * es, es); memcpy(out + i * es, table + ((size_t) t * hidden + i) * es, es); }
}
static void rms_norm(void** a, Dim g, Dim b, int es) {
  const void* x = P(0); const void* w = P(1); void* out = P(2); int n = I(3); float eps = F(4);
  if (b.x % 32 || b.y != 1) bad("rms_norm", "block not a multiple of 32");
  check_range(x, (size_t) n * es); check_range(w, (size_t) n * es); check_range(out, (size_t) n * es);
  float ss = 0; for (int i = 0; i < n; i++) { float v = ld(x, i, es); ss += v * v; }
  float inv = 1.0f / sqrtf(ss / (float) n + eps);
  for (int i = 0; i < n; i++) st(out, i, ld(x, i, es) * inv * ld(w, i, es), es);
}
static void rope(void** a, Dim g, Dim b, int es) {
  const void* q = P(0); const void* k = P(1); const void* v = P(2); const float* cs = P(3); const float* sn = P(4);
  void* qo = P(5); char* kc = P(6); char* vc = P(7); int pos = I(8), heads = I(9), kvh = I(10), d = I(11);
  int half = d >> 1; long long base = (long long) pos * kvh * d;
  check_range(q, (size_t) heads * d * es); check_range(k, (size_t) kvh * d * es); check_range(v, (size_t) kvh * d * es);
  check_range(cs + (size_t) pos * half, half * 4); check_range(sn + (size_t) pos * half, half * 4); check_range(qo, (size_t) heads * d * es);
  check_range(kc + base * es, (size_t) kvh * d * es); check_range(vc + base * es, (size_t) kvh * d * es);
  const float* c = cs + (size_t) pos * half; const float* s = sn + (size_t) pos * half;
  long long threads = (long long) g.x * b.x; int qp = heads * half, kp = kvh * half, vn = kvh * d;
  if (threads < qp + kp + vn) bad("rope_store_kv", "grid too small");
  for (long long t = 0; t < threads; t++) {
    int i = (int) t;
    if (i < qp) { int h = i / half, j = i - h * half, aa = h * d + j; float x1 = ld(q, aa, es), x2 = ld(q, aa + half, es);
      st(qo, aa, x1 * c[j] - x2 * s[j], es); st(qo, aa + half, x2 * c[j] + x1 * s[j], es); continue; }
    i -= qp;
    if (i < kp) { int h = i / half, j = i - h * half, aa = h * d + j; float x1 = ld(k, aa, es), x2 = ld(k, aa + half, es);
      st(kc, base + aa, x1 * c[j] - x2 * s[j], es); st(kc, base + aa + half, x2 * c[j] + x1 * s[j], es); continue; }
    i -= kp;
    if (i < vn) memcpy(vc + (base + i) * es, (const char*) v + (size_t) i * es, es);
  }
}
static void scores(void** a, Dim g, Dim b, int es) {
  const void* q = P(0); const char* k = P(1); float* sc = P(2); int n = I(3), heads = I(4), kvh = I(5), d = I(6), stride = I(7); float scale = F(8);
  if (b.x % 32) bad("attn_scores", "block not a multiple of 32");
  if ((int) g.y != heads) bad("attn_scores", "grid.y is not the head count");
  int warps = b.x / 32; if ((long long) g.x * warps < n) bad("attn_scores", "grid too small for n");
  check_range(q, (size_t) heads * d * es);
  for (int h = 0; h < heads; h++) {
    int kh = h / (heads / kvh);
    for (int t = 0; t < n; t++) {
      const char* kt = k + ((size_t) t * kvh + kh) * d * es; check_range(kt, (size_t) d * es);
      float dot = 0; for (int i = 0; i < d; i++) dot += ld(q, (long long) h * d + i, es) * ld(kt, i, es);
      check_range(sc + (size_t) h * stride + t, 4); sc[(size_t) h * stride + t] = dot * scale;
    }
  }
}
static void softmax_rows(void** a, Dim g, Dim b, unsigned shared) {
  const float* in = P(0); float* out = P(1); int n = I(2), stride = I(3);
  if (b.x % 32) bad("softmax", "block not a multiple of 32");
  for (unsigned r = 0; r < g.x; r++) {
    const float* row = in + (size_t) r * stride; float* o = out + (size_t) r * stride; check_range(row, n * 4); check_range(o, n * 4);
    float m = -INFINITY; for (int t = 0; t < n; t++) m = fmaxf(m, row[t]);
    float sum = 0; for (int t = 0; t < n; t++) { o[t] = expf(row[t] - m); sum += o[t]; }
    for (int t = 0; t < n; t++) o[t] = o[t] / sum;
  }
}
// The weighted sum of the values for one head: out[i] = sum over t < n of p[t] * v_t[kvh][i].
static void values_head(const float* p, const char* v, void* out, int n, int kvh, int kh, int d, int es) {
  for (int i = 0; i < d; i++) {
    float acc = 0; for (int t = 0; t < n; t++) { const char* vt = v + (((size_t) t * kvh + kh) * d + i) * es; check_range(vt, es); acc += p[t] * ld(vt, 0, es); }
    check_range((char*) out + (size_t) i * es, es); st(out, i, acc, es);
  }
}
// What values_block needs of shared memory for a block of `threads` threads.
static unsigned values_shared(unsigned threads, int d, int es) { unsigned v = threads * (16 / es); return 4 * (v > (unsigned) d ? v : (unsigned) d); }
static void values(void** a, Dim g, Dim b, unsigned shared, int es) {
  const float* probs = P(0); const char* v = P(1); void* out = P(2); int n = I(3), heads = I(4), kvh = I(5), d = I(6), stride = I(7);
  if (b.x % 32 || b.y != 1) bad("attn_values", "block not whole warps in x");
  if (shared < values_shared(b.x, d, es)) bad("attn_values", "too little shared memory");
  if ((int) g.x != heads) bad("attn_values", "grid is not the head count");
  for (int h = 0; h < heads; h++) {
    check_range(probs + (size_t) h * stride, (size_t) n * 4);
    values_head(probs + (size_t) h * stride, v, (char*) out + (size_t) h * d * es, n, kvh, h / (heads / kvh), d, es);
  }
}
// scores, softmax and values of every head in one kernel, the scores in shared memory.
static void attention(void** a, Dim g, Dim b, unsigned shared, int es) {
  const void* q = P(0); const char* k = P(1); const char* v = P(2); void* out = P(3);
  int n = I(4), heads = I(5), kvh = I(6), d = I(7); float scale = F(8);
  if (b.x % 32 || b.y != 1) bad("attention", "block not whole warps in x");
  if ((int) g.x != heads) bad("attention", "grid is not the head count");
  if (shared < 4u * (unsigned) ((n + 3) & ~3) + values_shared(b.x, d, es)) bad("attention", "too little shared memory");
  check_range(q, (size_t) heads * d * es);
  float* s = malloc((size_t) n * 4);
  for (int h = 0; h < heads; h++) {
    int kh = h / (heads / kvh); float m = -INFINITY, sum = 0;
    for (int t = 0; t < n; t++) {
      const char* kt = k + ((size_t) t * kvh + kh) * d * es; check_range(kt, (size_t) d * es);
      float dot = 0; for (int i = 0; i < d; i++) dot += ld(q, (long long) h * d + i, es) * ld(kt, i, es);
      s[t] = dot * scale; m = fmaxf(m, s[t]);
    }
    for (int t = 0; t < n; t++) { s[t] = expf(s[t] - m); sum += s[t]; }
    for (int t = 0; t < n; t++) s[t] = s[t] / sum;
    values_head(s, v, (char*) out + (size_t) h * d * es, n, kvh, kh, d, es);
  }
  free(s);
}
static void add(void** a, Dim g, Dim b, int es) {
  const void* x = P(0); const void* y = P(1); void* o = P(2); int n = I(3);
  if ((long long) g.x * b.x < n) bad("add", "grid too small");
  check_range(x, (size_t) n * es); check_range(y, (size_t) n * es); check_range(o, (size_t) n * es);
  for (int i = 0; i < n; i++) st(o, i, ld(x, i, es) + ld(y, i, es), es);
}
static void swiglu(void** a, Dim g, Dim b, int es) {
  const void* x = P(0); const void* y = P(1); void* o = P(2); int n = I(3);
  if ((long long) g.x * b.x < n) bad("swiglu", "grid too small");
  check_range(x, (size_t) n * es); check_range(y, (size_t) n * es); check_range(o, (size_t) n * es);
  for (int i = 0; i < n; i++) { float v = ld(x, i, es); st(o, i, v / (1.0f + expf(-v)) * ld(y, i, es), es); }
}
static void argmax(void** a, Dim g, Dim b, int es) {
  const void* x = P(0); int n = I(1); int* out = P(2);
  if (b.x % 32 || g.x != 1) bad("argmax", "not one block of whole warps");
  check_range(x, (size_t) n * es); check_range(out, 4);
  float best = -INFINITY; int idx = n; for (int i = 0; i < n; i++) { float v = ld(x, i, es); if (v > best) { best = v; idx = i; } }
  *out = idx < n ? idx : 0;
}
// The grid every matrix-vector kernel takes: whole warps, a power-of-two split of them per row, enough
// blocks for the rows.
static void row_grid(const char* k, Dim g, Dim b, int rows, int splits) {
  if (b.x % 32 || b.y != 1) bad(k, "block not whole warps in x");
  int warps = b.x / 32;
  if (splits < 1 || splits > warps || warps % splits || (splits & (splits - 1))) bad(k, "splits do not divide the block's warps");
  if ((long long) g.x * (warps / splits) < rows) bad(k, "grid too small");
}
static float row_dot(const char* w, const void* x, int cols, int es) { float acc = 0; for (int c = 0; c < cols; c++) acc += ld(w, c, es) * ld(x, c, es); return acc; }
static void matvec(void** a, Dim g, Dim b, int es) {
  const char* w = P(0); const void* x = P(1); const void* add = P(2); void* y = P(3); int rows = I(4), cols = I(5), splits = I(6);
  row_grid("matvec", g, b, rows, splits);
  check_range(w, (size_t) rows * cols * es); check_range(x, (size_t) cols * es); check_range(y, (size_t) rows * es);
  if (add) check_range(add, (size_t) rows * es);
  for (int r = 0; r < rows; r++) { float acc = row_dot(w + (size_t) r * cols * es, x, cols, es); st(y, r, add ? acc + ld(add, r, es) : acc, es); }
}
static void matvec_swiglu(void** a, Dim g, Dim b, int es) {
  const char* w = P(0); const void* x = P(1); void* y = P(2); int ffn = I(3), cols = I(4), splits = I(5);
  row_grid("matvec_swiglu", g, b, ffn, splits);
  check_range(w, (size_t) 2 * ffn * cols * es); check_range(x, (size_t) cols * es); check_range(y, (size_t) ffn * es);
  for (int r = 0; r < ffn; r++) {
    float gt = row_dot(w + (size_t) r * cols * es, x, cols, es), up = row_dot(w + (size_t) (ffn + r) * cols * es, x, cols, es);
    st(y, r, gt / (1.0f + expf(-gt)) * up, es);
  }
}
// Released at once: the stand-in runs each launch to its end before the host goes on.
static void hold(void** a, Dim g, Dim b, unsigned s) {
  const int* release = P(0); int* outcome = P(1); check_range(release, 4); check_range(outcome, 4);
  if (g.x != 1 || b.x != 1) bad("hold", "not one thread"); *outcome = 1;
}
static uint64_t mix64(uint64_t z) { z += 0x9E3779B97F4A7C15ull; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull; return z ^ (z >> 31); }
static void init_uniform(void** a, Dim g, Dim b, int es) {
  void* out = P(0); long long rows = L(1), cols = L(2), ld = L(3), first = L(4); uint64_t seed = (uint64_t) L(5); float scale = F(6);
  if (rows < 0 || cols < 0 || ld < cols || first < 0) bad("init_uniform", "a tile outside its tensor");
  long long n = rows * cols;
  check_range(out, (size_t) n * es);
  for (long long i = 0; i < n; i++) { long long r = i / cols; uint64_t z = mix64(seed ^ mix64((uint64_t) (first + r * ld + i - r * cols)));
    float u = (float) (z >> 40) * (1.0f / 16777216.0f); st(out, i, (2.0f * u - 1.0f) * scale, es); }
}
static void fill(void** a, Dim g, Dim b, int es) {
  void* out = P(0); long long n = L(1); float v = F(2); check_range(out, (size_t) n * es); for (long long i = 0; i < n; i++) st(out, i, v, es);
}
#define BOTH(name, fn) \
  static void name##_f32(void** a, Dim g, Dim b, unsigned s) { fn(a, g, b, 4); } \
  static void name##_bf16(void** a, Dim g, Dim b, unsigned s) { fn(a, g, b, 2); }
BOTH(embed, embed) BOTH(rms_norm, rms_norm) BOTH(rope_store_kv, rope) BOTH(attn_scores, scores) BOTH(add, add)
BOTH(swiglu, swiglu) BOTH(argmax, argmax) BOTH(matvec, matvec) BOTH(matvec_swiglu, matvec_swiglu)
BOTH(init_uniform, init_uniform) BOTH(fill, fill)
static void attn_values_f32(void** a, Dim g, Dim b, unsigned s) { values(a, g, b, s, 4); }
static void attn_values_bf16(void** a, Dim g, Dim b, unsigned s) { values(a, g, b, s, 2); }
static void attention_f32(void** a, Dim g, Dim b, unsigned s) { attention(a, g, b, s, 4); }
static void attention_bf16(void** a, Dim g, Dim b, unsigned s) { attention(a, g, b, s, 2); }
// test_kernels.cu of cuda-jna
static void axpy_f32(void** a, Dim g, Dim b, unsigned s) { float al = F(0); const float* x = P(1); float* y = P(2); int n = I(3);
  check_range(x, n * 4); check_range(y, n * 4); for (int i = 0; i < n && i < (long long) g.x * b.x; i++) y[i] = al * x[i] + y[i]; }
static void axpy_after_f32(void** a, Dim g, Dim b, unsigned s) { axpy_f32(a, g, b, s); }
static void iota_i64(void** a, Dim g, Dim b, unsigned s) { long long* o = P(0); long long base = L(1); int n = I(2); check_range(o, n * 8L); for (int i = 0; i < n; i++) o[i] = base + i; }
#define E(n, p) {#n, n, p}
Entry STAND_IN_KERNELS[] = {
  E(embed_f32, 5), E(embed_bf16, 5), E(rms_norm_f32, 5), E(rms_norm_bf16, 5), E(rope_store_kv_f32, 12), E(rope_store_kv_bf16, 12),
  E(attn_scores_f32, 9), E(attn_scores_bf16, 9), {"softmax_rows_f32", softmax_rows, 4}, E(attn_values_f32, 8), E(attn_values_bf16, 8),
  E(attention_f32, 9), E(attention_bf16, 9),
  E(add_f32, 4), E(add_bf16, 4), E(swiglu_f32, 4), E(swiglu_bf16, 4), E(argmax_f32, 3), E(argmax_bf16, 3), E(matvec_f32, 7), E(matvec_bf16, 7),
  E(matvec_swiglu_f32, 6), E(matvec_swiglu_bf16, 6), E(hold, 3),
  E(init_uniform_f32, 7), E(init_uniform_bf16, 7), E(fill_f32, 3), E(fill_bf16, 3), E(axpy_f32, 4), E(axpy_after_f32, 4), E(iota_i64, 3), {0, 0, 0}};
