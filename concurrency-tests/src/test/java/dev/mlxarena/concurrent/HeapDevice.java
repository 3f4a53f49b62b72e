package dev.mlxarena.concurrent;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.HostMemory;
import dev.mlxarena.spi.ResidencySet;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import dev.mlxarena.testing.CountingResidencySet;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A device whose memory is Java arrays, reached only through explicit copies (like device-private
 * storage), with a counting residency set: everything the pool does stays in Java code, which the
 * model checker can instrument and interleave. Frees, fills and copies of a freed buffer throw,
 * as the real backends' do.
 */
final class HeapDevice implements Device {
  private final AtomicInteger live = new AtomicInteger();
  private final CountingResidencySet residency = new CountingResidencySet();

  private static final class HeapBuffer extends TrackedDeviceBuffer {
    final byte[] bytes;

    HeapBuffer(int capacity) {
      super(capacity);
      bytes = new byte[capacity];
    }

    @Override
    public long nativeHandle() {
      return System.identityHashCode(this);
    }

    @Override
    public long hostAddress() {
      return 0;
    }

    @Override
    public String toString() {
      return "HeapBuffer[" + capacity() + " B]";
    }
  }

  /** Allocations made and not freed. */
  int liveAllocations() {
    return live.get();
  }

  @Override
  public String name() {
    return "heap";
  }

  @Override
  public DeviceBuffer allocate(long bytes) {
    TrackedDeviceBuffer.requirePositive(bytes);
    live.incrementAndGet();
    return new HeapBuffer(Math.toIntExact(bytes));
  }

  @Override
  public void free(DeviceBuffer buffer) {
    HeapBuffer b = own(buffer);
    if (residency.contains(b) || residency.hasStagedChange(b)) {
      throw new IllegalStateException("free of " + b + " while a residency member or staged");
    }
    b.freeOnce(live::decrementAndGet);
  }

  @Override
  public void fillZero(DeviceBuffer buffer, long offset, long length) {
    HeapBuffer b = own(buffer);
    HostMemory.checkRange(offset, length, b.capacity(), "heap buffer");
    Arrays.fill(b.bytes, (int) offset, (int) (offset + length), (byte) 0);
  }

  @Override
  public void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    HeapBuffer b = own(dst);
    HostMemory.checkRange(dstOffset, src.remaining(), b.capacity(), "heap buffer");
    src.get(b.bytes, (int) dstOffset, src.remaining());
  }

  @Override
  public void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    HeapBuffer b = own(src);
    HostMemory.checkRange(srcOffset, dst.remaining(), b.capacity(), "heap buffer");
    dst.put(b.bytes, (int) srcOffset, dst.remaining());
  }

  @Override
  public @Nullable ResidencySet residencySet() {
    return residency;
  }

  @Override
  public void close() {}

  private static HeapBuffer own(DeviceBuffer buffer) {
    if (!(buffer instanceof HeapBuffer b)) {
      throw new IllegalArgumentException(buffer + " was not allocated by the heap device");
    }
    b.requireLive();
    return b;
  }
}
