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
 * set in the order of the kernel's parameters; nothing is allocated per launch. Every launch is
 * counted, and timed when profiling, by the {@link OpTimer} given.
 *
 * <p>Launched by one thread at a time (the decode thread), as {@link CudaKernel} requires.
 */
final class GpuKernels {
  /** The kernel source, compiled by NVRTC at first use (with line numbers for compute-sanitizer). */
  static final KernelSource SOURCE = KernelSource.resource(GpuKernels.class, "decode_kernels.cu", "-lineinfo");

  /** Threads per block of every kernel but argmax's. */
  static final int THREADS = 256;

  /** The shared memory a block may use without opting in to more. */
  static final int SHARED_BYTES = 48 * 1024;

  final DType dtype;
  private final CudaStream stream;
  private final OpTimer ops;
  private final int multiprocessors;
  /** Elements per 16-byte vector: what the kernels load at once. */
  private final int vector;
  private final boolean dependent;
  private final CudaKernel embed;
  private final CudaKernel rmsNorm;
  private final CudaKernel rope;
  private final CudaKernel scores;
  private final CudaKernel softmax;
  private final CudaKernel values;
  private final CudaKernel attention;
  private final CudaKernel add;
  private final CudaKernel swiglu;
  private final CudaKernel argmax;
  private final CudaKernel matvec;
  private final CudaKernel matvecSwiglu;
  private final CudaKernel initUniform;
  private final CudaKernel fill;
  private final CudaKernel hold;

  /** The kernels for {@code dtype} ({@link DType#F32} or {@link DType#BF16}) out of {@code module}. */
  GpuKernels(CudaModule module, CudaStream stream, DType dtype, OpTimer ops) {
    this(module, stream, dtype, ops, false);
  }

  /**
   * The kernels for {@code dtype}, launched as programmatic dependent launches when {@code
   * dependent} ({@link CudaKernel#dependentLaunches}: each may start while the one before it
   * finishes; every kernel of the file waits for its predecessor first).
   */
  GpuKernels(CudaModule module, CudaStream stream, DType dtype, OpTimer ops, boolean dependent) {
    if (dtype != DType.F32 && dtype != DType.BF16) {
      throw new IllegalArgumentException("the decode kernels take F32 or BF16, not " + dtype);
    }
    this.dtype = dtype;
    this.stream = stream;
    this.ops = ops;
    this.multiprocessors = stream.device().multiprocessorCount();
    this.vector = 16 / dtype.byteSize();
    String t = dtype == DType.F32 ? "_f32" : "_bf16";
    embed = module.kernel("embed" + t, 5);
    rmsNorm = module.kernel("rms_norm" + t, 5);
    rope = module.kernel("rope_store_kv" + t, 12);
    scores = module.kernel("attn_scores" + t, 9);
    softmax = module.kernel("softmax_rows_f32", 4);
    values = module.kernel("attn_values" + t, 8);
    attention = module.kernel("attention" + t, 9);
    add = module.kernel("add" + t, 4);
    swiglu = module.kernel("swiglu" + t, 4);
    argmax = module.kernel("argmax" + t, 3);
    matvec = module.kernel("matvec" + t, 7);
    matvecSwiglu = module.kernel("matvec_swiglu" + t, 6);
    initUniform = module.kernel("init_uniform" + t, 7);
    fill = module.kernel("fill" + t, 3);
    hold = module.kernel("hold", 3);
    for (CudaKernel k : new CudaKernel[] {embed, rmsNorm, rope, scores, softmax, values, attention, add, swiglu, argmax,
        matvec, matvecSwiglu}) {
      k.dependentLaunches(dependent);
    }
    this.dependent = dependent;
  }

  /** Whether the decode kernels are programmatic dependent launches. */
  boolean dependent() {
    return dependent;
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
    long t0 = ops.start();
    embed.ptr(table).ptr(token).ptr(out).i32(hidden).i32(vocab).launch(stream, blocks(hidden, THREADS), THREADS);
    ops.launched(t0);
  }

  /** out = x / sqrt(mean(x^2) + eps) * w. */
  void rmsNorm(long x, long w, long out, int n, float eps) {
    long t0 = ops.start();
    rmsNorm.ptr(x).ptr(w).ptr(out).i32(n).f32(eps).launch(stream, 1, THREADS);
    ops.launched(t0);
  }

