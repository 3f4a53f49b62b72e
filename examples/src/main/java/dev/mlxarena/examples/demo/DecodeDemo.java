package dev.mlxarena.examples.demo;

import dev.mlxarena.BucketPolicy;
import dev.mlxarena.DType;
import dev.mlxarena.DeviceUnavailableException;
import dev.mlxarena.Devices;
import dev.mlxarena.PoolStats;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaStorage;
import dev.mlxarena.metal.MetalDevice;
import dev.mlxarena.spi.Device;
import dev.mlxarena.PoolExhaustedException;
import dev.mlxarena.PoolOptions;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code mlx-arena-demo}: generates tokens with a small transformer, one token scope per token,
 * and shows what the pool saves. Run it with {@code java -jar examples/target/mlx-arena-demo.jar}.
 */
@Command(
    name = "mlx-arena-demo",
    mixinStandardHelpOptions = true,
    version = "mlx-arena-demo 0.1.0",
    sortOptions = false,
    description = {
      "Generates tokens greedily with a small decoder-only transformer through a DecodeLoop,",
      "one token scope per token, the KV cache in owned buffers, and reports what the pool saves.",
      "On CUDA every op runs as a GPU kernel on device memory, token scopes on one stream."
    })
public final class DecodeDemo implements Callable<Integer> {
  static final int EXIT_UNAVAILABLE = 3;
  static final int EXIT_FAILED = 1;

  @Spec private CommandSpec spec;

  @Option(names = "--backend", defaultValue = "auto", paramLabel = "NAME",
      description = "auto, host, metal, cuda (kernels on the GPU) or sim (the Metal code path over the portable shim). Default: ${DEFAULT-VALUE}.")
  private String backend = "auto";

  @Option(names = "--model", defaultValue = "tiny", paramLabel = "tiny|llama-1b",
      description = "tiny: the shape the options below give, F32; llama-1b: hidden 2048, 16 layers, 32 heads (8 KV heads),"
          + " FFN 8192, vocab 32000, BF16, random weights made on the GPU (about 2.2 GB; --backend cuda). Default: ${DEFAULT-VALUE}.")
  private String model = "tiny";

  @Option(names = "--tokens", defaultValue = "200", description = "Tokens to generate. Default: ${DEFAULT-VALUE}.")
  private int tokens = 200;

  @Option(names = "--layers", defaultValue = "6", description = "Decoder layers. Default: ${DEFAULT-VALUE}.")
  private int layers = 6;

  @Option(names = "--hidden", defaultValue = "256", description = "Model width. Default: ${DEFAULT-VALUE}.")
  private int hidden = 256;

  @Option(names = "--heads", defaultValue = "8", description = "Attention heads. Default: ${DEFAULT-VALUE}.")
  private int heads = 8;

  @Option(names = "--kv-heads", paramLabel = "N", description = "Key/value heads (grouped-query attention). Default: as many as --heads.")
  private @Nullable Integer kvHeads;

  @Option(names = "--vocab", defaultValue = "1024", description = "Vocabulary size. Default: ${DEFAULT-VALUE}.")
  private int vocab = 1024;

  @Option(names = "--policy", defaultValue = "pow2", paramLabel = "pow2|classes",
      description = "Bucket policy: pow2 (power-of-two buckets) or classes (4 size classes per doubling). Default: ${DEFAULT-VALUE}.")
  private String policy = "pow2";

  @Option(names = "--no-pool", description = "Allocate every scratch buffer from the device and free it at the end of its token.")
  private boolean noPool;

  @Option(names = "--compare", description = "Run pooled and unpooled back to back and print both (on CUDA: pooled, cuMemAlloc and cuMemAllocAsync).")
  private boolean compare;

  @Option(names = "--alloc", defaultValue = "pool", paramLabel = "pool|cumemalloc|async",
      description = "CUDA: where each op's output comes from: the pool (token scopes on the stream), cuMemAlloc/cuMemFree, or cuMemAllocAsync/cuMemFreeAsync. Default: ${DEFAULT-VALUE}.")
  private String alloc = "pool";

