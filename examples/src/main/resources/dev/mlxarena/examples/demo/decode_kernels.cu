// The decode demo's transformer as CUDA kernels, compiled at first use by NVRTC for the GPU's own
// architecture (see dev.mlxarena.cuda.KernelCompiler).
//
// Every kernel exists for two storage types, float (the _f32 entry points) and bf16 held as
// unsigned short (the _bf16 entry points), with float arithmetic in both. The file includes no
// header, so NVRTC needs nothing but its built-ins: bf16 conversions are bit arithmetic (the upper
// half of a float; round to nearest even on the way back, NaN kept quiet).
//
// Rules every kernel keeps:
// - it writes the whole of its output before anything reads it, so no kernel depends on a buffer
//   being zeroed: recycled (or poisoned) pool memory is fine;
// - reductions run in a fixed order and there are no atomics, so results are the same bits run to
//   run, whatever the allocation mode;
// - the entry points are extern "C", so their names are the ones the Java side looks up.

typedef unsigned short bf16;

// 16-byte vectors for wide loads, declared here rather than taken from vector_types.h.
struct alignas(16) f32x4 {
  float x, y, z, w;
};
struct alignas(16) u32x4 {
  unsigned int x, y, z, w;
};

// ---------------------------------------------------------------------------------------- helpers

__device__ __forceinline__ bf16 f2bf(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    return (bf16) ((u >> 16) | 0x40u);
  }
  u += 0x7fffu + ((u >> 16) & 1u);
  return (bf16) (u >> 16);
}

__device__ __forceinline__ float ld(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16* p, long long i) {
  return __uint_as_float(((unsigned int) p[i]) << 16);
}
__device__ __forceinline__ void st(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void st(bf16* p, long long i, float v) { p[i] = f2bf(v); }

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

struct Sum {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Reduces over the warp with a butterfly: every lane ends with the same bits.
template <typename Op>
__device__ __forceinline__ float warp_reduce(float v, Op op) {
  for (int o = 16; o > 0; o >>= 1) {
    v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  }
  return v;
}

// Reduces over the block, returned to every thread. blockDim.x is a multiple of 32, at most 1024;
// `red` holds 32 floats of shared memory and may be reused by the next call.
template <typename Op>
__device__ float block_reduce(float v, float* red, float identity, Op op) {
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  v = warp_reduce(v, op);
  __syncthreads();
  if (lane == 0) {
    red[warp] = v;
  }
  __syncthreads();
  v = lane < (int) (blockDim.x >> 5) ? red[lane] : identity;
  return warp_reduce(v, op);
}

__device__ __forceinline__ float warp_sum(float v) { return warp_reduce(v, Sum()); }
__device__ __forceinline__ float block_sum(float v, float* red) { return block_reduce(v, red, 0.0f, Sum()); }
__device__ __forceinline__ float block_max(float v, float* red) { return block_reduce(v, red, neg_inf(), Max()); }

// ------------------------------------------------------------------------------------ the kernels

// out[i] = table[token * hidden + i]. The token id is read from device memory, so the host never
// needs to know it before enqueuing the step; an id outside the vocabulary is clamped (argmax
// never produces one).
template <typename T>
__device__ void embed(const T* table, const int* token, T* out, int hidden, int vocab) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= hidden) {
    return;
  }
  int t = *token;
  t = t < 0 ? 0 : (t >= vocab ? vocab - 1 : t);
  out[i] = table[(long long) t * hidden + i];
}

// out = x / sqrt(mean(x^2) + eps) * w, one block.
template <typename T>
__device__ void rms_norm(const T* x, const T* w, T* out, int n, float eps) {
  __shared__ float red[32];
  float ss = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = ld(x, i);
    ss += v * v;
  }
  ss = block_sum(ss, red);
  float inv = 1.0f / sqrtf(ss / (float) n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    st(out, i, ld(x, i) * inv * ld(w, i));
  }
}

// Rotates the pair (j, j + half) of head h of `in` into `out` at `base`.
template <typename T>
__device__ __forceinline__ void rotate_pair(const T* in, T* out, long long base, int h, int j, int half,
                                            int head_dim, float c, float s) {
  int a = h * head_dim + j;
  float x1 = ld(in, a);
  float x2 = ld(in, a + half);
  st(out, base + a, x1 * c - x2 * s);
  st(out, base + a + half, x2 * c + x1 * s);
}