  /** Rotates q into qOut and k into the key cache at {@code pos}; copies v into the value cache. */
  void ropeStoreKv(long q, long k, long v, long cos, long sin, long qOut, long keys, long vals, int pos,
      int heads, int kvHeads, int headDim) {
    long threads = (long) (heads + kvHeads) * (headDim / 2) + (long) kvHeads * headDim;
    long t0 = ops.start();
    rope.ptr(q).ptr(k).ptr(v).ptr(cos).ptr(sin).ptr(qOut).ptr(keys).ptr(vals).i32(pos).i32(heads)
        .i32(kvHeads).i32(headDim).launch(stream, blocks(threads, THREADS), THREADS);
    ops.launched(t0);
  }

  /** scores[h * stride + t] = scale * q_h . k_t for t < n. */
  void attentionScores(long q, long keys, long out, int n, int heads, int kvHeads, int headDim, int stride,
      float scale) {
    int warps = THREADS / 32;
    long t0 = ops.start();
    scores.ptr(q).ptr(keys).ptr(out).i32(n).i32(heads).i32(kvHeads).i32(headDim).i32(stride).f32(scale)
        .launch(stream, blocks(n, warps), heads, 1, THREADS, 1, 1, 0);
    ops.launched(t0);
  }

  /** Each of {@code rows} rows: softmax of its first {@code n} entries. */
  void softmax(long in, long out, int n, int stride, int rows) {
    long t0 = ops.start();
    softmax.ptr(in).ptr(out).i32(n).i32(stride).launch(stream, rows, THREADS);
    ops.launched(t0);
  }

  /** Shared memory of the values' partial sums ({@code values_block} in the kernels). */
  private static int valuesShared(int headDim, DType dtype) {
    return 4 * Math.max(THREADS * (16 / dtype.byteSize()), headDim);
  }

  /** out[h * headDim + i] = sum over t < n of probs[h * stride + t] * v_t[i]. */
  void attentionValues(long probs, long vals, long out, int n, int heads, int kvHeads, int headDim, int stride) {
    long t0 = ops.start();
    values.ptr(probs).ptr(vals).ptr(out).i32(n).i32(heads).i32(kvHeads).i32(headDim).i32(stride)
        .launch(stream, heads, THREADS, valuesShared(headDim, dtype));
    ops.launched(t0);
  }

  /**
   * Attention of every query head over the first {@code n} positions of the cache in one kernel:
   * {@link #attentionScores}, {@link #softmax} and {@link #attentionValues} in one pass, the
   * scores kept in shared memory.
   *
   * @throws IllegalArgumentException if {@code n} positions' scores do not fit a block's shared
   *     memory
   */
  void attention(long q, long keys, long vals, long out, int n, int heads, int kvHeads, int headDim, float scale) {
    int shared = 4 * ((n + 3) & ~3) + valuesShared(headDim, dtype);
    if (shared > SHARED_BYTES) {
      throw new IllegalArgumentException("attention over " + n + " positions needs " + shared
          + " bytes of shared memory, more than the " + SHARED_BYTES + " a block has: use the unfused ops");
    }
    long t0 = ops.start();
    attention.ptr(q).ptr(keys).ptr(vals).ptr(out).i32(n).i32(heads).i32(kvHeads).i32(headDim).f32(scale)
        .launch(stream, heads, THREADS, shared);
    ops.launched(t0);
  }

  /** The most positions {@link #attention} takes for heads of {@code headDim} elements of {@code dtype}. */
  static int attentionPositions(int headDim, DType dtype) {
    return (SHARED_BYTES - valuesShared(headDim, dtype)) / 4 & ~3;
  }

  void add(long a, long b, long out, int n) {
    long t0 = ops.start();
    add.ptr(a).ptr(b).ptr(out).i32(n).launch(stream, blocks(n, THREADS), THREADS);
    ops.launched(t0);
  }

  /** out = silu(gate) * up. */
  void swiglu(long gate, long up, long out, int n) {
    long t0 = ops.start();
    swiglu.ptr(gate).ptr(up).ptr(out).i32(n).launch(stream, blocks(n, THREADS), THREADS);
    ops.launched(t0);
  }

