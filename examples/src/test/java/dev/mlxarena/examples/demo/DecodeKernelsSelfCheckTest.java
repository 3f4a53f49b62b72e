package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.Scope;
import dev.mlxarena.cuda.Cublas;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaFence;
import dev.mlxarena.cuda.CudaModule;
import dev.mlxarena.cuda.CudaStream;
import dev.mlxarena.cuda.CudaTimeline;
import dev.mlxarena.cuda.RequiresCuda;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Test;

/**
 * Every kernel of {@code decode_kernels.cu}, and cuBLAS's products, against a Java reference on
 * fresh random inputs, in F32 and BF16. All checks run even when some fail, and one table of
 * relative errors (the largest difference over the largest reference value) is printed, so one
 * GPU run diagnoses every kernel. BF16 references compute in float from the same rounded inputs
 * and round where the kernels store bf16.
 *
 * <p>Two tables of timings follow, on the Llama-1B shapes: the matrix-vector products each way
 * (GPU time alone, and the host's time to enqueue one), then every kernel of a layer at 256
 * positions. GPU times are 50 launches back to back behind a {@link StreamHolds hold}, between
 * timing events, so they are the GPU's own and not the host's launch rate. The products cycle
 * through copies of their weights that together exceed the GPU's L2 cache, so that weights come
 * from memory, as in a decode.
 */
@RequiresCuda
class DecodeKernelsSelfCheckTest {
  /** Set to false to check the kernels without timing them (the CPU stand-ins take minutes for that). */
  static final String TIMINGS_PROPERTY = "mlxarena.selfcheck.timings";

  private static final double F32_TOLERANCE = 1e-5;
  private static final double BF16_TOLERANCE = 1e-2;

  private record Row(String kernel, DType dtype, String shape, double error, double tolerance, String note) {
    boolean ok() {
      return note.isEmpty() && error <= tolerance;
    }
  }

  private final SplittableRandom rnd = new SplittableRandom(20240611);
  private final List<Row> rows = new ArrayList<>();
  private BufferPool pool;
  private CudaStream stream;
  private Scope scope;
  private GpuKernels k;
  private Cublas blas;
  private DType dtype;
  private int multiprocessors;

