package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.cuda.RequiresGpus;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The demo split over two GPUs: the tiny model (F32) generates the one-GPU model's tokens with
 * pooled buffers unregistered and registered with NCCL, one kernel per op and fused, and every
 * rank generates the same. Needs two CUDA GPUs (skipped elsewhere, with the reason).
 */
@RequiresGpus(2)
class GpuTensorParallelTest {
  private static final Pattern ONE = Pattern.compile("(?m)^tokens \\(checksum\\)\\s+\\d+ \\(([0-9a-f]+)\\)\\s*$");
  private static final Pattern MANY = Pattern.compile("(?m)^tp-result: .* checksum=([0-9a-f]+) ranks_agree=(\\w+) ");

  private static String run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = DecodeDemo.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    return out.toString();
  }

  @Test
  void tinyOverTwoGpusGeneratesTheOneGpuTokens() {
    for (List<String> ops : List.of(List.<String>of(), List.of("--fuse"))) {
      String[] common = {"--backend", "cuda", "--model", "tiny", "--tokens", "64", "--no-progress"};
      String one = run(concat(common, ops.toArray(String[]::new)));
      Matcher m = ONE.matcher(one);
      assertTrue(m.find(), one);
      String want = m.group(1);
      String two = run(concat(common, concat(ops.toArray(String[]::new), new String[] {"--tp", "2"})));
      Matcher t = MANY.matcher(two);
      int runs = 0;
      while (t.find()) {
        runs++;
        assertEquals(want, t.group(1), "--tp 2 " + ops + " against --tp 1:\n" + two);
        assertEquals("true", t.group(2), "every rank the same tokens:\n" + two);
      }
      assertEquals(2, runs, "unregistered and registered:\n" + two);
    }
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
