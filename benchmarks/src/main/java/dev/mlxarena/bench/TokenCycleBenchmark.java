package dev.mlxarena.bench;

import dev.mlxarena.BufferPool;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.spi.Device;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The shape every pool benchmark shares: one invocation is one token of a {@link Traces trace}
 * (every allocation, then the scope's close) on a pool warmed to its steady state, and figures are
 * per allocation. Subclasses choose the device, the options and the trace, and may add baselines.
 */
@State(org.openjdk.jmh.annotations.Scope.Thread)
public abstract class TokenCycleBenchmark extends TokenTimed {
  protected long[] sizes;
  protected Device device;
  protected BufferPool pool;

  /** The device to measure; opened once per trial. */
  protected abstract Device openDevice();

  /** The pool's options. */
  protected PoolOptions options() {
    return PoolOptions.defaults();
  }

  /** The allocations of one token. */
  protected long[] trace() {
    return Traces.decode();
  }

  @Setup(Level.Trial)
  public void setUpPool() {
    sizes = trace();
    device = openDevice();
    pool = Cycles.warmed(device, options(), sizes);
    afterSetUp();
  }

  /** Runs after the pool is ready (JMH orders no two setups of one level), for baselines. */
  protected void afterSetUp() {}

  @TearDown(Level.Trial)
  public void tearDownPool() {
    pool.close();
    device.close();
  }

  /** One token through the pool. */
  @Benchmark
  public void pool(Blackhole bh) {
    Cycles.token(pool, sizes, bh);
  }
}
