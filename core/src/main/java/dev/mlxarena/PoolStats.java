package dev.mlxarena;

/**
 * A consistent snapshot of a pool's counters, taken under the pool's lock.
 *
 * <p>"Active" buffers are live pooled handles; "cached" ones sit in the free lists; "held" is
 * everything the pool holds from its device (active plus cached). Byte figures are capacities
 * (bucket sizes) except {@code requestedBytes}, the sum of the lengths asked for by live handles.
 *
 * @param activeCount live pooled buffers
 * @param activeBytes capacity of the live pooled buffers
 * @param requestedBytes bytes requested by the live pooled buffers (at most {@code activeBytes})
 * @param cachedCount buffers in the free lists
 * @param cachedBytes capacity in the free lists
 * @param heldCount device buffers the pool holds
 * @param heldBytes bytes the pool holds from the device
 * @param peakActiveBytes the highest {@code activeBytes} since the pool was created
 * @param peakHeldBytes the highest {@code heldBytes} since the pool was created
 * @param allocations pooled allocations served, in total
 * @param freshAllocations allocations that went to the device
 * @param reuseHits allocations served from a free list
 * @param deviceFrees device buffers given back to the device
 * @param residencyAdds buffers this pool added to the residency set
 * @param residencyRemoves buffers this pool removed from the residency set
 * @param residencyCommits residency commits this pool made
 * @param deferredCount buffers handed back with a fence that has not completed yet
 * @param deferredBytes capacity of those buffers (part of {@code heldBytes})
 * @param trims times cached buffers went back to the device (cache limit, memory limit, {@code trim()})
 * @param trimmedBytes bytes those trims gave back
 * @param oomRetries allocations retried after freeing cached buffers
 * @param registrations registrations of fresh device buffers with the pool's registrars (one per
 *     buffer and registrar; a recycled buffer is not registered again)
 * @param deregistrations deregistrations from the pool's registrars, before the memory was freed
 * @param registrarFailures registrar calls that threw (contained: see {@code BufferRegistrar})
 * @param lockedAllocations allocations served under the pool's lock, the shared path: every one
 *     that the allocating scope's own reserve could not serve, and every batch allocation
 */
public record PoolStats(
    long activeCount,
    long activeBytes,
    long requestedBytes,
    long cachedCount,
    long cachedBytes,
    long heldCount,
    long heldBytes,
    long peakActiveBytes,
    long peakHeldBytes,
    long allocations,
    long freshAllocations,
    long reuseHits,
    long deviceFrees,
    long residencyAdds,
    long residencyRemoves,
    long residencyCommits,
    long deferredCount,
    long deferredBytes,
    long trims,
    long trimmedBytes,
    long oomRetries,
    long registrations,
    long deregistrations,
    long registrarFailures,
    long lockedAllocations) {

  /** All zero. */
  public static PoolStats empty() {
    return new PoolStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  }

  /** Allocations that had to go to the device: {@code allocations - reuseHits}. */
  public long reuseMisses() {
    return allocations - reuseHits;
  }

  /**
   * What happened between {@code earlier} and this snapshot: cumulative counters (allocations,
   * fresh allocations, reuse hits, device frees, residency changes) as differences; current
   * figures (active, cached, held) and peaks as they are now.
   */
  public PoolStats since(PoolStats earlier) {
    return new PoolStats(
        activeCount,
        activeBytes,
        requestedBytes,
        cachedCount,
        cachedBytes,
        heldCount,
        heldBytes,
        peakActiveBytes,
        peakHeldBytes,
        allocations - earlier.allocations,
        freshAllocations - earlier.freshAllocations,
        reuseHits - earlier.reuseHits,
        deviceFrees - earlier.deviceFrees,
        residencyAdds - earlier.residencyAdds,
        residencyRemoves - earlier.residencyRemoves,
        residencyCommits - earlier.residencyCommits,
        deferredCount,
        deferredBytes,
        trims - earlier.trims,
        trimmedBytes - earlier.trimmedBytes,
        oomRetries - earlier.oomRetries,
        registrations - earlier.registrations,
        deregistrations - earlier.deregistrations,
        registrarFailures - earlier.registrarFailures,
        lockedAllocations - earlier.lockedAllocations);
  }

  /** A small table of the figures, for logs. */
  @Override
  public String toString() {
    return String.format(java.util.Locale.ROOT,
        "PoolStats%n"
            + "  %-10s %10s %16s%n"
            + "  %-10s %10d %16d%n"
            + "  %-10s %10d %16d%n"
            + "  %-10s %10d %16d%n"
            + "  %-10s %10d %16d%n"
            + "  requested bytes %d, peak active %d, peak held %d%n"
            + "  allocations %d: %d reuse hits, %d fresh (%.1f%% reuse), %d under the lock; %d device frees%n"
            + "  trims %d (%d bytes), OOM retries %d%n"
            + "  residency: %d adds, %d removes, %d commits%n"
            + "  registrars: %d registrations, %d deregistrations, %d failures",
        "", "buffers", "bytes",
        "active", activeCount, activeBytes,
        "cached", cachedCount, cachedBytes,
        "deferred", deferredCount, deferredBytes,
        "held", heldCount, heldBytes,
        requestedBytes, peakActiveBytes, peakHeldBytes,
        allocations, reuseHits, freshAllocations, 100 * reuseRate(), lockedAllocations, deviceFrees,
        trims, trimmedBytes, oomRetries,
        residencyAdds, residencyRemoves, residencyCommits,
        registrations, deregistrations, registrarFailures);
  }

  /** The share of allocations served from a free list, from 0 to 1 ({@code 0} before any). */
  public double reuseRate() {
    return allocations == 0 ? 0 : (double) reuseHits / allocations;
  }
}
