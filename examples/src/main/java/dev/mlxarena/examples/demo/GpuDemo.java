package dev.mlxarena.examples.demo;

import static dev.mlxarena.examples.demo.DecodeDemo.human;

import dev.mlxarena.BucketPolicy;
import dev.mlxarena.DType;
import dev.mlxarena.cuda.Cublas;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.jspecify.annotations.Nullable;

/** The demo's GPU runs: one engine, a warm-up in each allocation mode, then the measured runs. */
final class GpuDemo {
  private GpuDemo() {}

  /** What the command line asked for. */
  record Settings(String model, ModelConfig cfg, DType dtype, BucketPolicy policy, List<GpuRun.Mode> modes,
      boolean cublas, boolean poison, int tokens, int lag, long seed, boolean progress, @Nullable Path report) {}

  static void run(PrintWriter out, Settings s) throws IOException {
    ModelConfig cfg = s.cfg();
    List<GpuRun.Result> results = new ArrayList<>();
    try (GpuEngine engine = GpuEngine.open(cfg, s.dtype(), s.cublas(), s.seed())) {
      out.printf(Locale.ROOT, "mlx-arena demo: %s, %d layers, hidden %d, %d heads (%d KV heads), FFN %d, vocab %d, %s;"
              + " %d tokens on %s (sm_%d, %s)%n",
          s.model(), cfg.layers(), cfg.hidden(), cfg.heads(), cfg.kvHeads(), cfg.ffn(), cfg.vocab(),
          s.dtype().shortName(), s.tokens(), engine.device.name(), engine.device.computeCapability(), s.policy());
      out.printf(Locale.ROOT, "startup: kernels %d ms (%s); %s; weights %s made on the GPU in %d ms%n",
          engine.compileMillis, engine.kernelsFrom,
          engine.blas == null ? "matvec kernel (no cuBLAS)"
              : "cuBLAS " + engine.blas.versionString() + " (" + Cublas.libraryPath() + ") in " + engine.blasMillis + " ms",
          human(engine.model.weightBytes()), engine.weightsMillis);
      // Unreported warm-ups first: JIT compilation, lazy module loading and cuBLAS's first calls
      // would otherwise flatter whichever mode ran last.
      int warm = Math.min(s.tokens(), 16);
      for (GpuRun.Mode mode : s.modes()) {
        GpuRun.run(engine, mode, s.policy(), s.poison(), warm, s.lag(), s.seed(), t -> {});
      }
      for (GpuRun.Mode mode : s.modes()) {
        results.add(measured(engine, mode, s));
      }
    }
    GpuSummary.print(out, results);
    if (s.report() != null) {
      Report.write(s.report(), results.stream().map(Report.Series::of).toList());
      out.println("report written to " + s.report());
    }
  }

  private static GpuRun.Result measured(GpuEngine engine, GpuRun.Mode mode, Settings s) {
    if (!s.progress()) {
      return GpuRun.run(engine, mode, s.policy(), s.poison(), s.tokens(), s.lag(), s.seed(), t -> {});
    }
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName(String.format(Locale.ROOT, "%-15s", mode.label))
        .setInitialMax(s.tokens()).setStyle(ProgressBarStyle.ASCII).setUnit(" tok", 1).showSpeed().build()) {
      IntConsumer progress = bar::stepTo;
      return GpuRun.run(engine, mode, s.policy(), s.poison(), s.tokens(), s.lag(), s.seed(), progress);
    }
  }
}
