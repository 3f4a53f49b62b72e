package dev.mlxarena;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Every way a live pooled buffer goes back: one at a time ({@link BufferPool#release}, {@link
 * Buffer#close()}), or a scope's worth ({@link Scope#close()}, {@link BufferPool#reset()}, the
 * pool's close), at once or after a fence. Each hand-back first ends the lease ({@link Block#kill},
 * so that every handle to it is stale), then moves the block to a free list, a reserve or the
 * fence queue, and takes it out of the active figures.
 *
 * <p>A scope's hand-back walks its record in allocation order and recycles exactly the entries
 * whose generation still matches (see {@link ScopeState}); the survivors, compacted, become the
 * tape of the reserve the next scope adopts (see {@link Reserve}). Guarded by the pool's lock.
 */
final class HandBacks {
  private final FreeLists free;
  private final FenceQueue fences;
  private final Evictor evictor;
  private final PoolCounters counters;

  HandBacks(FreeLists free, FenceQueue fences, Evictor evictor, PoolCounters counters) {
    this.free = free;
    this.fences = fences;
    this.evictor = evictor;
    this.counters = counters;
  }

  /**
   * Checks that {@code buffer} is a pooled handle of the pool whose handles close through {@code
   * pooled}, for {@code op}; returns its block.
   */
  static Block requireOwnPooled(Buffer buffer, Block.Recycler pooled, String op) {
    Checks.notNull(buffer, "buffer");
    Block b = buffer.block;
    if (buffer.isView()) {
      throw new IllegalArgumentException(
          "cannot " + op + " a slice view; " + op + " the buffer it was sliced from");
    }
    if (!b.isPooled()) {
      throw new IllegalArgumentException(
          "cannot " + op + " an owned buffer (from Device.allocBuffer); close it instead");
    }
    if (b.recycler != pooled) {
      throw new IllegalArgumentException("cannot " + op + " a buffer of another pool");
    }
    return b;
  }

  /** LIVE to FREE for one buffer: its handles die and it goes on its bucket's global list. */
  void recycle(Block b, byte why) {
    counters.notePeak();
    leaveLive(b, why);
    free.add(b);
  }

  /** LIVE to DEFERRED for one buffer: its handles die now, its memory waits for {@code fence}. */
  void defer(Block b, byte why, Fence fence) {
    counters.notePeak();
    leaveLive(b, why);
    fences.count(b);
    fences.add(fence, new Block[] {b});
    fences.collect();
  }

  /**
   * Closes {@code scope}: its buffers go back into its reserve, which is parked for the next scope
   * to adopt, or, with a fence that has not completed, to the fence queue.
   */
  void closeScope(ScopeState scope, @Nullable Fence fence) {
    counters.fold(scope);
    Reserve reserve = scope.reserve != null ? scope.reserve : new Reserve(free.bucketCount());
    scope.reserve = null;
    long activeBefore = counters.activeBytes;
    int issued = scope.count;
    if (fence == null || fence.isComplete()) {
      recycleScope(scope, Block.DEATH_SCOPE_CLOSED, reserve);
      if (fence != null) {
        FenceQueue.close(fence);
      }
    } else {
      deferScope(scope, fence);
    }
    if (!reserve.isEmpty()) {
      free.park(reserve);
    }
    fences.collect();
    evictor.enforceCacheLimit();
    PoolEvents.scopeClose(issued, activeBefore - counters.activeBytes, fence != null);
    scope.markClosed();
  }

  /** Recycles the default scope's buffers into the global lists ({@link BufferPool#reset()}). */
  void reset(ScopeState defaultScope) {
    counters.fold(defaultScope);
    recycleScope(defaultScope, Block.DEATH_RESET, null);
    evictor.enforceCacheLimit();
  }

  /**
   * Recycles and closes every scope, the open ones and then the default one (the pool closes);
   * returns where the scopes that were still open had been opened.
   */
  List<Throwable> closeAll(OpenScopes scopes, ScopeState defaultScope) {
    List<Throwable> stillOpen = new ArrayList<>();
    for (ScopeState s = scopes.first(); s != null; ) {
      ScopeState next = s.next;
      stillOpen.add(s.openedAt != null ? s.openedAt : new Throwable("scope opened where no stack was recorded"));
      counters.fold(s);
      recycleScope(s, Block.DEATH_POOL_CLOSED, null);
      s.reserve = null;
      s.markClosed();
      scopes.remove(s);
      s = next;
    }
    counters.fold(defaultScope);
    recycleScope(defaultScope, Block.DEATH_POOL_CLOSED, null);
    defaultScope.markClosed();
    return stillOpen;
  }

  /** The failure of a strict close with scopes still open, naming where they were opened. */
  static IllegalStateException closedWithScopesOpen(
      List<Throwable> stillOpen, @Nullable RuntimeException failure) {
    IllegalStateException strict = new IllegalStateException(
        "the pool was closed with " + stillOpen.size() + " scope(s) still open; they are closed"
            + " now, and the stacks where they were opened are attached as suppressed exceptions");
    stillOpen.forEach(strict::addSuppressed);
    if (failure != null) {
      strict.addSuppressed(failure);
    }
    return strict;
  }

  /**
   * Recycles every buffer {@code scope} issued whose handle is still live, into {@code target} (a
   * reserve) or, when {@code null}, the global free lists, and empties its record.
   */
  private void recycleScope(ScopeState scope, byte why, @Nullable Reserve target) {
    counters.notePeak();
    Block[] bs = scope.blocks;
    long[] gs = scope.generations;
    boolean doublePush = PlantedFault.active == PlantedFault.DOUBLE_PUSH;
    // Totals in locals: the generation's release store in the loop would otherwise force every
    // counter update out to memory on each iteration.
    long count = 0;
    long bytes = 0;
    long requested = 0;
    int kept = 0;
    for (int i = 0, n = scope.count; i < n; i++) {
      Block b = bs[i];
      if (b.generationPlain() == gs[i]) {
        kill(b, why);
        free.touch(b.bucket);
        b.state = Block.FREE;
        if (target == null) {
          free.push(b);
        } else if (kept != i) {
          bs[kept] = b; // compacting the record into the next tape, in allocation order
        }
        kept++;
        if (doublePush) {
          free.push(b);
        }
        count++;
        bytes += b.capacity;
        requested += b.byteLength;
      }
    }
    int used = scope.count;
    scope.count = 0;
    if (target != null) {
      // The record becomes the reserve's tape; the old tape's array becomes the scope's record.
      Block[] old = target.newTape(bs, kept);
      scope.blocks = old.length == gs.length ? old : new Block[gs.length];
    } else {
      Arrays.fill(bs, 0, used, null); // the global lists hold them now
    }
    free.advanceClock();
    counters.activeCount -= count;
    counters.activeBytes -= bytes;
    counters.requestedBytes -= requested;
  }

  /** Ends the leases of the scope's live buffers now and keeps them waiting for {@code fence}. */
  private void deferScope(ScopeState scope, Fence fence) {
    counters.notePeak();
    Block[] bs = scope.blocks;
    long[] gs = scope.generations;
    List<Block> held = new ArrayList<>();
    for (int i = 0, n = scope.count; i < n; i++) {
      Block b = bs[i];
      if (b.generationPlain() == gs[i]) {
        leaveLive(b, Block.DEATH_SCOPE_CLOSED);
        fences.count(b);
        held.add(b);
      }
      bs[i] = null;
    }
    scope.count = 0;
    fences.add(fence, held.toArray(new Block[0]));
  }

  /** Ends the lease of a LIVE block and takes it out of the active figures. */
  private void leaveLive(Block b, byte why) {
    kill(b, why);
    counters.activeCount--;
    counters.activeBytes -= b.capacity;
    counters.requestedBytes -= b.byteLength;
  }

  /** Makes every handle to {@code b} stale (unless a fault is planted, for the mutation check). */
  private static void kill(Block b, byte why) {
    if (why != Block.DEATH_RESET || PlantedFault.active != PlantedFault.RESET_KEEPS_HANDLES_LIVE) {
      b.kill(why);
    }
  }
}
