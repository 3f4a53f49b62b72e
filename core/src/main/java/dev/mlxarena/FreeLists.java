package dev.mlxarena;

import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The free buffers no open scope has reserved: one LIFO stack per bucket (the global lists), plus
 * the reserves of closed scopes, parked until a {@link BufferPool#openScope()} adopts one;
 * and when each bucket was last used, the order the evictor gives buffers back in.
 *
 * <h2>Reserves</h2>
 * A scope recycles what it issued into its own {@link Reserve} (a tape in allocation order plus
 * stacks by bucket) rather than into the global lists. When it closes, the reserve is parked
 * here; the next scope to open adopts the most recently parked reserve (its own thread's first)
 * and allocates from it without taking the pool's lock, since a scope is used by one thread at a
 * time. In a decode loop, token t+1 thus adopts exactly the buffers token t used, and its
 * allocations are lock-free reads of that tape.
 *
 * <p>Every block here is FREE. Allocation under the lock looks in the global list of its bucket,
 * then in the parked reserves from newest to oldest, so parked buffers are never stranded. At most
 * {@link #PARK_LIMIT} reserves stay parked; older ones are merged into the global lists.
 *
 * <h2>Last use</h2>
 * A logical clock stamps a bucket when a block is taken from it here ({@link #pop}) and when
 * blocks are recycled into it ({@link #touch}, under the clock's current value, which {@link
 * #advanceClock()} moves on once per batch), so the least recently used buckets are the first to
 * go back to the device.
 *
 * <p>Guarded by the pool's lock.
 */
final class FreeLists {
  static final int PARK_LIMIT = 8;

  private final BlockStack[] global;
  private final Reserve[] parked = new Reserve[PARK_LIMIT];
  private int parkedCount;
  private final long[] lastUse;
  private long clock;

  FreeLists(int buckets) {
    this.global = new BlockStack[buckets];
    this.lastUse = new long[buckets];
  }

  void push(Block b) {
    BlockStack.push(global, b);
  }

  /** Marks {@code b} FREE and pushes it on the global list of its bucket. */
  void add(Block b) {
    b.state = Block.FREE;
    BlockStack.push(global, b);
    if (PlantedFault.active == PlantedFault.DOUBLE_PUSH) {
      BlockStack.push(global, b);
    }
  }

  /**
   * A free block of {@code bucket}: the global list first, then parked reserves, newest first. A
   * block taken stamps its bucket as used now.
   */
  @Nullable Block pop(int bucket) {
    BlockStack s = global[bucket];
    Block b = s == null ? null : s.pop();
    for (int i = parkedCount - 1; b == null && i >= 0; i--) {
      b = parked[i].popSpilled(bucket);
    }
    if (b != null) {
      lastUse[bucket] = ++clock;
    }
    return b;
  }

  /** Stamps {@code bucket} as used at the clock's current value. */
  void touch(int bucket) {
    lastUse[bucket] = clock;
  }

  /** An empty set of buckets, for {@link #touchAll}. */
  long[] newBucketSet() {
    return new long[(lastUse.length + 63) >>> 6];
  }

  /**
   * Stamps every bucket in {@code buckets} (bit {@code i % 64} of word {@code i / 64}) as used
   * now, empties the set and moves the clock on: one batch of recycling.
   */
  void touchAll(long[] buckets) {
    for (int w = 0; w < buckets.length; w++) {
      for (long bits = buckets[w]; bits != 0; bits &= bits - 1) {
        lastUse[(w << 6) + Long.numberOfTrailingZeros(bits)] = clock;
      }
      buckets[w] = 0;
    }
    clock++;
  }

  /** Moves the clock on, after a batch of {@link #touch}es. */
  void advanceClock() {
    clock++;
  }

  /** When {@code bucket} was last used, on the clock of {@link #touch}. */
  long lastUse(int bucket) {
    return lastUse[bucket];
  }

  int bucketCount() {
    return lastUse.length;
  }

  /** Parks a closed scope's reserve; beyond the limit, the oldest is merged into the global lists. */
  void park(Reserve reserve) {
    if (parkedCount == PARK_LIMIT) {
      Reserve oldest = parked[0];
      System.arraycopy(parked, 1, parked, 0, PARK_LIMIT - 1);
      parkedCount--;
      oldest.drain(this::push);
    }
    reserve.parkedBy = Thread.currentThread();
    parked[parkedCount++] = reserve;
  }

  /**
   * The most recently parked reserve of the calling thread, else the most recently parked one,
   * now owned by the caller; or {@code null}. A thread that decodes token after token thus gets
   * back the buffers its last token used, still warm in its core's caches.
   */
  @Nullable Reserve adopt() {
    if (parkedCount == 0) {
      return null;
    }
    Thread me = Thread.currentThread();
    int pick = parkedCount - 1;
    for (int i = pick; i >= 0; i--) {
      if (parked[i].parkedBy == me) {
        pick = i;
        break;
      }
    }
    Reserve r = parked[pick];
    System.arraycopy(parked, pick + 1, parked, pick, parkedCount - pick - 1);
    Slots.clear(parked, --parkedCount);
    r.parkedBy = null;
    return r;
  }

  /** The free blocks of {@code bucket} here (global and parked). */
  int count(int bucket) {
    int n = global[bucket] == null ? 0 : global[bucket].size();
    for (int i = 0; i < parkedCount; i++) {
      n += parked[i].count(bucket);
    }
    return n;
  }

  /** Removes every block, global and parked, handing each to {@code sink}. */
  void drain(Consumer<Block> sink) {
    BlockStack.drain(global, sink);
    for (int i = 0; i < parkedCount; i++) {
      parked[i].drain(sink);
      Slots.clear(parked, i);
    }
    parkedCount = 0;
  }

  /** Visits every block without removing it. */
  void forEach(Consumer<Block> visitor) {
    BlockStack.forEach(global, visitor);
    for (int i = 0; i < parkedCount; i++) {
      parked[i].forEach(visitor);
    }
  }
}
