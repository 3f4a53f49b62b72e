package dev.mlxarena.examples;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.Devices;
import dev.mlxarena.PoolStats;
import dev.mlxarena.Scope;
import dev.mlxarena.spi.Device;
import java.io.PrintStream;

/**
 * A scope per token in plain Java: the weights live in an owned buffer registered with the pool,
 * each token's scratch in a scope that recycles on close. After the first token every allocation
 * is a reuse hit.
 */
public final class TryWithResourcesExample {
  private TryWithResourcesExample() {}

  public static void main(String[] args) {
    run(System.out, 8);
  }

  /** Runs {@code tokens} tokens and prints one line each, then the pool's totals. */
  static PoolStats run(PrintStream out, int tokens) {
    int hidden = 1024;
    try (Device device = Devices.systemDefault();
        BufferPool pool = BufferPool.create(device);
        Buffer weights = Buffer.allocOwned(device, (long) hidden * 4, DType.F32, hidden)) {
      pool.registerExisting(weights);
      for (int i = 0; i < hidden; i++) {
        weights.putF32(i, 1f / (1 + i));
      }
      out.println("device: " + device.name());
      for (int t = 0; t < tokens; t++) {
        try (Scope token = pool.openScope()) {
          Buffer x = token.alloc((long) hidden * 4, DType.F32, hidden);
          Buffer scores = token.alloc(32L * 128 * 4, DType.F32, 32, 128);
          float sum = 0;
          for (int i = 0; i < hidden; i++) {
            x.putF32(i, weights.getF32(i) * (t + 1)); // a kernel would run here on a GPU
            sum += x.getF32(i);
          }
          scores.putF32(0, sum);
          PoolStats s = pool.stats();
          out.printf(
              "token %d: sum %.4f, %d live buffers, %d fresh device allocations so far%n",
              t, scores.getF32(0), s.activeCount(), s.freshAllocations());
        }
      }
      PoolStats s = pool.stats();
      out.printf(
          "%d allocations, %d reuse hits (%.0f%%), %d bytes held%n",
          s.allocations(), s.reuseHits(), 100 * s.reuseRate(), s.heldBytes());
      return s;
    }
  }
}