  @Option(names = "--matmul", defaultValue = "kernel", paramLabel = "kernel|cublas",
      description = "CUDA: matrix-vector products through the demo's own kernels or cuBLAS (which costs the host"
          + " several microseconds more per call). Default: ${DEFAULT-VALUE}.")
  private String matmul = "kernel";

  @Option(names = "--fuse", description = "CUDA: fused ops where an eager engine fuses them: one QKV product,"
      + " gate and up with SwiGLU, attention in one kernel, residual adds in the products (8 kernels a layer"
      + " instead of 16).")
  private boolean fuse;

  @Option(names = "--pdl", description = "CUDA: launch the decode kernels as programmatic dependent launches"
      + " (compute capability 9.0 and up): each may start while the one before it finishes.")
  private boolean pdl;

  @Option(names = "--profile", description = "CUDA: print where a token's time goes: the host's time split into"
      + " launches, cuBLAS calls, allocating, recycling, read-back waits and the rest, and the GPU's time per token"
      + " from events (and, from an extra run, the GPU alone).")
  private boolean profile;

  @Option(names = "--readback-lag", defaultValue = "2", paramLabel = "N",
      description = "CUDA: the host reads each token's id N steps after enqueuing it, running ahead of the GPU meanwhile (0: wait for every token). Default: ${DEFAULT-VALUE}.")
  private int readbackLag = 2;

  @Option(names = "--poison", description = "Pool option poisonOnRecycle: fill every recycled buffer with NaN.")
  private boolean poison;

  @Option(names = "--report", paramLabel = "FILE.png", description = "Write a chart of per-token time and pool bytes.")
  private @Nullable Path report;

  @Option(names = "--seed", defaultValue = "42", description = "Seed of the weights and the first token. Default: ${DEFAULT-VALUE}.")
  private long seed = 42;

  @Option(names = "--memory-limit", defaultValue = "4g", paramLabel = "BYTES",
      description = "The pool's memory limit: bytes of scratch it may hold from the device; a model whose weights"
          + " and KV cache alone exceed it is refused before the run (k, m, g suffixes). Default: ${DEFAULT-VALUE}.")
  private String memoryLimit = "4g";

  @Option(names = "--no-progress", description = "No progress bar (for logs and scripts).")
  private boolean noProgress;

  @Option(names = "--tp", defaultValue = "1", paramLabel = "N",
      description = "CUDA: tensor parallelism over N GPUs (Megatron-style, NCCL all-reduces, one pool, stream and"
          + " thread per GPU; pooled). Default: ${DEFAULT-VALUE}.")
  private int tp = 1;

  @Option(names = "--nccl-register", defaultValue = "both", paramLabel = "on|off|both",
      description = "With --tp: register the pools' buffers with NCCL (on), not (off), or measure both. Default:"
          + " ${DEFAULT-VALUE}.")
  private String ncclRegister = "both";

  /** Whether the progress bar may redraw its line: only on a terminal, never into a pipe or a file. */
  private final boolean terminal;

  private DecodeDemo(boolean terminal) {
    this.terminal = terminal;
  }

