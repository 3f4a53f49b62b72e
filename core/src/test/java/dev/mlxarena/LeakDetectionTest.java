package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.Device;
import dev.mlxarena.testing.TestDevice;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** Scopes and owned buffers nobody closed are reported and reclaimed; strict close names them. */
class LeakDetectionTest {

  private static void awaitGc(BooleanSupplier done) throws InterruptedException {
    for (int i = 0; i < 200 && !done.getAsBoolean(); i++) {
      System.gc();
      Thread.sleep(20);
    }
    assertTrue(done.getAsBoolean(), "the leak was not reclaimed");
  }

  private static void leakAScope(BufferPool pool) {
    Scope forgotten = pool.openScope();
    forgotten.alloc(1024, DType.U8);
    forgotten.alloc(64, DType.U8);
  }

  @Test
  void anUnclosedScopeIsReportedAndItsBuffersGoBack() throws InterruptedException {
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
  void withDetectionOffALeakedScopeStaysOpenUntilThePoolCloses() throws InterruptedException {
    TestDevice device = TestDevice.withResidency();
    BufferPool pool = BufferPool.create(device, PoolOptions.builder().leakDetection(LeakDetection.DISABLED).build());
    leakAScope(pool);
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(10);
    }
    assertEquals(2, pool.inUseCount(), "nothing watched it");
    pool.close();
    assertEquals(0, device.liveAllocations());
  }

  private static void leakAnOwnedBuffer(Device device) {
    device.allocBuffer(4096, DType.F32);
  }

  @Test
  void anUnclosedOwnedBufferIsFreed() throws InterruptedException {
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
