package dev.mlxarena;

import java.util.ArrayList;
import java.util.List;

/**
 * Allocation under the pool's lock: what a scope's own reserve could not serve. A request takes a
 * free block of its bucket ({@link FreeLists#pop}: the global list, then parked reserves), else a
 * fresh one from the device ledger, and is issued through the scope ({@link ScopeState#issue}, the
 * same path as a lock-free allocation), whose counts are folded in at once.
 *
 * <p>A batch takes every block before it issues any, so that a failure can put back exactly what
 * it took and leave the pool as it was: first the free blocks, then, once the memory limit is known
 * to allow all the fresh ones (so that nothing is evicted for a batch that cannot fit), the fresh
 * blocks. Making room for one of them never evicts a block a later request of the batch takes.
 * Guarded by the pool's lock.
 */
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

  private final FreeLists free;
  private final FenceQueue fences;
  private final DeviceLedger ledger;
  private final Evictor evictor;
  private final PoolCounters counters;

  Allocator(FreeLists free, FenceQueue fences, DeviceLedger ledger, Evictor evictor, PoolCounters counters) {
    this.free = free;
    this.fences = fences;
    this.ledger = ledger;
    this.evictor = evictor;
    this.counters = counters;
  }

  /** One allocation through {@code scope}, on its thread, after its reserve had nothing. */
  Buffer alloc(ScopeState scope, int bucket, long bytes, DType dtype, long elements, long[] shape) {
    fences.collect();
    Block b = free.pop(bucket);
    if (b == null) {
      b = ledger.fresh(bucket, bytes, evictor.forScope(scope));
      ledger.commit();
    }
    Buffer handle = scope.issue(b, dtype, bytes, elements, shape);
    counters.fold(scope);
    return handle;
  }

  /** Every request of {@code batch} through {@code scope}, or none, with one residency commit. */
  List<Buffer> allocBatch(ScopeState scope, Batch batch) {
    List<AllocRequest> requests = batch.requests();
    long[] elements = batch.elements();
    int[] buckets = batch.buckets();
    int n = requests.size();
    Block[] taken = new Block[n];
    boolean[] isFresh = new boolean[n];
    long peakBefore = counters.peakHeldBytes;
    try {
      long freshBytes = 0;
      for (int i = 0; i < n; i++) {
        Block b = scope.takeReserved(buckets[i]);
        taken[i] = b != null ? b : free.pop(buckets[i]);
        freshBytes += taken[i] == null ? ledger.capacityOf(buckets[i]) : 0;
      }
      DeviceLedger.Reclaimer cache = evictor.forScope(scope);
      ledger.requireRoomFor(freshBytes, n, cache);
      for (int i = 0; i < n; i++) {
        if (taken[i] == null) {
          taken[i] = ledger.fresh(buckets[i], requests.get(i).bytes(), cache);
          isFresh[i] = true;
        }
      }
    } catch (RuntimeException e) {
      // Undo in reverse order, so every free list is restored to its exact former order.
      for (int j = n - 1; j >= 0; j--) {
        if (isFresh[j]) {
          ledger.undoFresh(taken[j]);
        } else if (taken[j] != null) {
          free.add(taken[j]);
        }
      }
      try {
        ledger.endUndo();
      } catch (RuntimeException cleanup) {
        e.addSuppressed(cleanup);
      }
      counters.peakHeldBytes = peakBefore;
      throw e;
    }
    boolean anyFresh = false;
    List<Buffer> out = new ArrayList<>(n);
    for (int j = 0; j < n; j++) {
      AllocRequest r = requests.get(j);
      anyFresh |= isFresh[j];
      out.add(scope.issue(taken[j], r.dtype(), r.bytes(), elements[j], r.shapeUnsafe()));
    }
    counters.fold(scope);
    if (anyFresh) {
      ledger.commit();
    }
    return out;
  }
}
