package dev.mlxarena;

import dev.mlxarena.spi.BufferRegistrar;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
 * staged or committed. So a block leaves in two steps: {@link #retire} ends its lease, drops it
 * from the registry and stages its residency removal, and {@link #releaseRetired} gives up the
 * memory of every retired block, after the caller has committed the removals ({@link #commit()}).
 * Giving up the memory frees it at once unless a handle's access to it is in flight on another
 * thread, in which case the last such access frees it (see {@code Block}): memory behind a handle
 * never goes back while the library reads or writes it. Failures on the way are collected, not
 * thrown at once, so that the rest of the cleanup still happens.
 *
 * <p>Each block claims its device buffer as it is made (see {@link Claims}), so memory the pool
 * holds cannot be adopted as an owned buffer, nor freed through the device by anyone else.
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
  /** Blocks retired whose residency removal awaits its commit before their memory is given up. */
  private final List<Block> retired = new ArrayList<>();
  /** Fresh blocks of a failed batch, taken back by {@link #undoFresh}, to free in {@link #endUndo}. */
  private final List<Block> undone = new ArrayList<>();
  /** The calls to the pool's registrars, or null without any. */
  private final @Nullable RegistrarQueue registrars;
  /**
   * Blocks whose deregistration is queued, by device buffer, for the registrar queue to give their
   * memory up once every registrar has let go: written under the lock, taken without it.
   */
  private final Map<DeviceBuffer, Block> deregistering =
      Collections.synchronizedMap(new IdentityHashMap<>());

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
    this.registrars = all.isEmpty() ? null : new RegistrarQueue(all, this::giveUpDeregistered, counters);
  }

  @Nullable ResidencySet residency() {
    return residency;
  }

  // ================================================================ making blocks

  /** The capacity of a block of {@code bucket}. */
  long capacityOf(int bucket) {
    return policy.sizeOfBucket(bucket);
  }

  /**
   * Checks, before anything is evicted, that {@code bytes} of fresh device memory for a batch of
   * {@code requests} requests fit the memory limit once {@code cache} is given back.
   *
   * @throws PoolExhaustedException if they do not, leaving the pool untouched
   */
  void requireRoomFor(long bytes, int requests, Reclaimer cache) {
    if (bytes > memoryLimit - (counters.heldBytes - cache.reclaimableBytes())) {
      throw new PoolExhaustedException(
          outOfMemory("a batch of " + requests + " requests", bytes + " bytes of fresh device"
              + " memory", "the memory limit", cache), bytes);
    }
  }

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
    b.claimMemory(); // fails only for a device that hands out memory someone owns: not freed here
    try {
      device.fillZero(raw, 0, capacity);
      if (residency != null) {
        residency.add(raw);
      }
    } catch (RuntimeException e) {
      giveUp(b, e);
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

  /**
   * Takes back a block {@link #fresh} made earlier in a batch that then failed, as if never made:
   * stages its residency removal; {@link #endUndo} commits the removals once and then frees them.
   */
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
    undone.add(b);
  }

  /**
   * Frees what {@link #undoFresh} took back, after one commit of their removals (a buffer must not
   * be freed while a staged member). The pool's figures show the batch as never made, so this
   * commit is not counted; the residency set sees it.
   */
  void endUndo() {
    if (undone.isEmpty()) {
      return;
    }
    RuntimeException failure = null;
    try {
      if (residency != null) {
        residency.commit();
      }
      failure = giveUpAll(undone, null);
    } finally {
      undone.clear();
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Gives up the memory of a block that was never issued, after {@code cause}, adding failures to it. */
  private static void giveUp(Block b, RuntimeException cause) {
    try {
      if (b.retireMemory()) {
        b.freeMemory();
      }
    } catch (RuntimeException e) {
      cause.addSuppressed(e);
    }
  }

  /**
   * Gives up the memory of {@code blocks} (see the class comment), collecting failures; with
   * registrars, after their deregistration, which the section makes after unlocking.
   */
  private @Nullable RuntimeException giveUpAll(List<Block> blocks, @Nullable RuntimeException failure) {
    for (Block b : blocks) {
      if (registrars != null) {
        deregistering.put(b.raw, b);
        registrars.deregisterThenFree(b.raw);
        continue;
      }
      try {
        if (b.retireMemory()) {
          b.freeMemory();
        }
      } catch (RuntimeException e) {
        failure = collect(failure, e);
      }
    }
    return failure;
  }

  private void noteRetry(long requested, String reason) {
    counters.oomRetries++;
    PoolEvents.oomRetry(requested, counters.heldBytes, reason);
  }

  private String outOfMemory(long requested, long capacity, String refusedBy, Reclaimer cache) {
    return outOfMemory(requested + " bytes", "bucket of " + capacity + " bytes", refusedBy, cache);
  }

  private String outOfMemory(String what, String needs, String refusedBy, Reclaimer cache) {
    return "cannot allocate " + what + " (" + needs + ") on "
        + device.name() + ": refused by " + refusedBy + "; " + counters.holdings()
        + ", memory limit " + (memoryLimit == Long.MAX_VALUE ? "none" : memoryLimit + " bytes")
        + ", largest free bucket " + cache.largestReclaimable() + " bytes";
  }

  // ================================================================ giving blocks back

  /**
   * Drops a FREE (or, at close, any) block from the pool, ending the lease of any handle to it, and
   * stages its removal from the residency set; its memory goes back in {@link #releaseRetired}.
   * Returns {@code failure} with a residency failure added, if there was one.
   */
  @Nullable RuntimeException retire(Block b, byte why, @Nullable RuntimeException failure) {
    // Unconditionally: at close a block's state may be changing on its scope's thread.
    b.kill(why);
    b.state = Block.GONE;
    registry.remove(b);
    counters.heldCount--;
    counters.heldBytes -= b.capacity;
    counters.deviceFrees++;
    retired.add(b);
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
   * Gives up the memory of every retired block; call after the residency commit that removed them.
   * Memory no access holds goes back to the device now; the rest when the last access ends (see
   * the class comment). Device failures are collected like {@link #retire}'s.
   */
  @Nullable RuntimeException releaseRetired(@Nullable RuntimeException failure) {
    try {
      return giveUpAll(retired, failure);
    } finally {
      retired.clear();
    }
  }

  /** The registrar queue's free: every registrar let go of {@code raw}; its block's memory goes. */
  private void giveUpDeregistered(DeviceBuffer raw) {
    Block b = Objects.requireNonNull(deregistering.remove(raw), "a deregistration the ledger queued");
    if (b.retireMemory()) {
      b.freeMemory();
    }
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
    if (residency != null) {
      residency.commit();
      counters.residencyCommits++;
    }
  }

  /** Adds a registered owned buffer to the residency set and commits; the set must exist. */
  void addRegistered(DeviceBuffer raw) {
    if (residency != null) {
      residency.add(raw);
      counters.residencyAdds++;
      commit();
    }
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
