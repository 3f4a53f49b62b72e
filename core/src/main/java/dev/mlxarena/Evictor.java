package dev.mlxarena;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;
import org.jspecify.annotations.Nullable;

/**
 * Decides which cached buffers go back to the device, and when: the cache limit after every call
 * that may have grown the cache, {@link BufferPool#trim(long)}, {@link BufferPool#clear()}, and,
 * as the device ledger's {@link DeviceLedger.Reclaimer}, the memory limit and the retry after the
 * device refused. Least recently used buckets go first ({@link FreeLists#lastUse}); the ledger does
 * the giving back, with one residency commit per eviction. The global lists and parked reserves are
 * evicted; the reserves of open scopes belong to their threads until they close, so the only one
 * that may be evicted is the reserve of the scope allocating right now, on its own thread ({@link
 * #with}), and only after the pool's own lists: without it, a scope holding the previous token's
 * buffers could be refused memory that only it keeps.
 *
 * <p>Guarded by the pool's lock.
 */
final class Evictor implements DeviceLedger.Reclaimer {
  private final FreeLists free;
  private final DeviceLedger ledger;
  private final PoolCounters counters;
  private final long cacheLimit;

  Evictor(FreeLists free, DeviceLedger ledger, PoolCounters counters, long cacheLimit) {
    this.free = free;
    this.ledger = ledger;
    this.counters = counters;
    this.cacheLimit = cacheLimit;
  }

  /** Gives cached buffers back until the cache limit holds again. */
  void enforceCacheLimit() {
    if (cacheLimit != Long.MAX_VALUE && counters.cachedBytesNow() > cacheLimit) {
      trimTo(cacheLimit, "cache limit");
    }
  }

  /** Bytes the cache may still grow by before the cache limit: what a stream scope may adopt. */
  long cacheRoom() {
    return cacheLimit == Long.MAX_VALUE ? Long.MAX_VALUE : cacheLimit - counters.cachedBytesNow();
  }

  /** Gives cached buffers back until at most {@code targetCached} bytes stay cached; returns the bytes freed. */
  long trimTo(long targetCached, String reason) {
    return reclaim(counters.cachedBytesNow() - targetCached, reason);
  }

  /**
   * Frees at least {@code bytes} of cached buffers if there are that many to free, least recently
   * used buckets first, with one residency commit. Callers that must free an exact amount ask for
   * it here rather than for a target level: the cached figure includes other threads' lock-free
   * allocations, so it can move between two reads.
   */
  @Override
  public long reclaim(long bytes, String reason) {
    return reclaim(bytes, reason, null);
  }

  /**
   * What {@link #reclaim(long, String)} does, then, if that is not enough, the same from {@code
   * own}, the reserve of the scope whose thread is calling, least recently used buckets first.
   */
  private long reclaim(long bytes, String reason, @Nullable Reserve own) {
    if (bytes <= 0) {
      return 0;
    }
    long[] freed = new long[2]; // bytes, buffers
    RuntimeException failure = null;
    Integer[] order = leastRecentlyUsedFirst();
    failure = evictFrom(order, free::pop, bytes, freed, failure);
    if (own != null && freed[0] < bytes) {
      failure = evictFrom(order, own::popSpilled, bytes, freed, failure);
    }
    long freedBytes = freed[0];
    long freedBuffers = freed[1];
    if (freedBuffers > 0) {
      ledger.commit();
      failure = ledger.releaseRetired(failure);
      counters.trims++;
      counters.trimmedBytes += freedBytes;
      PoolEvents.trim(reason, freedBuffers, freedBytes);
    }
    if (failure != null) {
      throw failure;
    }
    return freedBytes;
  }

  /** Retires blocks taken from {@code source}, bucket by bucket in {@code order}, until {@code freed[0] >= bytes}. */
  private @Nullable RuntimeException evictFrom(
      Integer[] order, IntFunction<@Nullable Block> source, long bytes, long[] freed,
      @Nullable RuntimeException failure) {
    for (int bucket : order) {
      while (freed[0] < bytes) {
        Block b = source.apply(bucket);
        if (b == null) {
          break;
        }
        freed[0] += b.capacity;
        freed[1]++;
        failure = ledger.retire(b, Block.DEATH_CLEARED, failure);
      }
      if (freed[0] >= bytes) {
        break;
      }
    }
    return failure;
  }

  /**
   * What the device ledger may reclaim for an allocation through a scope, on its thread under the
   * lock: the pool's lists, then {@code own}, the scope's reserve where it may be evicted ({@code
   * ScopeState#evictableReserve}), if any.
   */
  DeviceLedger.Reclaimer with(@Nullable Reserve own) {
    if (own == null) {
      return this;
    }
    return new DeviceLedger.Reclaimer() {
      @Override
      public long reclaimableBytes() {
        long[] total = {Evictor.this.reclaimableBytes()};
        own.forEach(b -> total[0] += b.capacity);
        return total[0];
      }

      @Override
      public long reclaim(long bytes, String reason) {
        return Evictor.this.reclaim(bytes, reason, own);
      }

      @Override
      public long largestReclaimable() {
        long[] max = {Evictor.this.largestReclaimable()};
        own.forEach(b -> max[0] = Math.max(max[0], b.capacity));
        return max[0];
      }
    };
  }

  private Integer[] leastRecentlyUsedFirst() {
    Integer[] order = new Integer[free.bucketCount()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (x, y) -> Long.compare(free.lastUse(x), free.lastUse(y)));
    return order;
  }

  @Override
  public long reclaimableBytes() {
    long[] total = {0};
    free.forEach(b -> total[0] += b.capacity);
    return total[0];
  }

  @Override
  public long largestReclaimable() {
    long[] max = {0};
    free.forEach(b -> max[0] = Math.max(max[0], b.capacity));
    return max[0];
  }

  /** Gives every buffer of the global lists and parked reserves back, with one residency commit. */
  void clear() {
    List<Block> gone = new ArrayList<>();
    free.drain(gone::add);
    RuntimeException failure = null;
    for (Block b : gone) {
      failure = ledger.retire(b, Block.DEATH_CLEARED, failure);
    }
    if (!gone.isEmpty()) {
      ledger.commit();
      failure = ledger.releaseRetired(failure);
    }
    if (failure != null) {
      throw failure;
    }
  }
}
