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
 * tape of the reserve the next scope adopts (see {@link Reserve}). Closing a scope at once takes
 * three steps: {@link #beginClose} under the pool's lock takes the record over, {@link
 * #recycleInto} walks it on the closing thread without the lock (the record, the reserve and the
 * blocks in it are that thread's alone by then), and {@link #endClose} under the lock parks the
 * reserve. Everything else here runs under the pool's lock.
 */
final class HandBacks {
  private final OpenScopes scopes;
  private final FreeLists free;
  private final FenceQueue fences;
  private final Evictor evictor;
  private final PoolCounters counters;

  HandBacks(
      OpenScopes scopes, FreeLists free, FenceQueue fences, Evictor evictor, PoolCounters counters) {
    this.scopes = scopes;
    this.free = free;
    this.fences = fences;
    this.evictor = evictor;
    this.counters = counters;
  }

  /**
   * Checks that {@code buffer} is a pooled handle of {@code pool}, for {@code op}; returns the
   * scope that issued it.
   */
  static ScopeState requireOwnPooled(Buffer buffer, ScopeState.HandleCloser pool, String op) {
    Checks.notNull(buffer, "buffer");
    if (buffer.isView()) {
      throw new IllegalArgumentException(
          "cannot " + op + " a slice view; " + op + " the buffer it was sliced from");
    }
    if (!(buffer.recycler instanceof ScopeState issuer)) {
      throw new IllegalArgumentException(
          "cannot " + op + " an owned buffer (from Device.allocBuffer); close it instead");
    }
    if (issuer.pool != pool) {
      throw new IllegalArgumentException("cannot " + op + " a buffer of another pool");
    }
    return issuer;
  }

  /**
   * LIVE to FREE for one buffer: its handles die and it goes on its bucket's global list; then the
   * cache limit holds again.
   */
  void recycle(ScopeState issuer, Block b, byte why) {
    counters.notePeak();
    issuer.handedBackEarly(b);
    leaveLive(b, why);
    free.add(b);
    evictor.enforceCacheLimit();
  }

  /** LIVE to DEFERRED for one buffer: its handles die now, its memory waits for {@code fence}. */
  void defer(ScopeState issuer, Block b, byte why, Fence fence) {
    counters.notePeak();
    issuer.handedBackEarly(b);
    leaveLive(b, why);
    fences.count(b);
    fences.add(fence, new Block[] {b});
    fences.collect();
  }

  /**
   * First step of closing {@code scope} at once, under the lock: takes its buffers out of the
   * active figures and its record over ({@link ScopeState#handingBack}), so that from now on
   * releases of its handles leave them to the closing thread. Returns the reserve its buffers go back into, which no one
   * else can reach until {@link #endClose} parks it.
   */
  Reserve beginClose(ScopeState scope, boolean withFence) {
    PoolEvents.scopeClose(scope.count, counters.closing(scope), withFence);
    scope.handingBack = true;
    Reserve reserve = scope.reserve;
    scope.reserve = null;
    return reserve != null ? reserve : new Reserve(free.bucketCount());
  }

  /**
   * Second step, without the lock, on the closing thread: recycles the scope's live buffers into
   * {@code reserve}, noting the buckets it touched in the reserve's {@link Reserve#recycledBuckets}.
   */
  static void recycleInto(ScopeState scope, Reserve reserve) {
    recycleRecord(scope, Block.DEATH_SCOPE_CLOSED, reserve, null, reserve.recycledBuckets, null);
  }

  /**
   * Last step, under the lock: parks the reserve for the next scope (unless the pool closed
   * meanwhile), closes a completed {@code fence}, and closes the scope.
   */
  void endClose(ScopeState scope, Reserve reserve, @Nullable Fence fence, boolean poolOpen) {
    if (poolOpen) {
      free.touchAll(reserve.recycledBuckets);
      if (!reserve.isEmpty()) {
        free.park(reserve);
      }
    }
    if (fence != null) {
      FenceQueue.close(fence);
    }
    if (poolOpen) {
      fences.collect();
      evictor.enforceCacheLimit();
    }
    scope.markClosed();
    scopes.remove(scope);
  }

  /**
   * Closes {@code scope} whose buffers the device may still use until {@code fence}: their handles
   * die now, their memory waits in the fence queue. All under the lock.
   */
  void closeAfter(ScopeState scope, Fence fence) {
    counters.fold(scope);
    Reserve reserve = scope.reserve;
    scope.reserve = null;
    long activeBefore = counters.activeBytes;
    int issued = scope.count;
    deferScope(scope, fence);
    if (reserve != null && !reserve.isEmpty()) {
      free.park(reserve);
    }
    fences.collect();
    evictor.enforceCacheLimit();
    PoolEvents.scopeClose(issued, activeBefore - counters.activeBytes, true);
    scope.markClosed();
    scopes.remove(scope);
  }

  /** Recycles the default scope's buffers into the global lists ({@link BufferPool#reset()}). */
  void reset(ScopeState defaultScope) {
    counters.fold(defaultScope);
    recycleToLists(defaultScope, Block.DEATH_RESET);
    evictor.enforceCacheLimit();
  }

  /**
   * Closes every scope (the pool closes): the open ones are marked closed and unlinked, the default
   * one is recycled; returns where the scopes that were still open had been opened. An open
   * scope's record and reserve belong to its thread, which may be allocating from them without the
   * lock right now, and a closing scope's to its closing thread, so neither is touched here: the
   * device ledger ends the lease of every block the pool holds and gives their memory back.
   */
  List<Throwable> closeAll(ScopeState defaultScope) {
    List<Throwable> stillOpen = new ArrayList<>();
    for (ScopeState s = scopes.first(); s != null; ) {
      ScopeState next = s.next;
      stillOpen.add(s.openedAt != null ? s.openedAt : new Throwable("scope opened where no stack was recorded"));
      if (!s.handingBack) {
        s.markClosed();
      }
      scopes.unlink(s);
      s = next;
    }
    counters.fold(defaultScope);
    recycleToLists(defaultScope, Block.DEATH_POOL_CLOSED);
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

  /** Recycles a scope's live buffers into the global lists, under the lock (reset, pool close). */
  private void recycleToLists(ScopeState scope, byte why) {
    counters.notePeak();
    long[] touched = free.newBucketSet();
    recycleRecord(scope, why, null, free, touched, counters);
    scope.recordHandedBack();
    free.touchAll(touched);
  }

  /**
   * Recycles every buffer {@code scope} issued whose handle is still live, into {@code target} (a
   * reserve, whose tape the compacted record becomes) or, when {@code null}, onto {@code lists},
   * and empties the record; under the lock, counts them out of {@code active} too. The caller
   * owns the record and the blocks in it: under the lock, or the closing thread of a scope handing
   * back.
   */
  private static void recycleRecord(
      ScopeState scope,
      byte why,
      @Nullable Reserve target,
      @Nullable FreeLists lists,
      long[] touched,
      @Nullable PoolCounters active) {
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
        b.state = Block.FREE;
        touched[b.bucket >>> 6] |= 1L << b.bucket;
        if (target == null) {
          lists.push(b);
        } else if (kept != i) {
          bs[kept] = b; // compacting the record into the next tape, in allocation order
        }
        if (doublePush) { // the planted fault: the block goes on a stack a second time
          if (target == null) {
            lists.push(b);
          } else {
            target.push(b);
          }
        }
        kept++;
        count++;
        bytes += b.capacity;
        requested += b.byteLength;
      }
    }
    int used = scope.count;
    scope.count = 0;
    if (target != null) {
      // The record becomes the reserve's tape. When the record was the tape's own array (a
      // scope in step with its reserve), nothing changes hands; otherwise the old tape's array
      // becomes the scope's own.
      Block[] old = target.newTape(bs, kept);
      if (old != bs) {
        scope.own = old.length > 0 ? old : new Block[gs.length];
      }
      scope.blocks = scope.own;
    } else {
      Arrays.fill(bs, 0, used, null); // the global lists hold them now
    }
    if (active != null) {
      active.activeCount -= count;
      active.activeBytes -= bytes;
      active.requestedBytes -= requested;
    }
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
    scope.recordHandedBack();
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
