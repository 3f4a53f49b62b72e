package dev.mlxarena.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.Fence;
import dev.mlxarena.PoolStats;
import dev.mlxarena.Scope;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.testing.TestDevice;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.ToLongFunction;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class BufferPoolMetricsTest {

  /** What each meter must report, written from PoolStats independently of the binder. */
  private static final Map<String, ToLongFunction<PoolStats>> EXPECTED = new LinkedHashMap<>();

  static {
    EXPECTED.put("mlxarena.pool.active.buffers", PoolStats::activeCount);
    EXPECTED.put("mlxarena.pool.active.memory", PoolStats::activeBytes);
    EXPECTED.put("mlxarena.pool.cached.buffers", PoolStats::cachedCount);
    EXPECTED.put("mlxarena.pool.cached.memory", PoolStats::cachedBytes);
    EXPECTED.put("mlxarena.pool.deferred.buffers", PoolStats::deferredCount);
    EXPECTED.put("mlxarena.pool.deferred.memory", PoolStats::deferredBytes);
    EXPECTED.put("mlxarena.pool.held.buffers", PoolStats::heldCount);
    EXPECTED.put("mlxarena.pool.held.memory", PoolStats::heldBytes);
    EXPECTED.put("mlxarena.pool.requested.memory", PoolStats::requestedBytes);
    EXPECTED.put("mlxarena.pool.active.memory.peak", PoolStats::peakActiveBytes);
    EXPECTED.put("mlxarena.pool.held.memory.peak", PoolStats::peakHeldBytes);
    EXPECTED.put("mlxarena.pool.allocations{result=hit}", PoolStats::reuseHits);
    EXPECTED.put("mlxarena.pool.allocations{result=miss}", s -> s.allocations() - s.reuseHits());
    EXPECTED.put("mlxarena.pool.device.allocations", PoolStats::freshAllocations);
    EXPECTED.put("mlxarena.pool.device.frees", PoolStats::deviceFrees);
    EXPECTED.put("mlxarena.pool.trims", PoolStats::trims);
    EXPECTED.put("mlxarena.pool.trimmed", PoolStats::trimmedBytes);
    EXPECTED.put("mlxarena.pool.oom.retries", PoolStats::oomRetries);
    EXPECTED.put("mlxarena.pool.residency.buffers{operation=add}", PoolStats::residencyAdds);
    EXPECTED.put("mlxarena.pool.residency.buffers{operation=remove}", PoolStats::residencyRemoves);
    EXPECTED.put("mlxarena.pool.residency.commits", PoolStats::residencyCommits);
  }

  @Test
  void everyFigureIsAMeterWithItsValueTypeUnitAndTags() {
    AtomicBoolean kernelsDone = new AtomicBoolean();
    try (TestDevice device = TestDevice.withResidency();
        BufferPool pool = BufferPool.create(device)) {
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      new BufferPoolMetrics(pool, "decode", Tags.of("model", "tiny"), Duration.ZERO)
          .bindTo(registry);

      try (Scope warmup = pool.openScope()) {
        warmup.alloc(1000, DType.U8);
        warmup.alloc(5000, DType.U8);
      }
      Scope live = pool.openScope();
      live.alloc(1000, DType.U8); // a reuse hit from the buffers warmup parked
      pool.alloc(64, DType.U8).close(); // cached in the global free list
      device.failNthAllocation(1);
      Scope running = pool.openScope();
      running.alloc(100, DType.U8); // refused once: the cached 64 B go back, the retry succeeds
      running.closeAfter(() -> kernelsDone.get()); // recycled only once the fence completes
      live.close();
      pool.trim();
      Scope now = pool.openScope();
      now.alloc(3000, DType.U8); // active: 4096 bytes held for 3000 requested
      pool.alloc(500, DType.U8).close(); // cached: buffers of 512 and 2048 bytes
      pool.alloc(2000, DType.U8).close();

      PoolStats stats = pool.stats();
      assertEquals(1, stats.reuseHits(), "scenario: one reuse hit");
      assertEquals(1, stats.oomRetries(), "scenario: one OOM retry");
      assertEquals(1, stats.deferredCount(), "scenario: one buffer waits for its fence");
      assertTrue(stats.trims() > 0 && stats.residencyRemoves() > 0, "scenario: trims freed buffers");
      assertEquals(3000, stats.requestedBytes(), "scenario: one live buffer");
      assertEquals(2560, stats.cachedBytes(), "scenario: two cached buffers");

      Map<String, Meter> meters = new LinkedHashMap<>();
      for (Meter m : registry.getMeters()) {
        meters.put(key(m), m);
      }
      assertEquals(new TreeSet<>(EXPECTED.keySet()), new TreeSet<>(meters.keySet()));
      for (Map.Entry<String, ToLongFunction<PoolStats>> e : EXPECTED.entrySet()) {
        Meter m = meters.get(e.getKey());
        assertEquals((double) e.getValue().applyAsLong(stats), value(m), e.getKey());
        assertEquals(pool.device().name(), m.getId().getTag("device"), e.getKey());
        assertEquals("decode", m.getId().getTag("pool"), e.getKey());
        assertEquals("tiny", m.getId().getTag("model"), e.getKey());
        assertTrue(m.getId().getDescription() != null, e.getKey() + " has a description");
        String name = m.getId().getName();
        String unit = m.getId().getBaseUnit();
        if (name.endsWith(".memory") || name.endsWith(".peak") || name.endsWith(".trimmed")) {
          assertEquals("bytes", unit, e.getKey());
        }
        if (name.endsWith(".buffers")) {
          assertEquals("buffers", unit, e.getKey());
        }
      }
      Map<Meter.Type, Long> types = meters.values().stream()
          .collect(Collectors.groupingBy(m -> m.getId().getType(), Collectors.counting()));
      assertEquals(Map.of(Meter.Type.GAUGE, 11L, Meter.Type.COUNTER, 10L), types);
      kernelsDone.set(true);
      now.close();
    }
  }

  @Test
  void oneSnapshotServesEveryMeterUntilItIsOlderThanTheMaxAge() {
    MockClock clock = new MockClock();
    SimpleMeterRegistry registry = new SimpleMeterRegistry(SimpleConfig.DEFAULT, clock);
    try (HostDevice device = HostDevice.create();
        BufferPool pool = BufferPool.create(device)) {
      new BufferPoolMetrics(pool, "p", Tags.empty(), Duration.ofSeconds(1)).bindTo(registry);
      Gauge activeBuffers = registry.get("mlxarena.pool.active.buffers").gauge();
      Gauge activeMemory = registry.get("mlxarena.pool.active.memory").gauge();
      FunctionCounter misses =
          registry.get("mlxarena.pool.allocations").tag("result", "miss").functionCounter();
      assertEquals(0, activeBuffers.value());

      try (Scope scope = pool.openScope()) {
        scope.alloc(4096, DType.F32);
        // The same scrape: every meter still reads the snapshot its first read took.
        assertEquals(0, activeMemory.value());
        assertEquals(0, misses.count());
        assertEquals(0, activeBuffers.value());

        clock.add(Duration.ofSeconds(1));
        assertEquals(4096, activeMemory.value());
        assertEquals(1, misses.count());
        assertEquals(1, activeBuffers.value());
      }
    }
  }

  @Test
  void aZeroMaxAgeReadsThePoolOnEveryRead() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry(SimpleConfig.DEFAULT, new MockClock());
    try (HostDevice device = HostDevice.create();
        BufferPool pool = BufferPool.create(device)) {
      new BufferPoolMetrics(pool, "p", Tags.empty(), Duration.ZERO).bindTo(registry);
      Gauge active = registry.get("mlxarena.pool.active.buffers").gauge();
      assertEquals(0, active.value());
      try (Scope scope = pool.openScope()) {
        scope.alloc(64, DType.U8);
        assertEquals(1, active.value());
      }
      assertEquals(0, active.value());
    }
  }

  @Test
  void monitorBindsWithKeyValueTagsAndReturnsThePool() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (HostDevice device = HostDevice.create();
        BufferPool pool = BufferPool.create(device)) {
      assertSame(pool, BufferPoolMetrics.monitor(registry, pool, "kv", "stream", "0"));
      Meter held =
          registry.get("mlxarena.pool.held.memory").tag("pool", "kv").tag("stream", "0").meter();
      assertEquals(device.name(), held.getId().getTag("device"));
    }
  }

  @Test
  void aNegativeMaxAgeIsRefusedWithItsValue() {
    try (HostDevice device = HostDevice.create();
        BufferPool pool = BufferPool.create(device)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new BufferPoolMetrics(pool, "p", Tags.empty(), Duration.ofMillis(-5)));
      assertEquals("snapshotMaxAge must not be negative, was PT-0.005S", e.getMessage());
    }
  }

  private static String key(Meter m) {
    String extra = m.getId().getTags().stream()
        .filter(t -> t.getKey().equals("result") || t.getKey().equals("operation"))
        .map(t -> t.getKey() + "=" + t.getValue())
        .collect(Collectors.joining(","));
    return m.getId().getName() + (extra.isEmpty() ? "" : "{" + extra + "}");
  }

  private static double value(Meter m) {
    if (m instanceof Gauge g) {
      return g.value();
    }
    return ((FunctionCounter) m).count();
  }
}
