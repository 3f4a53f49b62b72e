package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.TestDevice;
import dev.mlxarena.testing.TestStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Stream-ordered reuse (S1): a buffer handed back on stream A is reusable at once by later work
 * on A, and by another stream, a stream-less scope or the host only after the fence recorded on A
 * at the hand-back has completed; the host never waits, and the steady state polls nothing.
 */
@ExtendWith(PoolInvariants.class)
class StreamOrderedReuseTest {
  private final TestDevice device = TestDevice.withResidency();
  private BufferPool pool = BufferPool.create(device);
  private final TestStream a = new TestStream(device, "A");
  private final TestStream b = new TestStream(device, "B");

  @AfterEach
  void everyFenceIsClosedOnceAndNeverPolledAfter() {
    PoolInvariants.check(pool);
    pool.close();
    for (TestStream s : List.of(a, b)) {
      assertEquals(List.of(), s.violations());
      assertEquals(0, s.openFences(), s + ": fences left open after the pool closed");
    }
  }

  private static DeviceBuffer raw(Buffer x) {
    return x.deviceBuffer();
  }

  /** Closes one scope on {@code s} that allocated {@code bytes}; returns its device buffer. */
  private DeviceBuffer tokenOn(TestStream s, long bytes) {
    try (Scope t = pool.openScope(s)) {
      return raw(t.alloc(bytes, DType.U8));
    }
  }

  @Test
  void aScopeOnAStreamReusesItsLastScopesBuffersAtOnce() {
    DeviceBuffer first = tokenOn(a, 4096);
    assertFalse(a.last().reached(), "the device has not run the first token");
    assertEquals(1, pool.stats().deferredCount(), "waiting for A's fence, for everyone but A");
    assertEquals(0, pool.freeCount(), "not cached: no one else may take it yet");
    try (Scope t = pool.openScope(a)) {
      assertSame(first, raw(t.alloc(4096, DType.U8)), "A runs in order: no wait needed");
      assertEquals(0, pool.stats().deferredCount());
    }
    assertEquals(1, pool.stats().freshAllocations());
    assertEquals(0, a.polls(), "reuse on the same stream polls no fence");
  }

  @Test
  void otherStreamsStreamLessScopesAndTheHostWaitForTheFence() {
    DeviceBuffer handedBack = tokenOn(a, 4096);
    Scope onB = pool.openScope(b);
    Scope none = pool.openScope();
    assertNotSame(handedBack, raw(onB.alloc(4096, DType.U8)), "B must wait for A's fence");
    assertNotSame(handedBack, raw(none.alloc(4096, DType.U8)), "a stream-less scope must wait");
    assertNotSame(handedBack, raw(pool.alloc(4096, DType.U8)), "host access must wait");
    assertEquals(4, pool.stats().freshAllocations());
    a.completeAll();
    assertSame(handedBack, raw(pool.alloc(4096, DType.U8)), "a miss polls, and A's fence completed");
    assertEquals(4, pool.stats().freshAllocations());
    onB.close();
    none.close();
  }

  @Test
  void theHostNeverWaitsAndTheSteadyStatePollsNothing() {
    long[] trace = {64, 4096, 100_000, 64, 3000};
    for (int token = 0; token < 100; token++) { // the device never catches up
      try (Scope t = pool.openScope(a)) {
        for (long n : trace) {
          t.alloc(n, DType.U8);
        }
      }
    }
    PoolStats s = pool.stats();
    assertEquals(trace.length, s.freshAllocations(), "every token after the first reuses the last");
    assertEquals(100 * trace.length - trace.length, s.reuseHits());
    assertEquals(0, a.polls(), "no fence is polled in steady state");
    assertEquals(100, a.recorded().size(), "one fence per token");
    assertEquals(1, a.openFences(), "each token's fence is closed once the next token's covers it");
  }

