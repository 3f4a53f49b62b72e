package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BucketPolicy;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.spi.Device;
import dev.mlxarena.Devices;
import dev.mlxarena.Scope;
import dev.mlxarena.cuda.RequiresCuda;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * The demo decoding on the GPU: the tiny model's tokens and logits equal the host's with either op
 * graph and either way of computing products, every allocation mode, readback lag and pool option
 * gives the same tokens, and a profiled run accounts for every launch.
 */
@RequiresCuda
class GpuDecodeTest {
  private static final int TOKENS = 64;
  private static final long SEED = 42;
  /** The demo's default tiny shape, with a 64-position cache. */
  private static final ModelConfig TINY = new ModelConfig(1024, 256, 6, 8, 1024, TOKENS);
  /** The same with grouped-query attention (4 query heads per key/value head). */
  private static final ModelConfig TINY_GQA = new ModelConfig(1024, 256, 6, 8, 2, 1024, TOKENS);

  private record Decode(int[] ids, List<float[]> logits) {}

  /** The host model, token by token, with its logits. */
  private static Decode onHost(ModelConfig cfg) {
    try (Device host = Devices.open("host");
        BufferPool pool = BufferPool.create(host);
        TinyTransformer model = new TinyTransformer(host, cfg, SEED);
        TinyTransformer.KvCache kv = new TinyTransformer.KvCache(host, cfg)) {
      List<float[]> logits = new ArrayList<>();
      model.tapLogits(logits::add);
      int token = (int) Math.floorMod(SEED, (long) cfg.vocab());
      int[] ids = new int[TOKENS];
      for (int pos = 0; pos < TOKENS; pos++) {
        try (Scope scope = pool.openScope()) {
          token = model.forward(token, pos, kv, new Scratch() {
            @Override
            public Buffer floats(long elements) {
              return scope.alloc(elements * 4, DType.F32, elements);
            }

            @Override
            public Buffer params(int... values) {
              return scope.alloc(values.length * 4L, DType.I32, values.length).copyFrom(values);
            }
          });
        }
        ids[pos] = token;
      }
      return new Decode(ids, logits);
    }
  }

  private static Decode onGpu(ModelConfig cfg, boolean cublas, boolean fused, boolean dependent) {
    try (GpuEngine engine = GpuEngine.open(cfg, DType.F32, cublas, fused, dependent, SEED)) {
      List<float[]> logits = new ArrayList<>();
      engine.model.tapLogits(logits::add);
      GpuRun.Result r = GpuRun.run(engine, GpuRun.Mode.POOLED, BucketPolicy.powerOfTwo(), false, TOKENS, 2, SEED, t -> {});
      return new Decode(r.ids(), logits);
    }
  }

  private static void assertSameFunction(ModelConfig cfg, boolean cublas, boolean fused) {
    assertSameFunction(cfg, cublas, fused, false);
  }

  private static void assertSameFunction(ModelConfig cfg, boolean cublas, boolean fused, boolean dependent) {
    Decode host = onHost(cfg);
    Decode gpu = onGpu(cfg, cublas, fused, dependent);
    assertArrayEquals(host.ids(), gpu.ids(), "greedy tokens, GPU against host");
    assertEquals(TOKENS, gpu.logits().size());
    double worst = 0;
    for (int step = 0; step < TOKENS; step++) {
      float[] h = host.logits().get(step);
      float[] g = gpu.logits().get(step);
      double max = 0;
      double diff = 0;
      for (int i = 0; i < h.length; i++) {
        max = Math.max(max, Math.abs(h[i]));
        diff = Math.max(diff, Math.abs((double) g[i] - h[i]));
      }
      double rel = diff / max;
      worst = Math.max(worst, rel);
      assertTrue(rel <= 1e-3, "step " + step + ": logits differ by " + rel + " relative");
    }
    System.out.printf(Locale.ROOT, "%s, %s, %s%s: %d tokens equal (%s), logits within %.2e relative%n",
        cfg.kvHeads() == cfg.heads() ? "tiny" : "tiny GQA", cublas ? "cuBLAS" : "matvec kernel",
        fused ? "fused ops" : "one kernel per op", dependent ? ", dependent launches" : "", TOKENS,
        DemoRun.checksum(gpu.ids()), worst);
  }

  @Test
  void tinyGpuTokensAndLogitsEqualTheHosts() {
    assertSameFunction(TINY, true, false);
  }

  @Test
  void tinyWithGroupedQueryAttentionAndTheOwnMatvecKernelEqualsTheHost() {
    assertSameFunction(TINY_GQA, false, false);
  }

  @Test
  void tinyWithFusedOpsEqualsTheHost() {
    assertSameFunction(TINY_GQA, false, true);
    assertSameFunction(TINY, true, true);
  }

  @Test
  void tinyWithDependentLaunchesEqualsTheHost() {
    assertSameFunction(TINY_GQA, false, false, true);
    assertSameFunction(TINY_GQA, false, true, true);
  }

  @Test
  void everyAllocationModeLagAndPoisonGivesTheSameTokens() {
    everyModeLagAndPoison(true, false);
    everyModeLagAndPoison(false, true);
  }