// Rotary position embedding (rotate-half pairs (j, j + head_dim/2)) of q into q_out and of k into
// the key cache at `pos`, and v copied into the value cache at `pos`. cos_t and sin_t are
// [context][head_dim/2] tables. One thread per rotated pair or copied value.
template <typename T>
__device__ void rope_store_kv(const T* q, const T* k, const T* v, const float* cos_t,
                              const float* sin_t, T* q_out, T* k_cache, T* v_cache, int pos,
                              int heads, int kv_heads, int head_dim) {
  int half = head_dim >> 1;
  int q_pairs = heads * half;
  int k_pairs = kv_heads * half;
  int v_count = kv_heads * head_dim;
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  const float* c = cos_t + (long long) pos * half;
  const float* s = sin_t + (long long) pos * half;
  long long base = (long long) pos * kv_heads * head_dim;
  if (i < q_pairs) {
    int j = i % half;
    rotate_pair(q, q_out, 0, i / half, j, half, head_dim, c[j], s[j]);
    return;
  }
  i -= q_pairs;
  if (i < k_pairs) {
    int j = i % half;
    rotate_pair(k, k_cache, base, i / half, j, half, head_dim, c[j], s[j]);
    return;
  }
  i -= k_pairs;
  if (i < v_count) {
    v_cache[base + i] = v[i];
  }
}

// scores[h * stride + t] = scale * (q_h . k_t) for t < n, grouped-query: head h reads key head
// h / (heads / kv_heads). One warp per (position, head): grid (ceil(n / warps), heads).
template <typename T>
__device__ void attn_scores(const T* q, const T* k_cache, float* scores, int n, int heads,
                            int kv_heads, int head_dim, int stride, float scale) {
  int h = blockIdx.y;
  int lane = threadIdx.x & 31;
  int t = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (t >= n) {
    return;
  }
  int kvh = h / (heads / kv_heads);
  const T* qh = q + (long long) h * head_dim;
  const T* kt = k_cache + ((long long) t * kv_heads + kvh) * head_dim;
  float dot = 0.0f;
  for (int i = lane; i < head_dim; i += 32) {
    dot += ld(qh, i) * ld(kt, i);
  }
  dot = warp_sum(dot);
  if (lane == 0) {
    scores[(long long) h * stride + t] = dot * scale;
  }
}

// out[h * head_dim + i] = sum over t < n of probs[h * stride + t] * v_t[kv head of h][i].
// Block (head_dim, groups): group g sums positions g, g + groups, ...; the groups' partial sums
// meet in shared memory (groups * head_dim floats). Grid: heads.
template <typename T>
__device__ void attn_values(const float* probs, const T* v_cache, T* out, int n, int heads,
                            int kv_heads, int head_dim, int stride) {
  extern __shared__ float part[];
  int h = blockIdx.x;
  int i = threadIdx.x;
  int g = threadIdx.y;
  int groups = blockDim.y;
  int kvh = h / (heads / kv_heads);
  const float* p = probs + (long long) h * stride;
  float acc = 0.0f;
  for (int t = g; t < n; t += groups) {
    acc += p[t] * ld(v_cache, ((long long) t * kv_heads + kvh) * head_dim + i);
  }
  part[g * head_dim + i] = acc;
  __syncthreads();
  if (g == 0) {
    float sum = 0.0f;
    for (int j = 0; j < groups; j++) {
      sum += part[j * head_dim + i];
    }
    st(out, (long long) h * head_dim + i, sum);
  }
}

template <typename T>
__device__ void add(const T* a, const T* b, T* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    st(out, i, ld(a, i) + ld(b, i));
  }
}

// out = silu(gate) * up, silu(a) = a / (1 + e^-a).
template <typename T>
__device__ void swiglu(const T* gate, const T* up, T* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    float a = ld(gate, i);
    st(out, i, a / (1.0f + expf(-a)) * ld(up, i));
  }
}

// The largest (value, index) pair over the warp, the lower index on equal values, in every lane.
__device__ __forceinline__ void warp_argmax(float& best, int& idx) {
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, best, o);
    int oi = __shfl_xor_sync(0xffffffffu, idx, o);
    if (ov > best || (ov == best && oi < idx)) {
      best = ov;
      idx = oi;
    }
  }
}

