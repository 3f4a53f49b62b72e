package dev.mlxarena.examples.demo;

import dev.mlxarena.Buffer;
import dev.mlxarena.BucketPolicy;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.PoolStats;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaFence;
import dev.mlxarena.cuda.CudaMemoryPool;
import dev.mlxarena.cuda.CudaStream;
import dev.mlxarena.cuda.CudaTimeline;
import dev.mlxarena.cuda.PinnedHostBuffer;
import dev.mlxarena.reactive.DecodeLoop;
import dev.mlxarena.reactive.Step;
import dev.mlxarena.reactive.TokenEvent;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.IntConsumer;
import org.jspecify.annotations.Nullable;

/**
 * One GPU generation run of the demo in one allocation mode, and what it measured.
 *
 * <h2>The host runs ahead of the GPU</h2>
 * A step enqueues the token's kernels and returns; it never waits for them. The token id is never
 * needed on the host to go on: the argmax kernel writes it into a session buffer of ids on the
 * device, and the next step's embedding kernel reads it there. Each step also enqueues a 4-byte
 * copy of its id into pinned host memory and records a fence behind it; the host reads an id only
 * once its fence is {@code lag} steps old, waiting for it if the GPU is behind. So the host is at
 * most {@code lag + 1} tokens ahead: while the GPU runs token t, the host is already enqueuing
 * t + 1 (and with lag 2, t + 2), and the GPU never idles while the host prepares the next token
 * as long as the host is faster than the GPU. With lag 0 the host waits for every token before
 * starting the next, and the two take turns.
 *
 * <p>Running ahead is what makes stream-ordered reuse matter: when token t + 1 allocates, token t
 * is still queued or running. Buffers token t handed back on the stream may go to t + 1's kernels,
 * which the stream orders after t's; memory that waited for the GPU to catch up would have to
 * cover every token in flight. In the other modes the driver decides: {@code cuMemFree} waits for
 * the GPU (so the host cannot run ahead at all), {@code cuMemFreeAsync} is stream-ordered like
 * the pool.
 *
 * <h2>What is measured</h2>
 * <ul>
 *   <li>tokens per second: wall time of the whole loop, the final wait for the GPU included;
 *   <li>host time per token allocating and recycling: every allocation call timed (less the
 *       timer's own cost, measured once per run), plus for the pool the closing of the token
 *       scope (recording its fence and recycling) and for the driver modes the frees;
 *   <li>peak scratch memory as each allocator sees it: the pool's peak held bytes; for {@code
 *       cuMemAlloc} the most bytes live at once by the run's own count; for {@code
 *       cuMemAllocAsync} the driver pool's reserved high watermark;
 *   <li>peak device memory from {@code cuMemGetInfo}: sampled during the run (every eighth token,
 *       with the token's buffers live), less the memory in use before the engine made anything.
 * </ul>
 *
 * <h2>Profiling</h2>
 * With {@link Probe#profile()} the run also times, per token, every kernel launch and cuBLAS call
 * ({@link OpTimer}) and marks each token's start and end on the stream with timing events
 * ({@link CudaTimeline}); {@link GpuProfile} turns that into medians. What profiling adds to a
 * token is a clock read around each call and two event records. With {@link Probe#held()} the last
 * tokens are each enqueued behind a {@link StreamHolds hold}, so their marks time the GPU alone;
 * that slows the run down, so it is an extra run, never the measured one.
 */
final class GpuRun {
  /** The three allocation modes. */
  enum Mode {
    POOLED("pooled"),
    CU_MEM_ALLOC("cuMemAlloc"),
    CU_MEM_ALLOC_ASYNC("cuMemAllocAsync");

    final String label;

    Mode(String label) {
      this.label = label;
    }
  }

  /**
   * What to measure besides the run's own figures.
   *
   * @param profile time every launch and cuBLAS call, and mark each token on the stream
   * @param held how many of the last tokens to run behind a stream hold (with {@code profile})
   */
  record Probe(boolean profile, int held) {
    static final Probe NONE = new Probe(false, 0);
    static final Probe PROFILE = new Probe(true, 0);
  }

