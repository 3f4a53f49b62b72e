package dev.mlxarena.spi;

/**
 * One raw allocation made by a {@link Device}: the unit the pool recycles.
 *
 * <p>Implementations are immutable value holders; the device that made a buffer is the only one
 * that may free it. Identity matters: residency sets and the pool key buffers by the object, never
 * by their address, because a freed address can come back from the allocator for a different
 * buffer.
 */
public interface DeviceBuffer {

  /** The number of bytes this allocation holds. */
  long capacity();

  /**
   * The handle a kernel binds: an {@code MTLBuffer} id on Metal, a {@code CUdeviceptr} on CUDA,
   * the address itself on the host device.
   */
  long nativeHandle();

  /** The address of the host-visible mapping of this memory, or {@code 0} where there is none. */
  long hostAddress();

  /** Whether the host can read and write this memory directly. */
  default boolean isHostVisible() {
    return hostAddress() != 0;
  }
}
