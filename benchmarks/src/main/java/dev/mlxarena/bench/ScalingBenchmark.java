package dev.mlxarena.bench;

import dev.mlxarena.BufferPool;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.PoolStats;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Concurrent decode streams on one pool: T threads, each cycling tokens of the decode {@link
 * Traces trace} through scopes of its own (every allocation, then the scope's close), on one
 * {@link BufferPool} over {@link HostDevice}. Figures are per allocation and per thread, so at T
 * threads they say how much slower one stream allocates when T run at once; the 1-thread figure
 * is the baseline. Run on a machine with at least 16 idle cores: with fewer, the 16-thread figure
 * measures the scheduler.
 *
 * <p>{@code handles01} and {@code handles16} run {@link HandleFloor} (a bare free list plus a new
 * handle object per allocation, nothing shared) on 1 and 16 threads: how far allocating the
 * handles alone scales on the machine, the bound for the pool's own figures.
 *
 * <p>Each thread's first tokens allocate its buffers from the device; warm-up covers them, and
 * from then on every thread replays its own reserve without the pool's lock.
 */
// TokenTimed's settings, with a heap for 16 threads' garbage: JMH takes the nearest annotation.
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch"})
public class ScalingBenchmark extends TokenTimed {

  /** The one pool every thread shares. */
  @State(Scope.Benchmark)
  public static class SharedPool {
    long[] sizes;
    Device device;
    BufferPool pool;

    @Setup(Level.Trial)
    public void open() {
      sizes = Traces.decode();
      device = HostDevice.create();
      pool = BufferPool.create(device, PoolOptions.defaults());
    }

    @TearDown(Level.Trial)
    public void close() {
      pool.close();
      device.close();
    }
  }

  /**
   * The pool's statistics around each iteration, as JMH auxiliary counters. Every thread reads the
   * whole pool's figures, so the sums are the pool's times the thread count: read them as shares,
   * {@code locked / allocs} (allocations that took the pool's lock because the scope's own reserve
   * had nothing of the bucket) and {@code misses / allocs} (allocations that went to the device).
   */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Shares {
    /** Allocations in the iteration. */
    public long allocs;
    /** Allocations that went to the device. */
    public long misses;
    /** Allocations under the pool's lock. */
    public long locked;

    private PoolStats before;

    @Setup(Level.Iteration)
    public void countFrom(SharedPool shared) {
      before = shared.pool.stats();
    }

    @TearDown(Level.Iteration)
    public void count(SharedPool shared) {
      PoolStats d = shared.pool.stats().since(before);
      allocs = d.allocations();
      misses = d.reuseMisses();
      locked = d.lockedAllocations();
    }
  }

  /** A {@link HandleFloor} per thread: nothing shared but the heap. */
  @State(Scope.Thread)
  public static class OwnFloor {
    HandleFloor floor;

    @Setup(Level.Trial)
    public void open() {
      floor = new HandleFloor(Traces.decode());
    }
  }

  /** One token on one thread. */
  @Benchmark
  @Threads(1)
  public void threads01(SharedPool shared, Shares shares, Blackhole bh) {
    Cycles.token(shared.pool, shared.sizes, bh);
  }

  /** One token on each of 4 threads at once. */
  @Benchmark
  @Threads(4)
  public void threads04(SharedPool shared, Shares shares, Blackhole bh) {
    Cycles.token(shared.pool, shared.sizes, bh);
  }

  /** One token on each of 16 threads at once. */
  @Benchmark
  @Threads(16)
  public void threads16(SharedPool shared, Shares shares, Blackhole bh) {
    Cycles.token(shared.pool, shared.sizes, bh);
  }

  /** The handle floor's token on one thread. */
  @Benchmark
  @Threads(1)
  public void handles01(OwnFloor own, Blackhole bh) {
    own.floor.token(bh);
  }

  /** The handle floor's token on each of 16 threads at once. */
  @Benchmark
  @Threads(16)
  public void handles16(OwnFloor own, Blackhole bh) {
    own.floor.token(bh);
  }
}