  @Test
  void aReleasedBufferOfAStreamScopeFollowsTheSameRule() {
    Scope t = pool.openScope(a);
    Buffer x = t.alloc(4096, DType.U8);
    DeviceBuffer xRaw = raw(x);
    x.close();
    assertEquals(1, a.recorded().size(), "the release recorded a fence on A");
    assertEquals(List.of(xRaw), pool.audit().streamDeviceBuffers(a));
    assertNotSame(xRaw, raw(pool.alloc(4096, DType.U8)), "the host waits for A's fence");
    assertSame(xRaw, raw(t.alloc(4096, DType.U8)), "A takes it back at once");
    Buffer y = t.alloc(256, DType.U8);
    DeviceBuffer yRaw = raw(y);
    pool.release(y);
    Scope none = pool.openScope();
    assertNotSame(yRaw, raw(none.alloc(256, DType.U8)));
    a.completeAll();
    assertSame(yRaw, raw(none.alloc(256, DType.U8)), "reusable by all once A's fence completed");
    none.close();
    t.close();
  }

  @Test
  void onlyTheOldestPendingFenceOfAStreamIsPolled() {
    try (Scope t = pool.openScope(a)) { // three hand-backs on A, three fences, in order
      t.alloc(1024, DType.U8).close();
      t.alloc(2048, DType.U8).close();
      t.alloc(8192, DType.U8).close();
    }
    assertEquals(3, a.recorded().size());
    long before = a.polls();
    pool.alloc(64, DType.U8); // a miss with fences waiting: one round
    assertEquals(1, a.polls() - before, "the oldest has not completed, so neither have the later ones");
    a.completeUpTo(2);
    before = a.polls();
    pool.alloc(128, DType.U8);
    assertEquals(3, a.polls() - before, "two completed, the third stopped the round");
    assertEquals(1, pool.freeCount(1024));
    assertEquals(1, pool.freeCount(2048));
    assertEquals(0, pool.freeCount(8192), "still waiting for A's third fence");
  }

  @Test
  void aScopeElsewhereAdoptsAStreamsReserveOnlyOnceItsFenceIsKnownComplete() {
    DeviceBuffer x = tokenOn(a, 4096);
    try (Scope t = pool.openScope(b)) {
      assertNotSame(x, raw(t.alloc(4096, DType.U8)), "B may not adopt A's pending reserve");
    }
    a.completeAll();
    pool.alloc(1 << 20, DType.U8); // a miss: the poll finds A's fence complete, parks its reserve
    try (Scope t = pool.openScope()) {
      assertSame(x, raw(t.alloc(4096, DType.U8)), "adopted once known complete");
    }
  }

  @Test
  void evictionAndTheMemoryLimitFreeAStreamsBuffersOnlyAfterItsFence() {
    pool = BufferPool.create(device, PoolOptions.builder().memoryLimit(8192).build());
    DeviceBuffer x = tokenOn(a, 8192);
    assertEquals(8192, pool.stats().deferredBytes());
    assertEquals(0, pool.stats().cachedBytes());
    assertEquals(0, pool.trim(), "trim may not free what A's kernels may still use");
    PoolStats before = pool.stats();
    assertThrows(PoolExhaustedException.class, () -> pool.alloc(4096, DType.U8));
    assertEquals(before, pool.stats(), "a refused allocation leaves the pool as it was");
    assertEquals(1, device.liveAllocations());
    a.completeAll();
    Buffer y = pool.alloc(4096, DType.U8); // polls, finds A done, evicts x to make room
    assertNotSame(x, raw(y));
    assertEquals(1, device.liveAllocations());
    assertEquals(8192, pool.stats().trimmedBytes());
  }

  @Test
  void aStreamScopeAdoptsOnlyWhileTheCacheLimitLeavesRoom() {
    pool = BufferPool.create(device, PoolOptions.builder().cacheLimit(0).build());
    DeviceBuffer x = tokenOn(a, 4096);
    try (Scope t = pool.openScope(a)) {
      assertEquals(0, pool.stats().cachedBytes(), "adopting would have cached 4096 bytes");
      assertSame(x, raw(t.alloc(4096, DType.U8)), "its stream still takes it, under the lock");
    }
    assertEquals(0, pool.stats().cachedBytes());
  }

