package dev.mlxarena;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The owner's side of an owned buffer: an exact-size allocation outside any pool ({@link
 * Buffer#allocOwned}, {@link Buffer#adoptOwned}), and the {@link Recycler} of its handle, one per
 * owned block. Closing the handle frees the memory, after telling every pool that registered the
 * buffer ({@link BufferPool#registerExisting}) to drop its registration.
 *
 * <p>Several pools on one device may register the same buffer, and they share the device's
 * residency set: the buffer's membership on the pools' account is counted here ({@link
 * #holdResidency}, {@link #dropResidency}), so that the first registration adds it (unless it is a
 * member already, on its own account or its owner's) and the last one to go removes it, whichever
 * pool that is.
 *
 * <p>The block's state, this object's registrars and the residency count are guarded by the
 * block's own monitor. A pool that registers one takes its own lock first and then the block's,
 * never the other way round; {@link #close} calls the registrars after leaving the monitor.
 */
final class OwnedBuffer implements Recycler {

  /** A pool that registered an owned buffer, told when the buffer is freed. */
  interface Registrar {
    /** Drops the registration of {@code owned}, whose memory is about to be freed. */
    void forget(Block owned);
  }

  final Block block;
  /** Whether the device's residency set holds the buffer on the buffer's own account. */
  final boolean ownResidency;
  private Registrar @Nullable [] registrars;
  /** Registrations that keep the buffer resident on their pool's account. */
  private int residencyHolds;
  /** Whether a registration added it to the residency set, so the last hold out removes it. */
  private boolean addedForPools;

  private OwnedBuffer(Block block, boolean ownResidency) {
    this.block = block;
    this.ownResidency = ownResidency;
  }

  /**
   * A new zero-filled device allocation of exactly {@code bytes}, added to the device's residency
   * set (and committed) if it has one, leased as {@code dtype} and {@code shape}. If a step after
   * the allocation fails, the memory goes back (its residency undone and committed first) and the
   * step's exception is thrown, with any failure of the undoing added to it; memory that cannot
   * leave the residency set is not freed, since freeing a member is what Metal forbids.
   */
  static OwnedBuffer fresh(Device device, long bytes, DType dtype, long[] shape) {
    Checks.notNull(device, "device");
    long elements = Checks.elements(bytes, dtype, shape);
    DeviceBuffer raw = device.allocate(bytes);
    Block b = new Block(device, raw, -1, bytes);
    b.claimMemory(); // fails only for a device that hands out memory someone owns: not freed here
    ResidencySet rs = device.residencySet();
    boolean added = false;
    try {
      device.fillZero(raw, 0, bytes);
      if (rs != null) {
        rs.add(raw);
        added = true;
        rs.commit();
      }
    } catch (RuntimeException e) {
      giveBackAfter(e, b, added ? rs : null);
      throw e;
    }
    return lease(new OwnedBuffer(b, rs != null), dtype, bytes, elements, shape);
  }

  /** Gives back {@code b}, made for an allocation that failed with {@code cause}; see {@link #fresh}. */
  private static void giveBackAfter(RuntimeException cause, Block b, @Nullable ResidencySet member) {
    try {
      if (member != null) {
        member.remove(b.raw);
        member.commit();
      }
      if (b.retireMemory()) {
        b.freeMemory();
      }
    } catch (RuntimeException e) {
      cause.addSuppressed(e);
    }
  }

  /**
   * Takes ownership of {@code raw}, as it is: neither zero-filled nor made resident.
   *
   * @throws IllegalArgumentException if a pool or another owned buffer owns {@code raw}
   * @throws IllegalStateException if {@code raw} is a tracked buffer that was freed
   */
  static OwnedBuffer adopt(Device device, DeviceBuffer raw, DType dtype, long[] shape) {
    Checks.notNull(device, "device");
    Checks.notNull(raw, "raw");
    long elements = Checks.elements(raw.capacity(), dtype, shape);
    Block b = new Block(device, raw, -1, raw.capacity());
    b.claimMemory();
    OwnedBuffer owned = new OwnedBuffer(b, false);
    return lease(owned, dtype, raw.capacity(), elements, shape);
  }

  private static OwnedBuffer lease(OwnedBuffer o, DType dtype, long bytes, long elements, long[] shape) {
    Block b = o.block;
    synchronized (b) {
      b.state = Block.OWNED;
      b.lease(dtype, bytes, elements, shape);
    }
    return o;
  }

  /**
   * Watches {@code handle} for a leak if the sampling picks it. Owned buffers belong to no pool,
   * so {@code level} is the system property's, read per allocation, before it (owned allocations
   * are few: weights and caches).
   */
  void watchIfSampled(Object handle, long generation, LeakDetection level) {
    if (LeakTracker.sample(level)) {
      LeakTracker.watch(
          handle,
          "LEAK: a " + block.capacity + "-byte owned buffer of " + block.device.name() + " became"
              + " unreachable without close(); it is freed now. It was allocated here:",
          new Throwable("owned buffer allocated here"),
          () -> close(block, generation));
    }
  }

  @Override
  public void handBack(Block b, long generation) {
    close(b, generation);
  }

  /** Adds a pool that registered the buffer; the caller holds the block's monitor. */
  void addRegistrar(Registrar r) {
    Registrar[] rs = registrars;
    if (rs == null) {
      registrars = new Registrar[] {r};
    } else {
      Registrar[] grown = Arrays.copyOf(rs, rs.length + 1);
      grown[rs.length] = r;
      registrars = grown;
    }
  }

  /**
   * Takes a registration's hold on residency; returns whether the caller must add the buffer to
   * the residency set now ({@code isMember}: whether it is a member already). The caller holds the
   * block's monitor.
   */
  boolean holdResidency(boolean isMember) {
    if (ownResidency) {
      return false;
    }
    if (residencyHolds++ == 0 && !isMember) {
      addedForPools = true;
      return true;
    }
    return false;
  }

  /**
   * Drops a registration's hold; returns whether the caller must remove the buffer from the
   * residency set now (the last hold of registrations that added it). The caller holds the block's
   * monitor.
   */
  boolean dropResidency() {
    if (ownResidency || --residencyHolds > 0 || !addedForPools) {
      return false;
    }
    addedForPools = false;
    return true;
  }

  /** Drops a pool that is closing; the caller holds the block's monitor. */
  void removeRegistrar(Registrar r) {
    Registrar[] rs = registrars;
    if (rs != null) {
      Registrar[] kept = Arrays.stream(rs).filter(x -> x != r).toArray(Registrar[]::new);
      registrars = kept.length == 0 ? null : kept;
    }
  }

  /** Frees the owned buffer {@code b} if it is still at {@code generation}; returns whether it did. */
  boolean close(Block b, long generation) {
    Registrar[] told;
    synchronized (b) {
      if (b.generationAcquire() != generation || b.state != Block.OWNED) {
        return false;
      }
      b.kill(Block.DEATH_OWNED_CLOSED);
      b.state = Block.GONE;
      told = registrars;
      registrars = null;
    }
    if (told != null) {
      for (Registrar r : told) {
        r.forget(b);
      }
    }
    ResidencySet rs = b.device.residencySet();
    if (ownResidency && rs != null) {
      rs.remove(b.raw);
      rs.commit();
    }
    if (b.retireMemory()) { // else an access in flight on another thread frees it when it ends
      b.freeMemory();
    }
    return true;
  }
}
