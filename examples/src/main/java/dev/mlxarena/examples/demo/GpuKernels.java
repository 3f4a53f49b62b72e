package dev.mlxarena.examples.demo;

import dev.mlxarena.DType;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaKernel;
import dev.mlxarena.cuda.CudaModule;
import dev.mlxarena.cuda.CudaStream;
import dev.mlxarena.cuda.KernelSource;

/**
 * The launches of {@code decode_kernels.cu} for one element type (F32 or BF16) on one stream: one
 * method per kernel, taking device pointers and sizes, choosing the grid and block. Arguments are
 * set in the order of the kernel's parameters; nothing is allocated per launch.
 *
 * <p>Launched by one thread at a time (the decode thread), as {@link CudaKernel} requires.
 */
final class GpuKernels {
  /** The kernel source, compiled by NVRTC at first use (with line numbers for compute-sanitizer). */
  static final KernelSource SOURCE = KernelSource.resource(GpuKernels.class, "decode_kernels.cu", "-lineinfo");

  private static final int THREADS = 256;

  final DType dtype;
  private final CudaStream stream;
  private final CudaKernel embed;
  private final CudaKernel rmsNorm;
  private final CudaKernel rope;
  private final CudaKernel scores;
  private final CudaKernel softmax;
  private final CudaKernel values;
  private final CudaKernel add;
  private final CudaKernel swiglu;
  private final CudaKernel argmax;
  private final CudaKernel matvec;
  private final CudaKernel initUniform;
  private final CudaKernel fill;

  /** The kernels for {@code dtype} ({@link DType#F32} or {@link DType#BF16}) out of {@code module}. */
  GpuKernels(CudaModule module, CudaStream stream, DType dtype) {
    if (dtype != DType.F32 && dtype != DType.BF16) {
      throw new IllegalArgumentException("the decode kernels take F32 or BF16, not " + dtype);
    }
    this.dtype = dtype;
    this.stream = stream;
    String t = dtype == DType.F32 ? "_f32" : "_bf16";
    embed = module.kernel("embed" + t, 5);
    rmsNorm = module.kernel("rms_norm" + t, 5);
    rope = module.kernel("rope_store_kv" + t, 12);
    scores = module.kernel("attn_scores" + t, 9);
    softmax = module.kernel("softmax_rows_f32", 4);
    values = module.kernel("attn_values" + t, 8);
    add = module.kernel("add" + t, 4);
    swiglu = module.kernel("swiglu" + t, 4);
    argmax = module.kernel("argmax" + t, 3);
    matvec = module.kernel("matvec" + t, 5);
    initUniform = module.kernel("init_uniform" + t, 4);
    fill = module.kernel("fill" + t, 3);
  }

  /** Compiles (or takes from the caches) and loads the kernel source for {@code device}. */
  static CudaModule load(CudaDevice device) {
    return CudaModule.compile(device, SOURCE);
  }

  private static int blocks(long n, int threads) {
    return (int) Math.max(1, (n + threads - 1) / threads);
  }

  /** out[i] = table[*token * hidden + i]. */
  void embed(long table, long token, long out, int hidden, int vocab) {
    embed.ptr(table).ptr(token).ptr(out).i32(hidden).i32(vocab).launch(stream, blocks(hidden, THREADS), THREADS);
  }

  /** out = x / sqrt(mean(x^2) + eps) * w. */
  void rmsNorm(long x, long w, long out, int n, float eps) {
    rmsNorm.ptr(x).ptr(w).ptr(out).i32(n).f32(eps).launch(stream, 1, THREADS);
  }

  /** Rotates q into qOut and k into the key cache at {@code pos}; copies v into the value cache. */
  void ropeStoreKv(long q, long k, long v, long cos, long sin, long qOut, long keys, long vals, int pos,
      int heads, int kvHeads, int headDim) {
    long threads = (long) (heads + kvHeads) * (headDim / 2) + (long) kvHeads * headDim;
    rope.ptr(q).ptr(k).ptr(v).ptr(cos).ptr(sin).ptr(qOut).ptr(keys).ptr(vals).i32(pos).i32(heads)
        .i32(kvHeads).i32(headDim).launch(stream, blocks(threads, THREADS), THREADS);
  }

  /** scores[h * stride + t] = scale * q_h . k_t for t < n. */
  void attentionScores(long q, long keys, long out, int n, int heads, int kvHeads, int headDim, int stride,
      float scale) {
    int warps = THREADS / 32;
    scores.ptr(q).ptr(keys).ptr(out).i32(n).i32(heads).i32(kvHeads).i32(headDim).i32(stride).f32(scale)
        .launch(stream, blocks(n, warps), heads, 1, THREADS, 1, 1, 0);
  }

  /** Each of {@code rows} rows: softmax of its first {@code n} entries. */
  void softmax(long in, long out, int n, int stride, int rows) {
    softmax.ptr(in).ptr(out).i32(n).i32(stride).launch(stream, rows, THREADS);
  }

  /** out[h * headDim + i] = sum over t < n of probs[h * stride + t] * v_t[i]. */
  void attentionValues(long probs, long vals, long out, int n, int heads, int kvHeads, int headDim, int stride) {
    int groups = Math.max(1, THREADS / headDim);
    values.ptr(probs).ptr(vals).ptr(out).i32(n).i32(heads).i32(kvHeads).i32(headDim).i32(stride)
        .launch(stream, heads, 1, 1, headDim, groups, 1, groups * headDim * 4);
  }

  void add(long a, long b, long out, int n) {
    add.ptr(a).ptr(b).ptr(out).i32(n).launch(stream, blocks(n, THREADS), THREADS);
  }

  /** out = silu(gate) * up. */
  void swiglu(long gate, long up, long out, int n) {
    swiglu.ptr(gate).ptr(up).ptr(out).i32(n).launch(stream, blocks(n, THREADS), THREADS);
  }

  /** *out = the index of the largest of x[0..n), the lowest on ties. */
  void argmax(long x, int n, long out) {
    argmax.ptr(x).i32(n).ptr(out).launch(stream, 1, 1024);
  }

  /** y = W x with the project's own kernel: one warp per row. */
  void matvec(long w, long x, long y, int rows, int cols) {
    matvec.ptr(w).ptr(x).ptr(y).i32(rows).i32(cols).launch(stream, blocks(rows, THREADS / 32), THREADS);
  }

  /** out[i] = {@link Weights#uniform}(seed, i, scale) for i < n. */
  void initUniform(long out, long n, long seed, float scale) {
    initUniform.ptr(out).i64(n).i64(seed).f32(scale).launch(stream, Math.min(blocks(n, THREADS), 1 << 16), THREADS);
  }

  /** out[i] = value for i < n. */
  void fill(long out, long n, float value) {
    fill.ptr(out).i64(n).f32(value).launch(stream, Math.min(blocks(n, THREADS), 1 << 16), THREADS);
  }
}
