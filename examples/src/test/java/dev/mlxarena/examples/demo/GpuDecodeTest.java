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
 * The demo decoding on the GPU: the tiny model's tokens and logits equal the host's, and every
 * allocation mode, readback lag and pool option gives the same tokens.
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

  private static Decode onGpu(ModelConfig cfg, boolean cublas) {
    try (GpuEngine engine = GpuEngine.open(cfg, DType.F32, cublas, SEED)) {
      List<float[]> logits = new ArrayList<>();
      engine.model.tapLogits(logits::add);
      GpuRun.Result r = GpuRun.run(engine, GpuRun.Mode.POOLED, BucketPolicy.powerOfTwo(), false, TOKENS, 2, SEED, t -> {});
      return new Decode(r.ids(), logits);
    }
  }

  private static void assertSameFunction(ModelConfig cfg, boolean cublas) {
    Decode host = onHost(cfg);
    Decode gpu = onGpu(cfg, cublas);
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
    System.out.printf(Locale.ROOT, "%s, %s: %d tokens equal (%s), logits within %.2e relative%n",
        cfg.kvHeads() == cfg.heads() ? "tiny" : "tiny GQA", cublas ? "cuBLAS" : "matvec kernel", TOKENS,
        DemoRun.checksum(gpu.ids()), worst);
  }

  @Test
  void tinyGpuTokensAndLogitsEqualTheHosts() {
    assertSameFunction(TINY, true);
  }

  @Test
  void tinyWithGroupedQueryAttentionAndTheOwnMatvecKernelEqualsTheHost() {
    assertSameFunction(TINY_GQA, false);
  }

  @Test
  void everyAllocationModeLagAndPoisonGivesTheSameTokens() {
    try (GpuEngine engine = GpuEngine.open(TINY, DType.F32, true, SEED)) {
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
      System.out.println("every mode, lag and poison: the same " + TOKENS + " tokens (" + pooled.checksum() + ")");
    }
  }

  @Test
  void aBf16GroupedQueryModelDecodesTheSameInEveryMode() {
    ModelConfig cfg = new ModelConfig(4096, 512, 4, 8, 2, 1408, 32);
    try (GpuEngine engine = GpuEngine.open(cfg, DType.BF16, true, SEED)) {
      List<float[]> logits = new ArrayList<>();
      engine.model.tapLogits(logits::add);
      GpuRun.Result a = GpuRun.run(engine, GpuRun.Mode.POOLED, BucketPolicy.powerOfTwo(), true, 32, 2, SEED, t -> {});
      engine.model.tapLogits(null);
      GpuRun.Result b = GpuRun.run(engine, GpuRun.Mode.CU_MEM_ALLOC_ASYNC, BucketPolicy.powerOfTwo(), false, 32, 1, SEED, t -> {});
      assertArrayEquals(a.ids(), b.ids());
      for (float[] l : logits) {
        for (float v : l) {
          assertTrue(Float.isFinite(v), "finite bf16 logits");
        }
      }
      for (int id : a.ids()) {
        assertTrue(id >= 0 && id < cfg.vocab());
      }
    }
  }
}
