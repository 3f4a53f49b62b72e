package dev.mlxarena.micrometer;

import dev.mlxarena.BufferPool;
import dev.mlxarena.PoolStats;
import io.micrometer.core.instrument.Clock;
import org.jspecify.annotations.Nullable;

/**
 * One {@link BufferPool#stats()} snapshot shared by every meter of a pool in one registry.
 *
 * <p>{@code stats()} takes the pool's lock; a registry that reads twenty meters in one scrape
 * should not take it twenty times, nor see the figures move between two meters of one scrape. A
 * snapshot is reused while it is younger than {@code maxAgeNanos} by the registry's monotonic
 * clock, so one scrape (which reads all meters within far less than the age) takes one snapshot.
 * A max age of zero takes a snapshot for every read.
 *
 * <p>Read from any scraping thread. {@code last} is a volatile reference to an immutable pair;
 * two threads that find it stale at once both take a snapshot and the later write wins, which is
 * harmless. Holds no reference to the pool, so meters keep only their weak one.
 */
final class StatsSnapshots {
  private final Clock clock;
  private final long maxAgeNanos;
  private volatile @Nullable Taken last;

  private record Taken(PoolStats stats, long atNanos) {}

  StatsSnapshots(Clock clock, long maxAgeNanos) {
    this.clock = clock;
    this.maxAgeNanos = maxAgeNanos;
  }

  PoolStats of(BufferPool pool) {
    long now = clock.monotonicTime();
    Taken t = last;
    if (t != null && now - t.atNanos() < maxAgeNanos) {
      return t.stats();
    }
    PoolStats stats = pool.stats();
    last = new Taken(stats, now);
    return stats;
  }
}
