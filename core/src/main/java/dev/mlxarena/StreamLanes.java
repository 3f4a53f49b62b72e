package dev.mlxarena;

import dev.mlxarena.spi.DeviceStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Free blocks handed back on a stream: reusable at once by later work on that stream, which the
 * device runs in order, and by anyone else (another stream, a stream-less scope, the host) only
 * after the fence recorded on the stream at the hand-back has completed.
 *
 * <h2>How blocks are tagged: one lane per stream</h2>
 * A block carries no stream; where it waits says who may take it. Each stream the pool has seen
 * has a lane: its hand-backs in the order they reached the pool, each an {@link Entry} of the fence
 * recorded on the stream after it and the blocks it returned, kept as a {@link Reserve}. A scope's
 * close on the stream parks its whole reserve as one entry, tape and all, so that the next scope on
 * the stream adopts it as it is and allocates from it without the lock, exactly as stream-less
 * scopes do from parked reserves; a buffer released on its own becomes an entry of one block.
 * <ul>
 *   <li>Why not a tag on each block: the lock-free path would read and check it on every
 *       allocation, and collecting a completed fence would mean finding its blocks wherever they
 *       had gone.
 *   <li>Why not tagged reserves among the parked ones in {@code FreeLists}: every reader of the
 *       free lists (allocation under the lock, eviction, the memory limit, merging old reserves
 *       into the global lists) would have to skip what it may not take. Kept apart, every room
 *       below is safe by construction: whatever {@code FreeLists} holds, anyone may take.
 * </ul>
 *
 * <h2>Who may take what</h2>
 * A scope opened on stream S adopts the newest entry of S's lane that a scope's close parked,
 * whatever the state of its fence ({@link #adopt}); an allocation under the lock through a scope on
 * S takes from S's lane, newest entry first ({@link #pop}). Nobody else takes from a lane: when a
 * poll round finds an entry's fence complete, the entry leaves the lane for {@code FreeLists} (a
 * scope's reserve is parked there, loose blocks go to the global lists), and from then on anyone
 * may take its blocks. Eviction and the memory limit work on {@code FreeLists} alone, so they give
 * a stream's blocks back to the device only once its fence has completed.
 *
 * <h2>Fences</h2>
 * Fences recorded on one stream complete in the order they were recorded, so a later fence covers
 * every block an earlier one covers. That is what lets a scope that adopted an entry give it back
 * behind its own, newer fence when it closes (the adopted fence is then retired), and what keeps a
 * lane short: beyond {@link #LANE_LIMIT} entries the oldest is merged into the next. A round polls
 * a lane oldest first and stops at the first fence not complete ({@link Taken}). Two threads
 * that record fences on one stream and then race for the lock may file them out of recording
 * order; that only makes the oldest-first poll conservative.
 *
 * <h2>Counting</h2>
 * Blocks in a lane are FREE (their stream may take them at any moment) but counted as waiting for
 * a fence ({@link PoolStats#deferredBytes()}), not as cached: neither the device nor anyone else
 * can have them yet, and the cache limit can only bound what could be given back. Each entry keeps
 * its count and bytes; a scope that adopts an entry moves them into the cached figure (its
 * reserve), which is why it adopts only while the cache limit leaves room.
 *
 * <p>Guarded by the pool's lock.
 */
final class StreamLanes {
  /** Entries a lane keeps before merging its oldest into the next. */
  static final int LANE_LIMIT = 8;

  /** One hand-back on a stream: the fence recorded after it, and the blocks it returned. */
  static final class Entry extends Waiting {
    final DeviceStream stream;
    final Reserve reserve;
    /** A scope's close parked it, so a scope on the stream may adopt it. */
    final boolean parkedByScope;
    /** Its place in the lane, kept when an adopted entry is put back. */
    long seq;
    int count;
    long bytes;
    /** The lane holding it; {@code null} once adopted, collected, merged or dropped. */
    @Nullable Lane lane;

    Entry(Fence fence, DeviceStream stream, Reserve reserve, boolean parkedByScope) {
      super(fence);
      this.stream = stream;
      this.reserve = reserve;
      this.parkedByScope = parkedByScope;
    }
  }

  /** The hand-backs on one stream, oldest first. */
  static final class Lane {
    final DeviceStream stream;
    final List<Entry> entries = new ArrayList<>();
    long nextSeq;
    /** A round is polling this lane. */
    boolean polling;

    Lane(DeviceStream stream) {
      this.stream = stream;
    }
  }

  private final List<Lane> lanes = new ArrayList<>(2);
  private final FreeLists free;
  private final FenceQueue fences;
  private final Evictor evictor;
  private final PoolCounters counters;
  private int entries;
  /** Set by {@link #pop}: an entry may have been emptied, for {@link #sweep()} to retire. */
  private boolean popped;
  /** The entry the last {@link #pop} took from, for an undo. */
  @Nullable Entry poppedFrom;

  StreamLanes(FreeLists free, FenceQueue fences, Evictor evictor, PoolCounters counters) {
    this.free = free;
    this.fences = fences;
    this.evictor = evictor;
    this.counters = counters;
  }

  boolean isEmpty() {
    return entries == 0;
  }

  // ================================================================ hand-backs

  /**
   * Parks the reserve a scope on {@code stream} handed back, behind {@code fence}; its totals were
   * counted by {@link Reserve#recount()}, and are counted as waiting from now on.
   */
  void park(DeviceStream stream, Fence fence, Reserve reserve) {
    Entry e = new Entry(fence, stream, reserve, true);
    e.count = reserve.size;
    e.bytes = reserve.bytes;
    counters.deferredCount += e.count;
    counters.deferredBytes += e.bytes;
    Lane lane = lane(stream);
    e.seq = lane.nextSeq++;
    add(lane, e);
  }

  /** Files one hand-back's blocks, waiting and counted as such, behind {@code fence}. */
  void addLoose(DeviceStream stream, Fence fence, Block[] blocks) {
    Entry e = new Entry(fence, stream, new Reserve(free.bucketCount()), false);
    for (Block b : blocks) {
      b.state = Block.FREE;
      e.reserve.push(b);
      e.count++;
      e.bytes += b.capacity;
    }
    Lane lane = lane(stream);
    e.seq = lane.nextSeq++;
    add(lane, e);
  }

  /**
   * Puts back an entry a scope adopted, with what is left of its reserve, in its old place: the
   * scope handed its own buffers back behind a fence of the caller's, which says nothing of these.
   */
  void putBack(Entry e) {
    e.reserve.recount();
    e.count = e.reserve.size;
    e.bytes = e.reserve.bytes;
    if (e.count == 0) {
      fences.retire(e);
      return;
    }
    counters.deferredCount += e.count;
    counters.deferredBytes += e.bytes;
    add(lane(e.stream), e);
  }

  private void add(Lane lane, Entry e) {
    List<Entry> es = lane.entries;
    int at = es.size();
    while (at > 0 && es.get(at - 1).seq > e.seq) {
      at--;
    }
    es.add(at, e);
    e.lane = lane;
    entries++;
    if (es.size() > LANE_LIMIT) {
      // The next entry's fence was recorded later on the same stream, so it covers these blocks.
      Entry oldest = es.remove(0);
      Entry next = es.get(0);
      oldest.reserve.drain(next.reserve::push);
      next.count += oldest.count;
      next.bytes += oldest.bytes;
      oldest.lane = null;
      entries--;
      fences.retire(oldest);
    }
  }

  private Lane lane(DeviceStream stream) {
    Lane lane = find(stream);
    if (lane == null) {
      lane = new Lane(stream);
      lanes.add(lane);
    }
    return lane;
  }

  private @Nullable Lane find(DeviceStream stream) {
    for (Lane lane : lanes) {
      if (lane.stream == stream) {
        return lane;
      }
    }
    return null;
  }

  private void remove(Entry e) {
    Lane lane = e.lane;
    if (lane != null) {
      lane.entries.remove(e);
      e.lane = null;
      entries--;
    }
  }

  // ================================================================ taking

  /**
   * The newest entry of {@code stream}'s lane that a scope parked, now the caller's, if its bytes
   * fit in {@code room} (what the cache limit leaves); its blocks count as cached from now on.
   */
  @Nullable Entry adopt(DeviceStream stream, long room) {
    Lane lane = find(stream);
    if (lane == null) {
      return null;
    }
    for (int i = lane.entries.size() - 1; i >= 0; i--) {
      Entry e = lane.entries.get(i);
      if (e.parkedByScope) {
        if (e.bytes > room) {
          return null;
        }
        remove(e);
        counters.deferredCount -= e.count;
        counters.deferredBytes -= e.bytes;
        return e;
      }
    }
    return null;
  }

  /**
   * A free block of {@code bucket} from {@code stream}'s lane, newest entry first, or {@code null}.
   * The entry it came from is left in {@link #poppedFrom}; call {@link #sweep()} once done.
   */
  @Nullable Block pop(DeviceStream stream, int bucket) {
    Lane lane = find(stream);
    if (lane == null) {
      return null;
    }
    for (int i = lane.entries.size() - 1; i >= 0; i--) {
      Entry e = lane.entries.get(i);
      Block b = e.count == 0 ? null : e.reserve.popSpilled(bucket);
      if (b != null) {
        e.count--;
        e.bytes -= b.capacity;
        counters.deferredCount--;
        counters.deferredBytes -= b.capacity;
        poppedFrom = e;
        popped = true;
        return b;
      }
    }
    return null;
  }

  /** Puts back a block {@link #pop} took from {@code e}, before {@link #sweep()}. */
  void unpop(Entry e, Block b) {
    e.reserve.push(b);
    e.count++;
    e.bytes += b.capacity;
    counters.deferredCount++;
    counters.deferredBytes += b.capacity;
  }

  /** Retires the entries {@link #pop} emptied: nothing waits for their fences any more. */
  void sweep() {
    if (!popped) {
      return;
    }
    popped = false;
    poppedFrom = null;
    for (Lane lane : lanes) {
      for (int i = lane.entries.size() - 1; i >= 0; i--) {
        Entry e = lane.entries.get(i);
        if (e.count == 0) {
          remove(e);
          fences.retire(e);
        }
      }
    }
  }

  // ================================================================ polling

  /**
   * What one poll round ({@code FencePoll}) took from the lanes. Fences recorded on one stream
   * complete in the order they were recorded, so a lane is polled oldest first and the round stops
   * at the first fence that has not completed (or failed): the rest cannot have completed before
   * it, and a stream the device has not caught up with costs one call per round.
   */
  static final class Taken {
    /** Per stream, the lane's entries oldest first. */
    private final List<Entry[]> entries = new ArrayList<>();
    /** The lanes taken, to hand back to the next round. */
    private final List<Lane> lanes = new ArrayList<>();

    boolean isEmpty() {
      return entries.isEmpty();
    }

    /** Calls the fences, without the pool's lock, oldest first per lane. */
    void poll() {
      for (Entry[] lane : entries) {
        for (Entry e : lane) {
          if (e.poll() != Waiting.COMPLETE) {
            break;
          }
        }
      }
    }
  }

  /** Hands every lane that no other round is polling to {@code round}, oldest entry first. */
  void addTo(Taken round) {
    for (Lane lane : lanes) {
      if (!lane.polling && !lane.entries.isEmpty()) {
        lane.polling = true;
        round.lanes.add(lane);
        Entry[] es = lane.entries.toArray(new Entry[0]);
        for (Entry e : es) {
          e.polling = true;
          e.result = Waiting.UNKNOWN;
        }
        round.entries.add(es);
      }
    }
  }

  /**
   * Applies what {@code round} learnt: an entry whose fence completed leaves its lane for the free
   * lists; one whose fence failed is quarantined. Returns the failures to report, or {@code null}.
   */
  @Nullable RuntimeException apply(Taken round, boolean poolOpen) {
    RuntimeException failure = null;
    boolean freed = false;
    for (Entry[] es : round.entries) {
      for (Entry e : es) {
        e.polling = false;
        if (e.retired || !poolOpen) { // merged, superseded or dropped meanwhile
          fences.closeLater(e.fence);
          continue;
        }
        if (e.lane == null || (e.result != Waiting.COMPLETE && e.result != Waiting.FAILED)) {
          continue; // adopted meanwhile (its scope owns the fence now), or still pending
        }
        remove(e);
        fences.closeLater(e.fence);
        if (e.result == Waiting.FAILED) { // held, still counted as waiting, until the pool closes
          List<Block> held = new ArrayList<>(e.count);
          e.reserve.drain(held::add);
          fences.quarantine(held.toArray(new Block[0]));
          failure = DeviceLedger.collect(failure, e.failureReport(e.count, e.bytes));
          continue;
        }
        counters.deferredCount -= e.count;
        counters.deferredBytes -= e.bytes;
        if (e.parkedByScope && !e.reserve.isEmpty()) {
          free.park(e.reserve);
        } else {
          e.reserve.drain(b -> {
            free.add(b);
            free.touch(b.bucket);
          });
        }
        freed = true;
      }
    }
    for (Lane lane : round.lanes) {
      lane.polling = false;
    }
    if (freed) {
      free.advanceClock();
      evictor.enforceCacheLimit();
    }
    return failure;
  }

  /** Drops every entry (the pool is closing and retires the blocks); their fences are closed later. */
  void dropAll() {
    for (Lane lane : lanes) {
      for (Entry e : lane.entries) {
        e.lane = null;
        fences.retire(e);
      }
      lane.entries.clear();
    }
    entries = 0;
  }

  /** Visits every block waiting in a lane, for the audit. */
  void forEach(Consumer<Block> visitor) {
    for (Lane lane : lanes) {
      for (Entry e : lane.entries) {
        e.reserve.forEach(visitor);
      }
    }
  }

  /** The blocks waiting in {@code stream}'s lane, for tests; empty for a stream never seen. */
  List<Block> blocksOf(DeviceStream stream) {
    List<Block> out = new ArrayList<>();
    Lane lane = find(stream);
    if (lane != null) {
      for (Entry e : lane.entries) {
        e.reserve.forEach(out::add);
      }
    }
    return out;
  }
}
