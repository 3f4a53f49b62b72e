package dev.mlxarena;

import dev.mlxarena.spi.DeviceStream;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Buffers handed back with a fence of the caller's ({@link Scope#closeAfter}, {@link
 * BufferPool#release(Buffer, Fence)}): their handles are stale already, but their memory stays out
 * of the free lists, DEFERRED, until the fence completes, so that no later allocation can alias
 * memory the device may still be using. Once it has, stream-less hand-backs go to the free lists,
 * and hand-backs made on a stream go to that stream's lane ({@code StreamLanes}) behind a fence
 * recorded on the stream then, since the stream may still be using the memory.
 *
 * <p>Also kept here: the buffers of fences that failed (their {@code isComplete()} threw), held,
 * counted as waiting and never reused until the pool closes; and the fences the pool no longer
 * needs, which are closed once the lock is released.
 *
 * <h2>One entry per fence</h2>
 * Hand-backs that name the same fence join one {@link Entry}, so that the fence is polled as one
 * and closed exactly once, after the last of them. The entries are polled by a {@code FencePoll}
 * round without the lock; a fence that the pool no longer needs is listed by {@link #closeLater}
 * under the lock and closed by {@link #closeAll} after it. Guarded by the pool's lock.
 */
final class FenceQueue {
  private static final System.Logger LOG = System.getLogger("dev.mlxarena.BufferPool");

  /** A fence to close once the lock is released, and, for a caller's fence, how it ended. */
  record Closing(Fence fence, byte outcome) {}

  /** The hand-backs waiting for one fence. */
  static final class Entry extends Waiting {
    final List<Transit.Group> groups = new ArrayList<>(1);
    long count;
    long bytes;

    Entry(Fence fence) {
      super(fence);
    }
  }

  private final List<Entry> waiting = new ArrayList<>();
  /** Blocks behind a fence that failed: DEFERRED and counted as waiting until the pool closes. */
  private final List<Block> failed = new ArrayList<>();
  /** Fences the pool no longer needs, to close once the lock is released; {@code null} if none. */
  private @Nullable List<Closing> closable;
  /** The callers' fences closed so far: thread-safe on its own, used without the lock. */
  final ClosedFences closed = new ClosedFences();
  private final FreeLists free;
  private final Evictor evictor;
  private final PoolCounters counters;

  FenceQueue(FreeLists free, Evictor evictor, PoolCounters counters) {
    this.free = free;
    this.evictor = evictor;
    this.counters = counters;
  }

  /** Marks a block that has just left LIVE as waiting (for a fence, or in transit). */
  void count(Block b) {
    b.state = Block.DEFERRED;
    counters.deferredCount++;
    counters.deferredBytes += b.capacity;
  }

  /** Files a waiting block on the free lists (the caller then advances the clock). */
  private void toFreeLists(Block b) {
    counters.deferredCount--;
    counters.deferredBytes -= b.capacity;
    free.add(b);
    free.touch(b.bucket);
  }

  /** Files waiting blocks on the free lists, then holds the cache limit. */
  void toFreeLists(Block[] blocks) {
    for (Block b : blocks) {
      toFreeLists(b);
    }
    free.advanceClock();
    evictor.enforceCacheLimit();
  }

  /**
   * Keeps {@code blocks}, DEFERRED and counted by {@link #count}, until {@code fence} completes;
   * {@code stream} is the stream they were handed back on, or {@code null}.
   */
  void add(Fence fence, Block[] blocks, @Nullable DeviceStream stream) {
    Entry e = find(fence);
    if (e == null) {
      e = new Entry(fence);
      waiting.add(e);
    }
    e.groups.add(new Transit.Group(blocks, stream));
    for (Block b : blocks) {
      e.count++;
      e.bytes += b.capacity;
    }
  }

  private @Nullable Entry find(Fence fence) {
    for (Entry e : waiting) {
      if (e.fence == fence) {
        return e;
      }
    }
    return null;
  }

  boolean isEmpty() {
    return waiting.isEmpty();
  }

  /** Holds waiting blocks out of reuse for good: their fence failed. They stay counted as waiting. */
  void quarantine(Block[] blocks) {
    for (Block b : blocks) {
      b.state = Block.DEFERRED;
      failed.add(b);
    }
  }

  // ================================================================ closing fences

  /**
   * Polls a caller's fence without the lock, unless this pool closed it already: then it counts as
   * it ended, and is not called again.
   */
  Waiting probe(Fence fence) {
    Waiting w = new Waiting(fence);
    byte known = closed.outcome(fence);
    if (known == Waiting.UNKNOWN) {
      w.poll();
    } else {
      w.ended(known);
    }
    return w;
  }

  /**
   * A caller's fence, which {@code probe} polled, that a hand-back needs no longer: closed after the
   * lock, unless an entry still waits for it (then that entry closes it, once).
   */
  void release(Waiting probe) {
    if (find(probe.fence) == null && probe.result != Waiting.PENDING) {
      closable(new Closing(probe.fence, probe.result));
    }
  }

  /** Lists a fence of the pool's own (a stream's) for closing once the lock is released. */
  void closeLater(Fence fence) {
    closable(new Closing(fence, Waiting.UNKNOWN));
  }

  private void closable(Closing c) {
    if (closable == null) {
      closable = new ArrayList<>(2);
    }
    closable.add(c);
  }

  /** The pool no longer needs {@code w}'s fence: closed after the lock, or by the round polling it. */
  void retire(Waiting w) {
    if (w.polling) {
      w.retired = true;
    } else {
      closeLater(w.fence);
    }
  }

  /** The fences listed for closing, now the caller's to close after the lock; {@code null} if none. */
  @Nullable List<Closing> takeClosable() {
    List<Closing> c = closable;
    closable = null;
    return c;
  }

  /**
   * Closes fences without the pool's lock, a caller's fence only if this pool has not closed it
   * before; a failure is logged, not thrown.
   */
  void closeAll(@Nullable List<Closing> fences) {
    if (fences == null) {
      return;
    }
    for (Closing c : fences) {
      if (c.outcome() != Waiting.UNKNOWN && !closed.markClosed(c.fence(), c.outcome())) {
        continue;
      }
      try {
        c.fence().close();
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "closing a fence the pool no longer needs failed", e);
      }
    }
  }

  // ================================================================ polling

  /** Hands every entry that no other round is polling to {@code round}. */
  void addTo(List<Entry> round) {
    for (Entry e : waiting) {
      if (!e.polling) {
        e.polling = true;
        e.result = Waiting.UNKNOWN;
        round.add(e);
      }
    }
  }

  /**
   * Applies what {@code round} learnt: the blocks of every completed fence leave the queue, to the
   * free lists when nothing is left to do for them, else into {@code out} (blocks to poison, or
   * handed back on a stream: the round's thread finishes them without the lock); the blocks of a
   * failed fence are quarantined. Returns the failures to report, or {@code null}.
   */
  @Nullable RuntimeException apply(List<Entry> round, Transit out, boolean poison, boolean poolOpen) {
    RuntimeException failure = null;
    boolean freed = false;
    for (Entry e : round) {
      e.polling = false;
      if (!poolOpen || e.retired) { // the pool closed meanwhile and dropped the entry
        closable(new Closing(e.fence, Waiting.UNKNOWN));
        continue;
      }
      if (e.result == Waiting.PENDING || e.result == Waiting.UNKNOWN) {
        continue;
      }
      waiting.remove(e);
      closable(new Closing(e.fence, e.result));
      for (Transit.Group g : e.groups) {
        if (e.result == Waiting.FAILED) {
          quarantine(g.blocks());
        } else if (g.stream() != null || poison) {
          out.add(g.blocks(), g.stream());
        } else {
          for (Block b : g.blocks()) {
            toFreeLists(b);
          }
          freed = true;
        }
      }
      if (e.result == Waiting.FAILED) {
        failure = DeviceLedger.collect(failure, e.failureReport(e.count, e.bytes));
      }
    }
    if (freed) {
      free.advanceClock();
      evictor.enforceCacheLimit();
    }
    return failure;
  }

  /** Drops every waiting block (the pool is closing and retires them); their fences are closed later. */
  void dropAll() {
    for (Entry e : waiting) {
      retire(e);
    }
    waiting.clear();
    failed.clear();
  }

  /** Visits every waiting block, failed ones included, for the audit. */
  void forEach(Consumer<Block> visitor) {
    for (Entry e : waiting) {
      for (Transit.Group g : e.groups) {
        for (Block b : g.blocks()) {
          visitor.accept(b);
        }
      }
    }
    failed.forEach(visitor);
  }
}
