package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.testing.TestDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Cache and memory limits, OOM recovery, fence-ordered reuse, statistics and JFR events. */
@ExtendWith(PoolInvariants.class)
class ProductionPoolTest {
  private final TestDevice device = TestDevice.withResidency();
  private BufferPool pool;

  private BufferPool pool(PoolOptions.Builder options) {
    pool = BufferPool.create(device, options.build());
    return pool;
  }

  // ------------------------------------------------------------------ cache limit and trim

  @Test
  void theCacheLimitHoldsAfterEveryCallLeastRecentlyUsedBucketsFirst() {
    pool(PoolOptions.builder().cacheLimit(4096 + 1024));
    pool.alloc(1024, DType.U8).close(); // bucket 1024 used first: the least recent
    try (Scope s = pool.openScope()) {
      s.alloc(4096, DType.U8);
      s.alloc(2048, DType.U8);
    }
    assertTrue(pool.freeBytes() <= 4096 + 1024, "cached " + pool.freeBytes());
    assertEquals(0, pool.freeCount(1024), "the least recently used bucket went first");
    assertEquals(1, pool.freeCount(4096));
    PoolStats st = pool.stats();
    assertTrue(st.trims() >= 1);
    assertTrue(st.trimmedBytes() >= 1024);
    assertEquals(st.cachedCount(), device.counting().size() - st.activeCount(), "residency follows");
  }

  @Test
  void aZeroCacheLimitKeepsNothing() {
    pool(PoolOptions.builder().cacheLimit(0));
    try (Scope s = pool.openScope()) {
      s.alloc(100, DType.U8);
    }
    assertEquals(0, pool.freeBytes());
    assertEquals(0, device.liveAllocations());
  }

  @Test
  void trimGivesMemoryBackOnDemand() {
    pool(PoolOptions.builder());
    try (Scope s = pool.openScope()) {
      s.alloc(1024, DType.U8);
      s.alloc(4096, DType.U8);
      s.alloc(8192, DType.U8);
    }
    assertEquals(8192, pool.trim(5000) > 0 ? pool.freeBytes() > 5000 ? -1 : 8192 : -1, "trimmed to at most 5000");
    assertTrue(pool.freeBytes() <= 5000);
    long left = pool.freeBytes();
    assertEquals(left, pool.trim());
    assertEquals(0, pool.freeBytes());
    assertThrows(IllegalArgumentException.class, () -> pool.trim(-1));
  }

  // ------------------------------------------------------------------ memory limit and OOM

  @Test
  void theMemoryLimitFreesCachedBuffersThenAllocates() {
    pool(PoolOptions.builder().memoryLimit(8192));
    Buffer live = pool.alloc(4096, DType.U8);
    pool.alloc(2048, DType.U8).close();
    Buffer more = pool.alloc(4096, DType.U8);
    assertNotEquals(live.nativeHandle(), more.nativeHandle());
    PoolStats st = pool.stats();
    assertEquals(1, st.oomRetries());
    assertTrue(st.heldBytes() <= 8192);
    assertEquals(0, st.cachedBytes());
  }

  @Test
  void aRequestThatCannotFitIsRefusedWithTheFiguresAndThePoolUnchanged() {
    pool(PoolOptions.builder().memoryLimit(8192));
    pool.alloc(4096, DType.U8);
    pool.alloc(1024, DType.U8).close();
    PoolStats before = pool.stats();
    PoolExhaustedException e = assertThrows(PoolExhaustedException.class, () -> pool.alloc(5000, DType.U8));
    for (String part : List.of("5000 bytes", "bucket of 8192", "4096 active", "1024 cached",
        "holds 5120", "memory limit 8192", "largest free bucket 1024")) {
      assertTrue(e.getMessage().contains(part), () -> "lacks '" + part + "': " + e.getMessage());
    }
    assertEquals(8192, e.getRequestedBytes());
    assertEquals(before, pool.stats(), "nothing was evicted for a request that could not fit");
  }

