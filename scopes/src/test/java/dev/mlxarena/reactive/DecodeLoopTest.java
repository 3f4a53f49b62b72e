package dev.mlxarena.reactive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolInvariants;
import dev.mlxarena.Scope;
import dev.mlxarena.testing.TestDevice;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

@ExtendWith(PoolInvariants.class)
@Timeout(60)
class DecodeLoopTest {
  private TestDevice device;
  private BufferPool pool;
  private final AtomicInteger steps = new AtomicInteger();
  private final AtomicInteger sessionsOpened = new AtomicInteger();
  private final AtomicInteger sessionsClosed = new AtomicInteger();
  private final CountDownLatch sessionClosed = new CountDownLatch(1);

  @BeforeEach
  void setUp() {
    device = TestDevice.withResidency();
    pool = BufferPool.create(device);
  }

  @AfterEach
  void settle() throws InterruptedException {
    // A cancelled loop cleans up on its own thread; wait for it before the invariants check.
    if (sessionsOpened.get() > 0) {
      assertTrue(sessionClosed.await(10, TimeUnit.SECONDS), "the session never closed");
    }
    assertEquals(sessionsOpened.get(), sessionsClosed.get(), "every session closes exactly once");
    assertEquals(0, pool.inUseCount(), "every buffer the loop took is back in the pool");
  }

  /** A state that counts: the position and a session buffer, closed through the session. */
  record State(int position, Buffer kv) {}

  private State open(Session session) {
    sessionsOpened.incrementAndGet();
    session.own(() -> {
      sessionsClosed.incrementAndGet();
      sessionClosed.countDown();
    });
    return new State(0, session.scope().alloc(256, DType.F32));
  }

  private Step<State, Integer> step(Scope token, State s) {
    steps.incrementAndGet();
    Buffer scratch = token.alloc(1024, DType.F32);
    scratch.putF32(0, s.position());
    s.kv().putF32(s.position() % 64, s.position());
    return Step.of(new State(s.position() + 1, s.kv()), (int) scratch.getF32(0));
  }

  private DecodeLoop.Builder<State, Integer> loop() {
    return DecodeLoop.builder(pool, this::step).initialState(this::open);
  }

  @Test
  void completesAfterTheTokenLimit() {
    StepVerifier.create(loop().maxTokens(5).build().run())
        .expectNext(0, 1, 2, 3, 4)
        .expectComplete()
        .verifyThenAssertThat()
        .hasNotDroppedElements()
        .hasNotDroppedErrors();
    assertEquals(5, steps.get());
  }

  @Test
  void stopsWhenTheConditionHolds() {
    StepVerifier.create(loop().stopWhen((s, t) -> t == 2).build().run())
        .expectNext(0, 1, 2)
        .verifyComplete();
  }

  @Test
  void aZeroTokenLimitCompletesWithoutAStep() {
    StepVerifier.create(loop().maxTokens(0).build().run()).verifyComplete();
    assertEquals(0, steps.get());
  }

  @Test
  void eachStepRunsInAFreshScopeClosedBeforeTheNext() {
    List<Buffer> seen = new ArrayList<>();
    DecodeLoop<State, Integer> l =
        DecodeLoop.<State, Integer>builder(
                pool,
                (token, s) -> {
                  for (Buffer earlier : seen) {
                    assertFalse(earlier.isValid(), "the previous token's scope must be closed");
                  }
                  seen.add(token.alloc(64, DType.U8));
                  return Step.of(s, s.position());
                })
            .initialState(this::open)
            .maxTokens(4)
            .build();
    StepVerifier.create(l.run()).expectNextCount(4).verifyComplete();
    assertEquals(1, pool.stats().freshAllocations() - 1, "later tokens reuse the first one's buffer");
  }

  @Test
  void requestOfOneRunsExactlyOneStep() throws InterruptedException {
    StepVerifier.create(loop().maxTokens(10).build().run(), 0)
        .expectSubscription()
        .then(() -> assertEquals(0, steps.get(), "no step before demand"))
        .thenRequest(1)
        .expectNext(0)
        .thenAwait(Duration.ofMillis(50))
        .then(() -> assertEquals(1, steps.get(), "no step ahead of demand"))
        .thenRequest(2)
        .expectNext(1, 2)
        .thenAwait(Duration.ofMillis(50))
        .then(() -> assertEquals(3, steps.get()))
        .thenCancel()
        .verify();
  }

  @Test
  void anErrorInAStepReachesTheSubscriberAfterEverythingClosed() {
    IllegalStateException boom = new IllegalStateException("step 3 failed");
    DecodeLoop<State, Integer> l =
        DecodeLoop.<State, Integer>builder(
                pool,
                (token, s) -> {
                  if (s.position() == 3) {
                    token.alloc(64, DType.U8);
                    throw boom;
                  }
                  return step(token, s);
                })
            .initialState(this::open)
            .build();
    StepVerifier.create(l.run())
        .expectNext(0, 1, 2)
        .expectErrorSatisfies(e -> assertSame(boom, e))
        .verify();
    assertEquals(1, sessionsClosed.get(), "closed before the error was signalled");
  }

