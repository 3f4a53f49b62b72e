package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.BucketPolicy;
import dev.mlxarena.Devices;
import dev.mlxarena.spi.Device;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DecodeDemoTest {
  private static final ModelConfig SMALL = new ModelConfig(128, 32, 2, 4, 128, 12);

  record Outcome(int code, String out, String err) {}

  private static Outcome demo(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = DecodeDemo.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Outcome(code, out.toString(), err.toString());
  }

  private static String checksum(String backend, DemoRun.Mode mode, BucketPolicy policy) {
    try (Device d = DecodeDemo.openBackend(backend)) {
      return DemoRun.run(d, mode, policy, false, SMALL, 12, 7, t -> {}).checksum();
    }
  }

  @Test
  void pooledUnpooledHostAndSimProduceTheSameTokens() {
    String reference = checksum("host", DemoRun.Mode.POOLED, BucketPolicy.powerOfTwo());
    assertEquals(reference, checksum("host", DemoRun.Mode.UNPOOLED, BucketPolicy.powerOfTwo()));
    assertEquals(reference, checksum("sim", DemoRun.Mode.POOLED, BucketPolicy.powerOfTwo()));
    assertEquals(reference, checksum("sim", DemoRun.Mode.UNPOOLED, BucketPolicy.powerOfTwo()));
    assertEquals(reference, checksum("host", DemoRun.Mode.POOLED, BucketPolicy.sizeClasses(4)));
  }

  @Test
  void afterTheFirstTokenEveryAllocationIsAReuse() {
    try (Device d = Devices.open("host")) {
      DemoRun.Result r = DemoRun.run(d, DemoRun.Mode.POOLED, BucketPolicy.powerOfTwo(), false, SMALL, 12, 7, t -> {});
      assertEquals(0, r.freshAfterWarmup());
      assertEquals(12, r.tokens().size());
      assertTrue(r.allocationsPerToken() > 20);
      assertEquals(0, r.pool().activeCount(), "every token scope closed");
    }
  }

  @Test
  void compareAndReportWriteTheSummaryAndAChart(@TempDir Path dir) throws Exception {
    Path png = dir.resolve("report.png");
    Outcome o = demo("--compare", "--no-progress", "--tokens", "8", "--layers", "1", "--hidden", "32",
        "--heads", "4", "--vocab", "64", "--report", png.toString());
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("verdict: pooled allocation is"), o.out());
    assertTrue(o.out().contains("same tokens: yes"), o.out());
    assertTrue(o.out().contains("0 after token 0"), o.out());
    byte[] head = Files.readAllBytes(png);
    assertTrue(head.length > 1000 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G', "a PNG file");
  }

  @Test
  void helpExitsCleanly() {
    Outcome o = demo("--help");
    assertEquals(0, o.code());
    assertTrue(o.out().contains("--backend") && o.out().contains("--compare"), o.out());
  }

  private static void assertUsageError(Outcome o, int code, String words) {
    assertEquals(code, o.code(), o.out() + o.err());
    assertTrue(o.err().contains(words), o.err());
    assertFalse(o.err().contains("\tat "), "no stack trace: " + o.err());
  }

  @Test
  void badInputGetsAClearMessageAndNoStackTrace() {
    assertUsageError(demo("--backend", "tpu"), DecodeDemo.EXIT_UNAVAILABLE, "unknown backend 'tpu'");
    assertUsageError(demo("--tokens", "0"), 2, "--tokens must be at least 1, was 0");
    assertUsageError(demo("--hidden", "-8"), 2, "--hidden must be at least 1, was -8");
    assertUsageError(demo("--hidden", "30", "--heads", "4"), 2, "multiple of the 4 attention heads");
    assertUsageError(demo("--policy", "fib"), 2, "unknown --policy 'fib'");
    assertUsageError(demo("--hidden", "4096", "--layers", "64", "--memory-limit", "1g"), 2, "over the memory limit");
    assertUsageError(demo("--memory-limit", "lots"), 2, "not a positive byte count");
    assertUsageError(demo("--tokens", "many"), 2, "many");
    assertUsageError(demo("--model", "gpt2"), 2, "unknown --model 'gpt2': choose tiny or llama-1b");
    assertUsageError(demo("--hidden", "36", "--heads", "4"), 2, "rotary positions need an even one");
    assertUsageError(demo("--heads", "8", "--kv-heads", "3"), 2, "multiple of the 3 key/value heads");
    assertUsageError(demo("--readback-lag", "-1"), 2, "--readback-lag must be at least 0, was -1");
    assertUsageError(demo("--fuse", "--tokens", "20000", "--backend", "cuda"), 2,
        "--fuse: the fused attention kernel keeps every position's score in shared memory, so it takes at most 11264"
            + " positions; --tokens 20000 is more");
  }

  @Test
  void smallProductsGetMoreWarpsPerRowLargeOnesOne() {
    int h200 = 132;
    assertEquals(8, GpuKernels.splits(512, 2048, 8, h200), "the K and V projections");
    assertEquals(2, GpuKernels.splits(2048, 2048, 8, h200), "Q and O");
    assertEquals(2, GpuKernels.splits(2048, 8192, 8, h200), "down");
    assertEquals(1, GpuKernels.splits(3072, 2048, 8, h200), "QKV in one");
    assertEquals(1, GpuKernels.splits(8192, 2048, 8, h200), "gate, up");
    assertEquals(1, GpuKernels.splits(32000, 2048, 8, h200), "the LM head");
    assertEquals(1, GpuKernels.splits(40, 64, 8, h200), "too few columns to share");
    assertEquals(4, GpuKernels.splits(512, 2048, 8, 66), "fewer multiprocessors, fewer splits");
  }

  @Test
  void theLlamaModelNeedsTheGpuAndFixesItsShape() {
    assertUsageError(demo("--model", "llama-1b", "--backend", "host"), 2,
        "--model llama-1b runs on a CUDA GPU only (--backend cuda), not on 'host'");
    assertUsageError(demo("--model", "llama-1b", "--backend", "cuda", "--hidden", "1024"), 2,
        "--model llama-1b fixes the shape: drop --hidden");
    assertUsageError(demo("--model", "llama-1b", "--backend", "cuda", "--memory-limit", "1g"), 2,
        "the model needs 2.06 GiB of weights and KV cache, over the memory limit of 1.00 GiB");
  }

  @Test
  void gqaRunsOnTheHostAndNamesItsHeads() {
    Outcome o = demo("--no-progress", "--tokens", "4", "--layers", "1", "--hidden", "32", "--heads", "4",
        "--kv-heads", "2", "--vocab", "64", "--backend", "host");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("4 heads (2 KV heads)"), o.out());
  }

  @Test
  void unavailableBackendsSayWhy() {
    if (!com.sun.jna.Platform.isMac()) {
      assertUsageError(demo("--backend", "metal", "--no-progress"), DecodeDemo.EXIT_UNAVAILABLE, "macOS");
    }
    String cuda = dev.mlxarena.cuda.CudaDevice.class.getSimpleName();
    Outcome o = demo("--backend", "cuda", "--no-progress", "--tokens", "2", "--layers", "1", "--hidden", "32",
        "--heads", "4", "--vocab", "64");
    if (o.code() != 0) {
      assertUsageError(o, DecodeDemo.EXIT_UNAVAILABLE, "driver");
    }
    Outcome llama = demo("--backend", "cuda", "--model", "llama-1b", "--no-progress", "--tokens", "2");
    if (llama.code() != 0) {
      assertUsageError(llama, DecodeDemo.EXIT_UNAVAILABLE, "driver");
    }
    assertFalse(cuda.isEmpty());
  }
}
