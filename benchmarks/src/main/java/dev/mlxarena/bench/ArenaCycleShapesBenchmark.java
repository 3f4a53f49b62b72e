package dev.mlxarena.bench;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.PoolStats;
import dev.mlxarena.Scope;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * {@link ArenaCycleBenchmark}'s pool cycle on the trace {@linkplain Traces shapes} real decoding
 * produces: one invocation is the next token of the shape's ring (every allocation, then the
 * scope's close; two scopes for {@code interleaved}), on {@link HostDevice}; figures are per
 * allocation. {@code static} replays the decode trace as {@code ArenaCycleBenchmark.pool} does,
 * through the same ring, so it is the baseline each shape compares with in the same run.
 *
 * <p>Beside the time, {@link Ring} counts how the allocations were served (see its comment): reuse
 * hits, and allocations that took the pool's lock. Its setup replays the ring once, so that every
 * bucket a shape needs is held before warm-up starts and a miss in the measurement is a real one.
 */
public class ArenaCycleShapesBenchmark extends TokenTimed {

  /**
   * One shape's ring of tokens and a pool that replays them. Its public fields are JMH's auxiliary
   * counters, from the pool's statistics taken around each iteration: JMH sums them over the
   * measured iterations, so the summary's {@code misses / allocs} is the share of allocations that
   * found no free buffer, and {@code locked / allocs} the share that took the pool's lock (the
   * shared path) because the scope's own reserve had nothing of the bucket.
   */
  @State(org.openjdk.jmh.annotations.Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Ring {
    @Param({"static", "growing", "moe", "shuffled", "interleaved"})
    String shape; // not public: the public fields are the counters

    /** Allocations in the iteration. */
    public long allocs;
    /** Allocations that went to the device: {@code allocations - reuseHits}. */
    public long misses;
    /** Allocations under the pool's lock. */
    public long locked;

    private long[][] tokens;
    private boolean twoScopes;
    private int next;
    private Device device;
    private BufferPool pool;
    private PoolStats before;

    /** Opens the pool and replays the ring once, so that every bucket the shape needs is held. */
    @Setup(Level.Trial)
    public void setUp(Blackhole bh) {
      tokens = Traces.shape(shape);
      twoScopes = Traces.twoScopes(shape);
      device = HostDevice.create();
      pool = BufferPool.create(device, PoolOptions.defaults());
      for (int t = 0; t < Traces.RING; t++) {
        token(bh);
      }
    }

    /** The ring's next token. */
    void token(Blackhole bh) {
      long[] t = tokens[next];
      next = (next + 1) % Traces.RING;
      if (twoScopes) {
        interleaved(pool, t, bh);
      } else {
        Cycles.token(pool, t, bh);
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      pool.close();
      device.close();
    }

    @Setup(Level.Iteration)
    public void countFrom() {
      before = pool.stats();
    }

    @TearDown(Level.Iteration)
    public void count() {
      PoolStats d = pool.stats().since(before);
      allocs = d.allocations();
      misses = d.reuseMisses();
      locked = d.lockedAllocations();
    }
  }

  /** The shape's next token. */
  @Benchmark
  public void pool(Ring ring, Blackhole bh) {
    ring.token(bh);
  }

  /** Two scopes open at once: even allocations on the first, odd ones on the second. */
  private static void interleaved(BufferPool pool, long[] t, Blackhole bh) {
    try (Scope decode = pool.openScope();
        Scope prefill = pool.openScope()) {
      for (int i = 0; i < t.length; i += 2) {
        bh.consume(decode.alloc(t[i], DType.U8));
        bh.consume(prefill.alloc(t[i + 1], DType.U8));
      }
    }
  }
}