  /**
   * What one token cost the host, in nanoseconds: the step as the loop timed it (scope open and
   * close included); allocating; recycling (closing the token scope, or the driver modes' frees);
   * the launches and cuBLAS calls with how many there were (timed only when profiling); waiting
   * for read-back ids; and when the step started, for the intervals between tokens.
   */
  record TokenStat(long startNanos, long stepNanos, long allocNanos, long recycleNanos, int allocations,
      long requestedBytes, long launches, long launchNanos, long blasCalls, long blasNanos, long readbackNanos,
      long ncclCalls, long ncclNanos) {

    /** Allocating and recycling together. */
    long allocRecycleNanos() {
      return allocNanos + recycleNanos;
    }
  }

  /**
   * GPU times of a profiled run, in microseconds, from its timing events: from each token's start
   * to the next's, from each token's start to its end, and the same for the held tokens.
   */
  record GpuTimes(double[] intervals, double[] spans, double[] heldSpans, int holdsTimedOut) {}

  /**
   * The outcome of a run.
   *
   * @param allReduce what the sampled tokens' all-reduces took on the GPU (a rank of a
   *     tensor-parallel run); else null
   */
  record Result(
      Mode mode, List<TokenStat> tokens, int[] ids, long elapsedNanos, long timerNanos, long peakScratchBytes,
      long peakDeviceBytes, long modelBytes, @Nullable PoolStats pool, long freshAfterFirst, int lag,
      @Nullable GpuTimes gpu, TpCollective.@Nullable Times allReduce) {

    String checksum() {
      return DemoRun.checksum(ids);
    }

    double tokensPerSecond() {
      return tokens.size() / (elapsedNanos / 1e9);
    }

    /** Wall time per token on the host, in microseconds. */
    double hostMicrosPerToken() {
      return elapsedNanos / 1e3 / tokens.size();
    }

    double allocationsPerToken() {
      return tokens.stream().mapToInt(TokenStat::allocations).average().orElse(0);
    }

    /** Kernel launches and cuBLAS calls per token, on average. */
    double callsPerToken() {
      return tokens.stream().mapToLong(t -> t.launches() + t.blasCalls()).average().orElse(0);
    }

    /** NCCL collectives per token, on average. */
    double ncclCallsPerToken() {
      return tokens.stream().mapToLong(TokenStat::ncclCalls).average().orElse(0);
    }

    /** Median over the tokens of the host time allocating and recycling, timer cost removed. */
    double allocMicrosPerToken() {
      long[] t = tokens.stream()
          .mapToLong(s -> Math.max(0, s.allocRecycleNanos() - s.allocations() * timerNanos))
          .sorted().toArray();
      return t.length == 0 ? 0 : t[t.length / 2] / 1e3;
    }

    /** Allocating and recycling as a share of the token's host time. */
    double allocShare() {
      return allocMicrosPerToken() / hostMicrosPerToken();
    }

    /** One token's scratch, as requested. */
    long requestedPerToken() {
      return tokens.stream().mapToLong(TokenStat::requestedBytes).max().orElse(0);
    }
  }

  private record State(int pos, GpuTransformer.KvCache kv, long ids) {}

  private record Pending(CudaFence fence, int pos) {}

  /** A step's own measurements, carried to the subscriber with the id that became readable. */
  private record Gen(int ready, long startNanos, long allocNanos, long freeNanos, int allocations, long bytes,
      long inStepNanos, long launches, long launchNanos, long blasCalls, long blasNanos, long readbackNanos,
      long ncclCalls, long ncclNanos) {}

  /**
   * How many tokens' all-reduces a rank of a tensor-parallel run times on the GPU: the run's last
   * ones (a few dozen events on the stream, so every run does it).
   */
  static final int ALL_REDUCE_SAMPLES = 8;

  private GpuRun() {}

  /**
   * Generates {@code tokens} tokens from the start token {@code seed mod vocab} with {@code
   * engine}'s model in {@code mode}.
   *
   * @param lag how many steps old a token's fence is when the host reads its id (0: at once)
   * @param poison the pool poisons recycled buffers ({@link PoolOptions#isPoisonOnRecycle()})
   */
  static Result run(GpuEngine engine, Mode mode, BucketPolicy policy, boolean poison, int tokens, int lag,
      long seed, IntConsumer progress) {
    return run(engine, mode, policy, poison, tokens, lag, seed, Probe.NONE, progress);
  }

