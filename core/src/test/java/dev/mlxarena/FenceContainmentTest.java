package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.TestDevice;
import dev.mlxarena.testing.TestStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Fences are foreign code: the pool calls none while it holds its lock, contains one that throws
 * (its buffers are held, the error reaches the caller once, the pool goes on), closes each once,
 * and collects completed ones before a batch goes to the device.
 */
@ExtendWith(PoolInvariants.class)
class FenceContainmentTest {
  /** A deadlock would hang for ever: this bound turns it into a failure. */
  private static final Duration HANG = Duration.ofSeconds(120);

  private final TestDevice device = TestDevice.withResidency();
  private BufferPool pool = BufferPool.create(device);

  /** A fence the test completes, makes throw, and counts the closes of. */
  static final class Switch implements Fence {
    volatile boolean complete;
    volatile boolean failing;
    final AtomicInteger polls = new AtomicInteger();
    final AtomicInteger closes = new AtomicInteger();

    @Override
    public boolean isComplete() {
      polls.incrementAndGet();
      if (failing) {
        throw new IllegalStateException("an illegal address was encountered (sticky)");
      }
      return complete;
    }

    @Override
    public void close() {
      closes.incrementAndGet();
    }
  }

  // ------------------------------------------------------------------ no fence under the lock

  @Test
  void aFenceThatReadsTheStatsWhilePolledDoesNotDeadlock() {
    boolean[] done = {false};
    Fence readsStats = () -> pool.stats().deferredCount() >= 0 && done[0];
    assertTimeoutPreemptively(HANG, () -> {
      Scope s = pool.openScope();
      s.alloc(4096, DType.U8);
      s.closeAfter(readsStats); // polled at once, without the lock
      done[0] = true;
      pool.alloc(64, DType.U8); // a miss: the queued fence is polled again
      assertEquals(0, pool.stats().deferredCount());
      assertEquals(1, pool.freeCount(4096));
    });
  }

  @Test
  void aStreamFenceThatCallsBackIntoThePoolDoesNotDeadlock() {
    TestStream a = new TestStream(device, "A");
    a.onPoll(() -> pool.trim(1 << 30)); // polls again from inside a poll: that round finds it taken
    assertTimeoutPreemptively(HANG, () -> {
      try (Scope s = pool.openScope(a)) {
        s.alloc(4096, DType.U8);
      }
      a.completeAll();
      pool.trim();
      assertEquals(0, pool.stats().heldBytes());
    });
    assertEquals(List.of(), a.violations());
  }

  // ------------------------------------------------------------------ a fence that throws

