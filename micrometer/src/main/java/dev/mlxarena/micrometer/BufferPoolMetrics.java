package dev.mlxarena.micrometer;

import static io.micrometer.core.instrument.binder.BaseUnits.BUFFERS;
import static io.micrometer.core.instrument.binder.BaseUnits.BYTES;

import dev.mlxarena.BufferPool;
import dev.mlxarena.PoolStats;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.Objects;
import java.util.function.ToLongFunction;
import org.jspecify.annotations.Nullable;

/**
 * Binds a {@link BufferPool}'s {@link PoolStats} to a Micrometer {@link MeterRegistry}: current
 * figures as gauges, cumulative ones as function counters, all tagged with {@code device} (the
 * device's name), {@code pool} (a name the application gives) and any tags passed in.
 *
 * <pre>{@code
 * BufferPool pool = BufferPoolMetrics.monitor(registry, BufferPool.create(device), "decode");
 * }</pre>
 *
 * <table>
 *   <caption>Meters (in Prometheus: dots become underscores, base units and {@code _total} are appended)</caption>
 *   <tr><th>name</th><th>type</th><th>base unit</th><th>{@link PoolStats} figure</th></tr>
 *   <tr><td>{@code mlxarena.pool.active.buffers}</td><td>gauge</td><td>buffers</td><td>activeCount</td></tr>
 *   <tr><td>{@code mlxarena.pool.active.memory}</td><td>gauge</td><td>bytes</td><td>activeBytes</td></tr>
 *   <tr><td>{@code mlxarena.pool.cached.buffers}</td><td>gauge</td><td>buffers</td><td>cachedCount</td></tr>
 *   <tr><td>{@code mlxarena.pool.cached.memory}</td><td>gauge</td><td>bytes</td><td>cachedBytes</td></tr>
 *   <tr><td>{@code mlxarena.pool.deferred.buffers}</td><td>gauge</td><td>buffers</td><td>deferredCount</td></tr>
 *   <tr><td>{@code mlxarena.pool.deferred.memory}</td><td>gauge</td><td>bytes</td><td>deferredBytes</td></tr>
 *   <tr><td>{@code mlxarena.pool.held.buffers}</td><td>gauge</td><td>buffers</td><td>heldCount</td></tr>
 *   <tr><td>{@code mlxarena.pool.held.memory}</td><td>gauge</td><td>bytes</td><td>heldBytes</td></tr>
 *   <tr><td>{@code mlxarena.pool.requested.memory}</td><td>gauge</td><td>bytes</td><td>requestedBytes</td></tr>
 *   <tr><td>{@code mlxarena.pool.active.memory.peak}</td><td>gauge</td><td>bytes</td><td>peakActiveBytes</td></tr>
 *   <tr><td>{@code mlxarena.pool.held.memory.peak}</td><td>gauge</td><td>bytes</td><td>peakHeldBytes</td></tr>
 *   <tr><td>{@code mlxarena.pool.allocations}, {@code result=hit}</td><td>counter</td><td>allocations</td><td>reuseHits</td></tr>
 *   <tr><td>{@code mlxarena.pool.allocations}, {@code result=miss}</td><td>counter</td><td>allocations</td><td>reuseMisses()</td></tr>
 *   <tr><td>{@code mlxarena.pool.device.allocations}</td><td>counter</td><td>allocations</td><td>freshAllocations</td></tr>
 *   <tr><td>{@code mlxarena.pool.device.frees}</td><td>counter</td><td>buffers</td><td>deviceFrees</td></tr>
 *   <tr><td>{@code mlxarena.pool.trims}</td><td>counter</td><td>-</td><td>trims</td></tr>
 *   <tr><td>{@code mlxarena.pool.trimmed}</td><td>counter</td><td>bytes</td><td>trimmedBytes</td></tr>
 *   <tr><td>{@code mlxarena.pool.oom.retries}</td><td>counter</td><td>-</td><td>oomRetries</td></tr>
 *   <tr><td>{@code mlxarena.pool.residency.buffers}, {@code operation=add}</td><td>counter</td><td>buffers</td><td>residencyAdds</td></tr>
 *   <tr><td>{@code mlxarena.pool.residency.buffers}, {@code operation=remove}</td><td>counter</td><td>buffers</td><td>residencyRemoves</td></tr>
 *   <tr><td>{@code mlxarena.pool.residency.commits}</td><td>counter</td><td>-</td><td>residencyCommits</td></tr>
 * </table>
 *
 * <p><b>One snapshot per scrape.</b> {@link BufferPool#stats()} takes the pool's lock. The meters
 * of one registry share one snapshot, taken again only once it is older than the snapshot max age
 * (one second unless given) by the registry's clock: a scrape, which reads every meter within
 * milliseconds, takes the lock once and sees figures that agree with each other. Values may lag
 * the pool by up to that age; {@link Duration#ZERO} takes a snapshot for every meter read.
 *
 * <p>The meters hold the pool weakly, as Micrometer's gauges do: they do not keep a discarded pool
 * alive. After {@code close()} the pool reports its final figures. Nothing here runs under the
 * pool's lock except {@code stats()} itself.
 */
