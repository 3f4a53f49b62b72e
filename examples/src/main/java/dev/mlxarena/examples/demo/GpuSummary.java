package dev.mlxarena.examples.demo;

import static dev.mlxarena.examples.demo.DecodeDemo.human;

import dev.mlxarena.cuda.Cublas;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/** The table a GPU run of the demo prints: one column per allocation mode. */
final class GpuSummary {
  private GpuSummary() {}

  static void print(PrintWriter out, List<GpuRun.Result> results) {
    out.println();
    String fmt = "%-38s" + "%20s".repeat(results.size()) + "%n";
    List<Object> header = new ArrayList<>(List.of(""));
    results.forEach(r -> header.add(r.mode().label));
    out.printf(Locale.ROOT, fmt, header.toArray());
    row(out, fmt, "tokens (checksum)", results, r -> r.ids().length + " (" + r.checksum() + ")");
    row(out, fmt, "tokens per second", results, r -> f("%.1f", r.tokensPerSecond()));
    row(out, fmt, "host time per token", results, r -> f("%.1f us", r.hostMicrosPerToken()));
    row(out, fmt, "allocations per token", results, r -> f("%.0f", r.allocationsPerToken()));
    row(out, fmt, "allocating + recycling per token*", results, r -> f("%.2f us", r.allocMicrosPerToken()));
    row(out, fmt, "  share of the token's host time", results, r -> f("%.2f %%", 100 * r.allocShare()));
    row(out, fmt, "peak scratch memory (allocator)**", results, r -> human(r.peakScratchBytes()));
    row(out, fmt, "peak device memory (cuMemGetInfo)***", results, r -> human(r.peakDeviceBytes()));
    row(out, fmt, "weights + KV cache", results, r -> human(r.modelBytes()));
    row(out, fmt, "one token's scratch (requested)", results, r -> human(r.requestedPerToken()));
    row(out, fmt, "fresh device allocations", results, r -> r.pool() == null ? "-" : r.freshAfterFirst() + " after token 0");
    GpuRun.Result first = results.get(0);
    out.printf(Locale.ROOT, "*   median over the tokens; each call timed, less the timer's own cost (%d ns a call);%n"
        + "    pooled: allocations plus closing the token scope (its fence); driver modes: allocations plus frees%n",
        first.timerNanos());
    out.println("**  pooled: most bytes the pool held; cuMemAlloc: most bytes live at once;"
        + " cuMemAllocAsync: the driver pool's reserved high watermark");
    out.println("*** device memory in use, sampled during the run, less what was in use before the model was made");
    out.printf(Locale.ROOT, "readback lag: %d tokens (the host reads a token's id %d steps after enqueuing it)%n",
        first.lag(), first.lag());
    if (results.size() > 1) {
      boolean same = results.stream().allMatch(r -> r.checksum().equals(first.checksum()));
      out.printf(Locale.ROOT, "%nsame tokens in every mode: %s%n", same ? "yes (" + first.checksum() + ")" : "NO");
    }
    GpuRun.Result pooled = results.stream().filter(r -> r.mode() == GpuRun.Mode.POOLED).findFirst().orElse(null);
    if (pooled == null) {
      return;
    }
    for (GpuRun.Result r : results) {
      if (r != pooled) {
        out.printf(Locale.ROOT, "pooled: %.2fx the tokens per second of %s%n",
            pooled.tokensPerSecond() / r.tokensPerSecond(), r.mode().label);
      }
    }
    long floor = pooled.modelBytes() + pooled.requestedPerToken();
    out.printf(Locale.ROOT, "pooled: peak device memory %.3fx weights + KV cache + one token's scratch (%s);%n"
            + "        the peak includes cuBLAS's workspace (%s) and its own allocations, and the kernels' code%n",
        pooled.peakDeviceBytes() / (double) floor, human(floor), human(Cublas.WORKSPACE_BYTES));
  }

  private static String f(String format, double value) {
    return String.format(Locale.ROOT, format, value);
  }

  private static void row(PrintWriter out, String fmt, String name, List<GpuRun.Result> rs,
      Function<GpuRun.Result, String> cell) {
    List<Object> cells = new ArrayList<>(List.of(name));
    rs.forEach(r -> cells.add(cell.apply(r)));
    out.printf(Locale.ROOT, fmt, cells.toArray());
  }
}