  @Test
  void aFenceThatThrowsInCloseAfterIsContained() {
    try (Scope first = pool.openScope()) {
      for (int i = 0; i < 3; i++) {
        first.alloc(4096, DType.U8);
      }
    }
    Scope s = pool.openScope(); // adopts the three buffers
    s.alloc(4096, DType.U8);
    Switch broken = new Switch();
    broken.failing = true;
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.closeAfter(broken));
    assertTrue(e.getMessage().contains("1 buffer(s) (4096 bytes)"), e.getMessage());
    assertEquals("an illegal address was encountered (sticky)", e.getCause().getMessage());
    assertFalse(s.isOpen());
    PoolInvariants.check(pool); // nothing stranded: held 4 = free 2 + live 1 + waiting 1
    PoolStats st = pool.stats();
    assertEquals(1, st.deferredCount(), "the buffer behind the failed fence is held");
    assertEquals(2, st.cachedCount(), "the rest of the reserve went back");
    assertEquals(1, broken.closes.get(), "closed once, as soon as the pool no longer needed it");
    // The pool keeps working, and never hands out the held buffer.
    try (Scope next = pool.openScope()) {
      next.alloc(4096, DType.U8);
      next.alloc(4096, DType.U8);
      next.alloc(4096, DType.U8);
    }
    assertEquals(4, pool.stats().freshAllocations(), "two from the reserve, one fresh");
    pool.trim();
    assertEquals(1, device.liveAllocations(), "held until the pool closes");
  }

  @Test
  void aQueuedFenceThatStartsThrowingFailsOneCallOnlyAndItsBuffersStayHeld() {
    Switch fence = new Switch();
    Scope s = pool.openScope();
    DeviceBuffer held = s.alloc(4096, DType.U8).deviceBuffer();
    s.closeAfter(fence); // pending
    fence.failing = true;
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.alloc(64, DType.U8));
    assertTrue(e.getMessage().contains("stay out of reuse until the pool closes"), e.getMessage());
    assertEquals(0, pool.stats().activeCount(), "the call that found the failure did nothing else");
    Buffer next = pool.alloc(4096, DType.U8); // reported once: this call goes through
    assertNotSame(held, next.deviceBuffer());
    assertEquals(1, pool.stats().deferredCount());
    int polls = fence.polls.get();
    pool.trim();
    assertEquals(polls, fence.polls.get(), "a failed fence is not polled again");
    assertEquals(1, fence.closes.get());
  }

  @Test
  void aStreamWhoseFencesThrowHoldsItsBuffersAndTheOtherStreamsGoOn() {
    TestStream a = new TestStream(device, "A");
    TestStream b = new TestStream(device, "B");
    try (Scope s = pool.openScope(a)) {
      s.alloc(4096, DType.U8);
    }
    a.failPolls();
    assertThrows(IllegalStateException.class, () -> pool.alloc(64, DType.U8));
    try (Scope s = pool.openScope(b)) {
      s.alloc(4096, DType.U8);
    }
    b.completeAll();
    Buffer x = pool.alloc(4096, DType.U8); // polls B's lane: complete
    assertEquals(2, pool.stats().freshAllocations(), "4096 B on A and on B; the call that found A's failure did nothing, B's buffer went back");
    assertEquals(1, pool.stats().deferredCount(), "A's buffer is held");
    x.close();
    assertEquals(List.of(), a.violations());
    pool.close();
    assertEquals(0, a.openFences());
    assertEquals(0, b.openFences());
  }

  @Test
  void aReleaseBehindAFenceThatThrowsIsContained() {
    Buffer b = pool.alloc(256, DType.U8);
    Switch broken = new Switch();
    broken.failing = true;
    assertThrows(IllegalStateException.class, () -> pool.release(b, broken));
    assertFalse(b.isValid());
    assertEquals(1, pool.stats().deferredCount());
    assertEquals(1, broken.closes.get());
    pool.alloc(256, DType.U8);
    assertEquals(2, pool.stats().freshAllocations());
  }

  // ------------------------------------------------------------------ closed once

  @Test
  void aFenceUsedForSeveralHandBacksIsClosedOnceAfterTheLast() {
    Switch shared = new Switch();
    Scope s1 = pool.openScope();
    s1.alloc(4096, DType.U8);
    Scope s2 = pool.openScope();
    s2.alloc(8192, DType.U8);
    Buffer b = pool.alloc(256, DType.U8);
    s1.closeAfter(shared);
    s2.closeAfter(shared);
    pool.release(b, shared);
    assertEquals(0, shared.closes.get());
    shared.complete = true;
    Scope s3 = pool.openScope();
    s3.closeAfter(shared); // complete, but the queue still waits on it: not closed here
    assertEquals(0, shared.closes.get());
    pool.trim(Long.MAX_VALUE);
    assertEquals(1, shared.closes.get());
    assertEquals(0, pool.stats().deferredCount());
    assertEquals(3, pool.freeCount());
    // Handed back again after the pool closed it: counted complete, neither polled nor closed.
    int polls = shared.polls.get();
    Scope s4 = pool.openScope();
    s4.alloc(64, DType.U8);
    s4.closeAfter(shared);
    pool.release(pool.alloc(64, DType.U8), shared);
    assertEquals(polls, shared.polls.get());
    assertEquals(1, shared.closes.get());
    assertEquals(4, pool.freeCount());
  }

  @Test
  void aCompletedFenceUsedForTwoHandBacksIsClosedOnce() {
    Switch done = new Switch();
    done.complete = true;
    for (int i = 0; i < 2; i++) {
      Scope s = pool.openScope();
      s.alloc(64, DType.U8);
      s.closeAfter(done);
    }
    assertEquals(1, done.closes.get());
    assertEquals(1, done.polls.get(), "once closed, the pool knows it completed");
  }

  // ------------------------------------------------------------------ batches collect fences

  @Test
  void aBatchUnderTheMemoryLimitTakesWhatACompletedFenceFreed() {
    pool = BufferPool.create(device, PoolOptions.builder().memoryLimit(8192).build());
    CompletableFuture<Void> gpu = new CompletableFuture<>();
    Scope s = pool.openScope();
    s.alloc(8192, DType.U8);
    s.closeAfter(Fence.of(gpu));
    gpu.complete(null);
    List<Buffer> out = pool.allocBatch(List.of(new AllocRequest(8192, DType.U8)));
    assertEquals(1, out.size());
    assertEquals(1, pool.stats().freshAllocations(), "reused, not refused");
  }

  @Test
  void aBatchReusesWhatACompletedFenceFreedRatherThanAllocatingFresh() {
    CompletableFuture<Void> gpu = new CompletableFuture<>();
    Buffer b = pool.alloc(4096, DType.U8);
    DeviceBuffer raw = b.deviceBuffer();
    pool.release(b, Fence.of(gpu));
    gpu.complete(null);
    List<Buffer> out = pool.allocBatch(List.of(new AllocRequest(4096, DType.U8)));
    assertSame(raw, out.get(0).deviceBuffer());
    assertEquals(1, pool.stats().freshAllocations());
  }
}
