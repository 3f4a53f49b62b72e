package dev.mlxarena.bench;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.Scope;
import dev.mlxarena.spi.Device;
import org.openjdk.jmh.infra.Blackhole;

/** What every pool benchmark does: warm a pool with one token, then replay tokens. */
final class Cycles {
  private Cycles() {}

  /** A pool whose free lists already hold one token's buffers: the steady state. */
  static BufferPool warmed(Device device, PoolOptions options, long[] trace) {
    BufferPool pool = BufferPool.create(device, options);
    try (Scope warm = pool.openScope()) {
      for (long s : trace) {
        warm.alloc(s, DType.U8);
      }
    }
    return pool;
  }

  /** One token: every allocation of the trace, then the scope's close. */
  static void token(BufferPool pool, long[] trace, Blackhole bh) {
    try (Scope token = pool.openScope()) {
      for (long s : trace) {
        bh.consume(token.alloc(s, DType.U8));
      }
    }
  }
}
