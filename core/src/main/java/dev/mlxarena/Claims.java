package dev.mlxarena;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Who owns each raw allocation the library holds: the {@link Block} of a pool or of an owned
 * buffer. A block claims its device buffer when it is made and gives the claim up just before the
 * memory is freed, so that one allocation never has two owners: adopting memory a pool holds, or
 * adopting one raw buffer twice, is refused instead of leading to a free under a live handle.
 *
 * <p>A {@link TrackedDeviceBuffer} keeps its own claim (an atomic field; its device's {@code free}
 * then refuses frees that do not come from the owner). Other raw buffers are kept in an identity
 * map while claimed, which costs a lock on each claim and release: fresh device allocations and
 * frees, never the steady state.
 */
final class Claims {
  /** The claims on raw buffers that keep none themselves; guarded by its own monitor. */
  private static final Map<DeviceBuffer, Object> UNTRACKED = new IdentityHashMap<>();

  private Claims() {}

  /**
   * Claims {@code raw} for {@code owner}.
   *
   * @throws IllegalArgumentException if someone else owns it
   * @throws IllegalStateException if it is a tracked buffer that was freed
   */
  static void claim(DeviceBuffer raw, Object owner) {
    if (raw instanceof TrackedDeviceBuffer tracked) {
      tracked.claim(owner);
      return;
    }
    Object was;
    synchronized (UNTRACKED) {
      was = UNTRACKED.putIfAbsent(raw, owner);
    }
    if (was != null) {
      throw new IllegalArgumentException(
          raw + " is owned by " + was + ": one allocation has one owner, so it cannot be taken"
              + " again (close or release the buffer that owns it instead)");
    }
  }

  /** Gives up {@code owner}'s claim on {@code raw}, before it frees it. */
  static void release(DeviceBuffer raw, Object owner) {
    if (raw instanceof TrackedDeviceBuffer tracked) {
      tracked.unclaim(owner);
      return;
    }
    synchronized (UNTRACKED) {
      UNTRACKED.remove(raw, owner);
    }
  }
}
