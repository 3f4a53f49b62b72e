package dev.mlxarena.examples.demo;

import static dev.mlxarena.examples.demo.DecodeDemo.human;

import dev.mlxarena.cuda.Cublas;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/** The table a GPU run of the demo prints: one column per allocation mode. */
final class GpuSummary {
  private GpuSummary() {}

  /**
   * The table of {@code results}, one column each.
   *
   * @param cublas whether the products went through cuBLAS (whose workspace the peak includes)
   */
  static void print(PrintWriter out, List<GpuRun.Result> results, boolean cublas) {
    out.println();
    String fmt = "%-38s" + "%20s".repeat(results.size()) + "%n";
    List<Object> header = new ArrayList<>(List.of(""));
    results.forEach(r -> header.add(r.mode().label));
    out.printf(Locale.ROOT, fmt, header.toArray());
    row(out, fmt, "tokens (checksum)", results, r -> r.ids().length + " (" + r.checksum() + ")");
    row(out, fmt, "tokens per second", results, r -> f("%.1f", r.tokensPerSecond()));
    row(out, fmt, "host time per token", results, r -> f("%.1f us", r.hostMicrosPerToken()));
    row(out, fmt, "allocations per token", results, r -> f("%.0f", r.allocationsPerToken()));
    row(out, fmt, "kernel launches + cuBLAS calls per token", results, r -> f("%.0f", r.callsPerToken()));
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
            + "        the peak includes %sthe kernels' code%n",
        pooled.peakDeviceBytes() / (double) floor, human(floor),
        cublas ? "cuBLAS's workspace (" + human(Cublas.WORKSPACE_BYTES) + ") and its own allocations, and " : "");
  }

  /**
   * The profile table: where a token's time goes in each profiled run ({@link GpuProfile}), and the
   * GPU alone from {@code held} (an extra run whose last tokens ran behind a hold), when given.
   */
  static void printProfile(PrintWriter out, List<GpuRun.Result> results, GpuRun.@Nullable Result held) {
    List<GpuRun.Result> profiled = results.stream().filter(r -> GpuProfile.of(r) != null).toList();
    if (profiled.isEmpty()) {
      return;
    }
    List<GpuProfile> p = profiled.stream().map(GpuProfile::of).toList();
    out.println();
    out.println("where a token's time goes (--profile): medians per token, microseconds (calls)");
    String fmt = "%-44s" + "%20s".repeat(p.size()) + "%n";
    List<Object> header = new ArrayList<>(List.of(""));
    profiled.forEach(r -> header.add(r.mode().label));
    out.printf(Locale.ROOT, fmt, header.toArray());
    prow(out, fmt, "host: token to token", p, x -> f("%.1f", x.hostInterval()));
    prow(out, fmt, "  kernel launches", p, x -> f("%.1f", x.launches()) + f(" (%.0f)", x.launchCount()));
    prow(out, fmt, "  cuBLAS calls", p, x -> f("%.1f", x.blas()) + f(" (%.0f)", x.blasCount()));
    prow(out, fmt, "  allocating", p, x -> f("%.1f", x.alloc()) + f(" (%.0f)", x.allocCount()));
    prow(out, fmt, "  recycling (scope open + close, or frees)", p, x -> f("%.1f", x.recycle()));
    prow(out, fmt, "  waiting for read-back ids", p, x -> f("%.1f", x.readback()));
    prow(out, fmt, "  the rest (loop, read-back copy, fences)", p, x -> f("%.1f", x.rest()));
    prow(out, fmt, "host work (token to token less waiting)", p, x -> f("%.1f", x.hostWork()));
    prow(out, fmt, "  per launch / per cuBLAS call", p, x -> f("%.2f", per(x.launches(), x.launchCount()))
        + " / " + (x.blasCount() == 0 ? "-" : f("%.2f", per(x.blas(), x.blasCount()))));
    prow(out, fmt, "  per allocation", p, x -> f("%.3f", per(x.alloc(), x.allocCount())));
    prow(out, fmt, "GPU: token to token (events)", p, x -> f("%.1f", x.gpuInterval()));
    prow(out, fmt, "GPU: a token's kernels, first to last", p, x -> f("%.1f", x.gpuSpan()));
    out.printf(Locale.ROOT, "over %d tokens (the first and the last left out); each call timed with System.nanoTime,"
        + " the timer's own cost (%d ns a call) included%n", p.get(0).tokens(), profiled.get(0).timerNanos());
    GpuProfile alone = held == null ? null : GpuProfile.of(held);
    if (held != null && alone != null && alone.held() > 0) {
      out.printf(Locale.ROOT, "GPU alone: a token's kernels, first to last, %.1f us (median of the last %d tokens of an"
              + " extra %s run at readback lag %d, each enqueued behind a held stream)%s%n", alone.gpuAlone(),
          alone.held(), held.mode().label, held.lag(), alone.holdsTimedOut() == 0 ? ""
              : "; " + alone.holdsTimedOut() + " holds timed out: those tokens include the wait for the host");
    }
  }

  private static double per(double micros, double calls) {
    return calls == 0 ? 0 : micros / calls;
  }

  private static void prow(PrintWriter out, String fmt, String name, List<GpuProfile> ps,
      Function<GpuProfile, String> cell) {
    List<Object> cells = new ArrayList<>(List.of(name));
    ps.forEach(x -> cells.add(cell.apply(x)));
    out.printf(Locale.ROOT, fmt, cells.toArray());
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
