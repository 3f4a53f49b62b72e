package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.testing.TestDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A scope recycles its record without the pool's lock, once its close has taken the record over
 * ({@link ScopeState#handingBack}, set under the lock). A release or close of one of its handles on
 * another thread at that moment must leave the buffer to the close, or the buffer would go back
 * twice. These tests put a scope in that state, as the first step of its close does, and act on
 * its handles then.
 */
class ScopeCloseRaceTest {
  private final TestDevice device = TestDevice.withResidency();
  private final BufferPool pool = BufferPool.create(device);

  @AfterEach
  void closePool() {
    pool.close();
    assertEquals(0, device.liveAllocations());
  }

  /** What the first step of the close does to the scope that issued {@code b}. */
  private static ScopeState takeOver(Buffer b) {
    ScopeState issuer = (ScopeState) b.recycler;
    issuer.handingBack = true;
    return issuer;
  }

  @Test
  void aHandleClosedWhileItsScopeIsHandedBackIsLeftToTheClose() {
    Scope scope = pool.openScope();
    Buffer a = scope.alloc(256, DType.U8);
    ScopeState issuer = takeOver(a);
    a.close();
    assertTrue(a.isValid(), "the handle's close left the buffer to the scope's close");
    assertEquals(1, pool.inUseCount());
    issuer.handingBack = false;
    scope.close();
    assertFalse(a.isValid());
    assertEquals(1, pool.freeCount(), "back once");
    assertEquals(null, pool.audit().verify());
  }

  @Test
  void aReleaseWhileItsScopeIsHandedBackIsRefusedAsStale() {
    Scope scope = pool.openScope();
    Buffer a = scope.alloc(256, DType.U8);
    ScopeState issuer = takeOver(a);
    assertThrows(StaleBufferException.class, () -> pool.release(a));
    assertThrows(StaleBufferException.class, () -> pool.release(a, Fence.completed()));
    assertEquals(1, pool.inUseCount(), "nothing went back");
    issuer.handingBack = false;
    scope.close();
    assertEquals(1, pool.freeCount(), "back once");
    assertEquals(null, pool.audit().verify());
  }
}
