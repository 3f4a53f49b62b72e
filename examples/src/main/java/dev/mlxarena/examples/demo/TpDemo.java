package dev.mlxarena.examples.demo;

import static dev.mlxarena.examples.demo.DecodeDemo.human;

import dev.mlxarena.DeviceUnavailableException;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.Nccl;
import dev.mlxarena.cuda.NcclComm;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The demo's tensor-parallel GPU runs ({@code --tp N}): the model split Megatron-style over N GPUs
 * ({@link Shard}), one engine, one pool, one stream and one thread per GPU, the ranks' partial
 * products summed by NCCL all-reduces ({@link TpCollective}) on pooled buffers, token scopes on
 * each rank's stream. Every rank computes the same logits, so rank 0's tokens are the run's.
 *
 * <p>Each registration mode asked for ({@code --nccl-register}) gets an unreported warm-up, then a
 * measured run: without registration, the ranks' pools hand NCCL plain device memory; with it,
 * each pool registers every device buffer it takes with its rank's communicator once ({@link
 * dev.mlxarena.cuda.NcclRegistrar}), and recycled buffers stay registered.
 *
 * <p>A rank that fails aborts the communicators, so that the other ranks' collectives end instead
 * of waiting for it forever.
 */
final class TpDemo {
  private TpDemo() {}

  /** One measured run: each rank's result, in rank order, and whether buffers were registered. */
  record Run(boolean registered, List<GpuRun.Result> ranks) {
    GpuRun.Result first() {
      return ranks.get(0);
    }

    String label() {
      return registered ? "registered" : "unregistered";
    }

    /** Whether every rank generated rank 0's tokens. */
    boolean ranksAgree() {
      return ranks.stream().allMatch(r -> r.checksum().equals(first().checksum()));
    }
  }

  /**
   * Runs the model over {@code ranks} GPUs in every registration mode of {@code register}, and
   * prints the table.
   *
   * @throws DeviceUnavailableException if this machine has fewer GPUs, or no NCCL
   */
  static void run(PrintWriter out, GpuDemo.Settings s, int ranks, List<Boolean> register) {
    Shard.check(s.cfg(), ranks);
    String nvls = Nccl.environmentDefault("NCCL_NVLS_ENABLE", "0");
    if (!nvls.equals("0")) {
      throw new IllegalArgumentException("NCCL_NVLS_ENABLE=" + nvls + " in the environment: the demo keeps NVLink"
          + " multicast off; unset it or set it to 0");
    }
    int gpus = CudaDevice.deviceCount();
    if (gpus < ranks) {
      throw new DeviceUnavailableException("--tp " + ranks + " needs " + ranks + " CUDA GPUs; this machine has " + gpus);
    }
    List<ExecutorService> threads = new ArrayList<>();
    for (int r = 0; r < ranks; r++) {
      int rank = r;
      threads.add(Executors.newSingleThreadExecutor(task -> {
        Thread t = new Thread(task, "tp-rank-" + rank);
        t.setDaemon(true);
        return t;
      }));
    }
    List<CudaDevice> devices = new ArrayList<>();
    List<NcclComm> comms = List.of();
    GpuEngine[] engines = new GpuEngine[ranks];
    List<Run> runs = new ArrayList<>();
    try {
      for (int r = 0; r < ranks; r++) {
        devices.add(CudaDevice.open(r));
      }
      comms = NcclComm.initAll(devices);
      List<NcclComm> c = comms;
      // Each rank's engine on its own thread, its weights made on its GPU meanwhile. An engine owns
      // its device from here on, also when it fails to open.
      List<CudaDevice> owned = List.copyOf(devices);
      devices.clear();
      onEachRank(threads, c, r -> engines[r] = GpuEngine.open(owned.get(r), s.cfg(), s.dtype(), s.cublas(),
          s.fused(), s.dependent(), s.seed(), new Shard(r, ranks), c.get(r)));
      List<GpuEngine> ready = List.of(engines);
      printHeader(out, s, ranks, ready);
      int warm = Math.min(s.tokens(), 16);
      for (boolean reg : register) {
        ready.forEach(e -> Objects.requireNonNull(e.collective).registerBuffers = reg);
        onEachRank(threads, c, r -> GpuRun.run(ready.get(r), GpuRun.Mode.POOLED, s.policy(), s.poison(), warm,
            s.lag(), s.seed(), s.probe(), t -> {}));
      }
      for (boolean reg : register) {
        ready.forEach(e -> Objects.requireNonNull(e.collective).registerBuffers = reg);
        runs.add(new Run(reg, onEachRank(threads, c, r -> GpuRun.run(ready.get(r), GpuRun.Mode.POOLED, s.policy(),
            s.poison(), s.tokens(), s.lag(), s.seed(), s.probe(), t -> {}))));
      }
    } finally {
      // The communicators first (every pool, and so every registration, is closed by now), while
      // their GPUs are still open.
      RuntimeException failure = new RuntimeException("closing the tensor-parallel engines");
      for (NcclComm comm : comms) {
        GpuEngine.closeQuietly(comm, failure);
      }
      for (GpuEngine e : engines) {
        GpuEngine.closeQuietly(e, failure);
      }
      for (CudaDevice d : devices) {
        GpuEngine.closeQuietly(d, failure);
      }
      threads.forEach(ExecutorService::shutdownNow);
      if (failure.getSuppressed().length > 0 && runs.size() == register.size()) {
        throw failure;
      }
    }
    print(out, ranks, runs);
    if (s.profile()) {
      for (Run run : runs) {
        out.printf(Locale.ROOT, "%n%s, rank by rank:", run.label());
        GpuSummary.printProfile(out, run.ranks(), null);
      }
    }
  }

