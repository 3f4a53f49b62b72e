package dev.mlxarena;

import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The free buffers no open scope has reserved: one LIFO stack per bucket (the global lists), plus
 * the reserves of closed scopes, parked until the next {@link BufferPool#openScope()} adopts one.
 *
 * <h2>Reserves</h2>
 * A scope recycles what it issued into its own {@link Reserve} (a tape in allocation order plus
 * stacks by bucket) rather than into the global lists. When it closes, the reserve is parked here; the next scope to
 * open adopts the most recently parked reserve and allocates from it without taking the pool's
 * lock, since a scope is used by one thread at a time. In a decode loop, token t+1 thus adopts
 * exactly the buffers token t used, and its allocations are lock-free reads of that tape.
 *
 * <p>Every block here is FREE. Allocation under the lock looks in the global list of its bucket,
 * then in the parked reserves from newest to oldest, so parked buffers are never stranded. At most
 * {@link #PARK_LIMIT} reserves stay parked; older ones are merged into the global lists.
 *
 * <p>Guarded by the pool's lock.
 */
final class FreeLists {
  static final int PARK_LIMIT = 8;

  private final BlockStack[] global;
  private final Reserve[] parked = new Reserve[PARK_LIMIT];
  private int parkedCount;

  FreeLists(int buckets) {
    this.global = new BlockStack[buckets];
  }

  /** Pushes {@code b} on the stack of its bucket in {@code lists}, creating it if needed. */
  static void push(BlockStack[] lists, Block b) {
    BlockStack s = lists[b.bucket];
    if (s == null) {
      s = new BlockStack();
      lists[b.bucket] = s;
    }
    s.push(b);
  }

  void push(Block b) {
    push(global, b);
  }

  /** A free block of {@code bucket}: the global list first, then parked reserves, newest first. */
  @Nullable Block pop(int bucket) {
    BlockStack s = global[bucket];
    Block b = s == null ? null : s.pop();
    for (int i = parkedCount - 1; b == null && i >= 0; i--) {
      b = parked[i].popSpilled(bucket);
    }
    return b;
  }

  /** Parks a closed scope's reserve; beyond the limit, the oldest is merged into the global lists. */
  void park(Reserve reserve) {
    if (parkedCount == PARK_LIMIT) {
      Reserve oldest = parked[0];
      System.arraycopy(parked, 1, parked, 0, PARK_LIMIT - 1);
      parkedCount--;
      oldest.drain(this::push);
    }
    parked[parkedCount++] = reserve;
  }

  /** The most recently parked reserve, now owned by the caller, or {@code null}. */
  @Nullable Reserve adopt() {
    if (parkedCount == 0) {
      return null;
    }
    Reserve r = parked[--parkedCount];
    parked[parkedCount] = null;
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
    drain(global, sink);
    for (int i = 0; i < parkedCount; i++) {
      parked[i].drain(sink);
      parked[i] = null;
    }
    parkedCount = 0;
  }

  static void drain(BlockStack[] lists, Consumer<Block> sink) {
    for (BlockStack s : lists) {
      for (Block b = s == null ? null : s.pop(); b != null; b = s.pop()) {
        sink.accept(b);
      }
    }
  }

  /** Visits every block without removing it. */
  void forEach(Consumer<Block> visitor) {
    forEach(global, visitor);
    for (int i = 0; i < parkedCount; i++) {
      parked[i].forEach(visitor);
    }
  }

  /** Visits the blocks of one reserve or list array, bucket by bucket. */
  static void forEach(BlockStack[] lists, Consumer<Block> visitor) {
    for (BlockStack s : lists) {
      for (int i = 0; s != null && i < s.size(); i++) {
        visitor.accept(s.get(i));
      }
    }
  }
}
