package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.testing.TestDevice;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The queries that look at every bucket ({@link BufferPool#bucketStats()}, {@link
 * BufferPool#freeCount(long)}) while another thread's scope allocates from its own reserve without
 * the pool's lock: they must never throw, and their figures must stay within what the pool holds.
 * The scope's thread cycles until the queries have run their fixed number of rounds.
 */
@Timeout(60)
class ConcurrentQueriesTest {
  private static final int ROUNDS = 100_000;
  private static final long[] SIZES = {1024, 1024, 4096, 64, 1024, 4096};

  private final TestDevice device = TestDevice.withResidency();
  private final BufferPool pool = BufferPool.create(device);

  @AfterEach
  void closePool() {
    pool.close();
    assertEquals(0, device.liveAllocations());
  }

  /**
   * Cycles scopes of {@link #SIZES} on another thread until {@code done}, every other one in the
   * reverse order, so that the reserve's tape and its stacks both change hands.
   */
  private CompletableFuture<Long> cycleUntil(AtomicBoolean done) {
    return CompletableFuture.supplyAsync(() -> {
      long cycles = 0;
      while (!done.get()) {
        try (Scope token = pool.openScope()) {
          for (int i = 0; i < SIZES.length; i++) {
            token.alloc(SIZES[cycles % 2 == 0 ? i : SIZES.length - 1 - i], DType.U8);
          }
        }
        cycles++;
      }
      return cycles;
    });
  }

  /** One scope's worth, so that every later cycle allocates from reserves alone. */
  private void warm() {
    try (Scope warm = pool.openScope()) {
      for (long n : SIZES) {
        warm.alloc(n, DType.U8);
      }
    }
  }

  @Test
  void bucketStatsNeverThrowsWhileAnotherThreadAllocates() throws Exception {
    warm();
    AtomicBoolean done = new AtomicBoolean();
    CompletableFuture<Long> other = cycleUntil(done);
    try {
      for (int i = 0; i < ROUNDS; i++) {
        List<BucketStats> buckets = pool.bucketStats();
        for (BucketStats b : buckets) {
          long held = b.live() + b.free() + b.deferred();
          assertTrue(b.live() >= 0 && b.free() >= 0 && held == expectedHeld(b.capacity()),
              () -> "bucket " + b + " does not add up to what the pool holds in it");
        }
      }
    } finally {
      done.set(true);
    }
    assertTrue(other.get() > 0);
  }

  @Test
  void freeCountStaysWithinWhatTheBucketHoldsWhileAnotherThreadAllocates() throws Exception {
    warm();
    AtomicBoolean done = new AtomicBoolean();
    CompletableFuture<Long> other = cycleUntil(done);
    try {
      for (int i = 0; i < ROUNDS; i++) {
        int free = pool.freeCount(1024);
        assertTrue(free >= 0 && free <= 3, "free 1024-byte buffers: " + free + " of the 3 held");
      }
    } finally {
      done.set(true);
    }
    assertTrue(other.get() > 0);
  }

  private static long expectedHeld(long bucketSize) {
    long n = 0;
    for (long s : SIZES) {
      n += s == bucketSize ? 1 : 0;
    }
    return n;
  }
}
