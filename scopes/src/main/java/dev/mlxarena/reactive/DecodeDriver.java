package dev.mlxarena.reactive;

import dev.mlxarena.PoolStats;
import dev.mlxarena.Scope;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Operators;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.util.context.Context;

/**
 * One subscription of a {@link DecodeLoop}.
 *
 * <h2>The closing state</h2>
 * {@code phase} is IDLE between steps, STEPPING while a step runs, CLOSED once the loop has ended.
 * Exactly one party moves it to CLOSED and so runs the cleanup (session close, the terminal signal,
 * releasing the step thread, then {@code closed}), always with a compare-and-set from IDLE:
 * <ul>
 *   <li>a cancel marks {@code cancelled} and tries IDLE to CLOSED; if a step is running that fails,
 *       and the step thread, on finishing (its token scope already closed), sees {@code
 *       cancelled} and does the cleanup itself;
 *   <li>the step thread tries it when the loop completes or fails.
 * </ul>
 * A step only starts with IDLE to STEPPING, which fails once CLOSED, so no step runs after cleanup
 * and no cleanup runs during a step.
 *
 * <p>Demand: requests accumulate in {@code requested}; {@code wip} makes sure one drain task at a
 * time runs on the executor, stepping while there is demand.
 *
 * <p>The step thread: a user's {@link Scheduler} is only borrowed. Without one, each subscription
 * gets a daemon thread of its own, released with {@link ExecutorService#shutdown()}: it
 * interrupts nobody (the cleanup may be running on that very thread, and the callbacks of {@code
 * closed} run after it) and leaves no helper thread behind, so the JVM can exit as soon as {@code
 * main} returns.
 */
final class DecodeDriver<S, T, O> {
  private static final int IDLE = 0;
  private static final int STEPPING = 1;
  private static final int CLOSED = 2;

  private static final AtomicLong THREAD_NUMBER = new AtomicLong();

  /** Daemon threads, as Reactor's own are: a loop still running does not keep the JVM alive. */
  private static final ThreadFactory STEP_THREADS =
      task -> {
        Thread t = new Thread(task, "mlx-arena-decode-" + THREAD_NUMBER.incrementAndGet());
        t.setDaemon(true);
        return t;
      };

  private final DecodeLoop<S, T> loop;
  private final FluxSink<O> sink;
  private final boolean events;
  private final Function<TokenEvent<T>, O> output;
  private final Sinks.@Nullable Empty<Void> closed;
  private final Executor executor;
  private final @Nullable ExecutorService ownThread;

  private final AtomicInteger phase = new AtomicInteger(IDLE);
  private final AtomicLong requested = new AtomicLong();
  private final AtomicInteger wip = new AtomicInteger();
  private volatile boolean cancelled;

  // Confined to the step thread (one drain at a time, ordered through wip).
  private @Nullable Session session;
  private @Nullable S state;
  private long index;

  /**
   * One subscription, signalling {@code closed} (when given) once its cleanup is done: empty, or
   * after a cancel with the failure of closing, which then goes nowhere else.
   */
  DecodeDriver(
      DecodeLoop<S, T> loop,
      FluxSink<O> sink,
      boolean events,
      Function<TokenEvent<T>, O> output,
      Sinks.@Nullable Empty<Void> closed) {
    this.loop = loop;
    this.sink = sink;
    this.events = events;
    this.output = output;
    this.closed = closed;
    if (loop.scheduler != null) {
      Scheduler borrowed = loop.scheduler.get();
      this.executor = task -> borrowed.schedule(task);
      this.ownThread = null;
    } else {
      this.ownThread = Executors.newSingleThreadExecutor(STEP_THREADS);
      this.executor = ownThread;
    }
  }

  void start() {
    sink.onRequest(this::request);
    sink.onCancel(this::cancel);
  }

  private void request(long n) {
    requested.getAndUpdate(r -> r + n < 0 ? Long.MAX_VALUE : r + n); // saturating, as Reactor does
    drain();
  }