  @Test
  void aScopesOwnReserveIsEvictableUnderTheMemoryLimit() {
    pool(PoolOptions.builder().memoryLimit(4 << 20));
    try (Scope first = pool.openScope()) {
      for (int i = 0; i < 3; i++) {
        first.alloc(1 << 20, DType.U8);
      }
    }
    for (int t = 0; t < 3; t++) {
      try (Scope token = pool.openScope()) { // adopts the reserve the token before it left
        assertEquals(2 << 20, token.alloc(2 << 20, DType.U8).capacity());
      }
      assertTrue(pool.stats().peakHeldBytes() <= 4 << 20, "held " + pool.stats().peakHeldBytes());
    }
  }

  @Test
  void aDeviceRefusalAlsoGivesBackTheScopesOwnReserve() {
    pool(PoolOptions.builder());
    try (Scope first = pool.openScope()) {
      for (int i = 0; i < 3; i++) {
        first.alloc(1 << 20, DType.U8);
      }
    }
    try (Scope token = pool.openScope()) {
      device.failNthAllocation(1);
      assertEquals(2 << 20, token.alloc(2 << 20, DType.U8).capacity());
    }
    assertEquals(1, pool.stats().oomRetries());
  }

  @Test
  void aBatchRefusedByTheMemoryLimitLeavesTheCacheAsItWas() {
    pool(PoolOptions.builder().memoryLimit(8192));
    Buffer live = pool.alloc(4096, DType.U8);
    pool.alloc(1024, DType.U8).close();
    pool.alloc(2048, DType.U8).close();
    PoolStats before = pool.stats();
    int deviceBuffers = device.liveAllocations();
    PoolExhaustedException e = assertThrows(PoolExhaustedException.class, () -> pool.allocBatch(
        List.of(new AllocRequest(4096, DType.U8), new AllocRequest(8192, DType.U8))));
    assertTrue(e.getMessage().contains("memory limit 8192"), e.getMessage());
    assertEquals(before, pool.stats(), "all or none: nothing was evicted for a batch that could not fit");
    assertEquals(deviceBuffers, device.liveAllocations());
    assertTrue(live.isValid());
  }

