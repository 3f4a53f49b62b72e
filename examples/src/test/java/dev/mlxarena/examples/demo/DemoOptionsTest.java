package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.BucketPolicy;
import dev.mlxarena.Devices;
import dev.mlxarena.PoolExhaustedException;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.spi.Device;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's options are checked before the run, and what it prints reads right in a pipe. */
class DemoOptionsTest {
  private static final String[] SMALL = {"--tokens", "4", "--layers", "1", "--hidden", "32", "--heads", "4",
      "--vocab", "64", "--backend", "host"};

  record Outcome(int code, String out, String err) {}

  private static Outcome demo(boolean terminal, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = DecodeDemo.run(args, new PrintWriter(out, true), new PrintWriter(err, true), terminal);
    return new Outcome(code, out.toString(), err.toString());
  }

  private static Outcome small(String... more) {
    String[] args = new String[SMALL.length + more.length];
    System.arraycopy(SMALL, 0, args, 0, SMALL.length);
    System.arraycopy(more, 0, args, SMALL.length, more.length);
    return demo(false, args);
  }

  /** A refused option: exit 2, one line naming the problem with a pointer to --help, and no run. */
  private static void assertRefusedBeforeTheRun(Outcome o, String words) {
    assertEquals(2, o.code(), o.out() + o.err());
    assertEquals(1, o.err().lines().count(), "one line: " + o.err());
    assertTrue(o.err().startsWith("error: ") && o.err().contains(words) && o.err().strip().endsWith("(see --help)"),
        o.err());
    assertFalse(o.err().contains("Usage:") || o.err().contains("\tat "), o.err());
    assertFalse(o.out().contains("mlx-arena demo:"), "the run did not start: " + o.out());
  }

  @Test
  void badOptionsPrintOneLineWithAHintToHelp() {
    assertRefusedBeforeTheRun(demo(false, "--tokens", "many"), "--tokens");
    assertRefusedBeforeTheRun(demo(false, "--bogus"), "--bogus");
    assertRefusedBeforeTheRun(demo(false, "--policy", "fib"), "unknown --policy 'fib'");
  }

  @Test
  void aWidthWhoseFeedForwardOverflowsAnIntIsRefusedByItsOwnName() {
    Outcome o = demo(false, "--hidden", "536870912", "--heads", "1");
    assertRefusedBeforeTheRun(o, "--hidden 536870912 is too large");
    assertFalse(o.err().contains("--ffn"), "there is no --ffn option: " + o.err());
  }

  @Test
  void aModelWhoseSizeOverflowsALongIsRefused() {
    assertRefusedBeforeTheRun(demo(false, "--hidden", "65536", "--heads", "8", "--layers", "2147483647"),
        "overflows a long");
  }

  @Test
  void anUnwritableReportIsRefusedBeforeTheRun(@TempDir Path dir) {
    assertRefusedBeforeTheRun(small("--report", dir.resolve("missing/chart.png").toString()), "does not exist");
    assertRefusedBeforeTheRun(small("--report", dir.toString()), "is a folder");
  }

  @Test
  void memoryLimitIsThePoolsLimit() {
    Outcome o = small("--no-progress", "--memory-limit", "3m");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("pool memory limit 3.00 MiB"), o.out());
    // The model-size check keeps its own message.
    assertRefusedBeforeTheRun(small("--memory-limit", "1k"), "over the memory limit of 1.0 KiB");
  }

  @Test
  void aPoolOverItsMemoryLimitRefusesTheRun() {
    ModelConfig cfg = new ModelConfig(64, 32, 1, 4, 128, 4);
    PoolOptions tight = PoolOptions.builder().memoryLimit(256).build();
    try (Device d = Devices.open("host")) {
      assertThrows(PoolExhaustedException.class,
          () -> DemoRun.run(d, DemoRun.Mode.POOLED, tight, cfg, 4, 7, t -> {}));
      DemoRun.run(d, DemoRun.Mode.POOLED, PoolOptions.builder().memoryLimit(1L << 20).build(), cfg, 4, 7, t -> {});
    }
  }

  @Test
  void pipedOutputGetsOneLinePerRunWithTheTablesSpeedAndNoRedrawnFrames() {
    Outcome o = small();
    assertEquals(0, o.code(), o.err());
    assertFalse(o.err().contains("\r"), "no progress frames in a pipe: " + o.err());
    Matcher line = Pattern.compile("pooled: 4 tokens, ([0-9.]+) tok/s").matcher(o.err());
    assertTrue(line.find(), o.err());
    Matcher table = Pattern.compile("tokens per second +([0-9.]+)").matcher(o.out());
    assertTrue(table.find(), o.out());
    assertEquals(table.group(1), line.group(1), "the same speed in the line and the table");
  }

  @Test
  void theTablesColumnsLineUp() {
    // A model whose peak pool bytes, "active / held", take more than 18 characters.
    Outcome o = demo(false, "--compare", "--no-progress", "--tokens", "4", "--layers", "2", "--hidden", "128",
        "--heads", "4", "--vocab", "1024", "--backend", "host");
    assertEquals(0, o.code(), o.err());
    List<String> lines = o.out().lines().toList();
    int header = lines.indexOf(lines.stream().filter(l -> l.strip().startsWith("pooled")).findFirst().orElseThrow());
    int footnote = lines.indexOf(lines.stream().filter(l -> l.startsWith("* median")).findFirst().orElseThrow());
    List<String> table = lines.subList(header, footnote);
    assertTrue(table.size() > 8, o.out());
    int width = table.get(0).length();
    for (String row : table) {
      assertEquals(width, row.length(), "every row as wide as the header: '" + row + "'");
      int cells = row.startsWith(" ") ? 2 : 3;
      assertEquals(cells, row.strip().split(" {3,}").length, "cells at least three spaces apart: '" + row + "'");
    }
  }

  @Test
  void compareAlwaysPrintsAVerdict() {
    ModelConfig cfg = new ModelConfig(64, 32, 1, 4, 128, 4);
    DemoRun.Result pooled;
    DemoRun.Result unpooled;
    try (Device d = Devices.open("host")) {
      pooled = DemoRun.run(d, DemoRun.Mode.POOLED, BucketPolicy.powerOfTwo(), false, cfg, 4, 7, t -> {});
      unpooled = DemoRun.run(d, DemoRun.Mode.UNPOOLED, BucketPolicy.powerOfTwo(), false, cfg, 4, 7, t -> {});
    }
    DemoRun.Result fastUnpooled = withElapsed(unpooled, pooled.elapsedNanos() / 2);
    DemoRun.Result slowUnpooled = withElapsed(unpooled, pooled.elapsedNanos() * 2);
    String v = DecodeDemo.verdict(pooled, fastUnpooled);
    assertTrue(v.startsWith("verdict: ") && v.contains("unpooled generates 100.0% more tokens per second"), v);
    assertTrue(v.contains("same tokens: yes"), v);
    String w = DecodeDemo.verdict(pooled, slowUnpooled);
    assertTrue(w.contains("pooled generates 100.0% more tokens per second"), w);
  }

  private static DemoRun.Result withElapsed(DemoRun.Result r, long nanos) {
    return new DemoRun.Result(r.mode(), r.device(), r.tokens(), nanos, r.pool(), r.modelBytes());
  }
}
