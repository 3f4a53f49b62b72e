package dev.mlxarena;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.DeviceStream;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Read-only inspection of a pool's rooms, for its queries and its tests: the counts and statistics
 * {@link BufferPool} answers, the per-bucket breakdown, snapshots of its device buffers, and the
 * invariant audit the tests run after every action. Every method takes the pool's lock itself.
 *
 * <h2>What a query may look at while other threads allocate</h2>
 * The reserves of open scopes belong to their threads, which take from them and refill them
 * without the lock (see {@code Reserve}), so a query never walks them: a tape or a stack caught
 * mid-change could be read past its end or counted twice. The per-bucket queries walk the registry
 * instead (every held block, changed only under the lock) and file each block by its state, a
 * plain field its owner writes without the lock: every block is counted exactly once, as live,
 * free or waiting for a fence, and a block changing hands at that moment may be filed under either
 * of its two states. Blocks in a stream's lane are FREE but wait for its fence; the lanes change
 * only under the lock, so they are walked to file those as waiting. Only {@link #verify()} and the
 * device-buffer snapshots, which the tests run on a pool no other thread uses, look into the
 * reserves.
 */
@SuppressWarnings("try") // try (PoolLock held = lock.hold()) holds the lock for a section
final class PoolAudit {
  private final PoolLock lock;
  private final BucketPolicy policy;
  private final DeviceLedger ledger;
  private final FreeLists free;
  private final OpenScopes scopes;
  private final FenceQueue fences;
  private final StreamLanes lanes;
  private final PoolCounters counters;

  PoolAudit(
      PoolLock lock,
      BucketPolicy policy,
      DeviceLedger ledger,
      FreeLists free,
      OpenScopes scopes,
      FenceQueue fences,
      StreamLanes lanes,
      PoolCounters counters) {
    this.lock = lock;
    this.policy = policy;
    this.ledger = ledger;
    this.free = free;
    this.scopes = scopes;
    this.fences = fences;
    this.lanes = lanes;
    this.counters = counters;
  }

  /** {@link BufferPool#freeCount()}. */
  int freeCount() {
    try (PoolLock held = lock.hold()) {
      return (int) counters.cachedCountNow();
    }
  }

  /**
   * {@link BufferPool#freeCount(long)}: the free blocks of one bucket, reserves included, read from
   * the registry (see the class comment).
   */
  int freeCount(int bucket) {
    try (PoolLock held = lock.hold()) {
      BlockRegistry registry = ledger.registry;
      int n = 0;
      for (int i = 0; i < registry.size(); i++) {
        Block b = registry.get(i);
        if (b.bucket == bucket && b.state == Block.FREE) {
          n++;
        }
      }
      int[] inLanes = {0}; // FREE, but waiting for their stream's fence (see StreamLanes)
      lanes.forEach(b -> inLanes[0] += b.bucket == bucket ? 1 : 0);
      return n - inLanes[0];
    }
  }

  /** {@link BufferPool#freeBytes()}. */
  long freeBytes() {
    try (PoolLock held = lock.hold()) {
      return counters.cachedBytesNow();
    }
  }

  /** {@link BufferPool#inUseCount()}. */
  int inUseCount() {
    try (PoolLock held = lock.hold()) {
      return (int) counters.activeCountNow();
    }
  }

  /** {@link BufferPool#stats()}. */
  PoolStats stats() {
    try (PoolLock held = lock.hold()) {
      return counters.snapshot();
    }
  }

  /** {@link BufferPool#resetPeaks()}: the one write here, to the peaks alone. */
  void resetPeaks() {
    try (PoolLock held = lock.hold()) {
      counters.resetPeaks();
    }
  }

  /** Active and cached figures for {@code BufferPool.toString()}. */
  String describe() {
    try (PoolLock held = lock.hold()) {
      return "active " + counters.activeCountNow() + " (" + counters.activeBytesNow()
          + " B), cached " + counters.cachedCountNow() + " (" + counters.cachedBytesNow() + " B)";
    }
  }

  /** Visits every FREE block: global lists, parked reserves, open scopes' reserves. */
  private void forEachFree(Consumer<Block> visitor) {
    free.forEach(visitor);
    scopes.forEachReserved(visitor);
  }

  /**
   * The first violated invariant, or {@code null}, on a pool no other thread is using: every held buffer is in exactly one place (A2:
   * live, free in one list or reserve, or waiting for a fence), free buffers are FREE and filed
   * under their own bucket, the counters match the blocks (C1), and every held buffer is in the
   * residency set (R1).
   */
  @Nullable String verify() {
    try (PoolLock held = lock.hold()) {
      return verifyLocked();
    }
  }

  private @Nullable String verifyLocked() {
    BlockRegistry registry = ledger.registry;
    IdentityHashMap<Block, Boolean> seen = new IdentityHashMap<>();
    long live = 0;
    long liveBytes = 0;
    long requested = 0;
    long held = 0;
    for (int i = 0; i < registry.size(); i++) {
      Block b = registry.get(i);
      if (b.registryIndex != i || !b.isPooled()) {
        return "registry slot " + i + " holds a block indexed " + b.registryIndex;
      }
      if (seen.put(b, Boolean.FALSE) != null) {
        return "block registered twice: " + b.raw;
      }
      held += b.capacity;
      if (b.state == Block.LIVE) {
        live++;
        liveBytes += b.capacity;
        requested += b.byteLength;
      } else if (b.state != Block.FREE && b.state != Block.DEFERRED) {
        return "held block in state " + b.state + ": " + b.raw;
      }
      if (!ledger.isResident(b.raw)) {
        return "held block missing from the residency set: " + b.raw;
      }
    }
    String[] problem = {null};
    long[] freeTotals = new long[2];
    forEachFree(b -> {
      if (problem[0] != null) {
        return;
      }
      if (b.state != Block.FREE) {
        problem[0] = "a free list holds a block in state " + b.state + ": " + b.raw;
      } else if (!Boolean.FALSE.equals(seen.put(b, Boolean.TRUE))) {
        problem[0] = "free block that is unregistered or listed twice: " + b.raw;
      }
      freeTotals[0]++;
      freeTotals[1] += b.capacity;
    });
    long[] waiting = new long[2];
    fences.forEach(b -> {
      if (problem[0] != null) {
        return;
      }
      if (b.state != Block.DEFERRED || !Boolean.FALSE.equals(seen.put(b, Boolean.TRUE))) {
        problem[0] = "a fence-deferred block in state " + b.state + " or listed twice: " + b.raw;
      }
      waiting[0]++;
      waiting[1] += b.capacity;
    });
    lanes.forEach(b -> { // free for its stream, waiting for a fence for everyone else
      if (problem[0] == null && (b.state != Block.FREE || !Boolean.FALSE.equals(seen.put(b, Boolean.TRUE)))) {
        problem[0] = "a block in a stream's lane in state " + b.state + " or listed twice: " + b.raw;
      }
      waiting[0]++;
      waiting[1] += b.capacity;
    });
    if (problem[0] != null) {
      return problem[0];
    }
    PoolStats st = counters.snapshot();
    if (waiting[0] != st.deferredCount() || waiting[1] != st.deferredBytes()) {
      return "deferred counters " + st.deferredCount() + "/" + st.deferredBytes() + " != blocks "
          + waiting[0] + "/" + waiting[1];
    }
    if (freeTotals[0] + live + waiting[0] != registry.size() || registry.size() != st.heldCount()) {
      return "held " + registry.size() + " (counted " + st.heldCount() + ") != free " + freeTotals[0]
          + " + live " + live + " + deferred " + waiting[0];
    }
    if (live != st.activeCount() || liveBytes != st.activeBytes() || requested != st.requestedBytes()) {
      return "active counters " + st.activeCount() + "/" + st.activeBytes() + "/" + st.requestedBytes()
          + " != blocks " + live + "/" + liveBytes + "/" + requested;
    }
    if (freeTotals[0] != st.cachedCount() || freeTotals[1] != st.cachedBytes() || held != st.heldBytes()) {
      return "cached/held counters " + st.cachedCount() + "/" + st.cachedBytes() + "/" + st.heldBytes()
          + " != blocks " + freeTotals[0] + "/" + freeTotals[1] + "/" + held;
    }
    return null;
  }

  /** How the held buffers spread over buckets, smallest first; empty buckets left out. */
  List<BucketStats> bucketStats() {
    try (PoolLock held = lock.hold()) {
      return bucketStatsLocked();
    }
  }

  /** Every held block filed by its state, from the registry (see the class comment). */
  private List<BucketStats> bucketStatsLocked() {
    BlockRegistry registry = ledger.registry;
    int n = policy.bucketCount();
    int[] live = new int[n];
    int[] freeCounts = new int[n];
    int[] waiting = new int[n];
    for (int i = 0; i < registry.size(); i++) {
      Block b = registry.get(i);
      int state = b.state;
      if (state == Block.LIVE) {
        live[b.bucket]++;
      } else if (state == Block.DEFERRED) {
        waiting[b.bucket]++;
      } else {
        freeCounts[b.bucket]++;
      }
    }
    lanes.forEach(b -> { // FREE, but waiting for their stream's fence (see StreamLanes)
      freeCounts[b.bucket]--;
      waiting[b.bucket]++;
    });
    List<BucketStats> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (live[i] + freeCounts[i] + waiting[i] > 0) {
        out.add(new BucketStats(policy.sizeOfBucket(i), live[i], freeCounts[i], waiting[i]));
      }
    }
    return out;
  }

  /** The device buffers the pool holds, live and free. */
  List<DeviceBuffer> heldDeviceBuffers() {
    try (PoolLock held = lock.hold()) {
      BlockRegistry registry = ledger.registry;
      List<DeviceBuffer> out = new ArrayList<>(registry.size());
      for (int i = 0; i < registry.size(); i++) {
        out.add(registry.get(i).raw);
      }
      return out;
    }
  }

  /** The device buffers waiting in {@code stream}'s lane: free for it, not yet for anyone else. */
  List<DeviceBuffer> streamDeviceBuffers(DeviceStream stream) {
    try (PoolLock held = lock.hold()) {
      List<DeviceBuffer> out = new ArrayList<>();
      lanes.blocksOf(stream).forEach(b -> out.add(b.raw));
      return out;
    }
  }

  /** The free device buffers, wherever they wait. */
  List<DeviceBuffer> freeDeviceBuffers() {
    try (PoolLock held = lock.hold()) {
      List<DeviceBuffer> out = new ArrayList<>();
      forEachFree(b -> out.add(b.raw));
      return out;
    }
  }
}