  @Test
  void anErrorWhileClosingIsSuppressedIntoTheStepError() {
    IllegalStateException boom = new IllegalStateException("step failed");
    DecodeLoop<State, Integer> l =
        DecodeLoop.<State, Integer>builder(pool, (token, s) -> {
              throw boom;
            })
            .initialState(
                session -> {
                  session.own(() -> {
                    throw new IOException("kv cache close failed");
                  });
                  return open(session);
                })
            .build();
    StepVerifier.create(l.run())
        .expectErrorSatisfies(
            e -> {
              assertSame(boom, e);
              assertEquals(1, e.getSuppressed().length);
              assertEquals("kv cache close failed", e.getSuppressed()[0].getMessage());
            })
        .verify();
  }

  @Test
  void anErrorWhileClosingAfterCompletionBecomesTheError() {
    DecodeLoop<State, Integer> l =
        loop()
            .initialState(
                session -> {
                  session.own(() -> {
                    throw new IOException("close failed");
                  });
                  return open(session);
                })
            .maxTokens(2)
            .build();
    StepVerifier.create(l.run())
        .expectNext(0, 1)
        .expectErrorMessage("close failed")
        .verify();
  }

  @Test
  void cancelBeforeTheFirstStepRunsNothing() {
    StepVerifier.create(loop().build().run(), 0).thenCancel().verify();
    assertEquals(0, steps.get());
    assertEquals(0, sessionsOpened.get(), "the session opens with the first step");
  }

  @Test
  void cancelMidStreamClosesEverything() {
    StepVerifier.create(loop().build().run().take(3)).expectNext(0, 1, 2).verifyComplete();
  }

  @Test
  void cancelFromAnotherThreadWaitsForTheRunningStep() throws Exception {
    CountDownLatch inStep = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<Buffer> held = new AtomicReference<>();
    AtomicReference<Throwable> stepFailure = new AtomicReference<>();
    DecodeLoop<State, Integer> l =
        DecodeLoop.<State, Integer>builder(
                pool,
                (token, s) -> {
                  Buffer b = token.alloc(4096, DType.I32);
                  held.set(b);
                  inStep.countDown();
                  try {
                    for (int i = 0; i < 1024; i++) {
                      b.putI32(i, 0xC0FFEE); // still writing while the cancel arrives
                    }
                    release.await();
                    for (int i = 0; i < 1024; i++) {
                      if (b.getI32(i) != 0xC0FFEE) {
                        throw new AssertionError("another allocation wrote into a live step buffer");
                      }
                    }
                  } catch (Throwable e) {
                    stepFailure.set(e);
                    throw e;
                  }
                  return Step.of(s, 1);
                })
            .initialState(this::open)
            .build();
    Disposable d = l.run().subscribe();
    assertTrue(inStep.await(5, TimeUnit.SECONDS));
    d.dispose(); // cancel on this thread while the step is mid-write
    assertTrue(held.get().isValid(), "the step's buffers must stay live until it returns");
    List<Buffer> others = new ArrayList<>();
    try (Scope other = pool.openScope()) {
      for (int i = 0; i < 8; i++) {
        Buffer o = other.alloc(4096, DType.I32);
        assertNotEquals(held.get().nativeHandle(), o.nativeHandle(), "aliased a live step buffer");
        o.putI32(0, -1);
        others.add(o);
      }
      release.countDown();
      assertTrue(sessionClosed.await(5, TimeUnit.SECONDS));
    }
    assertFalse(held.get().isValid(), "recycled once the step returned");
    assertEquals(null, stepFailure.get());
  }

  @Test
  void eventsCarryIndexTimeAndThePoolsPerTokenCost() {
    StepVerifier.create(loop().maxTokens(3).build().events())
        .assertNext(
            e -> {
              assertEquals(0, e.index());
              assertEquals(0, e.token());
              assertTrue(e.stepTime().toNanos() > 0);
              assertEquals(1, e.poolDelta().allocations());
              assertEquals(1, e.poolDelta().freshAllocations());
            })
        .assertNext(
            e -> {
              assertEquals(1, e.index());
              assertEquals(1, e.poolDelta().reuseHits());
              assertEquals(0, e.poolDelta().freshAllocations());
            })
        .expectNextCount(1)
        .verifyComplete();
  }

  @Test
  void aChosenSchedulerRunsTheSteps() {
    Scheduler s = Schedulers.newSingle("chosen");
    try {
      AtomicReference<String> thread = new AtomicReference<>();
      DecodeLoop<State, Integer> l =
          DecodeLoop.<State, Integer>builder(
                  pool,
                  (token, st) -> {
                    thread.set(Thread.currentThread().getName());
                    return step(token, st);
                  })
              .initialState(this::open)
              .scheduler(s)
              .maxTokens(1)
              .build();
      StepVerifier.create(l.run()).expectNext(0).verifyComplete();
      assertTrue(thread.get().startsWith("chosen"), thread.get());
    } finally {
      s.dispose();
    }
  }

  @Test
  void eachSubscriptionRunsItsOwnSession() {
    DecodeLoop<State, Integer> l = loop().maxTokens(2).build();
    List<Integer> all = Flux.merge(l.run(), l.run()).collectList().block(Duration.ofSeconds(10));
    assertEquals(4, all.size());
    assertEquals(2, sessionsOpened.get());
  }

  @Test
  void builderRejectsBadSettings() {
    DecodeLoop.Builder<State, Integer> b = DecodeLoop.builder(pool, this::step);
    IllegalStateException noState = assertThrows(IllegalStateException.class, b::build);
    assertTrue(noState.getMessage().contains("initialState"));
    IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> b.maxTokens(-1));
    assertTrue(negative.getMessage().contains("-1"));
    assertThrows(NullPointerException.class, () -> DecodeLoop.builder(null, this::step));
  }
}
