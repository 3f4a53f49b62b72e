package dev.mlxarena.testing;

import dev.mlxarena.BufferAllocationException;
import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A device for tests over another device (host memory by default): fills fresh allocations with
 * garbage, as Metal's recycled pages can be; keeps a counting residency set and, as Metal does,
 * refuses to free a buffer that is a member or has a change staged; tracks live allocations for
 * leak checks; fails allocations on demand; and can hide the host mapping of its memory ({@link
 * #devicePrivate()}), as a CUDA GPU's device memory has none.
 */
public final class TestDevice implements Device, DeviceHarness {
  /** The byte every fresh allocation is filled with. */
  public static final byte GARBAGE = (byte) 0xA5;

  private final Device inner;
  private final @Nullable CountingResidencySet residency;
  private final boolean garbage;
  private final boolean hostMapped;
  private final Set<DeviceBuffer> live = Collections.newSetFromMap(new IdentityHashMap<>());
  private long allocations;
  private long frees;
  private long failAtAllocation = -1;
  private long failAbove = Long.MAX_VALUE;
  private @Nullable FillListener fillListener;

  /** Told of every {@link #fillPattern} call before it runs. */
  public interface FillListener {
    void filled(DeviceBuffer buffer, long offset, long length, int pattern, @Nullable DeviceStream stream);
  }

  public TestDevice(Device inner, boolean withResidency) {
    this(inner, withResidency, true, true);
  }

  private TestDevice(Device inner, boolean withResidency, boolean garbage, boolean hostMapped) {
    this.inner = inner;
    this.residency = withResidency ? new CountingResidencySet() : null;
    this.garbage = garbage;
    this.hostMapped = hostMapped;
  }

  /**
   * Host memory that only counts its allocations: no residency set and no garbage fill, for tests
   * whose buffers are too large to fill on every allocation.
   */
  public static TestDevice countingHost() {
    return new TestDevice(HostDevice.create(), false, false, true);
  }

  /**
   * Host memory the host may not touch directly, as on a CUDA GPU's default device memory: its
   * buffers have no host address, so typed element access and {@code asByteBuffer()} refuse them
   * and data moves only through {@link #write} and {@link #read} (the bulk copies). Code that must
   * run on whatever device it is given runs here without a GPU. No residency set; fresh
   * allocations start as garbage.
   */
  public static TestDevice devicePrivate() {
    return new TestDevice(HostDevice.create(), false, true, false);
  }

  /** Host memory with a counting residency set. */
  public static TestDevice withResidency() {
    return new TestDevice(HostDevice.create(), true);
  }

  /** Host memory without a residency set. */
  public static TestDevice withoutResidency() {
    return new TestDevice(HostDevice.create(), false);
  }

  @Override
  public synchronized void failNthAllocation(long n) {
    failAtAllocation = allocations + n;
  }

  @Override
  public synchronized void failAbove(long bytes) {
    failAbove = bytes;
  }

  @Override
  public Device device() {
    return this;
  }

  @Override
  public boolean freshMemoryIsGarbage() {
    return garbage;
  }

  @Override
  public @Nullable ResidencyProbe residency() {
    return residency;
  }

  @Override
  public String name() {
    return "test(" + inner.name() + (hostMapped ? ")" : ", device-private)");
  }

  @Override
  public synchronized DeviceBuffer allocate(long bytes) {
    long n = allocations + 1;
    if (n == failAtAllocation || bytes > failAbove) {
      if (n == failAtAllocation) {
        failAtAllocation = -1;
      }
      throw new BufferAllocationException("injected failure for " + bytes + " bytes", bytes);
    }
    DeviceBuffer b = inner.allocate(bytes);
    allocations = n;
    if (garbage) {
      fillWithGarbage(b, bytes);
    }
    DeviceBuffer issued = hostMapped ? b : new Unmapped(b);
    live.add(issued);
    return issued;
  }

  private void fillWithGarbage(DeviceBuffer b, long bytes) {
    ByteBuffer garbage = ByteBuffer.allocate((int) Math.min(bytes, 1 << 20));
    for (int i = 0; i < garbage.capacity(); i++) {
      garbage.put(i, GARBAGE);
    }
    for (long off = 0; off < bytes; off += garbage.capacity()) {
      garbage.clear().limit((int) Math.min(garbage.capacity(), bytes - off));
      inner.write(b, off, garbage);
    }
  }

  @Override
  public synchronized void free(DeviceBuffer buffer) {
    if (!live.contains(buffer)) {
      throw new IllegalStateException("free of " + buffer + ", which is not live on " + name());
    }
    if (residency != null && residency.contains(buffer)) {
      throw new IllegalStateException("free of " + buffer + " while it is still in the residency set");
    }
    if (residency != null && residency.hasStagedChange(buffer)) {
      throw new IllegalStateException(
          "free of " + buffer + " while its residency change is staged, not committed");
    }
    // Each refuses memory an owner holds: then it stays live here too.
    if (buffer instanceof Unmapped u) {
      u.freeOnce(() -> inner.free(u.inner));
    } else {
      inner.free(buffer);
    }
    live.remove(buffer);
    frees++;
  }

  @Override
  public void fillZero(DeviceBuffer buffer, long offset, long length) {
    inner.fillZero(unwrap(buffer), offset, length);
  }

  /** Tells {@code listener} of every pattern fill from now on ({@code null}: nobody). */
  public synchronized void onFill(@Nullable FillListener listener) {
    this.fillListener = listener;
  }

  /** Fills from the host at once, whatever the stream (the default), after telling the listener. */
  @Override
  public void fillPattern(
      DeviceBuffer buffer, long offset, long length, int pattern, @Nullable DeviceStream stream) {
    FillListener l;
    synchronized (this) {
      l = fillListener;
    }
    if (l != null) {
      l.filled(buffer, offset, length, pattern, stream);
    }
    Device.super.fillPattern(buffer, offset, length, pattern, stream);
  }

  @Override
  public void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    inner.write(unwrap(dst), dstOffset, src);
  }

  @Override
  public void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    inner.read(unwrap(src), srcOffset, dst);
  }

  /** The inner device's buffer behind {@code buffer}, checked live if its mapping is hidden. */
  private static DeviceBuffer unwrap(DeviceBuffer buffer) {
    if (buffer instanceof Unmapped u) {
      u.requireLive();
      return u.inner;
    }
    return buffer;
  }

  /**
   * A {@link #devicePrivate()} buffer: the inner device's buffer with its host address hidden.
   * Owners claim this one; the inner buffer belongs to the test device alone.
   */
  private static final class Unmapped extends TrackedDeviceBuffer {
    final DeviceBuffer inner;

    Unmapped(DeviceBuffer inner) {
      super(inner.capacity());
      this.inner = inner;
    }

    @Override
    public long nativeHandle() {
      return inner.nativeHandle();
    }

    @Override
    public long hostAddress() {
      return 0;
    }

    @Override
    public String toString() {
      return "Unmapped[" + inner + "]";
    }
  }

  @Override
  public @Nullable ResidencySet residencySet() {
    return residency;
  }

  /** The counting residency set; fails if this device has none. */
  public CountingResidencySet counting() {
    if (residency == null) {
      throw new IllegalStateException("this test device has no residency set");
    }
    return residency;
  }

  @Override
  public synchronized int liveAllocations() {
    return live.size();
  }

  public synchronized long allocations() {
    return allocations;
  }

  public synchronized long frees() {
    return frees;
  }

  @Override
  public void close() {
    inner.close();
  }
}
