package dev.mlxarena;

import static java.util.Objects.requireNonNull;

import dev.mlxarena.spi.DeviceStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Every way a live pooled buffer goes back: one at a time ({@link BufferPool#release}, {@link
 * Buffer#close()}), or a scope's worth ({@link Scope#close()}, {@link BufferPool#reset()}, the
 * pool's close), at once or after a fence. Each hand-back first ends the lease ({@link Block#kill},
 * so that every handle to it is stale), then moves the block to a free list, a reserve, a stream's
 * lane or the fence queue, and takes it out of the active figures.
 *
 * <h2>Where a hand-back goes</h2>
 * A stream-less one goes to the free lists (a scope's close: its reserve, parked in {@code
 * FreeLists}). One made on a stream (by a scope opened on it, or of a buffer such a scope issued)
 * goes to the stream's lane ({@code StreamLanes}) behind a fence recorded on the stream after it:
 * the stream may reuse it at once, everyone else once the fence completes. A hand-back behind a
 * fence of the caller's waits in the fence queue first, and then goes where it would have gone
 * without one. Work that cannot be done under the lock is left to the calling thread, which owns
 * the blocks meanwhile: recording the stream's fence, and poisoning ({@code Poison}); a single
 * hand-back that needs either returns a {@link Transit} for {@code Settler} to finish.
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
  private final StreamLanes lanes;
  private final Evictor evictor;
  private final PoolCounters counters;
  private final boolean poison;

  HandBacks(
      OpenScopes scopes,
      FreeLists free,
      FenceQueue fences,
      StreamLanes lanes,
      Evictor evictor,
      PoolCounters counters,
      boolean poison) {
    this.scopes = scopes;
    this.free = free;
    this.fences = fences;
    this.lanes = lanes;
    this.evictor = evictor;
    this.counters = counters;
    this.poison = poison;
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
          "cannot " + op + " an owned buffer (from Buffer.allocOwned or adoptOwned); close it instead");
    }
    if (issuer.pool != pool) {
      throw new IllegalArgumentException("cannot " + op + " a buffer of another pool");
    }
    return issuer;
  }

  /**
   * Checks, under the lock, that {@code buffer}'s lease is current and that its scope is not being
   * closed (which makes it stale at any moment).
   */
  static void requireLive(Buffer buffer, ScopeState issuer) {
    if (buffer.block.generationAcquire() != buffer.generation) {
      throw buffer.block.staleException(buffer.generation);
    }
    if (issuer.handingBack) {
      throw new StaleBufferException(
          "stale buffer handle: its scope is being closed on another thread, which hands its "
              + buffer.block.capacity + "-byte device buffer back");
    }
  }

  /**
   * One buffer back now: its handles die; stream-less and unpoisoned, it goes on its bucket's
   * global list at once (then the cache limit holds again). Otherwise it waits, counted as such,
   * in the returned transit, for the caller to poison it and record its stream's fence without the
   * lock.
   */
  @Nullable Transit release(ScopeState issuer, Block b, byte why) {
    counters.notePeak();
    issuer.handedBackEarly(b);
    leaveLive(b, why);
    if (issuer.stream == null && !poison) {
      free.add(b);
      evictor.enforceCacheLimit();
      return null;
    }
    fences.count(b);
    return Transit.of(b, issuer.stream);
  }

  /**
   * One buffer back behind the caller's fence, which {@code probe} polled without the lock: at once
   * if it completed (see {@link #release}), after it if not, and never if it failed. The fence is
   * then the queue's, which closes it once.
   */
  @Nullable Transit releaseAfter(ScopeState issuer, Block b, Waiting probe) {
    Transit t = null;
    if (probe.result == Waiting.COMPLETE) {
      t = release(issuer, b, Block.DEATH_RELEASED);
    } else {
      counters.notePeak();
      issuer.handedBackEarly(b);
      leaveLive(b, Block.DEATH_RELEASED);
      fences.count(b);
      if (probe.result == Waiting.PENDING) {
        fences.add(probe.fence, new Block[] {b}, issuer.stream);
      } else {
        fences.quarantine(new Block[] {b});
      }
    }
    fences.release(probe);
    return t;
  }

  /**
   * First step of closing {@code scope} at once, under the lock: takes its buffers out of the
   * active figures and its record over ({@link ScopeState#handingBack}), so that from now on
   * releases of its handles leave them to the closing thread. Returns the reserve its buffers go back into, which no one
   * else can reach until {@link #endClose} parks it.
   */
  Reserve beginClose(ScopeState scope, boolean withFence) {
    PoolEvents.scopeClose(scope.count, scope.closing(counters), withFence);
    scope.handingBack = true;
    Reserve reserve = scope.reserve;
    scope.reserve = null;
    return reserve != null ? reserve : new Reserve(free.bucketCount());
  }

  /**
   * Second step, without the lock, on the closing thread: recycles the scope's live buffers into
   * {@code reserve}, noting the buckets it touched in the reserve's {@link Reserve#recycledBuckets},
   * and poisons them when {@code poison} is set, in the scope's stream order. For a scope on a
   * stream, counts the reserve's totals for its lane. Returns the first failed fill, if any.
   */
  static @Nullable RuntimeException recycleInto(ScopeState scope, Reserve reserve, boolean poison) {
    int recycled =
        recycleRecord(scope, Block.DEATH_SCOPE_CLOSED, reserve, null, reserve.recycledBuckets, null);
    RuntimeException failure = null;
    for (int i = 0; poison && i < recycled; i++) { // the recycled blocks are the new tape
      failure = Poison.fill(reserve.tape[i], scope.stream, failure);
    }
    if (scope.stream != null) {
      reserve.recount();
    }
    return failure;
  }

  /**
   * Last step, under the lock: files the reserve (unless the pool closed meanwhile) and closes the
   * scope. A stream-less scope's reserve is parked for the next scope; a stream scope's goes to its
   * stream's lane behind {@code recorded}, the fence recorded on the stream after the recycling,
   * or, if recording failed ({@code null}), is held out of reuse for good. The entry the scope
   * adopted is retired: the new fence covers its blocks.
   */
  void endClose(ScopeState scope, Reserve reserve, @Nullable Fence recorded, boolean poolOpen) {
    DeviceStream stream = scope.stream;
    Reserve parked = null;
    if (poolOpen) {
      free.touchAll(reserve.recycledBuckets);
      if (stream == null) {
        if (!reserve.isEmpty()) {
          free.park(reserve);
          parked = reserve;
        }
      } else if (recorded != null && !reserve.isEmpty()) {
        lanes.park(stream, recorded, reserve);
        parked = reserve;
        recorded = null;
      } else if (recorded == null) { // recording failed (or nothing needed a fence)
        List<Block> held = new ArrayList<>();
        reserve.drain(held::add);
        held.forEach(fences::count);
        fences.quarantine(held.toArray(new Block[0]));
      }
      evictor.enforceCacheLimit();
    }
    if (recorded != null) {
      fences.closeLater(recorded);
    }
    retireAdopted(scope);
    scope.markClosed();
    scopes.remove(scope, parked);
  }

  private void retireAdopted(ScopeState scope) {
    if (scope.adopted != null) {
      fences.retire(scope.adopted);
      scope.adopted = null;
    }
  }

  /**
   * Closes {@code scope} whose buffers the device may still use until the caller's fence, which
   * {@code probe} found not complete: their handles die now, their memory waits in the fence queue
   * or, if the fence failed, is held out of reuse for good (the failure is returned, to report).
   * What is left of its reserve goes back where it came from. All under the lock.
   */
  @Nullable RuntimeException closeAfter(ScopeState scope, Waiting probe) {
    boolean failed = probe.result == Waiting.FAILED;
    scope.fold(counters);
    Reserve reserve = scope.reserve;
    scope.reserve = null;
    long activeBefore = counters.activeBytes;
    int issued = scope.count;
    int held = deferScope(scope, failed ? null : probe.fence);
    if (scope.adopted != null) {
      // Its blocks were handed back on the stream behind the adopted fence, which still holds them.
      lanes.putBack(scope.adopted);
      scope.adopted = null;
    } else if (reserve != null && !reserve.isEmpty()) {
      free.park(reserve);
    }
    evictor.enforceCacheLimit();
    long bytes = activeBefore - counters.activeBytes;
    PoolEvents.scopeClose(issued, bytes, true);
    scope.markClosed();
    scopes.remove(scope, null);
    return failed ? probe.failureReport(held, bytes) : null;
  }

  /**
   * Recycles the default scope's buffers ({@link BufferPool#reset()}): into the global lists, or,
   * when they must be poisoned first, into the returned transit.
   */
  @Nullable Transit reset(ScopeState defaultScope) {
    defaultScope.fold(counters);
    if (!poison) {
      recycleToLists(defaultScope, Block.DEATH_RESET);
      evictor.enforceCacheLimit();
      return null;
    }
    counters.notePeak();
    List<Block> out = takeLive(defaultScope, Block.DEATH_RESET);
    return out.isEmpty() ? null : transitOf(out);
  }

  private static Transit transitOf(List<Block> blocks) {
    Transit t = new Transit();
    t.add(blocks.toArray(new Block[0]), null);
    return t;
  }

  /**
   * Closes every scope (the pool closes): the open ones are marked closed and unlinked, the default
   * one is recycled, and what waits is dropped; returns where the scopes that were still open had
   * been opened. An open scope's record and reserve belong to its thread, which may be allocating
   * from them without the lock right now, and a closing scope's to its closing thread, so neither
   * is touched here: the device ledger ends the lease of every block the pool holds and gives their
   * memory back. The lane entry an open scope adopted is retired here (its fence closed once),
   * since that scope's own close is a no-op from now on.
   */
  List<Throwable> closeAll(ScopeState defaultScope) {
    List<Throwable> stillOpen = new ArrayList<>();
    for (ScopeState s = scopes.first(); s != null; ) {
      ScopeState next = s.next;
      stillOpen.add(s.openedAt != null ? s.openedAt : new Throwable("scope opened where no stack was recorded"));
      if (!s.handingBack) {
        retireAdopted(s);
        s.markClosed();
      }
      scopes.unlink(s);
      s = next;
    }
    defaultScope.fold(counters);
    recycleToLists(defaultScope, Block.DEATH_POOL_CLOSED);
    defaultScope.markClosed();
    free.drain(b -> {});
    lanes.dropAll();
    fences.dropAll();
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
  private static int recycleRecord(
      ScopeState scope,
      byte why,
      @Nullable Reserve target,
      @Nullable FreeLists lists,
      long[] touched,
      @Nullable PoolCounters active) {
    Block[] bs = scope.blocks;
    long[] gs = scope.generations;
    // Totals in locals: the generation's release store in the loop would otherwise force every
    // counter update out to memory on each iteration.
    long count = 0;
    long bytes = 0;
    long requested = 0;
    int kept = 0;
    for (int i = 0, n = scope.count; i < n; i++) {
      Block b = bs[i];
      if (b.generationPlain() == gs[i]) {
        b.kill(why);
        b.state = Block.FREE;
        touched[b.bucket >>> 6] |= 1L << b.bucket;
        if (target == null) {
          requireNonNull(lists).push(b);
        } else if (kept != i) {
          bs[kept] = b; // compacting the record into the next tape, in allocation order
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
    return kept;
  }

  /**
   * Ends the leases of the scope's live buffers now and keeps them waiting for {@code fence}, or
   * out of reuse for good when it is {@code null} (it failed).
   */
  private int deferScope(ScopeState scope, @Nullable Fence fence) {
    counters.notePeak();
    List<Block> held = takeLive(scope, Block.DEATH_SCOPE_CLOSED);
    if (fence == null) {
      fences.quarantine(held.toArray(new Block[0]));
    } else if (!held.isEmpty()) {
      fences.add(fence, held.toArray(new Block[0]), scope.stream);
    }
    return held.size();
  }

  /** Ends the lease of a LIVE block and takes it out of the active figures. */
  /**
   * Ends the lease of every block {@code scope}'s record still holds live (dead for {@code why}),
   * counts it as waiting, empties the record, and returns those blocks in issue order.
   */
  private List<Block> takeLive(ScopeState scope, byte why) {
    Block[] bs = scope.blocks;
    long[] gs = scope.generations;
    List<Block> live = new ArrayList<>();
    for (int i = 0, n = scope.count; i < n; i++) {
      Block b = bs[i];
      if (b.generationPlain() == gs[i]) {
        leaveLive(b, why);
        fences.count(b);
        live.add(b);
      }
      Slots.clear(bs, i);
    }
    scope.count = 0;
    scope.recordHandedBack();
    return live;
  }

  private void leaveLive(Block b, byte why) {
    b.kill(why);
    counters.activeCount--;
    counters.activeBytes -= b.capacity;
    counters.requestedBytes -= b.byteLength;
  }
}