// *out = the index of the largest of x[0..n), the lowest such index on ties; NaN never wins, and
// 0 when nothing beats minus infinity. One block.
template <typename T>
__device__ void argmax(const T* x, int n, int* out) {
  __shared__ float best_v[32];
  __shared__ int best_i[32];
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  float best = neg_inf();
  int idx = n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = ld(x, i);
    if (v > best) {
      best = v;
      idx = i;
    }
  }
  warp_argmax(best, idx);
  if (lane == 0) {
    best_v[warp] = best;
    best_i[warp] = idx;
  }
  __syncthreads();
  if (warp == 0) {
    bool has = lane < (int) (blockDim.x >> 5);
    best = has ? best_v[lane] : neg_inf();
    idx = has ? best_i[lane] : n;
    warp_argmax(best, idx);
    if (lane == 0) {
      *out = idx < n ? idx : 0;
    }
  }
}

// One lane's share of the dot product of a weight row and x: 16-byte loads when the row allows
// them (every row starts 16-byte aligned when cols is a multiple of the vector width and w is),
// else one element at a time.
__device__ __forceinline__ float row_dot(const float* w, const float* x, int cols, int lane) {
  float acc = 0.0f;
  if ((cols & 3) == 0) {
    const f32x4* w4 = (const f32x4*) w;
    const f32x4* x4 = (const f32x4*) x;
    for (int c = lane; c < (cols >> 2); c += 32) {
      f32x4 a = w4[c];
      f32x4 b = x4[c];
      acc += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
    }
  } else {
    for (int c = lane; c < cols; c += 32) {
      acc += w[c] * x[c];
    }
  }
  return acc;
}

__device__ __forceinline__ float dot2(unsigned int a, unsigned int b) {
  return __uint_as_float(a << 16) * __uint_as_float(b << 16)
       + __uint_as_float(a & 0xffff0000u) * __uint_as_float(b & 0xffff0000u);
}

__device__ __forceinline__ float row_dot(const bf16* w, const bf16* x, int cols, int lane) {
  float acc = 0.0f;
  if ((cols & 7) == 0) {
    const u32x4* w8 = (const u32x4*) w;
    const u32x4* x8 = (const u32x4*) x;
    for (int c = lane; c < (cols >> 3); c += 32) {
      u32x4 a = w8[c];
      u32x4 b = x8[c];
      acc += dot2(a.x, b.x) + dot2(a.y, b.y) + dot2(a.z, b.z) + dot2(a.w, b.w);
    }
  } else {
    for (int c = lane; c < cols; c += 32) {
      acc += ld(w, c) * ld(x, c);
    }
  }
  return acc;
}

// y[r] = sum over c of w[r * cols + c] * x[c] (w row-major [rows][cols]); one warp per row.
template <typename T>
__device__ void matvec(const T* w, const T* x, T* y, int rows, int cols) {
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (row >= rows) {
    return;
  }
  float acc = warp_sum(row_dot(w + (long long) row * cols, x, cols, lane));
  if (lane == 0) {
    st(y, row, acc);
  }
}

__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// out[i] = scale * (2u - 1), u in [0, 1) from a hash of (seed, i): the value depends on the index
// alone, not on the launch shape, so the host can reproduce any element. Grid-stride.
template <typename T>
__device__ void init_uniform(T* out, long long n, unsigned long long seed, float scale) {
  long long step = (long long) gridDim.x * blockDim.x;
  for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    unsigned long long z = mix64(seed ^ mix64((unsigned long long) i));
    float u = (float) (z >> 40) * (1.0f / 16777216.0f);
    st(out, i, (2.0f * u - 1.0f) * scale);
  }
}

template <typename T>
__device__ void fill(T* out, long long n, float value) {
  long long step = (long long) gridDim.x * blockDim.x;
  for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    st(out, i, value);
  }
}

// ------------------------------------------------------------------------------- the entry points

extern "C" __global__ void embed_f32(const float* table, const int* token, float* out, int hidden, int vocab) {
  embed(table, token, out, hidden, vocab);
}
extern "C" __global__ void embed_bf16(const bf16* table, const int* token, bf16* out, int hidden, int vocab) {
  embed(table, token, out, hidden, vocab);
}

extern "C" __global__ void rms_norm_f32(const float* x, const float* w, float* out, int n, float eps) {
  rms_norm(x, w, out, n, eps);
}
extern "C" __global__ void rms_norm_bf16(const bf16* x, const bf16* w, bf16* out, int n, float eps) {
  rms_norm(x, w, out, n, eps);
}