  @Test
  void everyKernelMatchesItsCpuReference() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream s = CudaStream.create(gpu);
        CudaModule module = GpuKernels.load(gpu);
        Cublas b = Cublas.create(s);
        BufferPool p = BufferPool.create(gpu)) {
      pool = p;
      stream = s;
      blas = b;
      multiprocessors = gpu.multiprocessorCount();
      System.out.println("kernels: " + module.image() + " on " + gpu.name() + " (sm_" + gpu.computeCapability()
          + ", " + multiprocessors + " multiprocessors), cuBLAS " + b.version());
      for (DType t : new DType[] {DType.F32, DType.BF16}) {
        dtype = t;
        k = new GpuKernels(module, s, t, new OpTimer());
        check("embed", "vocab 50, hidden 96", this::embed);
        check("rms_norm", "n 2048", () -> rmsNorm(2048));
        check("rms_norm", "n 100", () -> rmsNorm(100));
        check("rms_norm", "n 102", () -> rmsNorm(102));
        check("rope_store_kv", "heads 4, kv 2, d 16, pos 5", this::rope);
        check("attn_scores", "heads 8, kv 2, d 64, n 37 (f32 out)", F32_TOLERANCE, this::scores);
        if (t == DType.F32) {
          check("softmax_rows", "rows 8, n 37, stride 40", this::softmax);
        }
        check("attn_values", "heads 8, kv 2, d 64, n 37", () -> values(64, N));
        check("attn_values", "heads 8, kv 2, d 64, n 300", () -> values(64, 300));
        check("attn_values", "heads 8, kv 2, d 12, n 37 (no vectors)", () -> values(12, N));
        check("attention", "heads 8, kv 2, d 64, n 37", () -> attention(64, N));
        check("attention", "heads 8, kv 2, d 64, n 300", () -> attention(64, 300));
        check("attention", "heads 8, kv 2, d 12, n 37 (no vectors)", () -> attention(12, N));
        check("add", "n 1000", this::add);
        check("swiglu", "n 1000", this::swiglu);
        check("argmax", "n 32000, a tie", this::argmax);
        check("matvec", "300 x 256", () -> matvec("kernel", 300, 256));
        check("matvec", "33 x 102", () -> matvec("kernel", 33, 102));
        for (int splits : new int[] {1, 2, 4, 8}) {
          check("matvec + residual", "40 x 1024, " + splits + " splits", () -> matvecSplit(40, 1024, splits, true));
          check("matvec + residual", "33 x 102, " + splits + " splits", () -> matvecSplit(33, 102, splits, true));
          check("matvec_swiglu", "ffn 40, 1024, " + splits + " splits", () -> matvecSwiglu(40, 1024, splits));
          check("matvec_swiglu", "ffn 33, 102, " + splits + " splits", () -> matvecSwiglu(33, 102, splits));
        }
        check("cublasGemmEx", "300 x 256", () -> matvec("gemmEx", 300, 256));
        check("cublas gemv", "300 x 256", () -> matvec("gemv", 300, 256));
        check("init_uniform", "n 100003", this::initUniform);
        check("init_uniform", "tile 300 x 77 of 300 x 512 at column 131", this::initUniformTile);
        check("fill", "n 1000", this::fill);
        check("hold", "released by the host", this::hold);
      }
      print();
      if (Boolean.parseBoolean(System.getProperty(TIMINGS_PROPERTY, "true"))) {
        timings(gpu, module);
      } else {
        System.out.println("timings skipped (-D" + TIMINGS_PROPERTY + "=false)");
      }
    }
    List<Row> failed = rows.stream().filter(r -> !r.ok()).toList();
    assertTrue(failed.isEmpty(), failed.size() + " kernel checks failed: " + failed);
  }

  private interface Check {
    double run();
  }

  private void check(String kernel, String shape, Check c) {
    check(kernel, shape, dtype == DType.F32 ? F32_TOLERANCE : BF16_TOLERANCE, c);
  }

  /** Runs one check in a fresh scope and records its error, or what it threw. */
  private void check(String kernel, String shape, double tolerance, Check c) {
    try (Scope sc = pool.openScope()) {
      scope = sc;
      double err = c.run();
      stream.synchronize();
      rows.add(new Row(kernel, dtype, shape, err, tolerance, ""));
    } catch (RuntimeException | AssertionError e) {
      rows.add(new Row(kernel, dtype, shape, Double.NaN, tolerance, e.toString()));
    }
  }

  private void print() {
    System.out.printf(Locale.ROOT, "%-18s %-5s %-40s %12s %10s  %s%n", "kernel", "type", "shape", "rel. error", "tolerance", "");
    for (Row r : rows) {
      System.out.printf(Locale.ROOT, "%-18s %-5s %-40s %12.3e %10.0e  %s%n", r.kernel(), r.dtype().shortName(), r.shape(),
          r.error(), r.tolerance(), r.ok() ? "ok" : "FAILED " + r.note());
    }
  }

  // ------------------------------------------------------------------ inputs and outputs

  private float[] random(int n, double scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = round((float) (rnd.nextDouble(-1, 1) * scale));
    }
    return v;
  }

  /** A value as the kernels' element type holds it. */
  private float round(float v) {
    return dtype == DType.F32 ? v : Bf16.round(v);
  }

  private long upload(float[] v) {
    long p = alloc(v.length, dtype);
    GpuCopies.fromFloats(stream, p, v, dtype);
    return p;
  }

  private long uploadF32(float[] v) {
    long p = alloc(v.length, DType.F32);
    GpuCopies.fromFloats(stream, p, v, DType.F32);
    return p;
  }

  private long alloc(long n, DType t) {
    return scope.alloc(n * t.byteSize(), t, n).nativeHandle();
  }

  private float[] download(long p, int n) {
    return GpuCopies.toFloats(stream, p, n, dtype);
  }

  private static double error(float[] got, float[] want) {
    double max = 0;
    double diff = 0;
    for (int i = 0; i < want.length; i++) {
      max = Math.max(max, Math.abs(want[i]));
      double d = Math.abs((double) got[i] - want[i]);
      diff = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(diff, d);
    }
    return diff / Math.max(max, 1e-30);
  }

  // ------------------------------------------------------------------ the checks

  private double embed() {
    int vocab = 50;
    int hidden = 96;
    float[] table = random(vocab * hidden, 1);
    long t = upload(table);
    long token = alloc(1, DType.I32);
    GpuCopies.fromInts(stream, token, new int[] {37});
    long out = alloc(hidden, dtype);
    k.embed(t, token, out, hidden, vocab);
    float[] want = new float[hidden];
    System.arraycopy(table, 37 * hidden, want, 0, hidden);
    return error(download(out, hidden), want);
  }

  private double rmsNorm(int n) {
    float[] x = random(n, 3);
    float[] w = random(n, 1);
    long out = alloc(n, dtype);
    k.rmsNorm(upload(x), upload(w), out, n, TinyTransformer.EPS);
    double ss = 0;
    for (float v : x) {
      ss += v * v;
    }
    float inv = 1.0f / (float) Math.sqrt((float) ss / n + TinyTransformer.EPS);
    float[] want = new float[n];
    for (int i = 0; i < n; i++) {
      want[i] = round(x[i] * inv * w[i]);
    }
    return error(download(out, n), want);
  }

  private double rope() {
    int heads = 4;
    int kvHeads = 2;
    int d = 16;
    int context = 8;
    int pos = 5;
    int kvd = kvHeads * d;
    Rope rope = Rope.of(d, context);
    float[] q = random(heads * d, 1);
    float[] kk = random(kvd, 1);
    float[] v = random(kvd, 1);
    float[] keys = random(context * kvd, 1);
    float[] vals = random(context * kvd, 1);
    long qOut = alloc(heads * d, dtype);
    long keysDev = upload(keys);
    long valsDev = upload(vals);
    k.ropeStoreKv(upload(q), upload(kk), upload(v), uploadF32(rope.cos), uploadF32(rope.sin), qOut, keysDev, valsDev,
        pos, heads, kvHeads, d);
    float[] wantQ = new float[heads * d];
    for (int h = 0; h < heads; h++) {
      rope.rotate(q, h * d, pos, wantQ, h * d);
    }
    float[] rotK = new float[kvd];
    for (int h = 0; h < kvHeads; h++) {
      rope.rotate(kk, h * d, pos, rotK, h * d);
    }
    float[] wantKeys = keys.clone();
    float[] wantVals = vals.clone();
    for (int i = 0; i < kvd; i++) {
      wantKeys[pos * kvd + i] = rotK[i];
      wantVals[pos * kvd + i] = v[i];
    }
    for (int i = 0; i < wantQ.length; i++) {
      wantQ[i] = round(wantQ[i]);
    }
    for (int i = 0; i < wantKeys.length; i++) {
      wantKeys[i] = round(wantKeys[i]);
    }
    return Math.max(error(download(qOut, heads * d), wantQ),
        Math.max(error(download(keysDev, context * kvd), wantKeys), error(download(valsDev, context * kvd), wantVals)));
  }

  private static final int HEADS = 8;
  private static final int KV_HEADS = 2;
  private static final int D = 64;
  private static final int N = 37;
  private static final int STRIDE = 40;

  private float[] scoresReference(float[] q, float[] keys, float scale) {
    float[] want = new float[HEADS * STRIDE];
    int kvd = KV_HEADS * D;
    for (int h = 0; h < HEADS; h++) {
      int kvh = h / (HEADS / KV_HEADS);
      for (int t = 0; t < N; t++) {
        double dot = 0;
        for (int i = 0; i < D; i++) {
          dot += (double) q[h * D + i] * keys[t * kvd + kvh * D + i];
        }
        want[h * STRIDE + t] = (float) dot * scale;
      }
    }
    return want;
  }

  private double scores() {
    float[] q = random(HEADS * D, 1);
    float[] keys = random(STRIDE * KV_HEADS * D, 1);
    float scale = (float) (1 / Math.sqrt(D));
    long out = alloc(HEADS * STRIDE, DType.F32);
    GpuCopies.fromFloats(stream, out, new float[HEADS * STRIDE], DType.F32);
    k.attentionScores(upload(q), upload(keys), out, N, HEADS, KV_HEADS, D, STRIDE, scale);
    float[] got = GpuCopies.toFloats(stream, out, HEADS * STRIDE, DType.F32);
    return error(got, scoresReference(q, keys, scale));
  }

  private static float[] softmaxReference(float[] in, int rows, int n, int stride) {
    float[] out = new float[rows * stride];
    for (int r = 0; r < rows; r++) {
      float max = Float.NEGATIVE_INFINITY;
      for (int t = 0; t < n; t++) {
        max = Math.max(max, in[r * stride + t]);
      }
      double sum = 0;
      for (int t = 0; t < n; t++) {
        sum += Math.exp(in[r * stride + t] - max);
      }
      for (int t = 0; t < n; t++) {
        out[r * stride + t] = (float) (Math.exp(in[r * stride + t] - max) / sum);
      }
    }
    return out;
  }

  private double softmax() {
    float[] in = random(HEADS * STRIDE, 4);
    long out = alloc(HEADS * STRIDE, DType.F32);
    GpuCopies.fromFloats(stream, out, new float[HEADS * STRIDE], DType.F32);
    k.softmax(uploadF32(in), out, N, STRIDE, HEADS);
    float[] got = GpuCopies.toFloats(stream, out, HEADS * STRIDE, DType.F32);
    return error(got, softmaxReference(in, HEADS, N, STRIDE));
  }

  /** p[h][t] for t < n (rows of STRIDE), a softmax of random scores. */
  private float[] randomProbs(int n, int stride) {
    return softmaxReference(random(HEADS * stride, 4), HEADS, n, stride);
  }

  private float[] valuesReference(float[] probs, float[] vals, int d, int n, int stride) {
    float[] want = new float[HEADS * d];
    int kvd = KV_HEADS * d;
    for (int h = 0; h < HEADS; h++) {
      int kvh = h / (HEADS / KV_HEADS);
      for (int i = 0; i < d; i++) {
        double acc = 0;
        for (int t = 0; t < n; t++) {
          acc += (double) probs[h * stride + t] * vals[t * kvd + kvh * d + i];
        }
        want[h * d + i] = round((float) acc);
      }
    }
    return want;
  }

  private double values(int d, int n) {
    int stride = n + 3;
    float[] probs = randomProbs(n, stride);
    float[] vals = random(stride * KV_HEADS * d, 1);
    long out = alloc(HEADS * d, dtype);
    k.attentionValues(uploadF32(probs), upload(vals), out, n, HEADS, KV_HEADS, d, stride);
    return error(download(out, HEADS * d), valuesReference(probs, vals, d, n, stride));
  }

  /** The fused kernel against the references of its three steps. */
  private double attention(int d, int n) {
    float[] q = random(HEADS * d, 1);
    float[] keys = random(n * KV_HEADS * d, 1);
    float[] vals = random(n * KV_HEADS * d, 1);
    float scale = (float) (1 / Math.sqrt(d));
    float[] scores = new float[HEADS * n];
    int kvd = KV_HEADS * d;
    for (int h = 0; h < HEADS; h++) {
      int kvh = h / (HEADS / KV_HEADS);
      for (int t = 0; t < n; t++) {
        double dot = 0;
        for (int i = 0; i < d; i++) {
          dot += (double) q[h * d + i] * keys[t * kvd + kvh * d + i];
        }
        scores[h * n + t] = (float) dot * scale;
      }
    }
    float[] want = valuesReference(softmaxReference(scores, HEADS, n, n), vals, d, n, n);
    long out = alloc(HEADS * d, dtype);
    k.attention(upload(q), upload(keys), upload(vals), out, n, HEADS, KV_HEADS, d, scale);
    return error(download(out, HEADS * d), want);
  }

  private double add() {
    float[] a = random(1000, 2);
    float[] b = random(1000, 2);
    long out = alloc(1000, dtype);
    k.add(upload(a), upload(b), out, 1000);
    float[] want = new float[1000];
    for (int i = 0; i < 1000; i++) {
      want[i] = round(a[i] + b[i]);
    }
    return error(download(out, 1000), want);
  }

  private double swiglu() {
    float[] g = random(1000, 6);
    float[] u = random(1000, 2);
    long out = alloc(1000, dtype);
    k.swiglu(upload(g), upload(u), out, 1000);
    float[] want = new float[1000];
    for (int i = 0; i < 1000; i++) {
      want[i] = round((float) (g[i] / (1 + Math.exp(-g[i])) * u[i]));
    }
    return error(download(out, 1000), want);
  }

  private double argmax() {
    int n = 32000;
    float[] x = random(n, 10);
    x[20001] = 50;
    x[7777] = 50; // a tie: the lower index wins
    long out = alloc(1, DType.I32);
    GpuCopies.fromInts(stream, out, new int[] {-1});
    k.argmax(upload(x), n, out);
    int got = GpuCopies.toInts(stream, out, 1)[0];
    return got == 7777 ? 0 : Double.POSITIVE_INFINITY;
  }

  private float[] matvecReference(float[] w, float[] x, int rowsN, int cols) {
    float[] want = new float[rowsN];
    for (int r = 0; r < rowsN; r++) {
      double acc = 0;
      for (int c = 0; c < cols; c++) {
        acc += (double) w[r * cols + c] * x[c];
      }
      want[r] = round((float) acc);
    }
    return want;
  }

  private double matvec(String how, int rowsN, int cols) {
    float[] w = random(rowsN * cols, 1);
    float[] x = random(cols, 1);
    long y = alloc(rowsN, dtype);
    switch (how) {
      case "kernel" -> k.matvec(upload(w), upload(x), y, rowsN, cols);
      case "gemmEx" -> blas.matvec(dtype, upload(w), upload(x), y, rowsN, cols);
      default -> blas.gemv(dtype, upload(w), upload(x), y, rowsN, cols);
    }
    return error(download(y, rowsN), matvecReference(w, x, rowsN, cols));
  }

  /** y = W x + r with the kernel's columns cut into {@code splits} chunks per row. */
  private double matvecSplit(int rowsN, int cols, int splits, boolean residual) {
    float[] w = random(rowsN * cols, 1);
    float[] x = random(cols, 1);
    float[] r = random(rowsN, 1);
    long y = alloc(rowsN, dtype);
    k.matvec(upload(w), upload(x), residual ? upload(r) : 0L, y, rowsN, cols, splits);
    float[] want = new float[rowsN];
    for (int i = 0; i < rowsN; i++) {
      double acc = residual ? r[i] : 0;
      for (int c = 0; c < cols; c++) {
        acc += (double) w[i * cols + c] * x[c];
      }
      want[i] = round((float) acc);
    }
    return error(download(y, rowsN), want);
  }

  /** silu(W_gate x) * (W_up x), the two matrices one after the other in one buffer. */
  private double matvecSwiglu(int ffn, int cols, int splits) {
    float[] w = random(2 * ffn * cols, 1);
    float[] x = random(cols, 1);
    long y = alloc(ffn, dtype);
    k.matvecSwiglu(upload(w), upload(x), y, ffn, cols, splits);
    float[] want = new float[ffn];
    for (int i = 0; i < ffn; i++) {
      double g = 0;
      double u = 0;
      for (int c = 0; c < cols; c++) {
        g += (double) w[i * cols + c] * x[c];
        u += (double) w[(ffn + i) * cols + c] * x[c];
      }
      float gf = (float) g;
      want[i] = round(gf / (1f + (float) Math.exp(-gf)) * (float) u);
    }
    return error(download(y, ffn), want);
  }

  private double initUniform() {
    int n = 100003;
    long seed = Weights.tensorSeed(42, 3);
    float scale = 0.0625f;
    long out = alloc(n, dtype);
    k.initUniform(out, n, seed, scale);
    float[] want = new float[n];
    for (int i = 0; i < n; i++) {
      want[i] = round(Weights.uniform(seed, i, scale));
    }
    float[] got = download(out, n);
    for (int i = 0; i < n; i++) {
      if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
        return Double.POSITIVE_INFINITY; // the host makes the same weights bit for bit
      }
    }
    return 0;
  }

  /** A rank's columns of a row-major matrix: element first + r * ld + c of the tensor at (r, c). */
  private double initUniformTile() {
    int rows = 300;
    int cols = 77;
    int ld = 512;
    int first = 131;
    long seed = Weights.tensorSeed(42, 5);
    float scale = 0.125f;
    long out = alloc((long) rows * cols, dtype);
    k.initUniform(out, rows, cols, ld, first, seed, scale);
    float[] got = download(out, rows * cols);
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        float want = round(Weights.uniform(seed, first + (long) r * ld + c, scale));
        if (Float.floatToRawIntBits(got[r * cols + c]) != Float.floatToRawIntBits(want)) {
          return Double.POSITIVE_INFINITY;
        }
      }
    }
    return 0;
  }

  /** Work enqueued behind a hold runs once the host releases it, and the hold says it was released. */
  private double hold() {
    try (StreamHolds holds = new StreamHolds(stream.device(), 1)) {
      long out = alloc(4, dtype);
      holds.arm(k, 0);
      k.fill(out, 4, 3f);
      holds.release(0);
      float[] got = download(out, 4);
      return holds.timedOut() == 0 ? error(got, new float[] {3, 3, 3, 3}) : Double.POSITIVE_INFINITY;
    }
  }

  private double fill() {
    long out = alloc(1000, dtype);
    k.fill(out, 1000, 1f);
    float[] want = new float[1000];
    java.util.Arrays.fill(want, 1f);
    return error(download(out, 1000), want);
  }

  // ------------------------------------------------------------------ timings

  private static final int REPS = 50;

  private void timings(CudaDevice gpu, CudaModule module) {
    try (StreamHolds holds = new StreamHolds(gpu, 1); CudaTimeline marks = CudaTimeline.create(stream, 2)) {
      GpuKernels bf = new GpuKernels(module, stream, DType.BF16, new OpTimer());
      timeMatvecs(bf, holds, marks);
      timeLayer(bf, holds, marks);
    }
  }

  /**
   * The GPU's time for one {@code op}, in microseconds: {@value #REPS} back to back behind a hold,
   * between two timing events; NaN when the hold timed out (the host could not enqueue them all).
   */
  private double gpuMicros(GpuKernels bf, StreamHolds holds, CudaTimeline marks, IntConsumer op) {
    holds.arm(bf, 0);
    marks.mark(0);
    for (int i = 0; i < REPS; i++) {
      op.accept(i);
    }
    marks.mark(1);
    holds.release(0);
    double us = marks.microsBetween(0, 1) / REPS;
    return holds.timedOut() == 0 ? us : Double.NaN;
  }

  /** The host's time to enqueue one {@code op}, in microseconds, once the JIT has compiled the path. */
  private double hostMicros(IntConsumer op) {
    double best = Double.POSITIVE_INFINITY;
    for (int round = 0; round < 40; round++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < REPS; i++) {
        op.accept(i);
      }
      best = Math.min(best, (System.nanoTime() - t0) / 1e3 / REPS);
      stream.synchronize();
    }
    return best;
  }

  private long fresh(DType t, long n, long seed, float scale, GpuKernels bf) {
    long p = scope.alloc(n * t.byteSize(), t, n).nativeHandle();
    bf.initUniform(p, n, seed, scale);
    return p;
  }

  /** More than an H100's or H200's L2 cache (50 MB). */
  private static final long BEYOND_L2 = 160L << 20;

  /** Copies of a bf16 weight matrix, as many as make up {@link #BEYOND_L2} (at most {@value #REPS}). */
  private long[] weights(long elements, long seed, GpuKernels bf) {
    int copies = (int) Math.min(REPS, Math.max(1, (BEYOND_L2 + 2 * elements - 1) / (2 * elements)));
    long[] w = new long[copies];
    for (int i = 0; i < copies; i++) {
      w[i] = fresh(DType.BF16, elements, seed, 0.02f, bf);
    }
    return w;
  }

  /** Microseconds per product on the Llama-1B shapes, for each way of computing it. */
  private void timeMatvecs(GpuKernels bf, StreamHolds holds, CudaTimeline marks) {
    int[][] shapes = {{2048, 2048}, {512, 2048}, {3072, 2048}, {8192, 2048}, {2048, 8192}, {32000, 2048}};
    System.out.printf(Locale.ROOT, "%nmatrix-vector products, bf16, microseconds each: GPU alone (%d back to back behind"
        + " a hold, events) and the host's time to enqueue one (best of 40 rounds of %d)%n", REPS, REPS);
    System.out.printf(Locale.ROOT, "%-14s %7s %18s %18s %18s %8s%n", "rows x cols", "MiB", "GemmEx gpu/host",
        "gemv gpu/host", "kernel gpu/host", "splits");
    for (int[] s : shapes) {
      try (Scope sc = pool.openScope()) {
        scope = sc;
        long[] w = weights((long) s[0] * s[1], 1, bf);
        long x = fresh(DType.BF16, s[1], 2, 1f, bf);
        long y = fresh(DType.BF16, s[0], 3, 1f, bf);
        IntConsumer[] ways = {
          i -> blas.matvec(DType.BF16, w[i % w.length], x, y, s[0], s[1]),
          i -> blas.gemv(DType.BF16, w[i % w.length], x, y, s[0], s[1]),
          i -> bf.matvec(w[i % w.length], x, y, s[0], s[1]),
        };
        String[] cells = new String[3];
        for (int how = 0; how < 3; how++) {
          double host = hostMicros(ways[how]);
          cells[how] = String.format(Locale.ROOT, "%.1f / %.1f", gpuMicros(bf, holds, marks, ways[how]), host);
        }
        System.out.printf(Locale.ROOT, "%-14s %7.1f %18s %18s %18s %8d%n", s[0] + " x " + s[1], 2.0 * s[0] * s[1] / (1 << 20),
            cells[0], cells[1], cells[2], GpuKernels.splits(s[0], s[1], 8, multiprocessors));
      }
    }
  }

  private static long at(long[] copies, int i) {
    return copies[i % copies.length];
  }

  /**
   * Every kernel of a Llama-1B layer (bf16, 32 heads, 8 KV heads, at 256 positions), GPU alone and
   * host per launch, and what a layer adds up to in each op graph.
   */
  private void timeLayer(GpuKernels bf, StreamHolds holds, CudaTimeline marks) {
    ModelConfig cfg = ModelConfig.llama1b(256);
    int h = cfg.hidden();
    int kvd = cfg.kvDim();
    int ffn = cfg.ffn();
    int n = 256;
    int heads = cfg.heads();
    int kvh = cfg.kvHeads();
    int d = cfg.headDim();
    float scale = (float) (1 / Math.sqrt(d));
    System.out.printf(Locale.ROOT, "%na llama-1b layer, bf16, %d positions: microseconds per kernel, GPU alone / host%n", n);
    try (Scope sc = pool.openScope()) {
      scope = sc;
      DType b = DType.BF16;
      long x = fresh(b, h, 1, 1f, bf);
      long norm = fresh(b, h, 2, 1f, bf);
      long[] wqkv = weights((long) (h + 2 * kvd) * h, 3, bf);
      long[] wo = weights((long) h * h, 4, bf);
      long[] wgu = weights(2L * ffn * h, 5, bf);
      long[] wd = weights((long) h * ffn, 6, bf);
      long keys = fresh(b, (long) n * kvd, 7, 1f, bf);
      long vals = fresh(b, (long) n * kvd, 8, 1f, bf);
      long qkv = fresh(b, h + 2L * kvd, 9, 1f, bf);
      long cos = fresh(DType.F32, (long) n * d / 2, 10, 1f, bf);
      long sin = fresh(DType.F32, (long) n * d / 2, 11, 1f, bf);
      long sc1 = fresh(DType.F32, (long) heads * n, 12, 1f, bf);
      long sc2 = fresh(DType.F32, (long) heads * n, 13, 1f, bf);
      long o1 = fresh(b, ffn, 14, 1f, bf);
      long o2 = fresh(b, ffn, 15, 1f, bf);
      long o3 = fresh(b, 2L * ffn, 16, 1f, bf);
      long es = 2;
      Object[][] ops = {
        {"rms_norm 2048", 2, 2, (IntConsumer) i -> bf.rmsNorm(x, norm, o1, h, TinyTransformer.EPS)},
        {"matvec q 2048 x 2048", 1, 0, (IntConsumer) i -> bf.matvec(at(wqkv, i), x, o1, h, h)},
        {"matvec k 512 x 2048", 1, 0, (IntConsumer) i -> bf.matvec(at(wqkv, i) + (long) h * h * es, x, o1, kvd, h)},
        {"matvec v 512 x 2048", 1, 0,
          (IntConsumer) i -> bf.matvec(at(wqkv, i) + (long) (h + kvd) * h * es, x, o1, kvd, h)},
        {"matvec qkv 3072 x 2048", 0, 1, (IntConsumer) i -> bf.matvec(at(wqkv, i), x, o3, h + 2 * kvd, h)},
        {"rope_store_kv", 1, 1, (IntConsumer) i -> bf.ropeStoreKv(qkv, qkv + h * es, qkv + (h + kvd) * es, cos, sin,
            o1, keys, vals, n - 1, heads, kvh, d)},
        {"attn_scores", 1, 0, (IntConsumer) i -> bf.attentionScores(o1, keys, sc1, n, heads, kvh, d, n, scale)},
        {"softmax_rows", 1, 0, (IntConsumer) i -> bf.softmax(sc1, sc2, n, n, heads)},
        {"attn_values", 1, 0, (IntConsumer) i -> bf.attentionValues(sc2, vals, o2, n, heads, kvh, d, n)},
        {"attention (fused)", 0, 1, (IntConsumer) i -> bf.attention(o1, keys, vals, o2, n, heads, kvh, d, scale)},
        {"matvec o 2048 x 2048", 1, 0, (IntConsumer) i -> bf.matvec(at(wo, i), o2, o1, h, h)},
        {"matvec o + residual", 0, 1, (IntConsumer) i -> bf.matvec(at(wo, i), o2, x, o1, h, h)},
        {"add 2048", 2, 0, (IntConsumer) i -> bf.add(x, o1, o2, h)},
        {"matvec gate 8192 x 2048", 1, 0, (IntConsumer) i -> bf.matvec(at(wgu, i), x, o1, ffn, h)},
        {"matvec up 8192 x 2048", 1, 0, (IntConsumer) i -> bf.matvec(at(wgu, i) + (long) ffn * h * es, x, o2, ffn, h)},
        {"swiglu 8192", 1, 0, (IntConsumer) i -> bf.swiglu(o1, o2, o3, ffn)},
        {"matvec_swiglu 2 x 8192 x 2048", 0, 1, (IntConsumer) i -> bf.matvecSwiglu(at(wgu, i), x, o3, ffn, h)},
        {"matvec down 2048 x 8192", 1, 0, (IntConsumer) i -> bf.matvec(at(wd, i), o3, o1, h, ffn)},
        {"matvec down + residual", 0, 1, (IntConsumer) i -> bf.matvec(at(wd, i), o3, x, o1, h, ffn)},
      };
      double[] layer = new double[4];
      System.out.printf(Locale.ROOT, "%-30s %10s %10s %20s%n", "kernel", "GPU", "host", "a layer has: per op / fused");
      for (Object[] op : ops) {
        IntConsumer r = (IntConsumer) op[3];
        double host = hostMicros(r);
        double gpu = gpuMicros(bf, holds, marks, r);
        int eager = (Integer) op[1];
        int fused = (Integer) op[2];
        layer[0] += eager * gpu;
        layer[1] += eager * host;
        layer[2] += fused * gpu;
        layer[3] += fused * host;
        System.out.printf(Locale.ROOT, "%-30s %10.2f %10.2f %14d / %d%n", op[0], gpu, host, eager, fused);
      }
      System.out.printf(Locale.ROOT, "a layer, one kernel per op: GPU %.1f us, host %.1f us; fused: GPU %.1f us, host"
          + " %.1f us (16 layers: x16, plus the LM head, a norm, the embedding and argmax)%n",
          layer[0], layer[1], layer[2], layer[3]);
    }
  }
}
