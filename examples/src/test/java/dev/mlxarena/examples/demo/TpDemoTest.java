package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code --tp}: how the model splits, what the command line refuses, and the table's fixed lines. No GPU needed. */
class TpDemoTest {
  private static final ModelConfig TINY = new ModelConfig(1024, 256, 6, 8, 1024, 64);

  @Test
  void aShardHoldsItsShareOfHeadsKeyValueHeadsAndFeedForwardWidth() {
    ModelConfig gqa = new ModelConfig(1024, 256, 6, 8, 2, 1024, 64);
    Shard s = new Shard(1, 2);
    assertEquals(4, s.heads(gqa));
    assertEquals(1, s.kvHeads(gqa));
    assertEquals(512, s.ffn(gqa));
    assertFalse(s.whole());
    assertTrue(Shard.WHOLE.whole());
    assertEquals(8, Shard.WHOLE.heads(gqa));
    assertThrows(IllegalArgumentException.class, () -> new Shard(2, 2));
    assertThrows(IllegalArgumentException.class, () -> new Shard(-1, 2));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Shard.check(gqa, 4));
    assertTrue(e.getMessage().contains("2 key/value heads do not split evenly over 4 GPUs"), e.getMessage());
    Shard.check(gqa, 2);
    Shard.check(ModelConfig.llama1b(16), 2);
  }

  private static String[] usageError(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = DecodeDemo.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new String[] {String.valueOf(code), err.toString()};
  }

  private static void assertRefused(String words, String... args) {
    String[] r = usageError(args);
    assertEquals("2", r[0], r[1]);
    assertTrue(r[1].contains(words), r[1]);
    assertFalse(r[1].contains("\tat "), "no stack trace: " + r[1]);
  }

  @Test
  void tensorParallelOptionsThatCannotRunAreRefusedBeforeAnyGpuIsTouched() {
    assertRefused("the 8 attention heads do not split evenly over 3 GPUs", "--tp", "3", "--backend", "cuda");
    assertRefused("--tp must be at least 1, was 0", "--tp", "0", "--backend", "cuda");
    assertRefused("--tp runs on CUDA GPUs only: add --backend cuda", "--tp", "2");
    assertRefused("--tp 2 runs pooled only", "--tp", "2", "--backend", "cuda", "--compare");
    assertRefused("--tp 2 runs pooled only", "--tp", "2", "--backend", "cuda", "--alloc", "async");
    assertRefused("unknown --nccl-register 'maybe': choose on, off or both", "--tp", "2", "--backend", "cuda",
        "--nccl-register", "maybe");
  }

  private static GpuRun.Result rank(int[] ids, double allocMicros, double allReducePerLayer) {
    List<GpuRun.TokenStat> stats = new ArrayList<>();
    for (int i = 0; i < ids.length; i++) {
      long alloc = (long) (allocMicros * 1000);
      stats.add(new GpuRun.TokenStat(1_000_000L * i, 900_000, alloc, 0, 10, 1 << 10, 20, 0, 0, 0, 0, 12, 0));
    }
    return new GpuRun.Result(GpuRun.Mode.POOLED, stats, ids, 1_000_000L * ids.length, 0, 0, 0, 0, null, 0, 2, null,
        new TpCollective.Times(8, allReducePerLayer / 2, allReducePerLayer / 2, allReducePerLayer));
  }

  @Test
  void theTableEndsWithOneFixedLinePerRunForScripts() {
    int[] ids = {5, 6, 7, 8};
    int[] other = {5, 6, 7, 9};
    TpDemo.Run agree = new TpDemo.Run(false, List.of(rank(ids, 12.5, 40), rank(ids, 13.25, 41)));
    TpDemo.Run disagree = new TpDemo.Run(true, List.of(rank(ids, 11, 30), rank(other, 12, 31)));
    StringWriter text = new StringWriter();
    TpDemo.print(new PrintWriter(text, true), 2, List.of(agree, disagree));
    List<String> lines = text.toString().lines().filter(l -> l.startsWith("tp-result:")).toList();
    String sum = DemoRun.checksum(ids);
    assertEquals(List.of(
        "tp-result: tp=2 register=off tokens=4 checksum=" + sum + " ranks_agree=true tok_per_s=1000.0"
            + " allreduce_layer_us=40.0 pool_us_per_token=12.50,13.25",
        "tp-result: tp=2 register=on tokens=4 checksum=" + sum + " ranks_agree=false tok_per_s=1000.0"
            + " allreduce_layer_us=30.0 pool_us_per_token=11.00,12.00"), lines);
    assertTrue(text.toString().contains("40.0 us (20.0 + 20.0)"), text.toString());
  }
}
