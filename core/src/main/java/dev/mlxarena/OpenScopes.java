package dev.mlxarena;

import dev.mlxarena.spi.DeviceStream;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The scopes open on a pool, as a doubly linked list through {@link ScopeState#prev} and {@link
 * ScopeState#next} (the pool's default scope is not among them), and a small stash of the record
 * arrays of closed scopes, so that a decode loop opening one scope per token allocates no arrays.
 *
 * <p>The list is what lets the pool see the state its scopes' threads keep without the lock: the
 * issue counters ({@link PoolCounters} adds them in) and the reserves (only the audit looks into
 * them, on a pool no other thread uses; nothing else takes from them). Guarded by the pool's lock.
 */
final class OpenScopes implements PoolCounters.Unfolded {
  private static final int STASH_LIMIT = 16;
  private static final int FIRST_RECORD = 16;

  private final BucketPolicy policy;
  private @Nullable ScopeState first;
  private final Block[][] stashedBlocks = new Block[STASH_LIMIT][];
  private final long[][] stashedGenerations = new long[STASH_LIMIT][];
  private int stashed;

  OpenScopes(BucketPolicy policy) {
    this.policy = policy;
  }

  /** The most recently opened scope, or {@code null}; follow {@link ScopeState#next} for the rest. */
  @Nullable ScopeState first() {
    return first;
  }

  /**
   * A new open scope, linked first, its record arrays from the stash. A scope on a stream adopts
   * the newest reserve its stream's last scope handed back, whatever its fence; a scope elsewhere,
   * or with none to adopt, the newest reserve anyone may take (see {@code StreamLanes}, {@code
   * FreeLists}). No fence is polled here: the steady state polls nothing.
   */
  ScopeState open(
      ScopeState.HandleCloser pool,
      String deviceName,
      @Nullable DeviceStream stream,
      StreamLanes lanes,
      FreeLists free,
      Evictor evictor) {
    StreamLanes.Entry adopted = stream == null ? null : lanes.adopt(stream, evictor.cacheRoom());
    Reserve reserve = adopted != null ? adopted.reserve : free.adopt();
    // The record arrays: the ones the reserve brought along, else the stash's, else new ones.
    Block[] blocks;
    long[] generations;
    if (reserve != null && reserve.recordGenerations != null) {
      blocks = reserve.takeRecordBlocks();
      generations = reserve.takeRecordGenerations();
    } else if (stashed > 0) {
      stashed--;
      blocks = stashedBlocks[stashed];
      generations = stashedGenerations[stashed];
      Slots.clear(stashedBlocks, stashed);
      Slots.clear(stashedGenerations, stashed);
    } else {
      blocks = new Block[FIRST_RECORD];
      generations = new long[FIRST_RECORD];
    }
    ScopeState s = new ScopeState(pool, policy, false, deviceName, stream, blocks, generations);
    if (reserve != null) {
      s.adopt(reserve);
    }
    s.adopted = adopted;
    s.next = first;
    if (first != null) {
      first.prev = s;
    }
    first = s;
    return s;
  }

  /** The pool's default scope, which is never linked here. */
  ScopeState defaultScope(ScopeState.HandleCloser pool, String deviceName) {
    return new ScopeState(
        pool, policy, true, deviceName, null, new Block[FIRST_RECORD], new long[FIRST_RECORD]);
  }

  /**
   * Unlinks a closed scope whose record is empty and keeps its own record arrays for the next
   * one: with {@code parked}, the reserve it handed back, when there is one; else in the stash. A
   * no-op for a scope no longer linked.
   *
   * <p>Why with the reserve: the next scope writes a generation into the record for each of its
   * allocations. A reserve goes preferably to the thread that parked it ({@code FreeLists#adopt}),
   * so its record arrays stay in that thread's core's cache; taken from the shared stash, they
   * would come from whichever thread closed last, and each of those writes would first fetch its
   * cache line from another core.
   */
  void remove(ScopeState s, @Nullable Reserve parked) {
    if (!unlink(s)) {
      return;
    }
    if (s.own.length > 0) {
      if (parked != null) {
        parked.keepRecord(s.own, s.generations);
      } else if (stashed < STASH_LIMIT) {
        stashedBlocks[stashed] = s.own;
        stashedGenerations[stashed] = s.generations;
        stashed++;
      }
    }
    s.blocks = ScopeState.NO_BLOCKS;
    s.own = ScopeState.NO_BLOCKS;
    s.generations = ScopeState.NO_GENERATIONS;
  }

  /**
   * Unlinks {@code s} and touches nothing else of it: for a scope whose thread may still be using
   * its record (the pool closing under it). Returns whether it was linked.
   */
  boolean unlink(ScopeState s) {
    if (s.prev == null && first != s) {
      return false;
    }
    if (s.prev != null) {
      s.prev.next = s.next;
    } else if (first == s) {
      first = s.next;
    }
    if (s.next != null) {
      s.next.prev = s.prev;
    }
    s.prev = null;
    s.next = null;
    return true;
  }

  /** The one loop over open scopes that adds in what they counted without the lock. */
  @Override
  public void sumUnfolded(PoolCounters into) {
    long n = 0;
    long bytes = 0;
    long requested = 0;
    for (ScopeState s = first; s != null; s = s.next) {
      n += s.issued;
      bytes += s.issuedBytes;
      requested += s.issuedRequested;
    }
    into.unfolded(n, bytes, requested);
  }

  /**
   * Visits every block in the open scopes' reserves without taking it: only on a pool no other
   * thread is using (the audit), since their threads change them without the lock.
   */
  void forEachReserved(Consumer<Block> visitor) {
    for (ScopeState s = first; s != null; s = s.next) {
      if (s.reserve != null) {
        s.reserve.forEach(visitor);
      }
    }
  }
}
