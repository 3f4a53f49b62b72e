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
import dev.mlxarena.cuda.RequiresCuda;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Every kernel of {@code decode_kernels.cu}, and cuBLAS's products, against a Java reference on
 * fresh random inputs, in F32 and BF16. All checks run even when some fail, and one table of
 * relative errors (the largest difference over the largest reference value) is printed, so one
 * GPU run diagnoses every kernel; a second table times the matrix-vector products on the
 * Llama-1B shapes. BF16 references compute in float from the same rounded inputs and round where
 * the kernels store bf16.
 */
@RequiresCuda
class DecodeKernelsSelfCheckTest {
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
      System.out.println("kernels: " + module.image() + " on " + gpu.name() + " (sm_" + gpu.computeCapability()
          + "), cuBLAS " + b.version());
      for (DType t : new DType[] {DType.F32, DType.BF16}) {
        dtype = t;
        k = new GpuKernels(module, s, t);
        check("embed", "vocab 50, hidden 96", this::embed);
        check("rms_norm", "n 2048", () -> rmsNorm(2048));
        check("rms_norm", "n 100", () -> rmsNorm(100));
        check("rope_store_kv", "heads 4, kv 2, d 16, pos 5", this::rope);
        check("attn_scores", "heads 8, kv 2, d 64, n 37 (f32 out)", F32_TOLERANCE, this::scores);
        if (t == DType.F32) {
          check("softmax_rows", "rows 8, n 37, stride 40", this::softmax);
        }
        check("attn_values", "heads 8, kv 2, d 64, n 37", this::values);
        check("add", "n 1000", this::add);
        check("swiglu", "n 1000", this::swiglu);
        check("argmax", "n 32000, a tie", this::argmax);
        check("matvec", "300 x 256", () -> matvec("kernel", 300, 256));
        check("matvec", "33 x 102", () -> matvec("kernel", 33, 102));
        check("cublasGemmEx", "300 x 256", () -> matvec("gemmEx", 300, 256));
        check("cublas gemv", "300 x 256", () -> matvec("gemv", 300, 256));
        check("init_uniform", "n 100003", this::initUniform);
        check("fill", "n 1000", this::fill);
      }
      print();
      timeMatvecs(new GpuKernels(module, s, DType.BF16));
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
    System.out.printf(Locale.ROOT, "%-16s %-5s %-36s %12s %10s  %s%n", "kernel", "type", "shape", "rel. error", "tolerance", "");
    for (Row r : rows) {
      System.out.printf(Locale.ROOT, "%-16s %-5s %-36s %12.3e %10.0e  %s%n", r.kernel(), r.dtype().shortName(), r.shape(),
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

  private double values() {
    float[] probs = softmaxReference(random(HEADS * STRIDE, 4), HEADS, N, STRIDE);
    float[] vals = random(STRIDE * KV_HEADS * D, 1);
    long out = alloc(HEADS * D, dtype);
    k.attentionValues(uploadF32(probs), upload(vals), out, N, HEADS, KV_HEADS, D, STRIDE);
    float[] want = new float[HEADS * D];
    int kvd = KV_HEADS * D;
    for (int h = 0; h < HEADS; h++) {
      int kvh = h / (HEADS / KV_HEADS);
      for (int i = 0; i < D; i++) {
        double acc = 0;
        for (int t = 0; t < N; t++) {
          acc += (double) probs[h * STRIDE + t] * vals[t * kvd + kvh * D + i];
        }
        want[h * D + i] = round((float) acc);
      }
    }
    return error(download(out, HEADS * D), want);
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

  private double fill() {
    long out = alloc(1000, dtype);
    k.fill(out, 1000, 1f);
    float[] want = new float[1000];
    java.util.Arrays.fill(want, 1f);
    return error(download(out, 1000), want);
  }

  // ------------------------------------------------------------------ timings

  /** Microseconds per product on the Llama-1B shapes, 50 back to back, for each way of computing it. */
  private void timeMatvecs(GpuKernels bf) {
    int[][] shapes = {{2048, 2048}, {512, 2048}, {8192, 2048}, {2048, 8192}, {32000, 2048}};
    System.out.printf(Locale.ROOT, "%nmatrix-vector products, bf16, microseconds each (50 back to back on the stream)%n");
    System.out.printf(Locale.ROOT, "%-14s %12s %12s %12s%n", "rows x cols", "cublasGemmEx", "cublas gemv", "matvec kernel");
    for (int[] s : shapes) {
      try (Scope sc = pool.openScope()) {
        long w = sc.alloc(2L * s[0] * s[1], DType.BF16, (long) s[0] * s[1]).nativeHandle();
        long x = sc.alloc(2L * s[1], DType.BF16, s[1]).nativeHandle();
        long y = sc.alloc(2L * s[0], DType.BF16, s[0]).nativeHandle();
        bf.initUniform(w, (long) s[0] * s[1], 1, 0.02f);
        bf.initUniform(x, s[1], 2, 1f);
        double[] us = new double[3];
        for (int how = 0; how < 3; how++) {
          for (int rep = 0; rep < 2; rep++) { // the first round warms up
            long t0 = System.nanoTime();
            for (int i = 0; i < 50; i++) {
              switch (how) {
                case 0 -> blas.matvec(DType.BF16, w, x, y, s[0], s[1]);
                case 1 -> blas.gemv(DType.BF16, w, x, y, s[0], s[1]);
                default -> bf.matvec(w, x, y, s[0], s[1]);
              }
            }
            CudaFence f = stream.recordFence();
            f.await();
            f.close();
            us[how] = (System.nanoTime() - t0) / 50e3;
          }
        }
        System.out.printf(Locale.ROOT, "%-14s %12.1f %12.1f %12.1f%n", s[0] + " x " + s[1], us[0], us[1], us[2]);
      }
    }
  }
}
