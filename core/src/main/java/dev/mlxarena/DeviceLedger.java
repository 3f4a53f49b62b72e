package dev.mlxarena;

import dev.mlxarena.spi.BufferRegistrar;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The pool's account with its device: the only room that calls the {@link Device} and its {@link
 * ResidencySet}. It makes blocks (a device allocation of a bucket's size, zero-filled and added to
 * the residency set), keeps the registry of every block the pool holds, gives blocks back
 * (residency removal, commit, free), and holds the pool to its memory limit, retrying once after
 * freeing the cache when the device refuses. It reports held memory, fresh allocations, frees,
 * residency changes and retries to {@link PoolCounters}.
 *
 * <h2>Giving memory back: remove, commit, free</h2>
 * Metal requires that an allocation is never freed while it is a member of a residency set,
 * staged or committed. So a block leaves in two steps: {@link #retire} drops it from the registry
 * and stages its residency removal, and {@link #releaseRetired} frees the memory of every retired
 * block, after the caller has committed the removals ({@link #commit()}). Failures on the way are
 * collected, not thrown at once, so that the rest of the cleanup still happens.
 *
 * <h2>Registrars</h2>
 * A pool given {@link BufferRegistrar}s registers each fresh block with each once and deregisters
 * it once before its memory goes back (R2). Registrars are foreign code, so the ledger only queues
 * those calls under the lock ({@link RegistrarQueue}), and the section that queued them makes them
 * after unlocking ({@link #settleRegistrars()}). With registrars, then, a retired block's memory
 * goes back to the device from there too, after its deregistration: {@link #releaseRetired}
 * queues it instead of freeing it, and the memory a retry after the device refused (see {@link
 * #fresh}) finds is only what went back before the section. Recycling a block goes through the
 * free lists, never through here, so it registers nothing.
 *
 * <p>Guarded by the pool's lock: every device call here happens under it (but the frees that follow
 * registrars' deregistrations), which keeps the memory totals exact; the calls are gathered here
 * so that they can move out of it.
 */
final class DeviceLedger {

  /** What the ledger asks of the cache when device memory runs short: the evictor. */
  interface Reclaimer {
    /** Bytes {@link #reclaim} could give back now. */
    long reclaimableBytes();

    /** Gives back at least {@code bytes} of cached memory if there is that much; returns what it freed. */
    long reclaim(long bytes, String reason);

    /** The largest cached buffer, for out-of-memory messages. */
    long largestReclaimable();
  }

  private final Device device;
  private final @Nullable ResidencySet residency;
  private final BucketPolicy policy;
  private final long memoryLimit;
  private final PoolCounters counters;
  /** Every block the pool holds, live, free or waiting for a fence. */
  final BlockRegistry registry = new BlockRegistry();
  /** Device buffers retired whose residency removal awaits its commit before they are freed. */
  private final List<DeviceBuffer> retired = new ArrayList<>();
  /** The calls to the pool's registrars, or null without any. */
  private final @Nullable RegistrarQueue registrars;

  DeviceLedger(
      Device device,
      @Nullable ResidencySet residency,
      PoolOptions options,
      PoolCounters counters) {
    this.device = device;
    this.residency = residency;
    this.policy = options.getBucketPolicy();
    this.memoryLimit = options.getMemoryLimit();
    this.counters = counters;
    List<BufferRegistrar> all = options.getRegistrars();
    this.registrars = all.isEmpty() ? null : new RegistrarQueue(all, device::free, counters);
  }

  @Nullable ResidencySet residency() {
    return residency;
  }

  // ================================================================ making blocks

  /**
   * A new block for {@code bucket}, zero-filled and added (not committed) to the residency set;
   * within the memory limit, freeing cache through {@code cache} first if it must, and once more
   * if the device refuses. On failure the pool is as it was, except for the cache given back.
   */
  Block fresh(int bucket, long requested, Reclaimer cache) {
    long capacity = policy.sizeOfBucket(bucket);
    if (capacity > memoryLimit - counters.heldBytes) {
      if (capacity > memoryLimit - (counters.heldBytes - cache.reclaimableBytes())) {
        // Even an empty cache would not make room: refuse without touching the pool.
        throw new PoolExhaustedException(
            outOfMemory(requested, capacity, "the memory limit", cache), capacity);
      }
      noteRetry(requested, "memory limit");
      cache.reclaim(capacity - (memoryLimit - counters.heldBytes), "memory limit");
    }
    DeviceBuffer raw;
    try {
      raw = device.allocate(capacity);
    } catch (BufferAllocationException first) {
      if (cache.reclaimableBytes() == 0) {
        throw new BufferAllocationException(
            outOfMemory(requested, capacity, "the device", cache) + ": " + first.getMessage(),
            capacity, first);
      }
      // As PyTorch's caching allocator does: give the cache back to the device and try once more.
      noteRetry(requested, "device out of memory");
      cache.reclaim(Long.MAX_VALUE, "device out of memory");
      try {
        raw = device.allocate(capacity);
      } catch (BufferAllocationException second) {
        second.addSuppressed(first);
        throw new BufferAllocationException(
            outOfMemory(requested, capacity, "the device", cache) + " even after freeing the cache: "
                + second.getMessage(), capacity, second);
      }
    }
    Block b = new Block(device, raw, bucket, capacity);
    try {
      if (PlantedFault.active != PlantedFault.FRESH_NOT_ZEROED) {
        device.fillZero(raw, 0, capacity);
      }
      if (residency != null) {
        residency.add(raw);
      }
    } catch (RuntimeException e) {
      device.free(raw);
      throw e;
    }
    if (residency != null) {
      counters.residencyAdds++;
    }
    registry.add(b);
    counters.heldCount++;
    counters.heldBytes += capacity;
    counters.peakHeldBytes = Math.max(counters.peakHeldBytes, counters.heldBytes);
    counters.freshAllocations++;
    if (registrars != null) {
      registrars.register(raw);
    }
    PoolEvents.freshAllocation(device.name(), requested, capacity, counters.heldBytes);
    return b;
  }

  /** Gives back a block {@link #fresh} made earlier in a batch that then failed, as if never made. */
  void undoFresh(Block b) {
    if (residency != null) {
      residency.remove(b.raw);
      counters.residencyAdds--;
    }
    registry.remove(b);
    counters.heldCount--;
    counters.heldBytes -= b.capacity;
    counters.freshAllocations--;
    b.state = Block.GONE;
    if (registrars != null) {
      registrars.deregisterThenFree(b.raw); // its registration was queued: undo it in order
    } else {
      device.free(b.raw);
    }
  }

  private void noteRetry(long requested, String reason) {
    counters.oomRetries++;
    PoolEvents.oomRetry(requested, counters.heldBytes, reason);
  }

  private String outOfMemory(long requested, long capacity, String refusedBy, Reclaimer cache) {
    return "cannot allocate " + requested + " bytes (bucket of " + capacity + " bytes) on "
        + device.name() + ": refused by " + refusedBy + "; " + counters.holdings()
        + ", memory limit " + (memoryLimit == Long.MAX_VALUE ? "none" : memoryLimit + " bytes")
        + ", largest free bucket " + cache.largestReclaimable() + " bytes";
  }

  // ================================================================ giving blocks back

  /**
   * Drops a FREE (or, at close, any) block from the pool and stages its removal from the residency
   * set; its memory goes back in {@link #releaseRetired}. Returns {@code failure} with a residency
   * failure added, if there was one.
   */
  @Nullable RuntimeException retire(Block b, byte why, @Nullable RuntimeException failure) {
    if (b.state == Block.LIVE) {
      b.kill(why);
    } else {
      b.lastDeath = why;
    }
    b.state = Block.GONE;
    registry.remove(b);
    counters.heldCount--;
    counters.heldBytes -= b.capacity;
    counters.deviceFrees++;
    retired.add(b.raw);
    if (residency != null) {
      try {
        residency.remove(b.raw);
        counters.residencyRemoves++;
      } catch (RuntimeException e) {
        return collect(failure, e);
      }
    }
    return failure;
  }

  /**
   * Gives back every block the pool holds, live or not, as the pool closes, with one commit for
   * their removals and those already staged ({@code staged}, the registrations'); returns what
   * failed on the way.
   */
  @Nullable RuntimeException closeAll(boolean staged) {
    staged |= registry.size() > 0 && residency != null;
    RuntimeException failure = null;
    while (registry.size() > 0) {
      failure = retire(registry.get(registry.size() - 1), Block.DEATH_POOL_CLOSED, failure);
    }
    if (staged) {
      commit();
    }
    return releaseRetired(failure);
  }

  /**
   * Gives the memory of every retired block back to the device; call after the residency commit
   * that removed them. Device failures are collected like {@link #retire}'s. With registrars, the
   * memory goes back after their deregistrations, once the section has unlocked.
   */
  @Nullable RuntimeException releaseRetired(@Nullable RuntimeException failure) {
    for (DeviceBuffer raw : retired) {
      if (registrars != null) {
        registrars.deregisterThenFree(raw);
        continue;
      }
      try {
        device.free(raw);
      } catch (RuntimeException e) {
        failure = collect(failure, e);
      }
    }
    retired.clear();
    return failure;
  }

  static RuntimeException collect(@Nullable RuntimeException failure, RuntimeException e) {
    if (failure == null) {
      return e;
    }
    failure.addSuppressed(e);
    return failure;
  }

  /**
   * Makes the registrar calls queued so far (deregistered memory freed after them), or waits for
   * the thread making them. Called by every locked section after unlocking; never under the lock.
   */
  void settleRegistrars() {
    RegistrarQueue r = registrars;
    if (r != null) {
      r.settle();
    }
  }

  // ================================================================ residency

  /** Commits the residency changes staged so far (a no-op without a residency set). */
  void commit() {
    if (residency != null && PlantedFault.active != PlantedFault.NO_RESIDENCY_COMMIT) {
      residency.commit();
      counters.residencyCommits++;
    }
  }

  /**
   * Adds a registered owned buffer to the residency set and commits, unless it registers itself
   * ({@code ownResidency}) or is a member already. Returns whether it added it.
   */
  boolean addRegistered(DeviceBuffer raw, boolean ownResidency) {
    if (residency == null || ownResidency || residency.contains(raw)) {
      return false;
    }
    residency.add(raw);
    counters.residencyAdds++;
    commit();
    return true;
  }

  /** Stages the removal of a registered owned buffer this ledger added (commit separately). */
  void removeRegistered(DeviceBuffer raw) {
    if (residency != null) {
      residency.remove(raw);
      counters.residencyRemoves++;
    }
  }

  /** Whether the residency set holds {@code raw}: for the audit. */
  boolean isResident(DeviceBuffer raw) {
    return residency == null || residency.contains(raw);
  }
}