extern "C" __global__ void rope_store_kv_f32(const float* q, const float* k, const float* v,
    const float* cos_t, const float* sin_t, float* q_out, float* k_cache, float* v_cache, int pos,
    int heads, int kv_heads, int head_dim) {
  rope_store_kv(q, k, v, cos_t, sin_t, q_out, k_cache, v_cache, pos, heads, kv_heads, head_dim);
}
extern "C" __global__ void rope_store_kv_bf16(const bf16* q, const bf16* k, const bf16* v,
    const float* cos_t, const float* sin_t, bf16* q_out, bf16* k_cache, bf16* v_cache, int pos,
    int heads, int kv_heads, int head_dim) {
  rope_store_kv(q, k, v, cos_t, sin_t, q_out, k_cache, v_cache, pos, heads, kv_heads, head_dim);
}

extern "C" __global__ void attn_scores_f32(const float* q, const float* k_cache, float* scores,
    int n, int heads, int kv_heads, int head_dim, int stride, float scale) {
  attn_scores(q, k_cache, scores, n, heads, kv_heads, head_dim, stride, scale);
}
extern "C" __global__ void attn_scores_bf16(const bf16* q, const bf16* k_cache, float* scores,
    int n, int heads, int kv_heads, int head_dim, int stride, float scale) {
  attn_scores(q, k_cache, scores, n, heads, kv_heads, head_dim, stride, scale);
}

// Row r of [rows][stride]: out = exp(in - max) / sum over the first n entries. One block per row.
extern "C" __global__ void softmax_rows_f32(const float* in, float* out, int n, int stride) {
  __shared__ float red[32];
  const float* row = in + (long long) blockIdx.x * stride;
  float* o = out + (long long) blockIdx.x * stride;
  float m = neg_inf();
  for (int t = threadIdx.x; t < n; t += blockDim.x) {
    m = fmaxf(m, row[t]);
  }
  m = block_max(m, red);
  float sum = 0.0f;
  for (int t = threadIdx.x; t < n; t += blockDim.x) {
    float e = expf(row[t] - m);
    o[t] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  for (int t = threadIdx.x; t < n; t += blockDim.x) {
    o[t] = o[t] / sum;
  }
}

extern "C" __global__ void attn_values_f32(const float* probs, const float* v_cache, float* out,
    int n, int heads, int kv_heads, int head_dim, int stride) {
  attn_values(probs, v_cache, out, n, heads, kv_heads, head_dim, stride);
}
extern "C" __global__ void attn_values_bf16(const float* probs, const bf16* v_cache, bf16* out,
    int n, int heads, int kv_heads, int head_dim, int stride) {
  attn_values(probs, v_cache, out, n, heads, kv_heads, head_dim, stride);
}

extern "C" __global__ void add_f32(const float* a, const float* b, float* out, int n) {
  add(a, b, out, n);
}
extern "C" __global__ void add_bf16(const bf16* a, const bf16* b, bf16* out, int n) {
  add(a, b, out, n);
}

extern "C" __global__ void swiglu_f32(const float* gate, const float* up, float* out, int n) {
  swiglu(gate, up, out, n);
}
extern "C" __global__ void swiglu_bf16(const bf16* gate, const bf16* up, bf16* out, int n) {
  swiglu(gate, up, out, n);
}

// Launched with 1024 threads: the bound keeps the compiler within the registers that allows.
extern "C" __global__ void __launch_bounds__(1024) argmax_f32(const float* x, int n, int* out) { argmax(x, n, out); }
extern "C" __global__ void __launch_bounds__(1024) argmax_bf16(const bf16* x, int n, int* out) { argmax(x, n, out); }

extern "C" __global__ void matvec_f32(const float* w, const float* x, float* y, int rows, int cols) {
  matvec(w, x, y, rows, cols);
}
extern "C" __global__ void matvec_bf16(const bf16* w, const bf16* x, bf16* y, int rows, int cols) {
  matvec(w, x, y, rows, cols);
}

extern "C" __global__ void init_uniform_f32(float* out, long long n, unsigned long long seed, float scale) {
  init_uniform(out, n, seed, scale);
}
extern "C" __global__ void init_uniform_bf16(bf16* out, long long n, unsigned long long seed, float scale) {
  init_uniform(out, n, seed, scale);
}

extern "C" __global__ void fill_f32(float* out, long long n, float value) { fill(out, n, value); }
extern "C" __global__ void fill_bf16(bf16* out, long long n, float value) { fill(out, n, value); }
