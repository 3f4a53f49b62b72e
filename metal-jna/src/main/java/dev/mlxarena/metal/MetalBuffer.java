package dev.mlxarena.metal;

import com.sun.jna.Pointer;
import dev.mlxarena.spi.TrackedDeviceBuffer;

/**
 * One {@code MTLBuffer} (an {@code mlxshim_buffer}), owned by the Java side until freed. Identity
 * is the object: one {@code MetalBuffer} per native buffer, so residency membership keyed by this
 * object is keyed by the native buffer, never by a contents address that Metal may reuse.
 *
 * <p>Its capacity is the length asked for; the allocation behind it can be longer ({@link
 * #allocated}): the shim rounds private buffers up to whole 4-byte words, which {@link Transfers}
 * relies on.
 */
final class MetalBuffer extends TrackedDeviceBuffer {
  final Pointer handle;
  private final long contents;
  final long allocated;
  final StorageMode storage;

  MetalBuffer(Pointer handle, long contents, long capacity, long allocated, StorageMode storage) {
    super(capacity);
    this.handle = handle;
    this.contents = contents;
    this.allocated = allocated;
    this.storage = storage;
  }

  @Override
  public long nativeHandle() {
    return Pointer.nativeValue(handle);
  }

  @Override
  public long hostAddress() {
    return contents;
  }

  @Override
  public String toString() {
    return "MetalBuffer[" + handle + ", " + capacity() + " B, " + storage + "]";
  }
}
