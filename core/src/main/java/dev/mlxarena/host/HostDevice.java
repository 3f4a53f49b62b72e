package dev.mlxarena.host;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.mlxarena.BufferAllocationException;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * Native host memory as a {@link Device}: {@code malloc} and {@code free} through JNA, with 64-bit
 * sizes. Like Metal's recycled pages, a fresh allocation is not zeroed by the device (the pool
 * zero-fills it). It has no residency set.
 *
 * <p>Each buffer can be freed once; a second free throws instead of corrupting the C heap, and
 * every other use of a freed buffer ({@link #fillZero}, {@link #write}, {@link #read}, {@link
 * #fillPattern}) throws instead of touching memory that may be unmapped or handed out again, so a
 * pool bug surfaces as an exception. Thread-safe.
 */
public final class HostDevice implements Device {

  private static final class HostBuffer extends TrackedDeviceBuffer {
    final long address;

    HostBuffer(long address, long capacity) {
      super(capacity);
      this.address = address;
    }

    @Override
    public long nativeHandle() {
      return address;
    }

    @Override
    public long hostAddress() {
      return address;
    }

    @Override
    public String toString() {
      return "HostBuffer[0x" + Long.toHexString(address) + ", " + capacity() + " B]";
    }
  }

  private HostDevice() {}

  /** A host device. Instances are independent; buffers must be freed by the one that made them. */
  public static HostDevice create() {
    return new HostDevice();
  }

  @Override
  public String name() {
    return "host";
  }

  @Override
  public DeviceBuffer allocate(long bytes) {
    TrackedDeviceBuffer.requirePositive(bytes);
    long address = Native.malloc(bytes);
    if (address == 0) {
      throw new BufferAllocationException("host malloc of " + bytes + " bytes failed", bytes);
    }
    return new HostBuffer(address, bytes);
  }

  @Override
  public void free(DeviceBuffer buffer) {
    HostBuffer b = own(buffer);
    b.markFreed();
    Native.free(b.address);
  }

  @Override
  public void fillZero(DeviceBuffer buffer, long offset, long length) {
    HostBuffer b = own(buffer);
    if (offset < 0 || length < 0 || offset > b.capacity() - length) {
      throw new IndexOutOfBoundsException(
          "zero-fill of [" + offset + ", +" + length + ") outside " + b.capacity() + " bytes");
    }
    new Pointer(b.address).setMemory(offset, length, (byte) 0);
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalStateException if {@code dst} was freed
   * @throws IllegalArgumentException if another device allocated {@code dst}
   */
  @Override
  public void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    Device.super.write(own(dst), dstOffset, src);
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalStateException if {@code src} was freed
   * @throws IllegalArgumentException if another device allocated {@code src}
   */
  @Override
  public void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    Device.super.read(own(src), srcOffset, dst);
  }

  @Override
  public @Nullable ResidencySet residencySet() {
    return null;
  }

  @Override
  public void close() {
    // Host memory needs no device-level teardown; buffers are freed individually.
  }

  private HostBuffer own(DeviceBuffer buffer) {
    if (!(buffer instanceof HostBuffer b)) {
      throw new IllegalArgumentException(buffer + " was not allocated by the host device");
    }
    b.requireLive();
    return b;
  }

  @Override
  public String toString() {
    return "HostDevice";
  }
}
