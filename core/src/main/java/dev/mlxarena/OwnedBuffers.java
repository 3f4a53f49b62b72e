package dev.mlxarena;

import org.jspecify.annotations.Nullable;

/**
 * Owned buffers: exact-size allocations outside any pool ({@link Device#allocBuffer}, {@link
 * Device#adopt}). Their block's state is guarded by the block's own monitor; a pool that registered
 * one takes its own lock first and then the block's, never the other way round.
 */
final class OwnedBuffers {
  private OwnedBuffers() {}

  static Buffer allocate(Device device, long bytes, DType dtype, long[] shape, boolean resident) {
    Checks.notNull(device, "device");
    long elements = Checks.elements(bytes, dtype, shape);
    DeviceBuffer raw = device.allocate(bytes);
    Block b = new Block(device, raw, null, -1, bytes);
    ResidencySet rs = resident ? device.residencySet() : null;
    try {
      device.fillZero(raw, 0, bytes);
      if (rs != null) {
        rs.add(raw);
        rs.commit();
        b.ownResidency = true;
      }
    } catch (RuntimeException e) {
      device.free(raw);
      throw e;
    }
    return lease(b, dtype, bytes, elements, shape);
  }

  static Buffer adopt(Device device, DeviceBuffer raw, DType dtype, long[] shape) {
    Checks.notNull(device, "device");
    Checks.notNull(raw, "raw");
    long elements = Checks.elements(raw.capacity(), dtype, shape);
    return lease(new Block(device, raw, null, -1, raw.capacity()), dtype, raw.capacity(), elements, shape);
  }

  private static Buffer lease(Block b, DType dtype, long bytes, long elements, long[] shape) {
    Buffer handle;
    synchronized (b) {
      b.state = Block.OWNED;
      b.lease(dtype, bytes, elements, shape);
      handle = new Buffer(b, b.generation());
    }
    // Owned buffers belong to no pool: the level is the system property's, read per allocation
    // (owned allocations are few: weights and caches).
    if (LeakTracker.sample(PoolOptions.Builder.leakProperty())) {
      LeakTracker.watch(handle, b, handle.generation);
    }
    return handle;
  }

  static void close(Buffer buffer) {
    close(buffer.block, buffer.generation);
  }

  /** Frees the owned buffer {@code b} if it is still at {@code generation}; returns whether it did. */
  static boolean close(Block b, long generation) {
    BufferPool @Nullable [] pools;
    synchronized (b) {
      if (b.generation() != generation || b.state != Block.OWNED) {
        return false;
      }
      b.kill(Block.DEATH_OWNED_CLOSED);
      b.state = Block.GONE;
      pools = b.registeredWith;
      b.registeredWith = null;
    }
    if (pools != null) {
      for (BufferPool p : pools) {
        p.forgetExternal(b);
      }
    }
    ResidencySet rs = b.device.residencySet();
    if (b.ownResidency && rs != null) {
      rs.remove(b.raw);
      rs.commit();
    }
    b.device.free(b.raw);
    return true;
  }
}
