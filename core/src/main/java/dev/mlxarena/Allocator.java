package dev.mlxarena;

import static java.util.Objects.requireNonNull;

import dev.mlxarena.spi.DeviceStream;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Allocation under the pool's lock: what a scope's own reserve could not serve. A request takes a
 * free block of its bucket that the scope may use (for a scope on a stream, its stream's lane
 * first, {@link StreamLanes#pop}; then {@link FreeLists#pop}: the global list, then parked
 * reserves), else a fresh one from the device ledger, and is issued through the scope ({@link
 * ScopeState#issue}, the same path as a lock-free allocation), whose counts are folded in at once.
 *
 * <h2>Fences before fresh memory</h2>
 * A completed fence may have freed a fitting buffer that the pool has not collected yet, and only
 * a poll round, without the lock, can tell ({@code Settler#poll}). So before it goes to the device
 * (or refuses under the memory limit), an allocation that finds nothing free returns {@code null}
 * while fences are waiting, and the pool polls and asks again with {@code polled} set. A batch is
 * polled for before it starts, whenever fences are waiting.
 *
 * <p>A batch takes every block before it issues any, so that a failure can put back exactly what
 * it took, each where it came from, and leave the pool as it was: first the free blocks, then, once
 * the memory limit is known to allow all the fresh ones (so that nothing is evicted for a batch
 * that cannot fit), the fresh blocks. Making room for one of them never evicts a block a later
 * request of the batch takes. Takes the pool's lock itself (a {@link Section}); everything else
 * here runs under it.
 */
@SuppressWarnings("try") // try (Section held = section.enter()) holds the lock for a section
final class Allocator {

  /** The requests of a batch, with their element counts and buckets, checked before the lock. */
  record Batch(List<AllocRequest> requests, long[] elements, int[] buckets) {
    static Batch of(BucketPolicy policy, List<AllocRequest> requests) {
      Checks.notNull(requests, "requests");
      int n = requests.size();
      long[] elements = new long[n];
      int[] buckets = new int[n];
      for (int i = 0; i < n; i++) {
        AllocRequest r = Checks.notNull(requests.get(i), "requests[" + i + "]");
        try {
          elements[i] = Checks.elements(r.bytes(), r.dtype(), r.shapeUnsafe());
          buckets[i] = policy.bucketIndex(r.bytes());
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("requests[" + i + "]: " + e.getMessage(), e);
        }
      }
      return new Batch(List.copyOf(requests), elements, buckets);
    }
  }

  // Where a block of a batch came from, to put it back there.
  private static final byte FROM_LISTS = 0;
  private static final byte FROM_RESERVE = 1;
  private static final byte FROM_LANE = 2;
  private static final byte FRESH = 3;

  private final Section section;
  private final Settler settler;
  /** Throws {@link PoolClosedException} once the pool is closed; under the lock. */
  private final Runnable ensureOpen;
  private final FreeLists free;
  private final FenceQueue fences;
  private final StreamLanes lanes;
  private final DeviceLedger ledger;
  private final Evictor evictor;
  private final PoolCounters counters;

  Allocator(
      Section section,
      Settler settler,
      Runnable ensureOpen,
      FreeLists free,
      FenceQueue fences,
      StreamLanes lanes,
      DeviceLedger ledger,
      Evictor evictor,
      PoolCounters counters) {
    this.section = section;
    this.settler = settler;
    this.ensureOpen = ensureOpen;
    this.free = free;
    this.fences = fences;
    this.lanes = lanes;
    this.ledger = ledger;
    this.evictor = evictor;
    this.counters = counters;
  }

  /** Checks, under the lock, that the pool is open and {@code scope} accepts allocations. */
  private void ensureUsable(ScopeState scope) {
    ensureOpen.run();
    if (!scope.isOpen()) {
      throw new IllegalStateException("cannot allocate through a closed scope: " + scope);
    }
  }

  /**
   * One allocation through {@code scope}, on its thread, after its reserve had nothing: under the
   * lock; if nothing is free while fences wait, polls them without the lock and asks again.
   */
  Buffer allocate(ScopeState scope, int bucket, long bytes, DType dtype, long elements, long[] shape) {
    Buffer handle;
    try (Section held = section.enter()) {
      ensureUsable(scope);
      handle = alloc(scope, bucket, bytes, dtype, elements, shape, false);
    }
    if (handle == null) {
      settler.poll();
      try (Section held = section.enter()) {
        ensureUsable(scope);
        // polled: alloc goes to the device rather than answer null
        handle = requireNonNull(alloc(scope, bucket, bytes, dtype, elements, shape, true));
      }
    }
    return handle;
  }

  /** Every request of {@code batch} through {@code scope}, or none, after polling the fences. */
  List<Buffer> allocate(ScopeState scope, Batch batch) {
    settler.poll(); // what completed fences freed serves the batch before the device does
    try (Section held = section.enter()) {
      ensureUsable(scope);
      return allocBatch(scope, batch);
    }
  }

  /** Whether fences are waiting that a poll round might find complete. */
  private boolean fencesWaiting() {
    return !fences.isEmpty() || !lanes.isEmpty();
  }

  /**
   * One allocation through {@code scope}, on its thread, after its reserve had nothing; {@code
   * null} if nothing is free and, unless {@code polled}, fences are waiting (see the class comment).
   */
  private @Nullable Buffer alloc(
      ScopeState scope, int bucket, long bytes, DType dtype, long elements, long[] shape, boolean polled) {
    DeviceStream stream = scope.stream;
    Block b = stream == null ? null : lanes.pop(stream, bucket);
    lanes.sweep();
    if (b == null) {
      b = free.pop(bucket);
    }
    if (b == null) {
      if (!polled && fencesWaiting()) {
        return null;
      }
      b = ledger.fresh(bucket, bytes, evictor.with(scope.evictableReserve()));
      ledger.commit();
    }
    Buffer handle = scope.issue(b, dtype, bytes, elements, shape);
    scope.fold(counters);
    counters.lockedAllocations++;
    return handle;
  }

  /** Every request of {@code batch} through {@code scope}, or none, with one residency commit. */
  private List<Buffer> allocBatch(ScopeState scope, Batch batch) {
    List<AllocRequest> requests = batch.requests();
    long[] elements = batch.elements();
    int[] buckets = batch.buckets();
    int n = requests.size();
    @Nullable Block[] taken = new Block[n]; // null: a fresh block not made yet
    byte[] from = new byte[n];
    StreamLanes.@Nullable Entry[] entries = new StreamLanes.Entry[n]; // set where from is FROM_LANE
    DeviceStream stream = scope.stream;
    long peakBefore = counters.peakHeldBytes;
    try {
      long freshBytes = 0;
      for (int i = 0; i < n; i++) {
        Block b = scope.takeReserved(buckets[i]);
        from[i] = FROM_RESERVE;
        if (b == null && stream != null) {
          b = lanes.pop(stream, buckets[i]);
          from[i] = FROM_LANE;
          entries[i] = lanes.poppedFrom;
        }
        if (b == null) {
          b = free.pop(buckets[i]);
          from[i] = FROM_LISTS;
        }
        if (b == null) {
          from[i] = FRESH;
          freshBytes += ledger.capacityOf(buckets[i]);
        }
        taken[i] = b;
      }
      DeviceLedger.Reclaimer cache = evictor.with(scope.evictableReserve());
      ledger.requireRoomFor(freshBytes, n, cache);
      for (int i = 0; i < n; i++) {
        if (from[i] == FRESH) {
          taken[i] = ledger.fresh(buckets[i], requests.get(i).bytes(), cache);
        }
      }
    } catch (RuntimeException e) {
      // Undo in reverse order, so every free list is restored to its exact former order; a block
      // of the scope's reserve or its stream's lane goes back there, where only the stream may
      // take it. A fresh block not taken yet (null) needs nothing.
      for (int j = n - 1; j >= 0; j--) {
        Block t = taken[j];
        if (t == null) {
          continue;
        }
        switch (from[j]) {
          case FRESH -> ledger.undoFresh(t);
          case FROM_RESERVE -> requireNonNull(scope.reserve).push(t);
          case FROM_LANE -> lanes.unpop(requireNonNull(entries[j]), t);
          default -> free.add(t);
        }
      }
      try {
        ledger.endUndo();
      } catch (RuntimeException cleanup) {
        e.addSuppressed(cleanup);
      }
      counters.peakHeldBytes = peakBefore;
      throw e;
    } finally {
      lanes.sweep();
    }
    boolean anyFresh = false;
    List<Buffer> out = new ArrayList<>(n);
    for (int j = 0; j < n; j++) {
      AllocRequest r = requests.get(j);
      anyFresh |= from[j] == FRESH;
      out.add(scope.issue(requireNonNull(taken[j]), r.dtype(), r.bytes(), elements[j], r.shapeUnsafe()));
    }
    scope.fold(counters);
    counters.lockedAllocations += n;
    if (anyFresh) {
      ledger.commit();
    }
    return out;
  }
}