  /** {@link #run} with {@code probe}'s measurements besides. */
  static Result run(GpuEngine engine, Mode mode, BucketPolicy policy, boolean poison, int tokens, int lag,
      long seed, Probe probe, IntConsumer progress) {
    if (lag < 0) {
      throw new IllegalArgumentException("the readback lag must be at least 0, was " + lag);
    }
    CudaDevice device = engine.device;
    CudaStream stream = engine.stream;
    GpuTransformer model = engine.model;
    ModelConfig cfg = model.cfg;
    if (tokens > cfg.context()) {
      throw new IllegalArgumentException(tokens + " tokens do not fit the " + cfg.context() + "-position KV cache");
    }
    long timer = timerCost();
    OpTimer ops = engine.ops;
    GpuKernels kernels = engine.kernels;
    int held = probe.profile() ? Math.min(probe.held(), tokens) : 0;
    TpCollective collective = engine.collective;
    int samples = collective != null ? Math.min(ALL_REDUCE_SAMPLES, tokens - 1) : 0;
    CudaMemoryPool mempool = mode == Mode.CU_MEM_ALLOC_ASYNC ? CudaMemoryPool.defaultOf(device) : null;
    if (mempool != null) {
      mempool.setReleaseThreshold(CudaMemoryPool.KEEP_ALL);
      mempool.trimTo(0);
      mempool.resetHighWatermarks();
    }
    long[] live = new long[2];
    long[] peakUsed = new long[1];
    ArrayDeque<Pending> pending = new ArrayDeque<>();
    int start = (int) Math.floorMod(seed, (long) cfg.vocab());
    PoolOptions options = PoolOptions.builder().bucketPolicy(policy).poisonOnRecycle(poison).build();
    ops.timing(probe.profile());
    if (collective != null) {
      collective.timeTokens(samples);
    }
    try (BufferPool pool = engine.pool(options);
        PinnedHostBuffer hostIds = PinnedHostBuffer.allocate(device, 4L * (tokens + 1));
        CudaTimeline marks = probe.profile() ? CudaTimeline.create(stream, 2 * tokens) : null;
        StreamHolds holds = held > 0 ? new StreamHolds(device, held) : null) {
      DecodeLoop.Builder<State, Gen> builder = DecodeLoop.<State, Gen>builder(pool, (scope, st) -> {
        long t0 = System.nanoTime();
        long launches = ops.launches;
        long launchNanos = ops.launchNanos;
        long blasCalls = ops.blasCalls;
        long blasNanos = ops.blasNanos;
        long ncclCalls = ops.ncclCalls;
        long ncclNanos = ops.ncclNanos;
        GpuScratch s = switch (mode) {
          case POOLED -> new GpuScratch.Pooled(scope);
          case CU_MEM_ALLOC -> new GpuScratch.Driver(device, live);
          case CU_MEM_ALLOC_ASYNC -> new GpuScratch.DriverAsync(stream);
        };
        int pos = st.pos();
        int slot = pos - (tokens - held);
        if (holds != null && slot >= 0) {
          holds.arm(kernels, slot);
        }
        if (marks != null) {
          marks.mark(2 * pos);
        }
        if (collective != null) {
          collective.sample(pos >= tokens - samples ? pos - (tokens - samples) : -1);
        }
        long next = st.ids() + 4L * (pos + 1);
        model.forward(pos, st.ids(), st.kv(), s, stream);
        if (marks != null) {
          marks.mark(2 * pos + 1);
        }
        if (holds != null && slot >= 0) {
          holds.release(slot);
        }
        stream.copyToHost(hostIds, 4L * (pos + 1), next, 4);
        pending.add(new Pending(stream.recordFence(), pos));
        if (pos % 8 == 0) {
          peakUsed[0] = Math.max(peakUsed[0], GpuEngine.usedBytes(device));
        }
        s.endToken();
        long r0 = System.nanoTime();
        int ready = -1;
        while (pending.size() > lag) {
          Pending p = pending.poll();
          p.fence().await();
          p.fence().close();
          ready = hostIds.getInt(4L * (p.pos() + 1));
        }
        long t1 = System.nanoTime();
        return Step.of(new State(pos + 1, st.kv(), st.ids()), new Gen(ready, t0, s.nanos, s.freeNanos, s.count,
            s.bytes, t1 - t0, ops.launches - launches, ops.launchNanos - launchNanos, ops.blasCalls - blasCalls,
            ops.blasNanos - blasNanos, t1 - r0, ops.ncclCalls - ncclCalls, ops.ncclNanos - ncclNanos));
      }).initialState(session -> {
        GpuTransformer.KvCache kv = session.own(model.kvCache(device));
        Buffer ids = session.own(Buffer.allocOwned(device, 4L * (tokens + 1), DType.I32, tokens + 1));
        ids.copyFrom(new int[] {start});
        // Closed first when the loop ends: nothing is freed while the GPU may still use it.
        AutoCloseable waitForGpu = () -> drain(stream, pending);
        session.own(waitForGpu);
        return new State(0, kv, ids.nativeHandle());
      }).maxTokens(tokens);
      if (mode == Mode.POOLED) {
        builder.stream(stream);
      }
      DecodeLoop<State, Gen> loop = builder.build();
      long t0 = System.nanoTime();
      List<TokenEvent<Gen>> events = Objects.requireNonNull(loop.events()
          .doOnNext(e -> progress.accept((int) e.index() + 1))
          .collectList()
          .block(Duration.ofHours(1)));
      long elapsed = System.nanoTime() - t0;
      peakUsed[0] = Math.max(peakUsed[0], GpuEngine.usedBytes(device));
      List<TokenStat> stats = new ArrayList<>(events.size());
      long fresh = 0;
      for (TokenEvent<Gen> e : events) {
        Gen g = e.token();
        // Pooled: the token scope is opened and closed by the loop, around the step: its time is
        // recycling. The driver modes free in the step.
        long recycle = mode == Mode.POOLED ? Math.max(0, e.stepTime().toNanos() - g.inStepNanos()) : g.freeNanos();
        stats.add(new TokenStat(g.startNanos(), e.stepTime().toNanos(), g.allocNanos(), recycle, g.allocations(),
            g.bytes(), g.launches(), g.launchNanos(), g.blasCalls(), g.blasNanos(), g.readbackNanos(), g.ncclCalls(),
            g.ncclNanos()));
        if (e.index() > 0) {
          fresh += e.poolDelta().freshAllocations();
        }
      }
      GpuTimes gpu = marks == null ? null : gpuTimes(marks, tokens, held, holds);
      TpCollective.Times allReduce = collective == null ? null : TpCollective.Times.of(collective.times(samples));
      int[] ids = new int[tokens];
      for (int i = 0; i < tokens; i++) {
        ids[i] = hostIds.getInt(4L * (i + 1));
      }
      PoolStats poolStats = mode == Mode.POOLED ? pool.stats() : null;
      long peakScratch = switch (mode) {
        case POOLED -> Objects.requireNonNull(poolStats).peakHeldBytes();
        case CU_MEM_ALLOC -> live[1];
        case CU_MEM_ALLOC_ASYNC -> Objects.requireNonNull(mempool).reservedHighWatermark();
      };
      if (mempool != null) {
        mempool.trimTo(0);
      }
      long modelBytes = model.weightBytes() + model.kvBytes();
      return new Result(mode, stats, ids, elapsed, timer, peakScratch, peakUsed[0] - engine.baselineUsedBytes,
          modelBytes, poolStats, fresh, lag, gpu, allReduce);
    } finally {
      ops.timing(false);
      if (collective != null) {
        collective.stopTiming();
      }
    }
  }

