package dev.mlxarena.spi;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A base for backends' {@link DeviceBuffer}s: the capacity, and a freed flag that turns a second
 * free or a use after free into an exception instead of heap or driver corruption, so that a pool
 * bug surfaces where it happens. Host, Metal and CUDA buffers all extend it.
 */
public abstract class TrackedDeviceBuffer implements DeviceBuffer {
  private final long capacity;
  private final AtomicBoolean freed = new AtomicBoolean();

  /** A buffer of {@code capacity} bytes. */
  protected TrackedDeviceBuffer(long capacity) {
    this.capacity = capacity;
  }

  @Override
  public final long capacity() {
    return capacity;
  }

  /**
   * Marks this buffer freed; call it before giving the memory back.
   *
   * @throws IllegalStateException if it was freed already
   */
  public final void markFreed() {
    if (!freed.compareAndSet(false, true)) {
      throw new IllegalStateException("double free of " + this);
    }
  }

  /**
   * Checks the buffer may still be used.
   *
   * @throws IllegalStateException if it was freed
   */
  public final void requireLive() {
    if (freed.get()) {
      throw new IllegalStateException("use of freed " + this);
    }
  }

  /**
   * Checks an allocation size for a device.
   *
   * @throws IllegalArgumentException if {@code bytes < 1}
   */
  public static void requirePositive(long bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("allocation of " + bytes + " bytes: must be at least 1");
    }
  }
}