public final class BufferPoolMetrics implements MeterBinder {
  /** How long one {@link PoolStats} snapshot serves the meters unless told otherwise. */
  public static final Duration DEFAULT_SNAPSHOT_MAX_AGE = Duration.ofSeconds(1);

  private static final String ALLOCATIONS = "allocations";

  private final BufferPool pool;
  private final Tags tags;
  private final long snapshotMaxAgeNanos;

  /**
   * Metrics for {@code pool}, tagged {@code device=<device name>}, {@code pool=poolName} and with
   * {@code tags}, sharing one snapshot for {@link #DEFAULT_SNAPSHOT_MAX_AGE}.
   */
  public BufferPoolMetrics(BufferPool pool, String poolName, Iterable<Tag> tags) {
    this(pool, poolName, tags, DEFAULT_SNAPSHOT_MAX_AGE);
  }

  /**
   * Metrics for {@code pool} whose meters share one snapshot for {@code snapshotMaxAge}.
   *
   * @throws IllegalArgumentException if {@code snapshotMaxAge} is negative
   */
  public BufferPoolMetrics(
      BufferPool pool, String poolName, Iterable<Tag> tags, Duration snapshotMaxAge) {
    this.pool = Objects.requireNonNull(pool, "pool");
    Objects.requireNonNull(poolName, "poolName");
    Objects.requireNonNull(tags, "tags");
    Objects.requireNonNull(snapshotMaxAge, "snapshotMaxAge");
    if (snapshotMaxAge.isNegative()) {
      throw new IllegalArgumentException(
          "snapshotMaxAge must not be negative, was " + snapshotMaxAge);
    }
    this.tags = Tags.of("device", pool.device().name(), "pool", poolName).and(tags);
    this.snapshotMaxAgeNanos = snapshotMaxAge.toNanos();
  }

  /**
   * Binds metrics for {@code pool} to {@code registry} and returns the pool.
   *
   * @param tags further tags as key, value pairs
   */
  public static BufferPool monitor(
      MeterRegistry registry, BufferPool pool, String poolName, String... tags) {
    return monitor(registry, pool, poolName, Tags.of(tags));
  }

