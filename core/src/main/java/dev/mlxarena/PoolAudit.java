package dev.mlxarena;

import dev.mlxarena.spi.DeviceBuffer;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Read-only inspection of a pool: the invariant audit the tests run after every action, the
 * per-bucket breakdown, and snapshots of its device buffers. Every method runs with the pool's lock
 * held by the caller.
 */
final class PoolAudit {
  private PoolAudit() {}

  /**
   * The first violated invariant, or {@code null}: every held buffer is in exactly one place (A2:
   * live, free in one list or reserve, or waiting for a fence), free buffers are FREE and filed
   * under their own bucket, the counters match the blocks (C1), and every held buffer is in the
   * residency set (R1).
   */
  static @Nullable String verify(BufferPool pool) {
    Map<Block, Boolean> seen = new IdentityHashMap<>();
    long live = 0;
    long liveBytes = 0;
    long requested = 0;
    long held = 0;
    for (int i = 0; i < pool.registry.size(); i++) {
      Block b = pool.registry.get(i);
      if (b.registryIndex != i || b.recycler != pool.handles) {
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
      if (pool.residency != null && !pool.residency.contains(b.raw)) {
        return "held block missing from the residency set: " + b.raw;
      }
    }
    String[] problem = {null};
    long[] freeTotals = new long[2];
    pool.forEachFreeLocked(b -> {
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
    if (problem[0] != null) {
      return problem[0];
    }
    long waiting = 0;
    long waitingBytes = 0;
    for (BufferPool.Deferred d : pool.deferred) {
      for (Block b : d.blocks()) {
        if (b.state != Block.DEFERRED || !Boolean.FALSE.equals(seen.put(b, Boolean.TRUE))) {
          return "a fence-deferred block in state " + b.state + " or listed twice: " + b.raw;
        }
        waiting++;
        waitingBytes += b.capacity;
      }
    }
    PoolStats st = pool.statsLocked();
    if (waiting != pool.deferredCount || waitingBytes != pool.deferredBytes) {
      return "deferred counters " + pool.deferredCount + "/" + pool.deferredBytes + " != blocks " + waiting + "/" + waitingBytes;
    }
    if (freeTotals[0] + live + waiting != pool.registry.size()) {
      return "held " + pool.registry.size() + " != free " + freeTotals[0] + " + live " + live + " + deferred " + waiting;
    }
    if (live != st.activeCount() || liveBytes != st.activeBytes() || requested != st.requestedBytes()) {
      return "active counters " + st.activeCount() + "/" + st.activeBytes() + "/" + st.requestedBytes()
          + " != blocks " + live + "/" + liveBytes + "/" + requested;
    }
    if (freeTotals[0] != st.cachedCount() || freeTotals[1] != st.cachedBytes() || held != pool.heldBytes) {
      return "cached/held counters " + st.cachedCount() + "/" + st.cachedBytes() + "/" + pool.heldBytes
          + " != blocks " + freeTotals[0] + "/" + freeTotals[1] + "/" + held;
    }
    return null;
  }

  static List<BucketStats> bucketStats(BufferPool pool) {
    int n = pool.policy.bucketCount();
    int[] live = new int[n];
    int[] freeCounts = new int[n];
    int[] waiting = new int[n];
    for (int i = 0; i < pool.registry.size(); i++) {
      Block b = pool.registry.get(i);
      if (b.state == Block.LIVE) {
        live[b.bucket]++;
      } else if (b.state == Block.DEFERRED) {
        waiting[b.bucket]++;
      }
    }
    pool.forEachFreeLocked(b -> freeCounts[b.bucket]++);
    List<BucketStats> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (live[i] + freeCounts[i] + waiting[i] > 0) {
        out.add(new BucketStats(pool.policy.sizeOfBucket(i), live[i], freeCounts[i], waiting[i]));
      }
    }
    return out;
  }

  static List<DeviceBuffer> held(BufferPool pool) {
    List<DeviceBuffer> out = new ArrayList<>(pool.registry.size());
    for (int i = 0; i < pool.registry.size(); i++) {
      out.add(pool.registry.get(i).raw);
    }
    return out;
  }

  static List<DeviceBuffer> free(BufferPool pool) {
    List<DeviceBuffer> out = new ArrayList<>();
    pool.forEachFreeLocked(b -> out.add(b.raw));
    return out;
  }
}
