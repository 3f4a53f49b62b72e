package dev.mlxarena.spi;

import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * One accelerator, or host memory: the service provider interface a backend implements.
 *
 * <p>A device makes raw {@link DeviceBuffer}s, frees them, fills them with zeros and copies between
 * them and the host. It does not zero fresh allocations itself: like Metal's recycled pages, their
 * contents are undefined until the pool (or {@link dev.mlxarena.Buffer#allocOwned}) zero-fills
 * them.
 *
 * <p>Users mostly touch a device through {@link dev.mlxarena.BufferPool#create(Device)} and {@link
 * dev.mlxarena.Buffer#allocOwned}. Implementations must be thread-safe.
 */
public interface Device extends AutoCloseable {

  /** A human-readable name, for example {@code "host"} or {@code "Apple M3 Max"}. */
  String name();

  /**
   * Allocates {@code bytes} bytes. The contents are undefined.
   *
   * @throws dev.mlxarena.BufferAllocationException if the memory cannot be had
   * @throws IllegalArgumentException if {@code bytes < 1}
   */
  DeviceBuffer allocate(long bytes);

  /**
   * Frees a buffer this device allocated. The buffer must not be used afterwards. A buffer a pool
   * or an owned {@link dev.mlxarena.Buffer} owns is theirs to free: a {@link TrackedDeviceBuffer}
   * refuses other frees.
   *
   * @throws IllegalStateException if the buffer was freed already, or, for a {@link
   *     TrackedDeviceBuffer}, if a pool or an owned buffer owns it
   */
  void free(DeviceBuffer buffer);

  /** Sets {@code length} bytes of {@code buffer}, starting at {@code offset}, to zero. */
  void fillZero(DeviceBuffer buffer, long offset, long length);

  /**
   * Copies {@code src.remaining()} bytes from the host into {@code dst} at {@code dstOffset}.
   * The default implementation needs a host-visible buffer; devices with private memory override
   * it with an explicit transfer.
   */
  default void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    HostMemory.write(dst, dstOffset, src);
  }

  /**
   * Copies {@code dst.remaining()} bytes from {@code src} at {@code srcOffset} to the host. The
   * default implementation needs a host-visible buffer; devices with private memory override it.
   */
  default void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    HostMemory.read(src, srcOffset, dst);
  }

  /**
   * Fills {@code length} bytes of {@code buffer} from {@code offset} with the 32-bit {@code
   * pattern} repeated in native byte order (a tail shorter than 4 bytes takes the pattern's first
   * bytes). With a {@code stream}, the fill is ordered after the work already enqueued on it and
   * the call need not wait for it; without one, the fill has happened when the call returns. The
   * pool uses it to poison recycled buffers ({@link dev.mlxarena.PoolOptions#isPoisonOnRecycle()}).
   *
   * <p>The default writes the pattern from the host through {@link #write}, at once: devices whose
   * work runs asynchronously must override it to enqueue the fill on the stream.
   */
  default void fillPattern(
      DeviceBuffer buffer, long offset, long length, int pattern, @Nullable DeviceStream stream) {
    HostMemory.fillPattern(this, buffer, offset, length, pattern);
  }

  /**
   * The residency set this device registers its allocations with, or {@code null} where the
   * device has none (the host, CUDA, Metal before macOS 15 or with residency switched off).
   */
  @Nullable ResidencySet residencySet();

  /** Releases the device. Buffers and pools on it must be closed first. */
  @Override
  void close();
}