  public static void main(String[] args) {
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true),
        System.console() != null));
  }

  /**
   * Runs the demo with {@code args}, printing to {@code out} and {@code err}, a progress bar only
   * when {@code terminal}; returns the exit code. A bad option or a failure the user can act on
   * prints one line, {@code error: ...}, with a hint to {@code --help}; no usage dump, no stack trace.
   */
  static int run(String[] args, PrintWriter out, PrintWriter err, boolean terminal) {
    CommandLine cli = new CommandLine(new DecodeDemo(terminal));
    cli.setOut(out);
    cli.setErr(err);
    cli.setParameterExceptionHandler((e, given) -> {
      e.getCommandLine().getErr().println(errorLine(e.getMessage(), true));
      return e.getCommandLine().getCommandSpec().exitCodeOnInvalidInput();
    });
    cli.setExecutionExceptionHandler(
        (e, cmd, parsed) -> {
          if (e instanceof DeviceUnavailableException) {
            cmd.getErr().println(errorLine(e.getMessage(), false));
            return EXIT_UNAVAILABLE;
          }
          if (e instanceof PoolExhaustedException) {
            cmd.getErr().println(errorLine("the pool reached --memory-limit: " + e.getMessage(), true));
            return EXIT_FAILED;
          }
          if (e instanceof IOException) {
            cmd.getErr().println(errorLine(e.toString(), false));
            return EXIT_FAILED;
          }
          throw e;
        });
    return cli.execute(args);
  }

  /** Runs with the standard streams' writers, as from a pipe: no progress bar. */
  static int run(String[] args, PrintWriter out, PrintWriter err) {
    return run(args, out, err, false);
  }

  /** {@code message} on one line, prefixed {@code error:}, with a pointer to {@code --help} if asked. */
  static String errorLine(@Nullable String message, boolean hint) {
    String text = message == null ? "failed" : String.join("; ", message.strip().lines().map(String::strip).toList());
    return "error: " + text + (hint ? " (see --help)" : "");
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    boolean llama = switch (model) {
      case "tiny" -> false;
      case "llama-1b" -> true;
      default -> throw new ParameterException(spec.commandLine(),
          "unknown --model '" + model + "': choose tiny or llama-1b");
    };
    ModelConfig cfg;
    try {
      if (tokens < 1) {
        throw new IllegalArgumentException("--tokens must be at least 1, was " + tokens);
      }
      if (readbackLag < 0) {
        throw new IllegalArgumentException("--readback-lag must be at least 0, was " + readbackLag);
      }
      if (llama) {
        for (String shape : List.of("--layers", "--hidden", "--heads", "--kv-heads", "--vocab")) {
          if (spec.commandLine().getParseResult().hasMatchedOption(shape)) {
            throw new IllegalArgumentException("--model llama-1b fixes the shape: drop " + shape);
          }
        }
        cfg = ModelConfig.llama1b(tokens);
      } else {
        cfg = new ModelConfig(vocab, hidden, layers, heads, kvHeads == null ? heads : kvHeads, ffnOf(hidden), tokens);
      }
      if (report != null) {
        Report.checkWritable(report);
      }
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    long limit;
    try {
      limit = parseBytes(memoryLimit);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--memory-limit: " + e.getMessage());
    }
    DType dtype = llama ? DType.BF16 : DType.F32;
    int most = GpuKernels.attentionPositions(cfg.headDim(), dtype);
    if (fuse && cfg.context() > most) {
      throw new ParameterException(spec.commandLine(), "--fuse: the fused attention kernel keeps every position's"
          + " score in shared memory, so it takes at most " + most + " positions; --tokens " + tokens + " is more");
    }
    long needed = cfg.modelBytes(dtype.byteSize());
    if (needed > limit) {
      throw new ParameterException(spec.commandLine(), String.format(Locale.ROOT,
          "the model needs %s of weights and KV cache, over the memory limit of %s: use smaller"
              + " --hidden/--layers/--vocab/--tokens, or raise --memory-limit", human(needed), human(limit)));
    }
    BucketPolicy bucketPolicy = switch (policy) {
      case "pow2" -> BucketPolicy.powerOfTwo();
      case "classes" -> BucketPolicy.sizeClasses(4);
      default -> throw new ParameterException(spec.commandLine(),
          "unknown --policy '" + policy + "': choose pow2 or classes");
    };
    if (tp != 1) {
      try {
        Shard.check(cfg, tp);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      if (!backend.equalsIgnoreCase("cuda")) {
        throw new ParameterException(spec.commandLine(), "--tp runs on CUDA GPUs only: add --backend cuda");
      }
    }
    if (onGpu(llama)) {
      try {
        return runOnGpu(out, cfg, dtype, bucketPolicy);
      } catch (DeviceUnavailableException e) {
        if (llama || !backend.equalsIgnoreCase("auto")) {
          throw e;
        }
        spec.commandLine().getErr().println("note: the CUDA GPU here cannot run the demo's kernels ("
            + Objects.requireNonNullElse(e.getMessage(), "").lines().findFirst().orElse("") + "); running on the host instead");
      }
    }
    List<DemoRun.Mode> modes = compare
        ? List.of(DemoRun.Mode.POOLED, DemoRun.Mode.UNPOOLED)
        : List.of(noPool ? DemoRun.Mode.UNPOOLED : DemoRun.Mode.POOLED);
    PoolOptions options = PoolOptions.builder()
        .bucketPolicy(bucketPolicy).poisonOnRecycle(poison).memoryLimit(limit).build();
    List<DemoRun.Result> results = new ArrayList<>();
    try (Device device = openBackend(backend)) {
      out.printf(Locale.ROOT, "mlx-arena demo: %d layers, hidden %d, %d heads (%d KV heads), FFN %d, vocab %d; %d tokens on %s"
              + " (%s, pool memory limit %s)%n",
          cfg.layers(), cfg.hidden(), cfg.heads(), cfg.kvHeads(), cfg.ffn(), cfg.vocab(), tokens, device.name(), bucketPolicy,
          human(options.getMemoryLimit()));
      // An unreported warm-up in each mode first, so neither measured run pays for JIT compiling
      // the kernels (which would flatter whichever ran second).
      ModelConfig warmCfg = cfg.withContext(Math.min(tokens, 24));
      for (DemoRun.Mode mode : modes) {
        DemoRun.run(device, mode, options, warmCfg, warmCfg.context(), seed, t -> {});
      }
      for (DemoRun.Mode mode : modes) {
        results.add(generate(device, mode, options, cfg));
      }
    }
    summary(out, results);
    if (report != null) {
      String title = String.format(Locale.ROOT, "%s; %d tokens on %s, policy %s", cfg.describe(), tokens,
          results.get(0).device(), bucketPolicy);
      Report.write(report, title, results.stream().map(Report.Series::of).toList());
      out.println("report written to " + report);
    }
    return 0;
  }

  /**
   * Whether this run goes to the GPU: {@code --backend cuda}, or {@code auto} on a machine with
   * a CUDA GPU and no Metal. {@code --model llama-1b} runs there only.
   */
  private boolean onGpu(boolean llama) {
    String b = backend.toLowerCase(Locale.ROOT);
    boolean gpu = b.equals("cuda") || (b.equals("auto") && !metalPresent() && cudaPresent());
    if (llama && !gpu) {
      throw new ParameterException(spec.commandLine(), "--model llama-1b runs on a CUDA GPU only (--backend cuda)"
          + (b.equals("auto") ? ", and none is usable here" : ", not on '" + backend + "'"));
    }
    return gpu;
  }

  private static boolean metalPresent() {
    try (Device d = MetalDevice.open()) {
      return true;
    } catch (DeviceUnavailableException e) {
      return false;
    }
  }

  private static boolean cudaPresent() {
    try {
      return CudaDevice.deviceCount() > 0;
    } catch (DeviceUnavailableException e) {
      return false;
    }
  }

  private Integer runOnGpu(PrintWriter out, ModelConfig cfg, DType dtype, BucketPolicy bucketPolicy) throws Exception {
    List<GpuRun.Mode> modes;
    if (compare) {
      modes = List.of(GpuRun.Mode.POOLED, GpuRun.Mode.CU_MEM_ALLOC, GpuRun.Mode.CU_MEM_ALLOC_ASYNC);
    } else {
      modes = List.of(switch (noPool ? "cumemalloc" : alloc) {
        case "pool" -> GpuRun.Mode.POOLED;
        case "cumemalloc" -> GpuRun.Mode.CU_MEM_ALLOC;
        case "async" -> GpuRun.Mode.CU_MEM_ALLOC_ASYNC;
        default -> throw new ParameterException(spec.commandLine(),
            "unknown --alloc '" + alloc + "': choose pool, cumemalloc or async");
      });
    }
    boolean cublas = switch (matmul) {
      case "cublas" -> true;
      case "kernel" -> false;
      default -> throw new ParameterException(spec.commandLine(),
          "unknown --matmul '" + matmul + "': choose kernel or cublas");
    };
    GpuDemo.Settings settings = new GpuDemo.Settings(model, cfg, dtype, bucketPolicy, modes, cublas, fuse, pdl, poison,
        tokens, readbackLag, seed, profile, !noProgress, report);
    if (tp > 1) {
      if (!modes.equals(List.of(GpuRun.Mode.POOLED))) {
        throw new ParameterException(spec.commandLine(), "--tp " + tp + " runs pooled only: drop --compare, --no-pool"
            + " and --alloc");
      }
      List<Boolean> register = switch (ncclRegister) {
        case "on" -> List.of(true);
        case "off" -> List.of(false);
        case "both" -> List.of(false, true);
        default -> throw new ParameterException(spec.commandLine(),
            "unknown --nccl-register '" + ncclRegister + "': choose on, off or both");
      };
      TpDemo.run(out, settings, tp, register);
      return 0;
    }
    GpuDemo.run(out, settings);
    return 0;
  }

  /**
   * One measured run. On a terminal a progress bar redraws one line of {@code err}; into a pipe or
   * a file, where redrawn frames would pile up on one line, the run prints one line when it ends,
   * its tokens per second the table's.
   */
  private DemoRun.Result generate(Device device, DemoRun.Mode mode, PoolOptions options, ModelConfig cfg) {
    String label = mode == DemoRun.Mode.POOLED ? "pooled" : "unpooled";
    PrintWriter err = spec.commandLine().getErr();
    if (noProgress || !terminal) {
      DemoRun.Result r = DemoRun.run(device, mode, options, cfg, tokens, seed, t -> {});
      if (!noProgress) {
        err.printf(Locale.ROOT, "%s: %d tokens, %.1f tok/s%n", label, r.tokens().size(), r.tokensPerSecond());
      }
      return r;
    }
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName(String.format("%-8s", label)).setInitialMax(tokens)
        .setStyle(ProgressBarStyle.ASCII).setUnit(" tok", 1).showSpeed().build()) {
      IntConsumer progress = bar::stepTo;
      return DemoRun.run(device, mode, options, cfg, tokens, seed, progress);
    }
  }

  /** The feed-forward width of the tiny model, 4 x {@code hidden}, refused where it overflows an int. */
  static int ffnOf(int hidden) {
    try {
      return Math.multiplyExact(4, hidden);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("--hidden " + hidden + " is too large: the feed-forward width, 4 x --hidden,"
          + " must fit in an int (at most " + Integer.MAX_VALUE / 4 + ")");
    }
  }

  /**
   * Opens the named backend for the CPU model: Metal in host-visible memory; CUDA here means
   * pinned host memory the GPU maps ({@code --backend cuda} itself runs the GPU model instead).
   */
  static Device openBackend(String name) {
    switch (name.toLowerCase(Locale.ROOT)) {
      case "cuda":
        return CudaDevice.open(0, CudaStorage.SHARED);
      case "auto":
        try {
          return MetalDevice.open();
        } catch (DeviceUnavailableException noMetal) {
          return Devices.open("host");
        }
      case "host":
      case "metal":
      case "sim":
        try {
          return Devices.open(name);
        } catch (DeviceUnavailableException e) {
          throw new DeviceUnavailableException("backend '" + name + "' is not available here: " + e.getMessage(), e);
        }
      default:
        throw new DeviceUnavailableException(
            "unknown backend '" + name + "': choose auto, host, metal, cuda or sim");
    }
  }

  private static void summary(PrintWriter out, List<DemoRun.Result> results) {
    out.println();
    Table table = new Table(results.stream().map(r -> r.mode() == DemoRun.Mode.POOLED ? "pooled" : "unpooled").toList());
    table.row("tokens (checksum)", results, r -> r.tokens().size() + " (" + r.checksum() + ")");
    table.row("tokens per second", results, r -> String.format(Locale.ROOT, "%.1f", r.tokensPerSecond()));
    table.row("allocations per token", results, r -> String.format(Locale.ROOT, "%.0f", r.allocationsPerToken()));
    table.row("allocating + recycling per token*", results,
        r -> String.format(Locale.ROOT, "%.1f us", r.allocMicrosPerToken()));
    table.row("reuse hit rate", results, r -> r.mode() == DemoRun.Mode.POOLED
        ? String.format(Locale.ROOT, "%.1f %%", 100 * r.reuseRate()) : "-");
    table.row("fresh device allocations", results, r -> r.mode() == DemoRun.Mode.POOLED
        ? (r.freshAfterWarmup() + " after token 0") : (long) r.allocationsPerToken() * r.tokens().size() + "");
    table.row("scratch requested per token", results, r -> human(r.requestedPerToken()));
    table.row("scratch held by the pool", results, r -> r.mode() == DemoRun.Mode.POOLED
        ? human(r.pool().heldBytes()) : "-");
    table.row("peak pool bytes (active / held)", results, r -> {
      PoolStats p = r.pool();
      return r.mode() == DemoRun.Mode.POOLED ? human(p.peakActiveBytes()) + " / " + human(p.peakHeldBytes()) : "-";
    });
    table.row("weights + KV cache", results, r -> human(r.modelBytes()));
    table.print(out);
    out.println("* median over the tokens, the timer's own cost included");
    if (results.size() == 2) {
      out.println();
      out.println(verdict(results.get(0), results.get(1)));
    }
  }

  /**
   * What {@code --compare} concludes, whichever run was faster: allocation cost per token, then
   * tokens per second, then whether both generated the same tokens.
   */
  static String verdict(DemoRun.Result pooled, DemoRun.Result unpooled) {
    double alloc = unpooled.allocMicrosPerToken() / Math.max(1e-9, pooled.allocMicrosPerToken());
    String allocation = alloc >= 1
        ? String.format(Locale.ROOT, "pooled allocation is %.1fx faster per token", alloc)
        : String.format(Locale.ROOT, "pooled allocation is %.1fx slower per token", 1 / alloc);
    double speed = pooled.tokensPerSecond() / Math.max(1e-9, unpooled.tokensPerSecond());
    String tokens = speed >= 1
        ? String.format(Locale.ROOT, "pooled generates %.1f%% more tokens per second", 100 * (speed - 1))
        : String.format(Locale.ROOT, "unpooled generates %.1f%% more tokens per second (allocation is a small"
            + " share of a token on %s)", 100 * (1 / speed - 1), pooled.device());
    String same = pooled.checksum().equals(unpooled.checksum()) ? "yes (" + pooled.checksum() + ")" : "NO";
    return "verdict: " + allocation + "; " + tokens + "; same tokens: " + same;
  }

  private interface Cell {
    String of(DemoRun.Result r);
  }

  /** The summary table: a label column, then one right-aligned column per run, each as wide as its widest cell. */
  static final class Table {
    private final List<List<String>> rows = new ArrayList<>();

    Table(List<String> header) {
      List<String> first = new ArrayList<>(List.of(""));
      first.addAll(header);
      rows.add(first);
    }

    private void row(String name, List<DemoRun.Result> rs, Cell cell) {
      List<String> cells = new ArrayList<>(List.of(name));
      rs.forEach(r -> cells.add(cell.of(r)));
      add(cells);
    }

    void add(List<String> cells) {
      rows.add(cells);
    }

    void print(PrintWriter out) {
      int columns = rows.get(0).size();
      int[] width = new int[columns];
      for (List<String> r : rows) {
        for (int c = 0; c < columns; c++) {
          width[c] = Math.max(width[c], r.get(c).length());
        }
      }
      for (List<String> r : rows) {
        StringBuilder line = new StringBuilder(String.format("%-" + width[0] + "s", r.get(0)));
        for (int c = 1; c < columns; c++) {
          line.append("   ").append(String.format("%" + width[c] + "s", r.get(c)));
        }
        out.println(line);
      }
    }
  }

  static long parseBytes(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    long mult = 1;
    if (t.endsWith("k") || t.endsWith("m") || t.endsWith("g")) {
      mult = t.endsWith("k") ? 1L << 10 : t.endsWith("m") ? 1L << 20 : 1L << 30;
      t = t.substring(0, t.length() - 1);
    }
    try {
      long v = Long.parseLong(t);
      if (v <= 0) {
        throw new NumberFormatException();
      }
      return Math.multiplyExact(v, mult);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("not a positive byte count: '" + s + "' (examples: 512m, 4g)");
    }
  }

  static String human(long bytes) {
    if (bytes >= 1L << 30) {
      return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
    if (bytes >= 1L << 20) {
      return String.format(Locale.ROOT, "%.2f MiB", bytes / (double) (1L << 20));
    }
    if (bytes >= 1L << 10) {
      return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
    }
    return bytes + " B";
  }
}
