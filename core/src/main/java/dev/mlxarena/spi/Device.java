package dev.mlxarena.spi;

import dev.mlxarena.Buffer;
import dev.mlxarena.DType;
import dev.mlxarena.DeviceStream;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * One accelerator, or host memory: the service provider interface a backend implements.
 *
 * <p>A device makes raw {@link DeviceBuffer}s, frees them, fills them with zeros and copies between
 * them and the host. It does not zero fresh allocations itself: like Metal's recycled pages, their
 * contents are undefined until the pool (or {@link #allocBuffer}) zero-fills them.
 *
 * <p>Users mostly touch a device through {@link dev.mlxarena.BufferPool#create(Device)} and {@link
 * #allocBuffer(long, DType, long...)}. Implementations must be thread-safe.
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
   * or an owned {@link Buffer} owns is theirs to free: a {@link TrackedDeviceBuffer} refuses
   * other frees.
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

  /**
   * Allocates an exactly-sized, zero-filled buffer owned by the caller, outside any pool (the
   * right home for weights and a session's KV cache). It is added to the residency set (and
   * committed) if the device has one; {@link Buffer#close()} removes it and frees the memory.
   *
   * @param bytes the byte length, at least 1
   * @param dtype the element type
   * @param shape the dimensions; empty means {@code bytes / dtype.byteSize()} elements
   * @throws IllegalArgumentException for a non-positive size or a shape that needs more bytes
   * @throws dev.mlxarena.BufferAllocationException if the device cannot provide the memory
   */
  default Buffer allocBuffer(long bytes, DType dtype, long... shape) {
    return Buffer.allocOwned(this, bytes, dtype, shape);
  }

  /**
   * Takes ownership of a raw allocation of this device and returns it as an owned handle. The
   * buffer is not zero-filled and not added to the residency set ({@link
   * dev.mlxarena.BufferPool#registerExisting} does that); closing the handle frees it.
   *
   * <p>A raw allocation has one owner: memory a pool holds (a pooled handle's {@link
   * Buffer#deviceBuffer()}) or another owned buffer holds (adopting one buffer twice) is refused,
   * and so is a {@link TrackedDeviceBuffer} already freed. Raw buffers of other classes are tracked
   * by identity while owned; that a buffer of such a class was freed cannot be seen.
   *
   * @throws IllegalArgumentException if the shape needs more than the buffer's capacity, or if a
   *     pool or another owned buffer owns {@code raw}
   * @throws IllegalStateException if {@code raw} is a {@link TrackedDeviceBuffer} that was freed
   */
  default Buffer adopt(DeviceBuffer raw, DType dtype, long... shape) {
    return Buffer.adoptOwned(this, raw, dtype, shape);
  }

  /** Releases the device. Buffers and pools on it must be closed first. */
  @Override
  void close();
}