  private static void everyModeLagAndPoison(boolean cublas, boolean fused) {
    try (GpuEngine engine = GpuEngine.open(TINY, DType.F32, cublas, fused, SEED)) {
      BucketPolicy pow2 = BucketPolicy.powerOfTwo();
      GpuRun.Result pooled = GpuRun.run(engine, GpuRun.Mode.POOLED, pow2, false, TOKENS, 2, SEED, t -> {});
      List<GpuRun.Result> others = List.of(
          GpuRun.run(engine, GpuRun.Mode.CU_MEM_ALLOC, pow2, false, TOKENS, 2, SEED, t -> {}),
          GpuRun.run(engine, GpuRun.Mode.CU_MEM_ALLOC_ASYNC, pow2, false, TOKENS, 2, SEED, t -> {}),
          GpuRun.run(engine, GpuRun.Mode.POOLED, pow2, true, TOKENS, 2, SEED, t -> {}),
          GpuRun.run(engine, GpuRun.Mode.POOLED, pow2, true, TOKENS, 0, SEED, t -> {}),
          GpuRun.run(engine, GpuRun.Mode.POOLED, BucketPolicy.sizeClasses(4), true, TOKENS, 5, SEED, t -> {}));
      for (GpuRun.Result r : others) {
        assertArrayEquals(pooled.ids(), r.ids(), r.mode().label + ", lag " + r.lag());
      }
      assertEquals(0, pooled.freshAfterFirst(), "after the first token every buffer is a reuse");
      assertEquals(0, pooled.pool().activeCount(), "every token scope closed");
      System.out.println("every mode, lag and poison, " + (fused ? "fused ops" : "one kernel per op") + ": the same "
          + TOKENS + " tokens (" + pooled.checksum() + ")");
    }
  }

  @Test
  void aBf16GroupedQueryModelDecodesTheSameInEveryModeAndItsOpGraphsAgree() {
    ModelConfig cfg = new ModelConfig(4096, 512, 4, 8, 2, 1408, 32);
    List<float[]> firstLogits = new ArrayList<>();
    for (boolean fused : new boolean[] {false, true}) {
      try (GpuEngine engine = GpuEngine.open(cfg, DType.BF16, !fused, fused, SEED)) {
        List<float[]> logits = new ArrayList<>();
        engine.model.tapLogits(logits::add);
        GpuRun.Result a = GpuRun.run(engine, GpuRun.Mode.POOLED, BucketPolicy.powerOfTwo(), true, 32, 2, SEED, t -> {});
        engine.model.tapLogits(null);
        GpuRun.Result b = GpuRun.run(engine, GpuRun.Mode.CU_MEM_ALLOC_ASYNC, BucketPolicy.powerOfTwo(), false, 32, 1, SEED,
            t -> {});
        assertArrayEquals(a.ids(), b.ids());
        for (float[] l : logits) {
          for (float v : l) {
            assertTrue(Float.isFinite(v), "finite bf16 logits");
          }
        }
        for (int id : a.ids()) {
          assertTrue(id >= 0 && id < cfg.vocab());
        }
        firstLogits.add(logits.get(0));
      }
    }
    // The first step reads the same token in both graphs; they differ only in where bf16 rounds.
    float[] one = firstLogits.get(0);
    float[] fused = firstLogits.get(1);
    double max = 0;
    double diff = 0;
    for (int i = 0; i < one.length; i++) {
      max = Math.max(max, Math.abs(one[i]));
      diff = Math.max(diff, Math.abs((double) one[i] - fused[i]));
    }
    assertTrue(diff / max <= 3e-2, "bf16 logits of the two op graphs differ by " + diff / max + " relative");
    System.out.printf(Locale.ROOT, "bf16 GQA: the op graphs' first logits within %.2e relative%n", diff / max);
  }

  @Test
  void aProfiledRunCountsEveryLaunchAndTimesTheGpu() {
    for (boolean fused : new boolean[] {false, true}) {
      try (GpuEngine engine = GpuEngine.open(TINY_GQA, DType.F32, false, fused, SEED)) {
        // Readback lag 0, as the demo's held run: no token needs a fresh (synchronizing) allocation
        // while its hold is armed.
        GpuRun.Result plain = GpuRun.run(engine, GpuRun.Mode.POOLED, BucketPolicy.powerOfTwo(), false, 16, 0, SEED,
            t -> {});
        GpuRun.Result r = GpuRun.run(engine, GpuRun.Mode.POOLED, BucketPolicy.powerOfTwo(), false, 16, 0, SEED,
            new GpuRun.Probe(true, 4), t -> {});
        assertArrayEquals(plain.ids(), r.ids(), "profiling changes no token");
        assertEquals(null, plain.gpu(), "no GPU times without profiling");
        GpuProfile p = GpuProfile.of(r);
        assertTrue(p != null, "a profile");
        int perLayer = fused ? 8 : 16;
        assertEquals(TINY_GQA.layers() * perLayer + 4, p.launchCount(), "launches per token");
        assertEquals(p.launchCount(), plain.callsPerToken(), "counted without profiling too");
        assertEquals(0, p.blasCount());
        assertTrue(p.launches() > 0 && p.hostInterval() > 0 && p.gpuInterval() > 0 && p.gpuSpan() > 0, p.toString());
        assertTrue(p.hostWork() <= p.hostInterval(), p.toString());
        assertEquals(4, p.held());
        assertEquals(0, p.holdsTimedOut(), "every hold released by the host");
        assertTrue(p.gpuAlone() > 0, p.toString());
        System.out.println((fused ? "fused" : "one kernel per op") + ": " + p);
      }
    }
  }
}
