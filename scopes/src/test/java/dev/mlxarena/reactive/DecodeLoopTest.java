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
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.reactivestreams.Subscription;
import reactor.core.Disposable;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * The loop's contract. No test waits on time: runs that may end on another thread are awaited
 * through {@link DecodeLoop.Run#whenClosed()}, and demand is checked on a scheduler the test
 * drives by hand. The class timeout only stops a hang.
 */
@ExtendWith(PoolInvariants.class)
@Timeout(120)
class DecodeLoopTest {
  private TestDevice device;
  private BufferPool pool;
  private final AtomicInteger steps = new AtomicInteger();
  private final AtomicInteger sessionsOpened = new AtomicInteger();
  private final AtomicInteger sessionsClosed = new AtomicInteger();
  private final List<DecodeLoop.Run<?>> runs = new ArrayList<>();

  @BeforeEach
  void setUp() {
    device = TestDevice.withResidency();
    pool = BufferPool.create(device);
  }

  @AfterEach
  void settle() {
    // A cancelled loop may clean up on its own thread: wait for every run before checking.
    for (DecodeLoop.Run<?> run : runs) {
      run.whenClosed().onErrorResume(e -> Mono.empty()).block();
    }
    assertEquals(sessionsOpened.get(), sessionsClosed.get(), "every session closes exactly once");
    assertEquals(0, pool.inUseCount(), "every buffer the loop took is back in the pool");
  }

  /** A run of {@code loop} that {@link #settle} waits for. */
  private <O> DecodeLoop.Run<O> track(DecodeLoop.Run<O> run) {
    runs.add(run);
    return run;
  }

  private Flux<Integer> tokens(DecodeLoop<State, Integer> loop) {
    return track(loop.newRun()).flux();
  }

  /** A state that counts: the position and a session buffer, closed through the session. */
  record State(int position, Buffer kv) {}

  private State open(Session session) {
    sessionsOpened.incrementAndGet();
    session.own(sessionsClosed::incrementAndGet);
    return new State(0, session.scope().alloc(256, DType.F32));
  }

  /** {@code builder} with a session that owns a resource whose close throws {@code message}. */
  private DecodeLoop.Builder<State, Integer> failingToClose(
      DecodeLoop.Builder<State, Integer> builder, String message) {
    return builder.initialState(
        session -> {
          session.own(() -> {
            throw new IOException(message);
          });
          return open(session);
        });
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
    assertEquals(1, sessionsClosed.get(), "the session closed before onComplete");
    assertEquals(0, pool.inUseCount(), "and every buffer was back");
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

  /** Tasks queued by a scheduler that runs nothing until the test pumps it, on the test thread. */
  private final Queue<Runnable> queued = new ConcurrentLinkedQueue<>();

  private void runQueuedTasks() {
    for (Runnable task; (task = queued.poll()) != null; ) {
      task.run();
    }
  }

  @Test
  void requestOfOneRunsExactlyOneStep() {
    Scheduler byHand = Schedulers.fromExecutor(queued::add);
    DecodeLoop.Run<Integer> run = track(loop().scheduler(byHand).maxTokens(10).build().newRun());
    List<Integer> received = new ArrayList<>();
    BaseSubscriber<Integer> subscriber =
        new BaseSubscriber<>() {
          @Override
          protected void hookOnSubscribe(Subscription s) {} // no demand yet

          @Override
          protected void hookOnNext(Integer token) {
            received.add(token);
          }
        };
    run.flux().subscribe(subscriber);
    runQueuedTasks();
    assertEquals(0, steps.get(), "no step before demand");
    subscriber.request(1);
    runQueuedTasks();
    assertEquals(List.of(0), received);
    assertEquals(1, steps.get(), "no step ahead of demand");
    subscriber.request(2);
    runQueuedTasks();
    assertEquals(List.of(0, 1, 2), received);
    assertEquals(3, steps.get(), "no step ahead of demand");
    subscriber.cancel();
    runQueuedTasks();
    assertEquals(3, steps.get());
    run.whenClosed().block();
    assertEquals(1, sessionsClosed.get());
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
  void aNullInitialStateFailsTheRunBeforeAnyStep() {
    DecodeLoop<State, Integer> l =
        DecodeLoop.<State, Integer>builder(pool, this::step).initialState(session -> null).build();
    StepVerifier.create(l.run())
        .expectErrorSatisfies(
            e -> {
              assertEquals(NullPointerException.class, e.getClass());
              assertEquals("the initial state factory returned null", e.getMessage());
            })
        .verify();
    assertEquals(0, steps.get(), "no step saw the null state");
  }

  @Test
  void anErrorWhileClosingIsSuppressedIntoTheStepError() {
    IllegalStateException boom = new IllegalStateException("step failed");
    DecodeLoop<State, Integer> l =
        failingToClose(
                DecodeLoop.builder(pool, (token, s) -> {
                  throw boom;
                }),
                "kv cache close failed")
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
    DecodeLoop<State, Integer> l = failingToClose(loop(), "close failed").maxTokens(2).build();
    StepVerifier.create(l.run())
        .expectNext(0, 1)
        .expectErrorMessage("close failed")
        .verify();
  }

  @Test
  void cancelBeforeTheFirstStepRunsNothing() {
    DecodeLoop.Run<Integer> run = track(loop().build().newRun());
    StepVerifier.create(run.flux(), 0).thenCancel().verify();
    run.whenClosed().block();
    assertEquals(0, steps.get());
    assertEquals(0, sessionsOpened.get(), "the session opens with the first step");
  }

  @Test
  void aCancelDuringSubscribeStillCloses() {
    DecodeLoop.Run<Integer> run = track(loop().build().newRun());
    run.flux()
        .subscribe(
            new BaseSubscriber<Integer>() {
              @Override
              protected void hookOnSubscribe(Subscription s) {
                s.cancel(); // before the loop has registered for the cancel
              }
            });
    run.whenClosed().block();
    assertEquals(0, steps.get());
  }

  @Test
  void cancelMidStreamClosesEverything() {
    StepVerifier.create(tokens(loop().build()).take(3)).expectNext(0, 1, 2).verifyComplete();
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
    DecodeLoop.Run<Integer> run = track(l.newRun());
    // Read on the thread that signals, at the moment it signals: what it sees is what the signal
    // promises, whatever the scheduling.
    CompletableFuture<Integer> inUseWhenClosed =
        run.whenClosed().then(Mono.fromCallable(pool::inUseCount)).toFuture();
    Disposable d = run.flux().subscribe();
    inStep.await();
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
      run.whenClosed().block(); // the step returned, its token scope and the session closed
      assertEquals(1, sessionsClosed.get());
      assertEquals(8, inUseWhenClosed.join(), "closed: only the other scope's buffers were in use");
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
    List<Integer> all = Flux.merge(l.run(), l.run()).collectList().block();
    assertEquals(4, all.size());
    assertEquals(2, sessionsOpened.get());
  }

  @Test
  void whenClosedCompletesAfterTheFluxTerminalSignal() {
    DecodeLoop.Run<Integer> run = track(loop().maxTokens(3).build().newRun());
    List<String> order = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> closed =
        run.whenClosed()
            .doOnSuccess(v -> order.add("closed, " + pool.inUseCount() + " in use"))
            .toFuture();
    List<Integer> all =
        run.flux().doOnComplete(() -> order.add("complete")).collectList().block();
    closed.join();
    assertEquals(List.of(0, 1, 2), all);
    assertEquals(List.of("complete", "closed, 0 in use"), order);
  }

  @Test
  void whenClosedCompletesEmptyAfterAStepError() {
    DecodeLoop<State, Integer> l =
        DecodeLoop.<State, Integer>builder(pool, (token, s) -> {
              token.alloc(64, DType.U8);
              throw new IllegalStateException("step failed");
            })
            .initialState(this::open)
            .build();
    DecodeLoop.Run<Integer> run = track(l.newRun());
    StepVerifier.create(run.flux()).verifyErrorMessage("step failed");
    StepVerifier.create(run.whenClosed()).verifyComplete(); // the flux carried the failure
  }

  @Test
  void aFailureClosingAfterACancelFailsWhenClosedAndIsNotDropped() {
    List<Throwable> dropped = new CopyOnWriteArrayList<>();
    Hooks.onErrorDropped(dropped::add);
    try {
      DecodeLoop<State, Integer> l = failingToClose(loop(), "kv cache close failed").build();
      DecodeLoop.Run<Integer> run = track(l.newRun());
      StepVerifier.create(run.flux().take(2)).expectNext(0, 1).verifyComplete();
      StepVerifier.create(run.whenClosed()).verifyErrorMessage("kv cache close failed");
      assertEquals(List.of(), dropped, "reported once, through whenClosed");
    } finally {
      Hooks.resetOnErrorDropped();
    }
  }

  @Test
  void withoutARunAFailureClosingAfterACancelGoesToTheDroppedHook() {
    List<Throwable> dropped = new CopyOnWriteArrayList<>();
    Hooks.onErrorDropped(dropped::add);
    try {
      DecodeLoop<State, Integer> l = failingToClose(loop(), "kv cache close failed").build();
      // take cancels from within onNext on the step thread, while no step runs: the cleanup is
      // done on that thread before take's onComplete.
      StepVerifier.create(l.run().take(1)).expectNext(0).verifyComplete();
      assertEquals(1, dropped.size());
      assertEquals("kv cache close failed", dropped.get(0).getMessage());
    } finally {
      Hooks.resetOnErrorDropped();
    }
  }

  @Test
  void aRunIsSubscribedOnce() {
    DecodeLoop.Run<Integer> run = track(loop().maxTokens(1).build().newRun());
    StepVerifier.create(run.flux()).expectNext(0).verifyComplete();
    StepVerifier.create(run.flux())
        .expectErrorSatisfies(
            e -> {
              assertTrue(e instanceof IllegalStateException, e.toString());
              assertTrue(e.getMessage().contains("subscribed once"), e.getMessage());
            })
        .verify();
    run.whenClosed().block();
    assertEquals(1, sessionsOpened.get(), "the refused subscription ran nothing");
  }

  @Test
  void anEventsRunClosesToo() {
    DecodeLoop.Run<TokenEvent<Integer>> run = track(loop().build().newEventsRun());
    StepVerifier.create(run.flux().take(2))
        .assertNext(e -> assertEquals(0, e.index()))
        .assertNext(e -> assertEquals(1, e.index()))
        .verifyComplete();
    run.whenClosed().block();
    assertEquals(1, sessionsClosed.get());
  }

  @Test
  void theDefaultStepThreadIsADaemonAndEndsWithTheLoop() throws InterruptedException {
    AtomicReference<Thread> stepThread = new AtomicReference<>();
    DecodeLoop<State, Integer> l =
        DecodeLoop.<State, Integer>builder(
                pool,
                (token, s) -> {
                  stepThread.set(Thread.currentThread());
                  return step(token, s);
                })
            .initialState(this::open)
            .maxTokens(2)
            .build();
    DecodeLoop.Run<Integer> run = track(l.newRun());
    StepVerifier.create(run.flux()).expectNext(0, 1).verifyComplete();
    run.whenClosed().block();
    Thread t = stepThread.get();
    assertTrue(t.isDaemon(), t + " must not keep the JVM alive");
    t.join(); // released, not parked: it ends once the cleanup returns (a hang here is the bug)
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
