package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.testing.TestDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Four threads share one pool with a cache limit and a memory limit, each with its own scopes,
 * releasing buffers early, some with fences that a fifth thread completes later, for a fixed
 * number of cycles each. Every live buffer carries an owner stamp, checked before it is handed
 * back: any aliasing fails the test. At the end the limits held throughout, nothing is in use, and
 * the totals add up. Nothing here depends on time: the workers run their cycles, the completer
 * runs until they are done, and the class's timeout is the guard against a hang.
 */
@Timeout(60)
class PoolStressTest {
  private static final long CACHE_LIMIT = 1 << 20;
  private static final long MEMORY_LIMIT = 8 << 20;
  private static final int CYCLES = 400;

  @Test
  void sharedPoolUnderLimitsNeverAliasesAndKeepsExactTotals() throws Exception {
    TestDevice device = TestDevice.withResidency();
    BufferPool pool = BufferPool.create(device,
        PoolOptions.builder().cacheLimit(CACHE_LIMIT).memoryLimit(MEMORY_LIMIT).build());
    ConcurrentLinkedQueue<CompletableFuture<Void>> fences = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    AtomicBoolean workersDone = new AtomicBoolean();
    ExecutorService threads = Executors.newFixedThreadPool(5);
    try {
      List<Future<Long>> workers = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int owner = t + 1;
        workers.add(threads.submit(() -> work(pool, owner, fences, violations)));
      }
      Future<?> completer = threads.submit(() -> {
        while (!workersDone.get()) {
          CompletableFuture<Void> f = fences.poll();
          if (f != null) {
            f.complete(null);
          } else {
            Thread.yield();
          }
        }
      });
      long cycles = 0;
      try {
        for (Future<Long> w : workers) {
          cycles += w.get();
        }
      } finally {
        workersDone.set(true);
      }
      completer.get();
      assertTrue(violations.isEmpty(), () -> String.join("\n", violations));
      assertEquals(4L * CYCLES, cycles, "every worker ran its cycles");
    } finally {
      threads.shutdownNow();
    }
    fences.forEach(f -> f.complete(null));
    pool.trim(Long.MAX_VALUE); // collects the last fences
    PoolStats st = pool.stats();
    assertEquals(0, st.activeCount(), "nothing in use");
    assertEquals(0, st.deferredCount(), "every fence collected");
    assertTrue(st.cachedBytes() <= CACHE_LIMIT);
    assertTrue(st.peakHeldBytes() <= MEMORY_LIMIT, "held " + st.peakHeldBytes() + " at peak");
    assertEquals(st.allocations(), st.freshAllocations() + st.reuseHits());
    assertEquals(st.heldBytes(), st.cachedBytes());
    PoolInvariants.check(pool);
    pool.close();
    assertEquals(0, device.liveAllocations(), "nothing leaked");
  }

  private static long work(BufferPool pool, int owner,
      ConcurrentLinkedQueue<CompletableFuture<Void>> fences, ConcurrentLinkedQueue<String> violations) {
    SplittableRandom rnd = new SplittableRandom(owner);
    long cycles = 0;
    while (cycles < CYCLES && violations.isEmpty()) {
      Scope s = pool.openScope();
      List<Buffer> mine = new ArrayList<>();
      for (int i = 0; i < 24; i++) {
        Buffer b;
        try {
          b = s.alloc(8L * (2 + rnd.nextInt(4096)), DType.I32);
        } catch (BufferAllocationException full) {
          continue; // the memory limit refused: legitimate under pressure, and the pool is intact
        }
        b.putI32(0, owner);
        b.putI32(b.elementCount() - 1, (int) cycles);
        mine.add(b);
        if (rnd.nextInt(6) == 0) {
          Buffer gone = mine.remove(rnd.nextInt(mine.size()));
          verify(gone, owner, cycles, violations);
          if (rnd.nextBoolean()) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            fences.add(f);
            pool.release(gone, Fence.of(f));
          } else {
            gone.close();
          }
        }
      }
      for (Buffer b : mine) {
        verify(b, owner, cycles, violations);
      }
      if (rnd.nextInt(4) == 0) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        fences.add(f);
        s.closeAfter(Fence.of(f));
      } else {
        s.close();
      }
      cycles++;
    }
    return cycles;
  }

  private static void verify(Buffer b, int owner, long cycle, ConcurrentLinkedQueue<String> violations) {
    if (b.getI32(0) != owner || b.getI32(b.elementCount() - 1) != (int) cycle) {
      violations.add("owner " + owner + " found another's bytes in a live buffer at cycle " + cycle);
    }
  }
}
