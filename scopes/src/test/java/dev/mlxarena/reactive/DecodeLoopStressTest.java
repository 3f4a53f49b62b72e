package dev.mlxarena.reactive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolInvariants;
import dev.mlxarena.PoolStats;
import dev.mlxarena.testing.TestDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * 1,000 decode loops on one shared pool over 4 threads, each cancelled at a random token, some of
 * them mid-step from another thread. Every buffer is stamped with its stream and token and checked
 * before the step returns, so any aliasing between live buffers of different streams fails the
 * test; once every run has closed ({@link DecodeLoop.Run#whenClosed()}) nothing may be in use and
 * the pool's totals must add up. Nothing waits on time: the timeout only stops a hang.
 */
@ExtendWith(PoolInvariants.class)
@Timeout(300)
class DecodeLoopStressTest {
  private static final int LOOPS = 1_000;

  private final TestDevice device = TestDevice.withResidency();
  private final BufferPool pool = BufferPool.create(device);

  record State(int stream, int position) {}

  @Test
  void cancelledLoopsNeverAliasAndLeakNothing() throws Exception {
    Scheduler workers = Schedulers.newParallel("stress", 4);
    ScheduledExecutorService cancellers = Executors.newScheduledThreadPool(2);
    AtomicInteger opened = new AtomicInteger();
    AtomicInteger closed = new AtomicInteger();
    AtomicInteger tokens = new AtomicInteger();
    AtomicInteger midStepCancels = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    List<Mono<Void>> closes = new ArrayList<>();
    SplittableRandom rnd = new SplittableRandom(7);
    try {
      for (int i = 0; i < LOOPS; i++) {
        int stream = i;
        long seed = rnd.nextLong();
        DecodeLoop<State, Integer> loop =
            DecodeLoop.<State, Integer>builder(
                    pool,
                    (token, s) -> {
                      SplittableRandom r = new SplittableRandom(seed + s.position());
                      List<Buffer> mine = new ArrayList<>();
                      for (int k = 0, n = 3 + r.nextInt(4); k < n; k++) {
                        Buffer b = token.alloc(8L * (2 + r.nextInt(512)), DType.I32);
                        b.putI32(0, s.stream());
                        b.putI32(b.elementCount() - 1, s.position());
                        mine.add(b);
                      }
                      for (int spin = r.nextInt(2_000); spin > 0; spin--) {
                        Thread.onSpinWait(); // a step long enough for cancels to land inside it
                      }
                      for (Buffer b : mine) {
                        if (b.getI32(0) != s.stream() || b.getI32(b.elementCount() - 1) != s.position()) {
                          throw new AssertionError("stream " + s.stream() + " saw another's write");
                        }
                      }
                      tokens.incrementAndGet();
                      return Step.of(new State(s.stream(), s.position() + 1), s.position());
                    })
                .initialState(
                    session -> {
                      opened.incrementAndGet();
                      session.own(closed::incrementAndGet);
                      session.scope().alloc(1024, DType.F32).putF32(0, stream);
                      return new State(stream, 0);
                    })
                .scheduler(workers)
                .maxTokens(40)
                .build();
        DecodeLoop.Run<Integer> run = loop.newRun();
        closes.add(run.whenClosed().doOnError(failures::add).onErrorResume(e -> Mono.empty()));
        if (rnd.nextBoolean()) {
          int cancelAt = 1 + rnd.nextInt(20);
          run.flux().take(cancelAt).subscribe(t -> {}, failures::add);
        } else {
          Disposable d = run.flux().subscribe(t -> {}, failures::add);
          midStepCancels.incrementAndGet();
          cancellers.schedule(d::dispose, rnd.nextInt(500), TimeUnit.MICROSECONDS);
        }
      }
      Mono.when(closes).block(); // every run has ended and cleaned up, however it ended
    } finally {
      cancellers.shutdownNow();
      workers.dispose();
    }
    assertTrue(failures.isEmpty(), () -> "failures: " + failures);
    assertEquals(opened.get(), closed.get(), "every opened session closed exactly once");
    assertEquals(0, pool.inUseCount(), "no buffer left in use");
    PoolStats st = pool.stats();
    assertEquals(st.allocations(), st.freshAllocations() + st.reuseHits());
    assertEquals(st.heldCount(), st.cachedCount());
    assertTrue(tokens.get() > LOOPS, "the loops actually generated: " + tokens.get());
    assertTrue(midStepCancels.get() > 100);
    PoolInvariants.check(pool);
  }
}
