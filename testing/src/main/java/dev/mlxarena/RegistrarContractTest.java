package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.CountingRegistrar;
import dev.mlxarena.testing.DeviceHarness;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The registration contract (R2), run against every device: each registrar sees every device
 * buffer the pool holds registered exactly once, before the allocation that made it returns, and
 * deregistered exactly once before its memory goes back; recycling registers nothing; no call is
 * made under the pool's lock. After each test {@link PoolInvariants} closes the pool and checks
 * that both counting registrars hold nothing and saw no breach.
 */
@ExtendWith(PoolInvariants.class)
@Timeout(60)
public abstract class RegistrarContractTest {
  private static final VarHandle LOCK_STATE;

  static {
    try {
      LOCK_STATE = MethodHandles.privateLookupIn(PoolLock.class, MethodHandles.lookup())
          .findVarHandle(PoolLock.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  protected DeviceHarness harness;
  protected BufferPool pool;
  protected CountingRegistrar first;
  protected CountingRegistrar second;

  protected abstract DeviceHarness newHarness();

  private void open(PoolOptions.Builder options) {
    harness = newHarness();
    first = new CountingRegistrar("first").recordLiveAllocations(harness::liveAllocations);
    second = new CountingRegistrar("second");
    pool = BufferPool.create(harness.device(), options.registrar(first).registrar(second).build());
    first.whileCalled(this::lockHeld);
    second.whileCalled(this::lockHeld);
  }

  /** A breach when the pool's lock is held by anyone: meaningful while one thread uses the pool. */
  private String lockHeld() {
    try {
      java.lang.reflect.Field f = BufferPool.class.getDeclaredField("lock");
      f.setAccessible(true);
      return (int) LOCK_STATE.getVolatile(f.get(pool)) != 0 ? "called under the pool's lock" : null;
    } catch (ReflectiveOperationException e) {
      return "cannot read the pool's lock: " + e;
    }
  }

  private void open() {
    open(PoolOptions.builder());
  }

  @Test
  void aFreshBufferIsRegisteredWithEachBeforeItIsReturned() {
    open();
    Buffer a = pool.alloc(1000, DType.U8);
    assertTrue(first.isRegistered(a.deviceBuffer()));
    assertTrue(second.isRegistered(a.deviceBuffer()));
    List<Buffer> batch = pool.allocBatch(List.of(new AllocRequest(10, DType.U8), new AllocRequest(5000, DType.U8)));
    for (Buffer b : batch) {
      assertTrue(first.isRegistered(b.deviceBuffer()) && second.isRegistered(b.deviceBuffer()), b.toString());
    }
    try (Scope s = pool.openScope()) {
      assertTrue(first.isRegistered(s.alloc(70_000, DType.U8).deviceBuffer()));
    }
    PoolStats st = pool.stats();
    assertEquals(4, first.registrations());
    assertEquals(8, st.registrations(), "one per buffer and registrar");
    assertEquals(0, st.deregistrations());
    assertEquals(0, st.registrarFailures());
  }

  @Test
  void recyclingRegistersNothing() {
    open();
    for (int token = 0; token < 20; token++) {
      try (Scope s = pool.openScope()) {
        s.alloc(4096, DType.F32);
        s.alloc(100, DType.F32);
      }
      pool.alloc(1000, DType.U8);
      pool.reset();
    }
    assertEquals(3, pool.stats().freshAllocations());
    assertEquals(3, first.registrations(), "each device buffer once, however often it is recycled");
    assertEquals(3, second.registrations());
    assertEquals(6, pool.stats().registrations());
  }

  @Test
  void memoryGoesBackOnlyAfterItsDeregistration() {
    open();
    pool.alloc(100, DType.U8);
    pool.alloc(1000, DType.U8);
    pool.alloc(10_000, DType.U8);
    pool.reset();
    int live = harness.liveAllocations();
    assertEquals(3, live);
    pool.clear();
    assertEquals(0, harness.liveAllocations());
    assertEquals(List.of(3, 2, 1), first.liveAtDeregistration(),
        "each buffer deregistered while its memory was still held, then freed");
    assertEquals(3, first.deregistrations());
    assertEquals(3, second.deregistrations());
    assertEquals(6, pool.stats().deregistrations());
    assertEquals(0, first.size());
  }

  @Test
  void trimmedAndCacheLimitedBuffersAreDeregistered() {
    open(PoolOptions.builder().cacheLimit(2048));
    Buffer small = pool.alloc(1024, DType.U8);
    Buffer big = pool.alloc(64 * 1024, DType.U8);
    DeviceBuffer bigRaw = big.deviceBuffer();
    pool.release(big); // over the cache limit: back to the device at once
    assertFalse(first.isRegistered(bigRaw));
    assertEquals(1, first.size());
    pool.release(small);
    pool.trim(0);
    assertEquals(0, first.size());
    assertEquals(4, pool.stats().deregistrations(), "two buffers, two registrars");
  }

  @Test
  void closeDeregistersEveryBufferLiveOrFree() {
    open();
    Buffer live = pool.alloc(100, DType.U8);
    pool.release(pool.alloc(5000, DType.U8));
    assertTrue(first.isRegistered(live.deviceBuffer()));
    pool.close();
    assertEquals(0, first.size());
    assertEquals(0, second.size());
    assertEquals(0, harness.liveAllocations());
  }

  @Test
  void aBatchThatFailsPartWayDeregistersWhatItMade() {
    open();
    pool.alloc(1 << 20, DType.U8); // live (no cache to retry with), and closing the pool commits the residency set
    harness.failNthAllocation(3);
    assertThrows(BufferAllocationException.class, () -> pool.allocBatch(List.of(
        new AllocRequest(10, DType.U8), new AllocRequest(1000, DType.U8), new AllocRequest(5000, DType.U8))));
    assertEquals(1, first.size());
    assertEquals(3, first.registrations());
    assertEquals(2, first.deregistrations(), "the two made for the batch");
    assertEquals(1, harness.liveAllocations());
  }

  @Test
  void aFailingRegistrationIsContainedAndNeverDeregistered() {
    open();
    first.failRegistrations(true);
    Buffer a = pool.alloc(100, DType.F32);
    a.putF32(0, 1.5f);
    assertEquals(1.5f, a.getF32(0), "the buffer is in use, unregistered with the registrar that refused");
    assertFalse(first.isRegistered(a.deviceBuffer()));
    assertTrue(second.isRegistered(a.deviceBuffer()));
    assertEquals(1, pool.stats().registrarFailures());
    assertEquals(1, pool.stats().registrations());
    first.failRegistrations(false);
    pool.close(); // the counting registrar records a breach if the refused buffer were deregistered
    assertEquals(0, first.deregistrations());
    assertEquals(1, second.deregistrations());
  }

  @Test
  void threadsAllocatingAtOnceEachGetARegisteredBuffer() throws Exception {
    open();
    // The lock records no owner: with several threads it is held by others during our calls.
    first.whileCalled(() -> null);
    second.whileCalled(() -> null);
    int threads = 4;
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService exec = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Integer>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int seed = t;
        done.add(exec.submit(() -> {
          start.await();
          int unregistered = 0;
          for (int i = 0; i < 200; i++) {
            try (Scope s = pool.openScope()) {
              Buffer b = s.alloc(64L << ((seed + i) % 12), DType.U8);
              unregistered += first.isRegistered(b.deviceBuffer()) && second.isRegistered(b.deviceBuffer()) ? 0 : 1;
            }
            if (i % 50 == 49) {
              pool.trim(0); // deregistrations racing the other threads' registrations
            }
          }
          return unregistered;
        }));
      }
      for (Future<Integer> f : done) {
        assertEquals(0, f.get(30, TimeUnit.SECONDS), "allocations returned before their registration");
      }
    } finally {
      exec.shutdownNow();
    }
    PoolStats st = pool.stats();
    assertEquals(st.freshAllocations() * 2, st.registrations());
    assertEquals(st.deviceFrees() * 2, st.deregistrations());
    assertNotNull(st.toString());
  }
}