  private void cancel() {
    cancelled = true;
    if (phase.compareAndSet(IDLE, CLOSED)) {
      cleanup(null, true);
    }
  }

  private void drain() {
    if (wip.getAndIncrement() != 0) {
      return;
    }
    try {
      executor.execute(this::drainLoop);
    } catch (RejectedExecutionException e) {
      if (phase.compareAndSet(IDLE, CLOSED)) {
        cleanup(e, false);
      }
    }
  }

  private void drainLoop() {
    int missed = 1;
    do {
      while (requested.get() > 0 && phase.get() != CLOSED) {
        if (!stepOnce()) {
          return;
        }
        requested.decrementAndGet();
      }
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }

  /** Runs one step; returns whether the loop goes on. */
  private boolean stepOnce() {
    if (!phase.compareAndSet(IDLE, STEPPING)) {
      return false;
    }
    Throwable failure = null;
    TokenEvent<T> event = null;
    boolean last = false;
    try {
      if (session == null) {
        session = new Session(loop.pool);
        state = loop.initialState.apply(session);
      }
      if (index >= loop.maxTokens) {
        last = true;
      } else {
        event = runStep();
        last = index >= loop.maxTokens || loop.stopWhen.test(state, event.token());
      }
    } catch (Throwable e) {
      failure = e;
    }
    phase.set(IDLE);
    if (cancelled) {
      if (phase.compareAndSet(IDLE, CLOSED)) {
        cleanup(failure, true);
      }
      return false;
    }
    if (failure != null) {
      if (phase.compareAndSet(IDLE, CLOSED)) {
        cleanup(failure, false);
      }
      return false;
    }
    if (event != null) {
      sink.next(output.apply(event));
    }
    if (last) {
      if (phase.compareAndSet(IDLE, CLOSED)) {
        cleanup(null, false);
      }
      return false;
    }
    return true;
  }

  /** One step in a fresh token scope, closed before this returns, whatever happens. */
  private TokenEvent<T> runStep() throws Exception {
    S current = state; // null only if the initial state was: every step's state is checked
    if (current == null) {
      throw new NullPointerException("the initial state factory returned null");
    }
    PoolStats before = events ? loop.pool.stats() : null;
    long t0 = System.nanoTime();
    Step<S, T> step;
    Scope token = loop.openTokenScope();
    try {
      step = loop.step.apply(token, current);
      if (step == null) {
        throw new NullPointerException("the decode step returned null at token " + index);
      }
    } catch (Throwable e) {
      try {
        token.close();
      } catch (Throwable closing) {
        e.addSuppressed(closing);
      }
      throw e;
    }
    token.close();
    long nanos = System.nanoTime() - t0;
    state = step.state();
    PoolStats delta = before == null ? null : loop.pool.stats().since(before);
    return new TokenEvent<>(step.token(), index++, Duration.ofNanos(nanos), delta == null ? EMPTY : delta);
  }

  private static final PoolStats EMPTY = PoolStats.empty();

  /**
   * Ends the loop: closes the session, signals the subscriber unless cancelled, releases the step
   * thread, and last signals {@code closed}, whatever the subscriber's callbacks did.
   */
  private void cleanup(@Nullable Throwable failure, boolean afterCancel) {
    Session s = session;
    session = null;
    Throwable f = s == null ? failure : s.close(failure);
    try {
      if (afterCancel) {
        if (f != null && closed == null) {
          Operators.onErrorDropped(f, Context.of(sink.contextView()));
        }
      } else if (f != null) {
        sink.error(f);
      } else {
        sink.complete();
      }
    } finally {
      if (ownThread != null) {
        ownThread.shutdown();
      }
      if (closed != null) {
        if (afterCancel && f != null) {
          closed.tryEmitError(f);
        } else {
          closed.tryEmitEmpty();
        }
      }
    }
  }
}