  /** The GPU times between a finished run's marks (the stream has passed them all). */
  private static GpuTimes gpuTimes(CudaTimeline marks, int tokens, int held, @Nullable StreamHolds holds) {
    double[] intervals = new double[Math.max(0, tokens - 1)];
    double[] spans = new double[tokens];
    for (int t = 0; t < tokens; t++) {
      spans[t] = marks.microsBetween(2 * t, 2 * t + 1);
      if (t + 1 < tokens) {
        intervals[t] = marks.microsBetween(2 * t, 2 * t + 2);
      }
    }
    double[] heldSpans = Arrays.copyOfRange(spans, tokens - held, tokens);
    return new GpuTimes(intervals, spans, heldSpans, holds == null ? 0 : holds.timedOut());
  }

  /** Waits for the stream and gives every pending fence back. */
  private static void drain(CudaStream stream, ArrayDeque<Pending> pending) {
    stream.synchronize();
    while (!pending.isEmpty()) {
      pending.poll().fence().close();
    }
  }

  /** The median cost of one {@link System#nanoTime()} pair, which every timed call carries. */
  static long timerCost() {
    long[] d = new long[2001];
    for (int i = 0; i < d.length; i++) {
      long a = System.nanoTime();
      d[i] = System.nanoTime() - a;
    }
    Arrays.sort(d);
    return d[d.length / 2];
  }
}
