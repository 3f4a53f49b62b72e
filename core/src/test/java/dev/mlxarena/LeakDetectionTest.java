package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.Device;
import dev.mlxarena.testing.TestDevice;
import java.lang.ref.WeakReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scopes and owned buffers nobody closed are reported and reclaimed; strict close names them.
 * Waits for the collector run until their condition holds; the class's timeout guards a hang.
 */
@Timeout(60)
class LeakDetectionTest {

  /** Asks for collections until {@code done} holds (the cleaner runs on its own thread). */
  private static void awaitGc(BooleanSupplier done) {
    while (!done.getAsBoolean()) {
      System.gc();
      Thread.yield();
    }
  }

  /** Leaks a scope holding two buffers and returns a weak reference to its handle. */
  private static WeakReference<Scope> leakAScope(BufferPool pool) {
    Scope forgotten = pool.openScope();
    forgotten.alloc(1024, DType.U8);
    forgotten.alloc(64, DType.U8);
    return new WeakReference<>(forgotten);
  }

  @Test
  void anUnclosedScopeIsReportedAndItsBuffersGoBack() {
    TestDevice device = TestDevice.withResidency();
    try (BufferPool pool = BufferPool.create(device,
        PoolOptions.builder().leakDetection(LeakDetection.PARANOID).build())) {
      long before = LeakTracker.REPORTED.get();
      leakAScope(pool);
      assertEquals(2, pool.inUseCount());
      awaitGc(() -> pool.inUseCount() == 0);
      assertTrue(LeakTracker.REPORTED.get() > before);
      assertEquals(2, pool.freeCount(), "the leaked buffers are reusable");
      PoolInvariants.check(pool);
    }
    assertEquals(0, device.liveAllocations());
  }

  @Test
  void withDetectionOffALeakedScopeStaysOpenUntilThePoolCloses() {
    TestDevice device = TestDevice.withResidency();
    BufferPool pool = BufferPool.create(device, PoolOptions.builder().leakDetection(LeakDetection.DISABLED).build());
    WeakReference<Scope> unwatched = leakAScope(pool);
    awaitGc(() -> unwatched.get() == null);
    // A watched scope, leaked once the first was collected, reclaimed by the same cleaner: had the
    // first been watched, its reclaim would have been queued to that cleaner a collection earlier.
    try (BufferPool marker = BufferPool.create(device,
        PoolOptions.builder().leakDetection(LeakDetection.PARANOID).build())) {
      leakAScope(marker);
      awaitGc(() -> marker.inUseCount() == 0);
    }
    assertEquals(2, pool.inUseCount(), "nothing watched it");
    pool.close();
    assertEquals(0, device.liveAllocations());
  }

  private static void leakAnOwnedBuffer(Device device) {
    Buffer.allocOwned(device, 4096, DType.F32);
  }

  @Test
  void anUnclosedOwnedBufferIsFreed() {
    System.setProperty("mlxarena.leakDetection", "paranoid");
    TestDevice device = TestDevice.withResidency();
    try {
      long before = LeakTracker.REPORTED.get();
      leakAnOwnedBuffer(device);
      assertEquals(1, device.liveAllocations());
      awaitGc(() -> device.liveAllocations() == 0);
      assertTrue(LeakTracker.REPORTED.get() > before);
      assertFalse(device.counting().size() > 0, "its residency registration went too");
    } finally {
      System.clearProperty("mlxarena.leakDetection");
    }
  }

  @Test
  void strictCloseThrowsNamingWhereOpenScopesWereOpened() {
    TestDevice device = TestDevice.withResidency();
    BufferPool pool = BufferPool.create(device, PoolOptions.builder().strictClose(true).build());
    Scope open = pool.openScope();
    Buffer b = open.alloc(64, DType.U8);
    IllegalStateException e = assertThrows(IllegalStateException.class, pool::close);
    assertTrue(e.getMessage().contains("1 scope(s) still open"), e.getMessage());
    assertEquals(1, e.getSuppressed().length);
    assertTrue(e.getSuppressed()[0].getStackTrace()[0].getClassName().contains("BufferPool"));
    assertFalse(open.isOpen());
    assertFalse(b.isValid());
    assertEquals(0, device.liveAllocations(), "everything was freed before the throw");
    assertTrue(pool.isClosed());
  }
}
