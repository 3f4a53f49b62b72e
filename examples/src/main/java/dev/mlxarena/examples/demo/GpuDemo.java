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
      boolean cublas, boolean fused, boolean dependent, boolean poison, int tokens, int lag, long seed, boolean profile,
      boolean progress, @Nullable Path report) {

    GpuRun.Probe probe() {
      return profile ? GpuRun.Probe.PROFILE : GpuRun.Probe.NONE;
    }
  }

  /** Tokens at the end of the profile's extra run that are each held, so their GPU time is the GPU's alone. */
  static final int HELD_TOKENS = 8;

  static void run(PrintWriter out, Settings s) throws IOException {
    ModelConfig cfg = s.cfg();
    List<GpuRun.Result> results = new ArrayList<>();
    GpuRun.Result held = null;
    try (GpuEngine engine = GpuEngine.open(cfg, s.dtype(), s.cublas(), s.fused(), s.dependent(), s.seed())) {
      out.printf(Locale.ROOT, "mlx-arena demo: %s, %d layers, hidden %d, %d heads (%d KV heads), FFN %d, vocab %d, %s;"
              + " %d tokens on %s (sm_%d, %s)%n",
          s.model(), cfg.layers(), cfg.hidden(), cfg.heads(), cfg.kvHeads(), cfg.ffn(), cfg.vocab(),
          s.dtype().shortName(), s.tokens(), engine.device.name(), engine.device.computeCapability(), s.policy());
      out.printf(Locale.ROOT, "startup: kernels %d ms (%s); %s; weights %s made on the GPU in %d ms%n",
          engine.compileMillis, engine.kernelsFrom,
          engine.blas == null ? "matvec kernel (no cuBLAS)"
              : "cuBLAS " + engine.blas.versionString() + " (" + Cublas.libraryPath() + ") in " + engine.blasMillis + " ms",
          human(engine.model.weightBytes()), engine.weightsMillis);
      out.println("ops: " + (s.fused() ? "fused (QKV in one product, gate and up with SwiGLU, attention in one kernel,"
          + " residual adds in the products" + (s.cublas() ? " but cuBLAS's" : "") + ")" : "one kernel per op")
          + (engine.kernels.dependent() ? "; programmatic dependent launches"
              : s.dependent() ? "; no dependent launches (they need compute capability 9.0)" : ""));
      // Unreported warm-ups first: JIT compilation, lazy module loading and cuBLAS's first calls
      // would otherwise flatter whichever mode ran last.
      int warm = Math.min(s.tokens(), 16);
      for (GpuRun.Mode mode : s.modes()) {
        GpuRun.run(engine, mode, s.policy(), s.poison(), warm, s.lag(), s.seed(), s.probe(), t -> {});
      }
      for (GpuRun.Mode mode : s.modes()) {
        results.add(measured(engine, mode, s));
      }
      if (s.profile() && s.tokens() >= 4) {
        // Readback lag 0: each token starts on an idle GPU, so its allocations find the earlier
        // tokens' buffers reusable and never need a fresh (synchronizing) one while the stream is held.
        held = GpuRun.run(engine, GpuRun.Mode.POOLED, s.policy(), s.poison(), s.tokens(), 0, s.seed(),
            new GpuRun.Probe(true, Math.min(HELD_TOKENS, s.tokens() / 4)), t -> {});
      }
    }
    GpuSummary.print(out, results, s.cublas());
    GpuSummary.printProfile(out, results, held);
    if (s.report() != null) {
      Report.write(s.report(), results.stream().map(Report.Series::of).toList());
      out.println("report written to " + s.report());
    }
  }

  private static GpuRun.Result measured(GpuEngine engine, GpuRun.Mode mode, Settings s) {
    if (!s.progress()) {
      return GpuRun.run(engine, mode, s.policy(), s.poison(), s.tokens(), s.lag(), s.seed(), s.probe(), t -> {});
    }
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName(String.format(Locale.ROOT, "%-15s", mode.label))
        .setInitialMax(s.tokens()).setStyle(ProgressBarStyle.ASCII).setUnit(" tok", 1).showSpeed().build()) {
      IntConsumer progress = bar::stepTo;
      return GpuRun.run(engine, mode, s.policy(), s.poison(), s.tokens(), s.lag(), s.seed(), s.probe(), progress);
    }
  }
}
