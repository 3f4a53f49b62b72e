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
 *
 * <p>Data crosses between the host and the buffers through the bulk copies ({@code copyFrom},
 * {@code copyTo}), which work on every device, device-private GPU memory included.
 */
public final class TryWithResourcesExample {
  private TryWithResourcesExample() {}

  public static void main(String[] args) {
    try (Device device = Devices.systemDefault()) {
      run(device, System.out, 8);
    }
  }

  /** Runs {@code tokens} tokens on {@code device} and prints one line each, then the pool's totals. */
  static PoolStats run(Device device, PrintStream out, int tokens) {
    int hidden = 1024;
    float[] host = new float[hidden];
    for (int i = 0; i < hidden; i++) {
      host[i] = 1f / (1 + i);
    }
    try (BufferPool pool = BufferPool.create(device);
        Buffer weights = Buffer.allocOwned(device, (long) hidden * 4, DType.F32, hidden)) {
      weights.copyFrom(host);
      pool.registerExisting(weights);
      out.println("device: " + device.name());
      for (int t = 0; t < tokens; t++) {
        try (Scope token = pool.openScope()) {
          Buffer x = token.alloc((long) hidden * 4, DType.F32, hidden);
          Buffer scores = token.alloc(32L * 128 * 4, DType.F32, 32, 128);
          // A kernel would run here on the device; the host stands in for it, through copies.
          weights.copyTo(host);
          float sum = 0;
          for (int i = 0; i < hidden; i++) {
            host[i] *= t + 1;
            sum += host[i];
          }
          x.copyFrom(host);
          scores.copyFrom(new float[] {sum});
          float[] score = new float[1];
          scores.copyTo(score); // back to the host: only what it needs
          PoolStats s = pool.stats();
          out.printf(
              "token %d: sum %.4f, %d live buffers, %d fresh device allocations so far%n",
              t, score[0], s.activeCount(), s.freshAllocations());
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
