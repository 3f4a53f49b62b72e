package dev.mlxarena;

/**
 * Every counter a pool keeps, and the one place that adds in what open scopes counted without the
 * pool's lock. The rooms report into it as they act: the hand-backs the active figures, the device
 * ledger the held memory, fresh allocations, frees, residency changes and retries, the fence queue
 * what waits for fences, the evictor its trims. {@link #snapshot()} turns it into {@link
 * PoolStats}.
 *
 * <h2>Which counters the lock guards</h2>
 * Every field here is plain and guarded by the pool's lock. A scope's allocations from its own
 * reserve are counted in the scope instead ({@code ScopeState#issued} and the two beside it), by
 * its thread without the lock: the scope's {@code fold} moves them here under the lock ({@link
 * #addFolded}, when the scope closes and right after each locked allocation through it), and every
 * figure that must include them (the {@code ...Now()} methods, {@link #notePeak()}, {@link
 * #snapshot()}) adds the open scopes' unfolded counts in through one loop, the {@link Unfolded}
 * the pool's open scopes are. Those reads are racy while other threads allocate, so the figures
 * are exact for a pool used by one thread and approximate otherwise.
 *
 * <p>The counters know nothing of scopes: the scopes report into them, as every other room does.
 *
 * <h2>Derived figures</h2>
 * Every held block is live, free or waiting (see {@link #deferredCount}), so what is cached (in
 * free lists and reserves) is held minus active minus deferred, and the free lists keep no
 * counters of their own.
 * Every allocation is either a fresh device allocation or a reuse hit, so reuse hits are
 * allocations minus fresh allocations.
 */
final class PoolCounters {
  /** Where the counts that open scopes keep without the lock are summed: the open scopes. */
  interface Unfolded {
    /** Sums what the open scopes counted and not folded yet, and reports it to {@code into}. */
    void sumUnfolded(PoolCounters into);
  }

  private final Unfolded scopes;

  // Live pooled handles, folded.
  long activeCount;
  long activeBytes;
  long requestedBytes;
  long allocations;
  /** Allocations made under the lock ({@code Allocator}): the shared path. */
  long lockedAllocations;
  long peakActiveBytes;
  // Device memory: written by the device ledger.
  long heldCount;
  long heldBytes;
  long peakHeldBytes;
  long freshAllocations;
  long deviceFrees;
  long residencyAdds;
  long residencyRemoves;
  long residencyCommits;
  long oomRetries;
  // Waiting: behind a caller's fence or a failed one (the fence queue), free for one stream only
  // (its lane, until its fence is seen complete), or in transit on a thread that hands them back
  // without the lock. Neither the device nor any other user can have them yet.
  long deferredCount;
  long deferredBytes;
  // Written by the evictor.
  long trims;
  long trimmedBytes;
  // Calls to the pool's registrars: written without the pool's lock, one writer at a time (the
  // registrar queue's monitor), read by snapshots.
  volatile long registrations;
  volatile long deregistrations;
  volatile long registrarFailures;

  // The open scopes' unfolded counts, as the last sumUnfolded() found them.
  private long unfoldedCount;
  private long unfoldedBytes;
  private long unfoldedRequested;

  PoolCounters(Unfolded scopes) {
    this.scopes = scopes;
  }

  /**
   * Adds {@code count} allocations of a scope, which it counted without the lock, to the active
   * figures. Runs under the lock. Active bytes only grow between two locked calls, so their peak is
   * seen here or by the next call that lowers them, each of which calls {@link #notePeak()} first.
   */
  void addFolded(long count, long bytes, long requested) {
    activeCount += count;
    activeBytes += bytes;
    requestedBytes += requested;
    allocations += count;
    if (activeBytes > peakActiveBytes) {
      peakActiveBytes = activeBytes;
    }
  }

  /** Takes a closing scope's live allocations out of the active figures at once. */
  void removeActive(long count, long bytes, long requested) {
    activeCount -= count;
    activeBytes -= bytes;
    requestedBytes -= requested;
  }

  /** What the open scopes counted without the lock and not yet folded, as they just summed it. */
  void unfolded(long count, long bytes, long requested) {
    unfoldedCount = count;
    unfoldedBytes = bytes;
    unfoldedRequested = requested;
  }

  private void sumUnfolded() {
    scopes.sumUnfolded(this);
  }

  /** Live pooled handles right now, open scopes' unfolded allocations included. */
  long activeCountNow() {
    sumUnfolded();
    return activeCount + unfoldedCount;
  }

  /** Capacity behind live pooled handles right now. */
  long activeBytesNow() {
    sumUnfolded();
    return activeBytes + unfoldedBytes;
  }

  /** Buffers in free lists and reserves right now. */
  long cachedCountNow() {
    return heldCount - activeCountNow() - deferredCount;
  }

  /** Bytes in free lists and reserves right now. */
  long cachedBytesNow() {
    return heldBytes - activeBytesNow() - deferredBytes;
  }

  /** Records the active bytes of this moment as a peak candidate; call before lowering them. */
  void notePeak() {
    long active = activeBytesNow();
    if (active > peakActiveBytes) {
      peakActiveBytes = active;
    }
  }

  /**
   * The pool has closed and given everything back: nothing is active or waiting. (The scopes still
   * open were unlinked with their unfolded counts, which their threads may still be writing.)
   */
  void poolClosed() {
    activeCount = 0;
    activeBytes = 0;
    requestedBytes = 0;
    deferredCount = 0;
    deferredBytes = 0;
  }

  /** Starts the peaks again from the current figures. */
  void resetPeaks() {
    peakActiveBytes = activeBytesNow();
    peakHeldBytes = heldBytes;
  }

  /** A snapshot of every counter, open scopes' unfolded allocations included. */
  PoolStats snapshot() {
    sumUnfolded();
    long active = activeCount + unfoldedCount;
    long activeB = activeBytes + unfoldedBytes;
    long allocs = allocations + unfoldedCount;
    return new PoolStats(
        active,
        activeB,
        requestedBytes + unfoldedRequested,
        heldCount - active - deferredCount,
        heldBytes - activeB - deferredBytes,
        heldCount,
        heldBytes,
        Math.max(peakActiveBytes, activeB),
        peakHeldBytes,
        allocs,
        freshAllocations,
        allocs - freshAllocations,
        deviceFrees,
        residencyAdds,
        residencyRemoves,
        residencyCommits,
        deferredCount,
        deferredBytes,
        trims,
        trimmedBytes,
        oomRetries,
        registrations,
        deregistrations,
        registrarFailures,
        lockedAllocations);
  }

  /**
   * What the pool holds, as an out-of-memory message tells it: "the pool holds H bytes (A active, C
   * cached, D waiting for fences)".
   */
  String holdings() {
    long active = activeBytesNow();
    return "the pool holds " + heldBytes + " bytes (" + active + " active, "
        + (heldBytes - active - deferredBytes) + " cached, " + deferredBytes
        + " waiting for fences)";
  }
}
