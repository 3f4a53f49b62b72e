package dev.mlxarena.examples.demo;

import dev.mlxarena.Buffer;
import dev.mlxarena.DType;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaStream;
import dev.mlxarena.cuda.Cublas;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The demo transformer on the GPU: the function {@link TinyTransformer} computes on the CPU, as a
 * sequence of kernels on one stream over device memory, in F32 or in BF16 (weights and
 * activations; every kernel and product accumulates in fp32).
 *
 * <p>Weights live in owned buffers made on the GPU by the {@code init_uniform} kernel from {@link
 * Weights}, so an F32 model has exactly the host model's weights. Each layer's query, key and
 * value projections are one buffer (their rows one after the other), and so are its gate and up
 * projections, so that either can be one product. A step ({@link #forward}) reads its input token
 * id from device memory and writes the next one there, allocating every op's output as a fresh
 * buffer from its {@link GpuScratch}, the way an eager engine does: the host never needs a token
 * before enqueuing the step that consumes it.
 *
 * <h2>Two op graphs</h2>
 * <ul>
 *   <li><b>One kernel per op</b> (16 a layer), as a framework runs a Llama layer op by op: the
 *       Q, K and V products, RoPE, scores, softmax, weighted values, the O product, the residual
 *       add, the norm, the gate and up products, SwiGLU, the down product and the second add, each
 *       with its own output.
 *   <li><b>Fused</b> (8 a layer), where an eager engine fuses: one QKV product into one output,
 *       the gate and up products with SwiGLU in one kernel, attention (scores, softmax, values) in
 *       one kernel, and each residual add in the epilogue of the product before it ({@code y = x +
 *       W a}). With cuBLAS, which has no such epilogues, the gate/up product and the residual adds
 *       stay separate kernels (11 a layer).
 * </ul>
 * Both compute the same function; they round differently only where BF16 outputs are no longer
 * stored between fused steps.
 *
 * <p>Matrix-vector products go through cuBLAS ({@link Cublas#matvec}) or, with no cuBLAS handle,
 * through the project's own {@code matvec} kernels.
 *
 * <h2>Tensor parallelism</h2>
 * Given a {@link Shard} of several ranks, the model holds one rank's part: its attention heads'
 * query, key and value rows and its share of the gate and up rows (column-parallel), the matching
 * columns of the output and down projections (row-parallel), and a KV cache of its key/value heads
 * only. The output and down products are then partial sums, which {@link TpCollective} adds up over
 * the ranks in place before the residual is added; in the fused graph rank 0 alone adds the
 * residual in the product's epilogue, so that the sum carries it once. Weights are made as tiles of
 * the whole model's tensors ({@link GpuKernels#initUniform(long, long, long, long, long, long,
 * float)}), so the ranks together hold exactly the one-GPU model's weights.
 */
final class GpuTransformer implements AutoCloseable {
  final ModelConfig cfg;
  final DType dtype;
  final boolean fused;
  final Shard shard;
  /** This rank's attention heads, key/value heads, query width, key/value width and FFN width. */
  private final int heads;
  private final int kvHeads;
  private final int qDim;
  final int kvDim;
  private final int ffn;
  private final @Nullable TpCollective collective;
  private final GpuKernels k;
  private final @Nullable Cublas blas;
  private final OpTimer ops;
  private final List<Buffer> owned = new ArrayList<>();
  private final Weights.Layout<Long> w;
  private final long ropeCos;
  private final long ropeSin;
  private final float scale;
  /** The buffer of the layer's QKV (or gate and up) rows being made: its first tensor allocates it. */
  private long group;
  private @Nullable Consumer<float[]> logitsTap;

  /**
   * Makes the weights of {@code cfg} from {@code seed} on the GPU, enqueued on the kernels' stream
   * (the caller synchronizes before timing anything).
   *
   * @param fused the fused op graph (see the class comment), else one kernel per op
   * @param ops counts (and times) cuBLAS calls; the same timer the kernels report to
   */
  GpuTransformer(CudaDevice device, GpuKernels kernels, @Nullable Cublas blas, OpTimer ops, ModelConfig cfg,
      boolean fused, long seed) {
    this(device, kernels, blas, ops, cfg, fused, seed, Shard.WHOLE, null);
  }

  /**
   * Makes {@code shard}'s part of the model (see the class comment); {@code collective} sums the
   * ranks' partial products, and is null for the whole model.
   *
   * @throws IllegalArgumentException if the model does not split evenly, or a shard of several ranks
   *     has no collective
   */
  GpuTransformer(CudaDevice device, GpuKernels kernels, @Nullable Cublas blas, OpTimer ops, ModelConfig cfg,
      boolean fused, long seed, Shard shard, @Nullable TpCollective collective) {
    Shard.check(cfg, shard.ranks());
    if (shard.whole() != (collective == null)) {
      throw new IllegalArgumentException("rank " + shard.rank() + " of " + shard.ranks() + " needs "
          + (shard.whole() ? "no collective" : "a collective to sum its partial products"));
    }
    this.cfg = cfg;
    this.dtype = kernels.dtype;
    this.fused = fused;
    this.shard = shard;
    this.heads = shard.heads(cfg);
    this.kvHeads = shard.kvHeads(cfg);
    this.qDim = heads * cfg.headDim();
    this.kvDim = kvHeads * cfg.headDim();
    this.ffn = shard.ffn(cfg);
    this.collective = collective;
    this.k = kernels;
    this.blas = blas;
    this.ops = ops;
    this.scale = (float) (1.0 / Math.sqrt(cfg.headDim()));
    int most = GpuKernels.attentionPositions(cfg.headDim(), dtype);
    if (fused && cfg.context() > most) {
      throw new IllegalArgumentException("the fused attention kernel keeps every position's score in shared memory:"
          + " at most " + most + " positions, not " + cfg.context() + "; use the unfused ops");
    }
    this.w = Weights.layout(cfg, t -> random(device, seed, t), () -> ones(device, cfg.hidden()));
    Rope rope = Rope.of(cfg.headDim(), cfg.context());
    ropeCos = own(
        Buffer.allocOwned(device, 4L * rope.cos.length, DType.F32, rope.cos.length).copyFrom(rope.cos));
    ropeSin = own(
        Buffer.allocOwned(device, 4L * rope.sin.length, DType.F32, rope.sin.length).copyFrom(rope.sin));
  }

  private long own(Buffer b) {
    owned.add(b);
    return b.nativeHandle();
  }

  /**
   * This rank's part of tensor {@code t} on the device. {@link Weights#layout} asks for a layer's
   * tensors in their fixed order, so {@code wq} allocates the buffer that {@code wk} and {@code wv}
   * follow it into, and {@code wGate} the one {@code wUp} follows it into. Each is a tile of the
   * whole tensor: the rank's rows of the column-parallel projections (Q, K, V, gate, up), its
   * columns of the row-parallel ones (O, down), all of the rest.
   */
  private long random(CudaDevice device, long seed, Weights.Tensor t) {
    long es = dtype.byteSize();
    long h = cfg.hidden();
    int r = shard.rank();
    String name = t.name();
    long p;
    long rows;
    long cols = h;
    long ld = h;
    long first;
    if (name.startsWith("wq")) {
      long groupRows = qDim + 2L * kvDim;
      group = own(Buffer.allocOwned(device, groupRows * h * es, dtype, groupRows, h));
      p = group;
      rows = qDim;
      first = r * qDim * h;
    } else if (name.startsWith("wk")) {
      p = group + qDim * h * es;
      rows = kvDim;
      first = r * kvDim * h;
    } else if (name.startsWith("wv")) {
      p = group + (qDim + kvDim) * h * es;
      rows = kvDim;
      first = r * kvDim * h;
    } else if (name.startsWith("wGate")) {
      group = own(Buffer.allocOwned(device, 2L * ffn * h * es, dtype, 2L * ffn, h));
      p = group;
      rows = ffn;
      first = r * ffn * h;
    } else if (name.startsWith("wUp")) {
      p = group + ffn * h * es;
      rows = ffn;
      first = r * ffn * h;
    } else if (name.startsWith("wo")) {
      p = own(Buffer.allocOwned(device, h * qDim * es, dtype, h, qDim));
      rows = h;
      cols = qDim;
      first = (long) r * qDim;
    } else if (name.startsWith("wDown")) {
      p = own(Buffer.allocOwned(device, h * ffn * es, dtype, h, ffn));
      rows = h;
      cols = ffn;
      ld = cfg.ffn();
      first = (long) r * ffn;
    } else {
      p = own(Buffer.allocOwned(device, t.count() * es, dtype, t.count()));
      rows = 1;
      cols = t.count();
      ld = cols;
      first = 0;
    }
    k.initUniform(p, rows, cols, ld, first, Weights.tensorSeed(seed, t.index()), t.scale());
    return p;
  }

  private long ones(CudaDevice device, int n) {
    long p = own(Buffer.allocOwned(device, (long) n * dtype.byteSize(), dtype, n));
    k.fill(p, n, 1f);
    return p;
  }

  /** Bytes of the weights and rotary tables on the device. */
  long weightBytes() {
    return owned.stream().mapToLong(Buffer::byteLength).sum();
  }

  /** Hands every step's logits to {@code tap}, as floats; waits for the stream each step (tests). */
  void tapLogits(@Nullable Consumer<float[]> tap) {
    this.logitsTap = tap;
  }

  /** Bytes of this rank's KV cache. */
  long kvBytes() {
    return (long) dtype.byteSize() * 2 * cfg.layers() * cfg.context() * kvDim;
  }

  /** A KV cache for this model (this rank's key/value heads) on {@code device}. */
  KvCache kvCache(CudaDevice device) {
    return new KvCache(device, cfg, dtype, kvDim);
  }

  /**
   * The session's KV cache on the device: per layer, rotated keys and values for every position,
   * {@code kvDim} wide (a rank's key/value heads).
   */
  static final class KvCache implements AutoCloseable {
    final long[] keys;
    final long[] values;
    private final List<Buffer> buffers = new ArrayList<>();

    KvCache(CudaDevice device, ModelConfig cfg, DType dtype, int kvDim) {
      keys = new long[cfg.layers()];
      values = new long[cfg.layers()];
      long n = (long) cfg.context() * kvDim;
      for (int l = 0; l < cfg.layers(); l++) {
        Buffer kb = Buffer.allocOwned(device, n * dtype.byteSize(), dtype, cfg.context(), kvDim);
        buffers.add(kb);
        Buffer vb = Buffer.allocOwned(device, n * dtype.byteSize(), dtype, cfg.context(), kvDim);
        buffers.add(vb);
        keys[l] = kb.nativeHandle();
        values[l] = vb.nativeHandle();
      }
    }

    @Override
    public void close() {
      buffers.forEach(Buffer::close);
    }
  }

  /**
   * Enqueues one decode step at {@code pos}: reads the token id at {@code tokenIds + 4 * pos} and
   * writes the greedy next one at {@code tokenIds + 4 * (pos + 1)}.
   */
  void forward(int pos, long tokenIds, KvCache kv, GpuScratch s, CudaStream stream) {
    if (pos >= cfg.context()) {
      throw new IllegalStateException("position " + pos + " is past the " + cfg.context() + "-token context");
    }
    int h = cfg.hidden();
    long x = s.alloc(h, dtype);
    k.embed(w.embed(), tokenIds + 4L * pos, x, h, cfg.vocab());
    for (int l = 0; l < cfg.layers(); l++) {
      x = fused ? fusedLayer(l, pos, x, kv, s) : layer(l, pos, x, kv, s);
    }
    long xn = s.alloc(h, dtype);
    k.rmsNorm(x, w.finalNorm(), xn, h, TinyTransformer.EPS);
    long logits = s.alloc(cfg.vocab(), dtype);
    matvec(w.lmHead(), xn, logits, cfg.vocab(), h);
    k.argmax(logits, cfg.vocab(), tokenIds + 4L * (pos + 1));
    Consumer<float[]> tap = logitsTap;
    if (tap != null) {
      tap.accept(GpuCopies.toFloats(stream, logits, cfg.vocab(), dtype));
    }
  }

  /** One layer, one kernel per op; returns the layer's output. */
  private long layer(int l, int pos, long x, KvCache kv, GpuScratch s) {
    Weights.Layer<Long> y = w.layers().get(l);
    int h = cfg.hidden();
    int n = pos + 1;
    long xn = s.alloc(h, dtype);
    k.rmsNorm(x, y.attnNorm(), xn, h, TinyTransformer.EPS);
    long q = s.alloc(qDim, dtype);
    long kk = s.alloc(kvDim, dtype);
    long v = s.alloc(kvDim, dtype);
    matvec(y.wq(), xn, q, qDim, h);
    matvec(y.wk(), xn, kk, kvDim, h);
    matvec(y.wv(), xn, v, kvDim, h);
    long qr = s.alloc(qDim, dtype);
    k.ropeStoreKv(q, kk, v, ropeCos, ropeSin, qr, kv.keys[l], kv.values[l], pos, heads, kvHeads, cfg.headDim());
    long scores = s.alloc((long) heads * cfg.context(), DType.F32);
    k.attentionScores(qr, kv.keys[l], scores, n, heads, kvHeads, cfg.headDim(), cfg.context(), scale);
    long probs = s.alloc((long) heads * cfg.context(), DType.F32);
    k.softmax(scores, probs, n, cfg.context(), heads);
    long attn = s.alloc(qDim, dtype);
    k.attentionValues(probs, kv.values[l], attn, n, heads, kvHeads, cfg.headDim(), cfg.context());
    long o = s.alloc(h, dtype);
    matvec(y.wo(), attn, o, h, qDim);
    allReduce(o, h);
    long x2 = s.alloc(h, dtype);
    k.add(x, o, x2, h);
    long xn2 = s.alloc(h, dtype);
    k.rmsNorm(x2, y.ffnNorm(), xn2, h, TinyTransformer.EPS);
    long gate = s.alloc(ffn, dtype);
    long up = s.alloc(ffn, dtype);
    matvec(y.wGate(), xn2, gate, ffn, h);
    matvec(y.wUp(), xn2, up, ffn, h);
    long act = s.alloc(ffn, dtype);
    k.swiglu(gate, up, act, ffn);
    long down = s.alloc(h, dtype);
    matvec(y.wDown(), act, down, h, ffn);
    allReduce(down, h);
    long x3 = s.alloc(h, dtype);
    k.add(x2, down, x3, h);
    return x3;
  }

  /** One layer with the fused ops; returns the layer's output. */
  private long fusedLayer(int l, int pos, long x, KvCache kv, GpuScratch s) {
    Weights.Layer<Long> y = w.layers().get(l);
    int h = cfg.hidden();
    long es = dtype.byteSize();
    long xn = s.alloc(h, dtype);
    k.rmsNorm(x, y.attnNorm(), xn, h, TinyTransformer.EPS);
    long qkv = s.alloc(qDim + 2L * kvDim, dtype);
    matvec(y.wq(), xn, qkv, qDim + 2 * kvDim, h);
    long qr = s.alloc(qDim, dtype);
    k.ropeStoreKv(qkv, qkv + qDim * es, qkv + (qDim + kvDim) * es, ropeCos, ropeSin, qr, kv.keys[l], kv.values[l],
        pos, heads, kvHeads, cfg.headDim());
    long attn = s.alloc(qDim, dtype);
    k.attention(qr, kv.keys[l], kv.values[l], attn, pos + 1, heads, kvHeads, cfg.headDim(), scale);
    long x2 = residualProduct(y.wo(), attn, x, h, qDim, s);
    long xn2 = s.alloc(h, dtype);
    k.rmsNorm(x2, y.ffnNorm(), xn2, h, TinyTransformer.EPS);
    long act = s.alloc(ffn, dtype);
    if (blas == null) {
      k.matvecSwiglu(y.wGate(), xn2, act, ffn, h);
    } else {
      long gateUp = s.alloc(2L * ffn, dtype);
      matvec(y.wGate(), xn2, gateUp, 2 * ffn, h);
      k.swiglu(gateUp, gateUp + ffn * es, act, ffn);
    }
    return residualProduct(y.wDown(), act, x2, h, ffn, s);
  }

  /**
   * A fresh buffer holding {@code residual + W a}; over several ranks {@code W a} is this rank's
   * partial product, summed over the ranks before (cuBLAS) or with (the matvec kernel, rank 0
   * adding the residual) the residual.
   */
  private long residualProduct(long weight, long a, long residual, int rows, int cols, GpuScratch s) {
    long out = s.alloc(rows, dtype);
    if (blas == null) {
      k.matvec(weight, a, shard.rank() == 0 ? residual : 0L, out, rows, cols);
      allReduce(out, rows);
    } else {
      long product = s.alloc(rows, dtype);
      matvec(weight, a, product, rows, cols);
      allReduce(product, rows);
      k.add(residual, product, out, rows);
    }
    return out;
  }

  /** Sums {@code count} elements at {@code buffer} over the ranks, in place; nothing for the whole model. */
  private void allReduce(long buffer, int count) {
    TpCollective c = collective;
    if (c != null) {
      c.allReduce(buffer, count);
    }
  }

  private void matvec(long w, long x, long y, int rows, int cols) {
    Cublas b = blas;
    if (b != null) {
      long t0 = ops.start();
      b.matvec(dtype, w, x, y, rows, cols);
      ops.blasCalled(t0);
    } else {
      k.matvec(w, x, y, rows, cols);
    }
  }

  @Override
  public void close() {
    owned.forEach(Buffer::close);
    owned.clear();
  }
}