  /** *out = the index of the largest of x[0..n), the lowest on ties. */
  void argmax(long x, int n, long out) {
    long t0 = ops.start();
    argmax.ptr(x).i32(n).ptr(out).launch(stream, 1, 1024);
    ops.launched(t0);
  }

  /**
   * How many warps share one output row of a product with the project's kernels: doubled (up to
   * the 8 warps of a block) while the rows alone give fewer than 16 warps per multiprocessor and
   * each warp still has at least one 16-byte vector of the row per lane. Small matrices then fill
   * the GPU; large ones keep a warp per row.
   */
  static int splits(int rows, int cols, int vector, int multiprocessors) {
    int vectors = cols / vector;
    int s = 1;
    while (s < 8 && (long) rows * s < 16L * multiprocessors && vectors / (2 * s) >= 32) {
      s *= 2;
    }
    return s;
  }

  private int rowBlocks(int rows, int splits) {
    return blocks(rows, THREADS / 32 / splits);
  }

  /** y = W x with the project's own kernel. */
  void matvec(long w, long x, long y, int rows, int cols) {
    matvec(w, x, 0L, y, rows, cols);
  }

  /** y = W x + r ({@code r} = 0: none) with the project's own kernel, the residual in the same pass. */
  void matvec(long w, long x, long r, long y, int rows, int cols) {
    matvec(w, x, r, y, rows, cols, splits(rows, cols, vector, multiprocessors));
  }

  /** {@link #matvec(long, long, long, long, int, int)} with {@code s} warps per row (1, 2, 4 or 8). */
  void matvec(long w, long x, long r, long y, int rows, int cols, int s) {
    long t0 = ops.start();
    matvec.ptr(w).ptr(x).ptr(r).ptr(y).i32(rows).i32(cols).i32(s).launch(stream, rowBlocks(rows, s), THREADS);
    ops.launched(t0);
  }

  /**
   * y = silu(W_gate x) * (W_up x) in one pass, {@code w} holding W_gate's {@code ffn} rows then
   * W_up's.
   */
  void matvecSwiglu(long w, long x, long y, int ffn, int cols) {
    matvecSwiglu(w, x, y, ffn, cols, splits(ffn, cols, vector, multiprocessors));
  }

  /** {@link #matvecSwiglu(long, long, long, int, int)} with {@code s} warps per row (1, 2, 4 or 8). */
  void matvecSwiglu(long w, long x, long y, int ffn, int cols, int s) {
    long t0 = ops.start();
    matvecSwiglu.ptr(w).ptr(x).ptr(y).i32(ffn).i32(cols).i32(s).launch(stream, rowBlocks(ffn, s), THREADS);
    ops.launched(t0);
  }

  /** out[i] = {@link Weights#uniform}(seed, i, scale) for i < n. */
  void initUniform(long out, long n, long seed, float scale) {
    initUniform(out, 1, n, n, 0, seed, scale);
  }

  /**
   * A {@code rows x cols} tile of a tensor: out[r * cols + c] = {@link Weights#uniform}(seed, first +
   * r * ld + c, scale). A rank's rows of a row-major matrix are one tile ({@code ld = cols}); its
   * columns another ({@code ld} the matrix's width, {@code first} the first column).
   */
  void initUniform(long out, long rows, long cols, long ld, long first, long seed, float scale) {
    if (rows < 0 || cols < 0 || ld < cols || first < 0) {
      throw new IllegalArgumentException("a tile of " + rows + " x " + cols + " at " + first + ", stride " + ld
          + ", is not inside a tensor");
    }
    initUniform.ptr(out).i64(rows).i64(cols).i64(ld).i64(first).i64(seed).f32(scale)
        .launch(stream, Math.min(blocks(rows * cols, THREADS), 1 << 16), THREADS);
  }

  /** out[i] = value for i < n. */
  void fill(long out, long n, float value) {
    fill.ptr(out).i64(n).f32(value).launch(stream, Math.min(blocks(n, THREADS), 1 << 16), THREADS);
  }

  /**
   * Holds the stream until the int at {@code release} (mapped pinned memory) turns non-zero or
   * {@code timeoutNanos} pass, then writes 1 (released) or 2 (timed out) to {@code outcome}.
   */
  void hold(long release, long outcome, long timeoutNanos) {
    hold.ptr(release).ptr(outcome).i64(timeoutNanos).launch(stream, 1, 1);
  }
}
