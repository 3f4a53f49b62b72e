// The decode demo's transformer as CUDA kernels, compiled at first use by NVRTC for the GPU's own
// architecture (see dev.mlxarena.cuda.KernelCompiler).
//
// Every kernel exists for two storage types, float (the _f32 entry points) and bf16 held as
// unsigned short (the _bf16 entry points), with float arithmetic in both. The file includes no
// header, so NVRTC needs nothing but its built-ins: bf16 conversions are bit arithmetic (the upper
// half of a float; round to nearest even on the way back, NaN kept quiet).
//
// Rules every kernel keeps:
// - it starts with after_previous_kernel(), so that it may be launched as a programmatic dependent
//   launch (it waits there for the kernel before it on the stream);
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

// The 16-byte vector of each storage type, and how many elements it holds.
template <typename T> struct Vec16;
template <> struct Vec16<float> {
  typedef f32x4 type;
  static const int n = 4;
};
template <> struct Vec16<bf16> {
  typedef u32x4 type;
  static const int n = 8;
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

// With a programmatic dependent launch (sm_90 and up) the kernel may start while the kernel before
// it on the stream is still running: wait here until that grid has finished and its memory is
// visible, before touching any, then let the next kernel start launching. Without that launch
// attribute both instructions return at once.
__device__ __forceinline__ void after_previous_kernel() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

__device__ __forceinline__ float dot2(unsigned int a, unsigned int b) {
  return __uint_as_float(a << 16) * __uint_as_float(b << 16)
       + __uint_as_float(a & 0xffff0000u) * __uint_as_float(b & 0xffff0000u);
}

__device__ __forceinline__ float dot16(f32x4 a, f32x4 b) { return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w; }
__device__ __forceinline__ float dot16(u32x4 a, u32x4 b) {
  return dot2(a.x, b.x) + dot2(a.y, b.y) + dot2(a.z, b.z) + dot2(a.w, b.w);
}

__device__ __forceinline__ bool aligned16(const void* a, const void* b) {
  return ((((unsigned long long) a) | ((unsigned long long) b)) & 15u) == 0;
}

// The elements of a 16-byte vector as floats, in memory order (a bf16 pair's lower address is the
// word's low half).
__device__ __forceinline__ void unpack(f32x4 v, float (&f)[4]) {
  f[0] = v.x;
  f[1] = v.y;
  f[2] = v.z;
  f[3] = v.w;
}
__device__ __forceinline__ void unpack(u32x4 v, float (&f)[8]) {
  unsigned int w[4] = {v.x, v.y, v.z, v.w};
  for (int i = 0; i < 4; i++) {
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

// The vector of the floats f, stored as the type holds them (bf16 rounded as st rounds).
__device__ __forceinline__ f32x4 pack(const float (&f)[4]) { return f32x4{f[0], f[1], f[2], f[3]}; }
__device__ __forceinline__ unsigned int pack2(float lo, float hi) {
  return (unsigned int) f2bf(lo) | ((unsigned int) f2bf(hi) << 16);
}
__device__ __forceinline__ u32x4 pack(const float (&f)[8]) {
  return u32x4{pack2(f[0], f[1]), pack2(f[2], f[3]), pack2(f[4], f[5]), pack2(f[6], f[7])};
}

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
  after_previous_kernel();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= hidden) {
    return;
  }
  int t = *token;
  t = t < 0 ? 0 : (t >= vocab ? vocab - 1 : t);
  out[i] = table[(long long) t * hidden + i];
}

// out = x / sqrt(mean(x^2) + eps) * w, one block; 16-byte loads and stores when n is a whole
// number of vectors and the memory aligned (a 2048-wide bf16 row is one vector per thread of 256).
template <typename T>
__device__ void rms_norm(const T* x, const T* w, T* out, int n, float eps) {
  after_previous_kernel();
  __shared__ float red[32];
  typedef typename Vec16<T>::type V;
  const int k = Vec16<T>::n;
  bool vec = n % k == 0 && aligned16(x, w) && aligned16(out, out);
  float ss = 0.0f;
  if (vec) {
    for (int i = threadIdx.x; i < n / k; i += blockDim.x) {
      float f[k];
      unpack(((const V*) x)[i], f);
      for (int e = 0; e < k; e++) {
        ss += f[e] * f[e];
      }
    }
  } else {
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      float v = ld(x, i);
      ss += v * v;
    }
  }
  ss = block_sum(ss, red);
  float inv = 1.0f / sqrtf(ss / (float) n + eps);
  if (vec) {
    for (int i = threadIdx.x; i < n / k; i += blockDim.x) {
      float f[k];
      float g[k];
      unpack(((const V*) x)[i], f);
      unpack(((const V*) w)[i], g);
      for (int e = 0; e < k; e++) {
        f[e] = f[e] * inv * g[e];
      }
      ((V*) out)[i] = pack(f);
    }
  } else {
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      st(out, i, ld(x, i) * inv * ld(w, i));
    }
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
  after_previous_kernel();
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
  after_previous_kernel();
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

// Threads that read one position's head_dim elements as 16-byte vectors, one vector each, when
// such a group divides a warp and the memory is aligned; else 0 (element by element).
template <typename T>
__device__ __forceinline__ int vector_group(int head_dim, const void* a, const void* b) {
  const int n = Vec16<T>::n;
  int l = head_dim / n;
  return head_dim % n == 0 && l <= 32 && 32 % l == 0 && aligned16(a, b) ? l : 0;
}

// s[t] = scale * (q . k_t) for t < n over kv head kvh, by the whole block into s (shared memory).
// Groups of threads take one position each, four positions per group at a time, so every thread
// has four 16-byte loads in flight; without vectors, a warp per position.
template <typename T>
__device__ void scores_block(const T* q, const T* k_cache, float* s, int n, int kv_heads, int kvh, int head_dim,
                             float scale) {
  const T* k0 = k_cache + (long long) kvh * head_dim;
  long long row = (long long) kv_heads * head_dim;
  int l = vector_group<T>(head_dim, q, k0) ;
  if (l > 0 && row % Vec16<T>::n == 0) {
    typedef typename Vec16<T>::type V;
    int g = threadIdx.x / l;
    int j = threadIdx.x % l;
    int groups = blockDim.x / l;
    V qv = ((const V*) q)[j];
    for (int t0 = 0; t0 < n; t0 += 4 * groups) {
      float d[4];
      for (int u = 0; u < 4; u++) {
        int t = t0 + u * groups + g;
        d[u] = t < n ? dot16(((const V*) (k0 + t * row))[j], qv) : 0.0f;
      }
      for (int u = 0; u < 4; u++) {
        for (int o = l >> 1; o > 0; o >>= 1) {
          d[u] += __shfl_xor_sync(0xffffffffu, d[u], o);
        }
        int t = t0 + u * groups + g;
        if (j == 0 && t < n) {
          s[t] = d[u] * scale;
        }
      }
    }
  } else {
    int lane = threadIdx.x & 31;
    for (int t = threadIdx.x >> 5; t < n; t += blockDim.x >> 5) {
      const T* kt = k0 + t * row;
      float dot = 0.0f;
      for (int i = lane; i < head_dim; i += 32) {
        dot += ld(q, i) * ld(kt, i);
      }
      dot = warp_sum(dot);
      if (lane == 0) {
        s[t] = dot * scale;
      }
    }
  }
}

// out = exp(in - max) / sum over the first n entries, by one block (`in` may be `out`).
__device__ void softmax_row(const float* in, float* out, int n, float* red) {
  float m = neg_inf();
  for (int t = threadIdx.x; t < n; t += blockDim.x) {
    m = fmaxf(m, in[t]);
  }
  m = block_max(m, red);
  float sum = 0.0f;
  for (int t = threadIdx.x; t < n; t += blockDim.x) {
    float e = expf(in[t] - m);
    out[t] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  for (int t = threadIdx.x; t < n; t += blockDim.x) {
    out[t] = out[t] / sum;
  }
}

// out[i] = sum over t < n of p[t] * v_t[i] over kv head kvh, by the whole block. Groups of
// threads take one position each (a 16-byte vector of it per thread; without vectors, one element
// per thread), positions g, g + groups, ... for group g, four at a time; the groups' sums meet in
// `part` (shared) and are added in group order.
template <typename T>
__device__ void values_block(const float* p, const T* v_cache, T* out, float* part, int n, int kv_heads, int kvh,
                             int head_dim) {
  const int n16 = Vec16<T>::n;
  const T* v0 = v_cache + (long long) kvh * head_dim;
  long long row = (long long) kv_heads * head_dim;
  int l = head_dim / n16;
  bool vec = head_dim % n16 == 0 && l <= (int) blockDim.x && row % n16 == 0 && aligned16(v0, v0);
  int width = vec ? l : min(head_dim, (int) blockDim.x);
  int groups = blockDim.x / width;
  int g = threadIdx.x / width;
  int j = threadIdx.x % width;
  if (g < groups) {
    if (vec) {
      typedef typename Vec16<T>::type V;
      float acc[n16];
      for (int e = 0; e < n16; e++) {
        acc[e] = 0.0f;
      }
      int t = g;
      for (; t + 3 * groups < n; t += 4 * groups) {
        V v[4];
        float pt[4];
        for (int u = 0; u < 4; u++) {
          v[u] = ((const V*) (v0 + (t + u * groups) * row))[j];
          pt[u] = p[t + u * groups];
        }
        for (int u = 0; u < 4; u++) {
          float f[n16];
          unpack(v[u], f);
          for (int e = 0; e < n16; e++) {
            acc[e] += pt[u] * f[e];
          }
        }
      }
      for (; t < n; t += groups) {
        float f[n16];
        unpack(((const V*) (v0 + t * row))[j], f);
        for (int e = 0; e < n16; e++) {
          acc[e] += p[t] * f[e];
        }
      }
      for (int e = 0; e < n16; e++) {
        part[g * head_dim + j * n16 + e] = acc[e];
      }
    } else {
      for (int i = j; i < head_dim; i += width) {
        float acc = 0.0f;
        for (int t = g; t < n; t += groups) {
          acc += p[t] * ld(v0, t * row + i);
        }
        part[g * head_dim + i] = acc;
      }
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
    float sum = 0.0f;
    for (int k = 0; k < groups; k++) {
      sum += part[k * head_dim + i];
    }
    st(out, i, sum);
  }
}

// out[h * head_dim + i] = sum over t < n of probs[h * stride + t] * v_t[kv head of h][i]: one
// block per head (grid: heads), dynamic shared memory as values_block needs.
template <typename T>
__device__ void attn_values(const float* probs, const T* v_cache, T* out, int n, int heads,
                            int kv_heads, int head_dim, int stride) {
  after_previous_kernel();
  extern __shared__ float part[];
  int h = blockIdx.x;
  values_block(probs + (long long) h * stride, v_cache, out + (long long) h * head_dim, part, n, kv_heads,
               h / (heads / kv_heads), head_dim);
}

// Attention of query head h (the block) over the first n positions of the KV cache in one kernel:
// scores, softmax and the weighted sum of the values, as attn_scores, softmax_rows and
// attn_values compute them, with the scores kept in shared memory. Grid: heads. Dynamic shared
// memory: n floats rounded up to a multiple of 4, then what values_block needs.
template <typename T>
__device__ void attention(const T* q, const T* k_cache, const T* v_cache, T* out, int n, int heads, int kv_heads,
                          int head_dim, float scale) {
  after_previous_kernel();
  extern __shared__ float shared[];
  __shared__ float red[32];
  int h = blockIdx.x;
  int kvh = h / (heads / kv_heads);
  float* s = shared;
  scores_block(q + (long long) h * head_dim, k_cache, s, n, kv_heads, kvh, head_dim, scale);
  __syncthreads();
  softmax_row(s, s, n, red);
  __syncthreads();
  values_block(s, v_cache, out + (long long) h * head_dim, shared + ((n + 3) & ~3), n, kv_heads, kvh, head_dim);
}

template <typename T>
__device__ void add(const T* a, const T* b, T* out, int n) {
  after_previous_kernel();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    st(out, i, ld(a, i) + ld(b, i));
  }
}

// out = silu(gate) * up, silu(a) = a / (1 + e^-a).
template <typename T>
__device__ void swiglu(const T* gate, const T* up, T* out, int n) {
  after_previous_kernel();
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
  after_previous_kernel();
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

// One lane's share of the dot products of NR weight rows (at w, w + stride, ...) with x over the
// columns [c0, c1). With `vec` (the range starts and ends on a 16-byte vector of elements and the
// rows and x are 16-byte aligned) the lane loads 16-byte vectors, four per row at a time before it
// uses any, so that a warp keeps 4 * NR * 512 bytes of weights in flight; else element by element.
// A lane sums its terms in column order.
template <int NR, typename T>
__device__ __forceinline__ void dot_rows(const T* __restrict__ w, long long stride, const T* __restrict__ x,
                                         int c0, int c1, int lane, bool vec, float (&acc)[NR]) {
  for (int j = 0; j < NR; j++) {
    acc[j] = 0.0f;
  }
  if (vec) {
    typedef typename Vec16<T>::type V;
    const V* xv = (const V*) (x + c0);
    const V* wv[NR];
    for (int j = 0; j < NR; j++) {
      wv[j] = (const V*) (w + j * stride + c0);
    }
    int m = (c1 - c0) / Vec16<T>::n;
    int i = lane;
    for (; i + 96 < m; i += 128) {
      V a[NR][4];
      V b[4];
      for (int q = 0; q < 4; q++) {
        b[q] = xv[i + 32 * q];
        for (int j = 0; j < NR; j++) {
          a[j][q] = wv[j][i + 32 * q];
        }
      }
      for (int j = 0; j < NR; j++) {
        for (int q = 0; q < 4; q++) {
          acc[j] += dot16(a[j][q], b[q]);
        }
      }
    }
    for (; i < m; i += 32) {
      V b = xv[i];
      for (int j = 0; j < NR; j++) {
        acc[j] += dot16(wv[j][i], b);
      }
    }
  } else {
    for (int c = c0 + lane; c < c1; c += 32) {
      float xc = ld(x, c);
      for (int j = 0; j < NR; j++) {
        acc[j] += ld(w, j * stride + c) * xc;
      }
    }
  }
}

// The layout every matrix-vector kernel shares: a block of whole warps computes
// (warps / splits) output rows; each row's columns are cut into `splits` contiguous chunks (whole
// vectors where vectors are used), one warp each. More splits give small matrices more warps, so
// that they fill the GPU.
struct RowSplit {
  int row;    // the output row this warp works on (may be past the last row: the warp idles)
  int k;      // which chunk of the columns
  int c0, c1; // the chunk
  bool vec;   // 16-byte loads
};

template <typename T>
__device__ __forceinline__ RowSplit row_split(const T* w, const T* x, int cols, int splits) {
  RowSplit r;
  int warp = threadIdx.x >> 5;
  r.row = blockIdx.x * ((blockDim.x >> 5) / splits) + warp / splits;
  r.k = warp % splits;
  const int n = Vec16<T>::n;
  r.vec = cols % n == 0 && aligned16(w, x);
  int chunk = r.vec ? (cols / n + splits - 1) / splits * n : (cols + splits - 1) / splits;
  r.c0 = min(cols, r.k * chunk);
  r.c1 = min(cols, r.c0 + chunk);
  return r;
}

// Sums the warps' partial results of each row in chunk order through `part` (shared, one float
// per warp and value). Every thread of the block calls it; afterwards the first warp of each row
// holds the row's sums in every lane, and the function returns whether this warp is that one.
template <int NR>
__device__ __forceinline__ bool join_splits(float (&acc)[NR], int k, int splits, float (*part)[32]) {
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  for (int j = 0; j < NR; j++) {
    acc[j] = warp_sum(acc[j]);
  }
  if (splits == 1) {
    return true;
  }
  if (lane == 0) {
    for (int j = 0; j < NR; j++) {
      part[j][warp] = acc[j];
    }
  }
  __syncthreads();
  if (k != 0) {
    return false;
  }
  for (int j = 0; j < NR; j++) {
    acc[j] = 0.0f;
    for (int s = 0; s < splits; s++) {
      acc[j] += part[j][warp + s];
    }
  }
  return true;
}

// y[r] = sum over c of w[r * cols + c] * x[c], plus add[r] when `add` is not null (a residual
// added in the same pass, as in y = x + W a); w row-major [rows][cols]. See RowSplit for the grid.
template <typename T>
__device__ void matvec(const T* __restrict__ w, const T* __restrict__ x, const T* add, T* y, int rows, int cols,
                       int splits) {
  after_previous_kernel();
  __shared__ float part[1][32];
  RowSplit r = row_split(w, x, cols, splits);
  float acc[1];
  dot_rows<1>(w + (long long) min(r.row, rows - 1) * cols, 0, x, r.c0, r.row < rows ? r.c1 : r.c0,
              threadIdx.x & 31, r.vec, acc);
  if (join_splits(acc, r.k, splits, part) && (threadIdx.x & 31) == 0 && r.row < rows) {
    st(y, r.row, add ? acc[0] + ld(add, r.row) : acc[0]);
  }
}

// The gate and up projections of a SwiGLU feed-forward and its activation in one pass:
// y[r] = silu(g) * u with g = w[r] . x and u = w[ffn + r] . x, where w holds the gate's ffn rows
// and then the up's ffn rows ([2 * ffn][cols]). Grid as matvec's, over ffn rows.
template <typename T>
__device__ void matvec_swiglu(const T* __restrict__ w, const T* __restrict__ x, T* y, int ffn, int cols, int splits) {
  after_previous_kernel();
  __shared__ float part[2][32];
  RowSplit r = row_split(w, x, cols, splits);
  float acc[2];
  dot_rows<2>(w + (long long) min(r.row, ffn - 1) * cols, (long long) ffn * cols, x, r.c0,
              r.row < ffn ? r.c1 : r.c0, threadIdx.x & 31, r.vec, acc);
  if (join_splits(acc, r.k, splits, part) && (threadIdx.x & 31) == 0 && r.row < ffn) {
    float g = acc[0];
    st(y, r.row, g / (1.0f + expf(-g)) * acc[1]);
  }
}

__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Element e of a tensor is scale * (2u - 1), u in [0, 1) from a hash of (seed, e): the value
// depends on the index alone, not on the launch shape, so the host can reproduce any element. This
// writes a rows x cols tile of it: out[r * cols + c] is element first + r * ld + c (a whole tensor
// is one row; a rank's columns of a row-major matrix are its rows at a stride). Grid-stride.
template <typename T>
__device__ void init_uniform(T* out, long long rows, long long cols, long long ld, long long first,
                             unsigned long long seed, float scale) {
  after_previous_kernel();
  long long n = rows * cols;
  long long step = (long long) gridDim.x * blockDim.x;
  for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    long long r = i / cols;
    unsigned long long e = (unsigned long long) (first + r * ld + (i - r * cols));
    unsigned long long z = mix64(seed ^ mix64(e));
    float u = (float) (z >> 40) * (1.0f / 16777216.0f);
    st(out, i, (2.0f * u - 1.0f) * scale);
  }
}

template <typename T>
__device__ void fill(T* out, long long n, float value) {
  after_previous_kernel();
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
  after_previous_kernel();
  softmax_row(in + (long long) blockIdx.x * stride, out + (long long) blockIdx.x * stride, n, red);
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

extern "C" __global__ void matvec_f32(const float* w, const float* x, const float* add, float* y, int rows,
                                      int cols, int splits) {
  matvec(w, x, add, y, rows, cols, splits);
}
extern "C" __global__ void matvec_bf16(const bf16* w, const bf16* x, const bf16* add, bf16* y, int rows, int cols,
                                       int splits) {
  matvec(w, x, add, y, rows, cols, splits);
}

extern "C" __global__ void matvec_swiglu_f32(const float* w, const float* x, float* y, int ffn, int cols, int splits) {
  matvec_swiglu(w, x, y, ffn, cols, splits);
}
extern "C" __global__ void matvec_swiglu_bf16(const bf16* w, const bf16* x, bf16* y, int ffn, int cols, int splits) {
  matvec_swiglu(w, x, y, ffn, cols, splits);
}

extern "C" __global__ void attention_f32(const float* q, const float* k_cache, const float* v_cache, float* out,
                                         int n, int heads, int kv_heads, int head_dim, float scale) {
  attention(q, k_cache, v_cache, out, n, heads, kv_heads, head_dim, scale);
}
extern "C" __global__ void attention_bf16(const bf16* q, const bf16* k_cache, const bf16* v_cache, bf16* out,
                                          int n, int heads, int kv_heads, int head_dim, float scale) {
  attention(q, k_cache, v_cache, out, n, heads, kv_heads, head_dim, scale);
}

__device__ __forceinline__ unsigned long long global_nanos() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Holds the stream: spins until the host sets *release (pinned host memory mapped for the GPU)
// or timeout_ns pass on the GPU's global timer, and writes which to *outcome (1 released, 2 timed
// out). Work enqueued behind it meanwhile runs back to back once it ends, so events around that
// work time the GPU alone, whatever the host's pace. One thread.
extern "C" __global__ void hold(const volatile int* release, volatile int* outcome, long long timeout_ns) {
  unsigned long long t0 = global_nanos();
  while (*release == 0) {
    if ((long long) (global_nanos() - t0) > timeout_ns) {
      *outcome = 2;
      return;
    }
  }
  *outcome = 1;
}

extern "C" __global__ void init_uniform_f32(float* out, long long rows, long long cols, long long ld, long long first,
                                            unsigned long long seed, float scale) {
  init_uniform(out, rows, cols, ld, first, seed, scale);
}
extern "C" __global__ void init_uniform_bf16(bf16* out, long long rows, long long cols, long long ld, long long first,
                                             unsigned long long seed, float scale) {
  init_uniform(out, rows, cols, ld, first, seed, scale);
}

extern "C" __global__ void fill_f32(float* out, long long n, float value) { fill(out, n, value); }
extern "C" __global__ void fill_bf16(bf16* out, long long n, float value) { fill(out, n, value); }
