package dev.mlxarena.examples.demo;

import dev.mlxarena.DType;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.Scope;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Where one GPU decode step's buffers come from, and what getting and giving them back cost the
 * host. Each op's output is a fresh buffer, as in an eager engine; the three kinds are the three
 * allocation modes the demo compares:
 *
 * <ul>
 *   <li>{@link Pooled}: the token scope, opened on the decode stream, so the pool hands buffers
 *       back in stream order when the loop closes it;
 *   <li>{@link Driver}: {@code cuMemAlloc} per buffer and {@code cuMemFree} at the end of the token
 *       (what code without a pool does; the driver waits for the GPU inside {@code cuMemFree});
 *   <li>{@link DriverAsync}: {@code cuMemAllocAsync} per buffer and {@code cuMemFreeAsync} at the
 *       end of the token on the stream (the driver's own stream-ordered caching pool).
 * </ul>
 *
 * Each call is timed with {@link System#nanoTime()}; the timer's own cost is measured once per run
 * and subtracted in the report.
 */
abstract class GpuScratch {
  /** Host time in the allocation calls. */
  long nanos;
  /** Host time giving the token's buffers back, where this kind does it itself ({@link #endToken}). */
  long freeNanos;
  int count;
  long bytes;

  abstract long make(long bytes, DType dtype, long elements);

  /** A fresh buffer of {@code elements} elements of {@code dtype}: its device pointer. */
  final long alloc(long elements, DType dtype) {
    long size = elements * dtype.byteSize();
    long t0 = System.nanoTime();
    long p = make(size, dtype, elements);
    nanos += System.nanoTime() - t0;
    count++;
    bytes += size;
    return p;
  }

  /** Gives the token's buffers back, where this kind does it itself (timed). */
  void endToken() {}

  /** Bytes this kind held at most, by its own count; 0 where the allocator reports it. */
  long peakBytes() {
    return 0;
  }

  /** From the token scope. */
  static final class Pooled extends GpuScratch {
    private final Scope scope;

    Pooled(Scope scope) {
      this.scope = scope;
    }

    @Override
    long make(long bytes, DType dtype, long elements) {
      return scope.alloc(bytes, dtype, elements).nativeHandle();
    }
  }

  /** {@code cuMemAlloc} and {@code cuMemFree}, through the device. */
  static final class Driver extends GpuScratch {
    private final CudaDevice device;
    private final List<DeviceBuffer> made = new ArrayList<>();
    private final long[] live;

    /** {@code live[0]} carries the bytes live across tokens, {@code live[1]} their peak. */
    Driver(CudaDevice device, long[] live) {
      this.device = device;
      this.live = live;
    }

    @Override
    long make(long bytes, DType dtype, long elements) {
      DeviceBuffer b = device.allocate(bytes);
      made.add(b);
      live[0] += bytes;
      live[1] = Math.max(live[1], live[0]);
      return b.nativeHandle();
    }

    @Override
    void endToken() {
      long t0 = System.nanoTime();
      for (DeviceBuffer b : made) {
        device.free(b);
        live[0] -= b.capacity();
      }
      made.clear();
      freeNanos += System.nanoTime() - t0;
    }
  }

  /** {@code cuMemAllocAsync} and {@code cuMemFreeAsync} on the decode stream. */
  static final class DriverAsync extends GpuScratch {
    private final CudaStream stream;
    private long[] made = new long[512];
    private int n;

    DriverAsync(CudaStream stream) {
      this.stream = stream;
    }

    @Override
    long make(long bytes, DType dtype, long elements) {
      long p = stream.allocateAsync(bytes);
      if (n == made.length) {
        made = java.util.Arrays.copyOf(made, 2 * n);
      }
      made[n++] = p;
      return p;
    }

    @Override
    void endToken() {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        stream.freeAsync(made[i]);
      }
      n = 0;
      freeNanos += System.nanoTime() - t0;
    }
  }
}