  /**
   * Runs {@code perRank} on each rank's thread at once (the collectives need every rank) and waits
   * for all; if one fails, aborts the communicators so that the others end, and rethrows.
   */
  private static <T> List<T> onEachRank(List<ExecutorService> threads, List<NcclComm> comms, IntFunction<T> perRank) {
    List<CompletableFuture<T>> futures = new ArrayList<>();
    for (int r = 0; r < threads.size(); r++) {
      int rank = r;
      futures.add(CompletableFuture.supplyAsync(() -> perRank.apply(rank), threads.get(r)));
    }
    CompletableFuture<?> anyFailed = new CompletableFuture<>();
    futures.forEach(f -> f.whenComplete((v, e) -> {
      if (e != null) {
        anyFailed.complete(null);
      }
    }));
    CompletableFuture.anyOf(CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)), anyFailed).join();
    if (anyFailed.isDone()) {
      comms.forEach(NcclComm::abort);
    }
    List<T> out = new ArrayList<>();
    RuntimeException failure = null;
    for (int r = 0; r < futures.size(); r++) {
      try {
        out.add(futures.get(r).join());
      } catch (CompletionException e) {
        RuntimeException cause = e.getCause() instanceof RuntimeException re ? re
            : new IllegalStateException("rank " + r + " failed", e.getCause());
        if (failure == null) {
          failure = cause;
        } else {
          failure.addSuppressed(cause);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
    return out;
  }

  private static void printHeader(PrintWriter out, GpuDemo.Settings s, int ranks, List<GpuEngine> engines) {
    ModelConfig cfg = s.cfg();
    GpuEngine first = engines.get(0);
    out.printf(Locale.ROOT, "mlx-arena demo: %s, %d layers, hidden %d, %d heads (%d KV heads), FFN %d, vocab %d, %s;"
            + " %d tokens, tensor parallel over %d x %s (sm_%d), %s%n",
        s.model(), cfg.layers(), cfg.hidden(), cfg.heads(), cfg.kvHeads(), cfg.ffn(), cfg.vocab(),
        s.dtype().shortName(), s.tokens(), ranks, first.device.name(), first.device.computeCapability(), s.policy());
    out.printf(Locale.ROOT, "NCCL %s (%s), NCCL_NVLS_ENABLE=0; per GPU: %d of %d heads, %d of %d KV heads, FFN %d of %d;"
            + " two all-reduces a layer (after the output and the down projection)%n",
        Nccl.versionString(), Nccl.libraryPath(), first.model.shard.heads(cfg), cfg.heads(),
        first.model.shard.kvHeads(cfg), cfg.kvHeads(), first.model.shard.ffn(cfg), cfg.ffn());
    for (GpuEngine e : engines) {
      out.printf(Locale.ROOT, "rank %d on GPU %d: kernels %d ms, weights %s made in %d ms%n", e.model.shard.rank(),
          e.device.ordinal(), e.compileMillis, human(e.model.weightBytes()), e.weightsMillis);
    }
    out.println("ops: " + (s.fused() ? "fused" : "one kernel per op") + (s.cublas() ? ", cuBLAS" : ", matvec kernel")
        + (first.kernels.dependent() ? "; programmatic dependent launches" : ""));
  }

  /** The table: one column per registration mode; the last lines in a fixed form for scripts. */
  static void print(PrintWriter out, int ranks, List<Run> runs) {
    out.println();
    String fmt = "%-44s" + "%28s".repeat(runs.size()) + "%n";
    List<Object> header = new ArrayList<>(List.of("pooled, --tp " + ranks));
    runs.forEach(r -> header.add(r.label()));
    out.printf(Locale.ROOT, fmt, header.toArray());
    row(out, fmt, "tokens (checksum)", runs, r -> r.first().ids().length + " (" + r.first().checksum() + ")");
    row(out, fmt, "  every rank the same tokens", runs, r -> r.ranksAgree() ? "yes" : "NO");
    row(out, fmt, "tokens per second", runs, r -> f("%.1f", r.first().tokensPerSecond()));
    row(out, fmt, "host time per token", runs, r -> f("%.1f us", r.first().hostMicrosPerToken()));
    row(out, fmt, "all-reduces per token", runs, r -> f("%.0f", r.first().ncclCallsPerToken()));
    for (int k = 0; k < ranks; k++) {
      int rank = k;
      row(out, fmt, "all-reduce per layer, rank " + rank + "*", runs, r -> allReduce(r.ranks().get(rank)));
    }
    for (int k = 0; k < ranks; k++) {
      int rank = k;
      row(out, fmt, "pool overhead per token, GPU " + rank + "**", runs,
          r -> f("%.2f us", r.ranks().get(rank).allocMicrosPerToken()));
    }
    row(out, fmt, "allocations per token (each GPU)", runs, r -> f("%.0f", r.first().allocationsPerToken()));
    row(out, fmt, "fresh device allocations (GPU 0)", runs, r -> r.first().freshAfterFirst() + " after token 0");
    row(out, fmt, "buffers registered with NCCL (GPU 0)", runs,
        r -> r.first().pool() == null ? "-" : String.valueOf(r.first().pool().registrations()));
    row(out, fmt, "peak scratch memory (pool, GPU 0)", runs, r -> human(r.first().peakScratchBytes()));
    row(out, fmt, "weights + KV cache (GPU 0)", runs, r -> human(r.first().modelBytes()));
    out.println("*   GPU time from an event before to one after each all-reduce (waiting for the other ranks"
        + " included),");
    out.printf(Locale.ROOT, "    attention's + feed-forward's, median over the layers of the last %d tokens%n",
        GpuRun.ALL_REDUCE_SAMPLES);
    out.println("**  allocating + recycling (opening and closing the token scope), median over the tokens,"
        + " the timer's cost removed");
    for (Run r : runs) {
      TpCollective.Times t = r.first().allReduce();
      out.printf(Locale.ROOT, "tp-result: tp=%d register=%s tokens=%d checksum=%s ranks_agree=%s tok_per_s=%.1f"
              + " allreduce_layer_us=%s pool_us_per_token=%s%n",
          ranks, r.registered() ? "on" : "off", r.first().ids().length, r.first().checksum(), r.ranksAgree(),
          r.first().tokensPerSecond(), t == null ? "-" : f("%.1f", t.perLayer()),
          String.join(",", r.ranks().stream().map(x -> f("%.2f", x.allocMicrosPerToken())).toList()));
    }
  }

  private static String allReduce(GpuRun.Result r) {
    TpCollective.Times t = r.allReduce();
    return t == null ? "-" : f("%.1f us", t.perLayer()) + f(" (%.1f + ", t.attention()) + f("%.1f)", t.feedForward());
  }

  private static String f(String format, double value) {
    return String.format(Locale.ROOT, format, value);
  }

  private static void row(PrintWriter out, String fmt, String name, List<Run> runs, Function<Run, String> cell) {
    List<Object> cells = new ArrayList<>(List.of(name));
    runs.forEach(r -> cells.add(cell.apply(r)));
    out.printf(Locale.ROOT, fmt, cells.toArray());
  }
}