  /** Binds metrics for {@code pool} to {@code registry} and returns the pool. */
  public static BufferPool monitor(
      MeterRegistry registry, BufferPool pool, String poolName, Iterable<Tag> tags) {
    new BufferPoolMetrics(pool, poolName, tags).bindTo(registry);
    return pool;
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    StatsSnapshots snapshots = new StatsSnapshots(registry.config().clock(), snapshotMaxAgeNanos);
    Binding b = new Binding(registry, pool, tags, snapshots);

    b.gauge("mlxarena.pool.active.buffers", BUFFERS, PoolStats::activeCount,
        "Live pooled buffers");
    b.gauge("mlxarena.pool.active.memory", BYTES, PoolStats::activeBytes,
        "Capacity of the live pooled buffers");
    b.gauge("mlxarena.pool.cached.buffers", BUFFERS, PoolStats::cachedCount,
        "Buffers in the free lists");
    b.gauge("mlxarena.pool.cached.memory", BYTES, PoolStats::cachedBytes,
        "Capacity in the free lists");
    b.gauge("mlxarena.pool.deferred.buffers", BUFFERS, PoolStats::deferredCount,
        "Buffers handed back with a fence that has not completed");
    b.gauge("mlxarena.pool.deferred.memory", BYTES, PoolStats::deferredBytes,
        "Capacity of the buffers waiting for a fence");
    b.gauge("mlxarena.pool.held.buffers", BUFFERS, PoolStats::heldCount,
        "Device buffers the pool holds");
    b.gauge("mlxarena.pool.held.memory", BYTES, PoolStats::heldBytes,
        "Bytes the pool holds from the device");
    b.gauge("mlxarena.pool.requested.memory", BYTES, PoolStats::requestedBytes,
        "Bytes requested by the live pooled buffers");
    b.gauge("mlxarena.pool.active.memory.peak", BYTES, PoolStats::peakActiveBytes,
        "Highest capacity of live pooled buffers since creation or resetPeaks");
    b.gauge("mlxarena.pool.held.memory.peak", BYTES, PoolStats::peakHeldBytes,
        "Highest bytes held from the device since creation or resetPeaks");

    String hitOrMiss = "Pooled allocations served from a free list (hit) or not (miss)";
    b.counter("mlxarena.pool.allocations", Tags.of("result", "hit"), ALLOCATIONS,
        PoolStats::reuseHits, hitOrMiss);
    b.counter("mlxarena.pool.allocations", Tags.of("result", "miss"), ALLOCATIONS,
        PoolStats::reuseMisses, hitOrMiss);
    b.counter("mlxarena.pool.device.allocations", Tags.empty(), ALLOCATIONS,
        PoolStats::freshAllocations, "Allocations that went to the device");
    b.counter("mlxarena.pool.device.frees", Tags.empty(), BUFFERS,
        PoolStats::deviceFrees, "Device buffers given back to the device");
    b.counter("mlxarena.pool.trims", Tags.empty(), null,
        PoolStats::trims, "Times cached buffers went back to the device");
    b.counter("mlxarena.pool.trimmed", Tags.empty(), BYTES,
        PoolStats::trimmedBytes, "Bytes the trims gave back to the device");
    b.counter("mlxarena.pool.oom.retries", Tags.empty(), null,
        PoolStats::oomRetries, "Allocations retried after freeing cached buffers");
    String addOrRemove =
        "Buffers this pool added to (add) or removed from (remove) the residency set";
    b.counter("mlxarena.pool.residency.buffers", Tags.of("operation", "add"), BUFFERS,
        PoolStats::residencyAdds, addOrRemove);
    b.counter("mlxarena.pool.residency.buffers", Tags.of("operation", "remove"), BUFFERS,
        PoolStats::residencyRemoves, addOrRemove);
    b.counter("mlxarena.pool.residency.commits", Tags.empty(), null,
        PoolStats::residencyCommits, "Residency set commits this pool made");
  }

  /**
   * Registers meters whose functions read the shared snapshot. The functions capture the snapshot
   * holder and an accessor, never the pool: Micrometer passes the pool in from its weak reference.
   */
  private record Binding(
      MeterRegistry registry, BufferPool pool, Tags tags, StatsSnapshots snapshots) {

    void gauge(String name, String baseUnit, ToLongFunction<PoolStats> figure, String description) {
      StatsSnapshots s = snapshots;
      Gauge.builder(name, pool, p -> figure.applyAsLong(s.of(p)))
          .tags(tags)
          .baseUnit(baseUnit)
          .description(description)
          .register(registry);
    }

    void counter(
        String name,
        Tags extra,
        @Nullable String baseUnit,
        ToLongFunction<PoolStats> figure,
        String description) {
      StatsSnapshots s = snapshots;
      FunctionCounter.builder(name, pool, p -> figure.applyAsLong(s.of(p)))
          .tags(tags.and(extra))
          .baseUnit(baseUnit)
          .description(description)
          .register(registry);
    }
  }
}
