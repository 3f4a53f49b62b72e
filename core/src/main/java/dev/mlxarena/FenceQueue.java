package dev.mlxarena;

import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.function.Consumer;

/**
 * Buffers handed back with a fence that has not completed ({@link Scope#closeAfter}, {@link
 * BufferPool#release(Buffer, Fence)}, the close of a scope opened on a stream): their handles are
 * stale already, but their memory stays out of the free lists, in state DEFERRED, until the fence
 * completes, so that no later allocation can alias memory the device may still be using.
 *
 * <p>{@link #collect()} polls the fences in the order they were handed back and moves the buffers
 * of every completed one to the free lists; the pool calls it when it opens and closes scopes,
 * allocates under its lock, releases with a fence and trims. Reports what waits to {@link
 * PoolCounters}. Guarded by the pool's lock.
 */
final class FenceQueue {
  private static final System.Logger LOG = System.getLogger("dev.mlxarena.BufferPool");

  /** Buffers handed back together with one fence. */
  private record Waiting(Fence fence, Block[] blocks) {}

  private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
  private final FreeLists free;
  private final Evictor evictor;
  private final PoolCounters counters;

  FenceQueue(FreeLists free, Evictor evictor, PoolCounters counters) {
    this.free = free;
    this.evictor = evictor;
    this.counters = counters;
  }

  /** Keeps {@code blocks}, already DEFERRED and counted by {@link #count}, until {@code fence}. */
  void add(Fence fence, Block[] blocks) {
    waiting.add(new Waiting(fence, blocks));
  }

  /** Marks a block that has just left LIVE as waiting for a fence. */
  void count(Block b) {
    b.state = Block.DEFERRED;
    counters.deferredCount++;
    counters.deferredBytes += b.capacity;
  }

  /**
   * Moves the buffers of every completed fence to the free lists, oldest first, then holds the
   * cache limit if that grew the cache.
   */
  void collect() {
    if (waiting.isEmpty()) {
      return;
    }
    boolean freed = false;
    for (Iterator<Waiting> it = waiting.iterator(); it.hasNext(); ) {
      Waiting w = it.next();
      if (!w.fence().isComplete()) {
        continue;
      }
      it.remove();
      for (Block b : w.blocks()) {
        counters.deferredCount--;
        counters.deferredBytes -= b.capacity;
        free.add(b);
        free.touch(b.bucket);
      }
      close(w.fence());
      freed = true;
    }
    if (freed) {
      free.advanceClock();
      evictor.enforceCacheLimit();
    }
  }

  /** Drops every waiting buffer (the pool is closing and has retired them) and closes the fences. */
  void dropAll() {
    for (Waiting w : waiting) {
      close(w.fence());
    }
    waiting.clear();
    counters.deferredCount = 0;
    counters.deferredBytes = 0;
  }

  /** Closes a fence the pool no longer needs; a failure is logged, not thrown. */
  static void close(Fence fence) {
    try {
      fence.close();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "closing a completed fence failed", e);
    }
  }

  /** Visits every waiting block, for the audit. */
  void forEach(Consumer<Block> visitor) {
    for (Waiting w : waiting) {
      for (Block b : w.blocks()) {
        visitor.accept(b);
      }
    }
  }
}
