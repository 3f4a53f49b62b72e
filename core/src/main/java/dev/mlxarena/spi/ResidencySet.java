package dev.mlxarena.spi;

/**
 * The set of allocations a device keeps resident for its command queue (Metal's
 * {@code MTLResidencySet}). Additions and removals are staged and take effect on {@link #commit()}.
 *
 * <p>Implementations must be thread-safe: a device's set is shared by every pool on that device and
 * by the device's owned buffers. Membership is keyed by the {@link DeviceBuffer} object, never by
 * its address.
 */
public interface ResidencySet {

  /**
   * Stages {@code buffer} for addition.
   *
   * @throws IllegalStateException if the buffer is already a member
   */
  void add(DeviceBuffer buffer);

  /**
   * Stages {@code buffer} for removal.
   *
   * @throws IllegalStateException if the buffer is not a member
   */
  void remove(DeviceBuffer buffer);

  /** Applies the staged additions and removals. */
  void commit();

  /** Whether {@code buffer} is a member (staged additions count). */
  boolean contains(DeviceBuffer buffer);

  /** The number of members (staged additions count). */
  int size();
}