  @Test
  void theExhaustionMessageCountsAScopesLockFreeAllocationsAsActive() {
    pool(PoolOptions.builder().memoryLimit(1 << 20));
    try (Scope first = pool.openScope()) {
      for (int i = 0; i < 4; i++) {
        first.alloc(128 << 10, DType.U8);
      }
    }
    try (Scope token = pool.openScope()) {
      List<Buffer> taken = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        taken.add(token.alloc(128 << 10, DType.U8)); // from the scope's reserve, without the lock
      }
      for (int i = 0; i < 3; i++) {
        pool.release(taken.get(i));
      }
      long active = pool.stats().activeBytes();
      PoolExhaustedException e =
          assertThrows(PoolExhaustedException.class, () -> token.alloc(1 << 20, DType.U8));
      assertEquals(128 << 10, active);
      assertTrue(e.getMessage().contains("(" + active + " active"), e.getMessage());
    }
  }

  @Test
  void aDeviceRefusalFreesTheCacheAndRetriesOnce() {
    pool(PoolOptions.builder());
    pool.alloc(1024, DType.U8).close();
    device.failNthAllocation(1);
    Buffer b = pool.alloc(4096, DType.U8);
    assertEquals(4096, b.capacity());
    assertEquals(1, pool.stats().oomRetries());
    assertEquals(0, pool.freeBytes(), "the cache was given back before the retry");
  }

  @Test
  void aDeviceThatRefusesTwiceSaysSo() {
    pool(PoolOptions.builder());
    pool.alloc(1024, DType.U8).close();
    device.failAbove(2048);
    try {
      BufferAllocationException e = assertThrows(BufferAllocationException.class, () -> pool.alloc(4096, DType.U8));
      assertTrue(e.getMessage().contains("even after freeing the cache"), e.getMessage());
      assertEquals(4096, e.getRequestedBytes());
      assertEquals(0, pool.inUseCount());
    } finally {
      device.failAbove(Long.MAX_VALUE);
    }
  }

  @Test
  void limitsAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> PoolOptions.builder().cacheLimit(-1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PoolOptions.builder().memoryLimit(0));
    assertTrue(e.getMessage().contains("0"));
    assertEquals(512L << 20, PoolOptions.parseBytes("x", "512m"));
    assertThrows(IllegalArgumentException.class, () -> PoolOptions.parseBytes("mlxarena.cacheLimit", "lots"));
  }

  // ------------------------------------------------------------------ fences

  @Test
  void closeAfterKeepsBuffersOutOfTheFreeListsUntilTheFenceCompletes() {
    pool(PoolOptions.builder());
    CompletableFuture<Void> gpu = new CompletableFuture<>();
    Scope s = pool.openScope();
    Buffer inFlight = s.alloc(4096, DType.U8);
    s.closeAfter(Fence.of(gpu));
    assertFalse(inFlight.isValid(), "handles die at close, fence or not");
    assertFalse(s.isOpen());
    assertEquals(0, pool.freeCount(), "memory the device may still read is not reusable");
    assertEquals(1, pool.stats().deferredCount());
    Buffer other = pool.alloc(4096, DType.U8);
    assertNotEquals(inFlight.block, other.block, "no aliasing with in-flight memory");
    gpu.complete(null);
    pool.alloc(16, DType.U8); // allocation collects completed fences
    assertEquals(0, pool.stats().deferredCount());
    assertEquals(1, pool.freeCount(4096));
  }

  @Test
  void releaseWithAFenceDefersOneBuffer() {
    pool(PoolOptions.builder());
    CompletableFuture<Void> gpu = new CompletableFuture<>();
    Buffer b = pool.alloc(256, DType.U8);
    pool.release(b, Fence.of(gpu));
    assertFalse(b.isValid());
    assertThrows(StaleBufferException.class, () -> pool.release(b, Fence.completed()));
    assertEquals(0, pool.freeCount());
    gpu.completeExceptionally(new IllegalStateException("kernel failed"));
    pool.trim(Long.MAX_VALUE); // trim collects fences too
    assertEquals(1, pool.freeCount());
  }

  @Test
  void aCompletedFenceRecyclesAtOnceAndIsClosed() {
    pool(PoolOptions.builder());
    boolean[] closed = {false};
    Scope s = pool.openScope();
    s.alloc(64, DType.U8);
    s.closeAfter(new Fence() {
      @Override
      public boolean isComplete() {
        return true;
      }

      @Override
      public void close() {
        closed[0] = true;
      }
    });
    assertTrue(closed[0]);
    assertEquals(1, pool.freeCount());
  }

  // ------------------------------------------------------------------ statistics and JFR

  @Test
  void statisticsBreakDownByBucketAndReadAsATable() {
    pool(PoolOptions.builder());
    Buffer a = pool.alloc(100, DType.U8);
    pool.alloc(100, DType.U8).close();
    pool.alloc(5000, DType.U8);
    List<BucketStats> buckets = pool.bucketStats();
    assertEquals(List.of(new BucketStats(128, 1, 1, 0), new BucketStats(8192, 1, 0, 0)), buckets);
    assertEquals(256, buckets.get(0).heldBytes());
    PoolStats st = pool.stats();
    assertEquals(3, st.reuseMisses());
    String table = st.toString();
    assertTrue(table.contains("active") && table.contains("cached") && table.contains("held"), table);
    a.close();
    pool.resetPeaks();
    assertEquals(8192, pool.stats().peakActiveBytes());
  }

  @Test
  void jfrEventsAreRecorded(@TempDir Path dir) throws Exception {
    pool(PoolOptions.builder().memoryLimit(4096));
    Path file = dir.resolve("pool.jfr");
    try (Recording r = new Recording()) {
      for (String e : List.of("FreshAllocation", "Trim", "OomRetry", "ScopeClose")) {
        r.enable("dev.mlxarena." + e);
      }
      r.start();
      try (Scope s = pool.openScope()) {
        s.alloc(2048, DType.U8);
      }
      pool.alloc(4096, DType.U8); // needs the cached 2048: an OOM retry and a trim
      r.stop();
      r.dump(file);
    }
    Set<String> seen = RecordingFile.readAllEvents(file).stream()
        .map(RecordedEvent::getEventType).map(t -> t.getName()).collect(Collectors.toSet());
    assertTrue(seen.containsAll(Set.of("dev.mlxarena.FreshAllocation", "dev.mlxarena.Trim",
        "dev.mlxarena.OomRetry", "dev.mlxarena.ScopeClose")), seen.toString());
    assertTrue(Files.size(file) > 0);
  }
}