  @Test
  void closeAfterOnAStreamScopeWaitsForTheCallersFenceThenGoesBackInStreamOrder() {
    CompletableFuture<Void> copy = new CompletableFuture<>();
    Scope t = pool.openScope(a);
    DeviceBuffer x = raw(t.alloc(4096, DType.U8));
    t.closeAfter(Fence.of(copy));
    assertEquals(0, a.recorded().size(), "nothing goes to A before the caller's fence");
    try (Scope t2 = pool.openScope(a)) {
      assertNotSame(x, raw(t2.alloc(4096, DType.U8)), "not even A may take it yet");
    }
    copy.complete(null);
    Scope onA = pool.openScope(a); // adopts the reserve of the scope above
    assertNotSame(x, raw(onA.alloc(4096, DType.U8)));
    onA.alloc(100_000, DType.U8); // a miss: the round finds the copy done, x goes to A's lane
    assertTrue(pool.audit().streamDeviceBuffers(a).contains(x));
    assertNotSame(x, raw(pool.alloc(4096, DType.U8)), "the host waits for A's new fence");
    assertSame(x, raw(onA.alloc(4096, DType.U8)), "A takes it at once");
    onA.close();
  }

  @Test
  void aStreamThatCannotRecordItsFenceHoldsTheScopesBuffersAndThePoolGoesOn() {
    Scope t = pool.openScope(a);
    t.alloc(4096, DType.U8);
    t.alloc(64, DType.U8);
    a.failNextRecord();
    IllegalStateException e = assertThrows(IllegalStateException.class, t::close);
    assertTrue(e.getMessage().contains("2 buffer(s) (4160 bytes)"), e.getMessage());
    assertFalse(t.isOpen());
    assertEquals(2, pool.stats().deferredCount(), "held out of reuse, counted");
    try (Scope next = pool.openScope(a)) {
      next.alloc(4096, DType.U8);
      assertEquals(3, pool.stats().freshAllocations(), "the held buffers are never reused");
    }
    a.completeAll();
    pool.trim();
    assertEquals(2, pool.stats().deferredCount(), "trim cannot free them either");
    assertEquals(2, device.liveAllocations());
  }

  @Test
  void aBatchOnAStreamTakesFromItsLaneAndAnUndoPutsBackWhereOnlyTheStreamMayTake() {
    // No cache room: the scope on A does not adopt, so its batch takes from A's lane itself.
    pool = BufferPool.create(device, PoolOptions.builder().cacheLimit(0).memoryLimit(4096 + 8192).build());
    DeviceBuffer x = tokenOn(a, 4096);
    try (Scope t = pool.openScope(b)) {
      t.alloc(8192, DType.U8); // the limit is reached
      try (Scope onA = pool.openScope(a)) {
        // A's lane serves 4096, then 16384 does not fit: everything goes back.
        assertThrows(PoolExhaustedException.class, () -> onA.allocBatch(List.of(
            new AllocRequest(4096, DType.U8), new AllocRequest(16384, DType.U8))));
        assertEquals(List.of(x), pool.audit().streamDeviceBuffers(a), "back in A's lane, not free");
        assertEquals(1, pool.stats().deferredCount());
        assertSame(x, raw(onA.allocBatch(List.of(new AllocRequest(4096, DType.U8))).get(0)));
      }
    }
    assertEquals(List.of(x), pool.audit().streamDeviceBuffers(a));
  }

  @Test
  void aScopeOpenWhenThePoolClosesClosesTheFenceItAdopted() {
    tokenOn(a, 4096);
    pool.openScope(a).alloc(4096, DType.U8);
    pool.close(); // the after-each check: every fence closed once
    assertEquals(0, a.openFences());
  }

  @Test
  void aStreamOfAnotherDeviceIsRefused() {
    TestStream foreign = new TestStream(TestDevice.withoutResidency(), "elsewhere");
    assertThrows(IllegalArgumentException.class, () -> pool.openScope(foreign));
  }
}
