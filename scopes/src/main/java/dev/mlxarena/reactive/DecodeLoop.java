package dev.mlxarena.reactive;

import dev.mlxarena.BufferPool;
import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.Scope;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiPredicate;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;

/**
 * Token-by-token decoding as a {@link Flux}: each step runs in a fresh token {@link
 * dev.mlxarena.Scope}, closed before the next step starts; long-lived state lives in the {@link
 * Session}.
 *
 * <pre>{@code
 * Flux<Integer> tokens = DecodeLoop.builder(pool, (Scope token, State s) -> {
 *       Buffer logits = token.alloc(vocab * 4L, DType.F32, vocab);
 *       int next = model.forward(s, logits);          // kernels read and write token buffers
 *       return Step.of(s.advance(next), next);
 *     })
 *     .initialState(session -> new State(kvCache(session)))
 *     .stopWhen((s, t) -> t == EOS)
 *     .maxTokens(256)
 *     .build()
 *     .run();
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li><b>Demand drives generation:</b> a step runs only for a token the subscriber requested;
 *       {@code request(1)} runs exactly one step.
 *   <li><b>Steps run on the loop's scheduler</b> (by default a dedicated daemon thread per
 *       subscription, since a step may block on the GPU), one at a time. The default thread is
 *       released when the loop ends and leaves nothing behind: a program exits as soon as its
 *       {@code main} returns.
 *   <li><b>Cancel is safe from any thread:</b> a cancel that arrives while a step is running does
 *       not recycle that step's buffers under it. The step finishes, its scope closes on the step
 *       thread, and only then does the session close; no later allocation can alias memory the
 *       step was still writing.
 *   <li><b>Errors:</b> an exception from a step closes its scope and the session, then reaches the
 *       subscriber as {@code onError} with the original exception; failures while closing are
 *       added as suppressed, never lost.
 *   <li><b>Nothing leaks:</b> after any ending, every buffer the loop allocated is back in the
 *       pool.
 * </ul>
 * A {@code DecodeLoop} is a reusable description: every subscription runs its own loop with its own
 * session.
 *
 * <h2>Knowing when the cleanup is done</h2>
 * On completion and on error the terminal signal of {@link #run()} and {@link #events()} comes
 * after the session has closed, so {@code onComplete} and {@code onError} already mean "cleaned
 * up". A cancel is different: {@code dispose()} returns at once, and when a step is running, the
 * cleanup happens later, on the step thread, with no signal to anyone (Reactive Streams sends
 * nothing after a cancel). Code that must wait for it, to close the pool or to check that every
 * buffer is back, takes a {@link Run}: one subscription's {@link Run#flux() flux} paired with its
 * {@link Run#whenClosed() whenClosed}, a {@code Mono<Void>} that completes once every token scope
 * and the session of that subscription have closed, however it ended.
 *
 * <pre>{@code
 * DecodeLoop.Run<Integer> run = loop.newRun();
 * Disposable d = run.flux().subscribe(this::emit);
 * // ...
 * d.dispose();                 // returns at once; a running step finishes first
 * run.whenClosed().block();    // every token scope and the session have closed
 * pool.close();
 * }</pre>
 *
 * From Kotlin: {@code run.flux().asFlow().take(8).toList()} then {@code
 * run.whenClosed().awaitSingleOrNull()}; from code built on futures, {@code
 * run.whenClosed().toFuture()}.
 *
 * <p>Why a handle and not a method on the loop: the loop is a description that any number of
 * subscriptions run, each with its own session, thread and cleanup, so "closed" belongs to one
 * subscription. A {@code Run} is that subscription made nameable before it starts; its flux may
 * be subscribed once. {@link #run()} and {@link #events()} stay plain, reusable {@code Flux}es
 * for code that only needs the tokens.
 *
 * @param <S> the decoder state
 * @param <T> the token type
 */
public final class DecodeLoop<S, T> {
  final BufferPool pool;
  final DecodeStep<S, T> step;
  final Function<Session, S> initialState;
  final BiPredicate<? super S, ? super T> stopWhen;
  final long maxTokens;
  final @Nullable Supplier<Scheduler> scheduler;
  final @Nullable DeviceStream stream;

  private DecodeLoop(Builder<S, T> b) {
    this.pool = b.pool;
    this.step = b.step;
    this.initialState = Objects.requireNonNull(b.initialState, "initialState was not set");
    this.stopWhen = b.stopWhen;
    this.maxTokens = b.maxTokens;
    this.scheduler = b.scheduler;
    this.stream = b.stream;
  }

  /** A fresh token scope: on the loop's stream when it has one. */
  Scope openTokenScope() {
    return stream == null ? pool.openScope() : pool.openScope(stream);
  }

  /** Starts describing a loop over {@code pool} that runs {@code step} once per token. */
  public static <S, T> Builder<S, T> builder(BufferPool pool, DecodeStep<S, T> step) {
    return new Builder<>(pool, step);
  }

  /** The tokens, one per step; each subscription runs the loop afresh. */
  public Flux<T> run() {
    return Flux.create(sink -> new DecodeDriver<>(this, sink, false, TokenEvent::token, null).start());
  }

  /** The tokens with their index, step time and the pool's per-token statistics. */
  public Flux<TokenEvent<T>> events() {
    return Flux.create(sink -> new DecodeDriver<>(this, sink, true, e -> e, null).start());
  }

  /** One run of the tokens, as {@link #run()} gives them, whose cleanup can be awaited. */
  public Run<T> newRun() {
    return new Run<>(this, false, TokenEvent::token);
  }

  /** One run of the events, as {@link #events()} gives them, whose cleanup can be awaited. */
  public Run<TokenEvent<T>> newEventsRun() {
    return new Run<>(this, true, e -> e);
  }

  /**
   * One subscription of a {@link DecodeLoop}, named before it starts: its {@link #flux()} and a
   * {@link #whenClosed()} signal that completes once that subscription has cleaned up.
   *
   * @param <O> what the flux emits: tokens, or {@link TokenEvent}s
   */
  public static final class Run<O> {
    private final Flux<O> flux;
    private final Sinks.Empty<Void> closed = Sinks.empty();
    private final AtomicBoolean subscribed = new AtomicBoolean();

    private <S, T> Run(DecodeLoop<S, T> loop, boolean events, Function<TokenEvent<T>, O> output) {
      this.flux =
          Flux.create(
              sink -> {
                if (!subscribed.compareAndSet(false, true)) {
                  sink.error(
                      new IllegalStateException(
                          "a DecodeLoop.Run is subscribed once; DecodeLoop.run() and events()"
                              + " give a Flux that may be subscribed again"));
                  return;
                }
                new DecodeDriver<>(loop, sink, events, output, closed).start();
              });
    }

    /**
     * The tokens (or events) of this run. It may be subscribed once; a second subscriber gets
     * {@link IllegalStateException}.
     */
    public Flux<O> flux() {
      return flux;
    }

    /**
     * Completes once the subscription to {@link #flux()} has ended, by completion, error or
     * cancel, and its cleanup is done: every token scope and the session have closed (owned
     * resources, then the session scope), so every buffer the run took is back in the pool, and
     * the run's default thread has been released. It completes after the flux's own terminal
     * signal.
     *
     * <p>It fails only after a cancel, with the exception closing the session threw, which then
     * reaches no one else (after completion or an error, the flux's {@code onError} carries it).
     * It waits for the flux to be subscribed: a run never subscribed never closes (mind operators
     * that complete without subscribing upstream, {@code take(0)} for one). Any number of
     * subscribers may wait on it, before or after the end; late ones get the outcome at once.
     */
    public Mono<Void> whenClosed() {
      return closed.asMono();
    }
  }

  /** Builds a {@link DecodeLoop}. */
  public static final class Builder<S, T> {
    private final BufferPool pool;
    private final DecodeStep<S, T> step;
    private @Nullable Function<Session, S> initialState;
    private BiPredicate<? super S, ? super T> stopWhen = (s, t) -> false;
    private long maxTokens = Long.MAX_VALUE;
    private @Nullable Supplier<Scheduler> scheduler;
    private @Nullable DeviceStream stream;

    private Builder(BufferPool pool, DecodeStep<S, T> step) {
      this.pool = Objects.requireNonNull(pool, "pool");
      this.step = Objects.requireNonNull(step, "step");
    }

    /** The state the first step sees (the same value for every subscription). */
    public Builder<S, T> initialState(S state) {
      Objects.requireNonNull(state, "state");
      this.initialState = session -> state;
      return this;
    }

    /**
     * Makes the first state per subscription from its {@link Session}, on the loop's scheduler:
     * allocate the KV cache from {@code session.scope()}, or register owned buffers with {@code
     * session.own(...)}.
     */
    public Builder<S, T> initialState(Function<Session, S> factory) {
      this.initialState = Objects.requireNonNull(factory, "factory");
      return this;
    }

    /** Ends the loop after the step whose next state and token satisfy {@code condition}. */
    public Builder<S, T> stopWhen(BiPredicate<? super S, ? super T> condition) {
      this.stopWhen = Objects.requireNonNull(condition, "condition");
      return this;
    }

    /**
     * Ends the loop after {@code limit} tokens.
     *
     * @throws IllegalArgumentException if {@code limit} is negative
     */
    public Builder<S, T> maxTokens(long limit) {
      if (limit < 0) {
        throw new IllegalArgumentException("maxTokens must be at least 0, was " + limit);
      }
      this.maxTokens = limit;
      return this;
    }

    /**
     * Runs steps on schedulers from {@code supplier} (called once per subscription; the loop does
     * not dispose them). By default each subscription gets a dedicated daemon thread, released
     * when it ends.
     */
    public Builder<S, T> scheduler(Supplier<Scheduler> supplier) {
      this.scheduler = Objects.requireNonNull(supplier, "supplier");
      return this;
    }

    /** Runs steps on {@code scheduler}, shared by every subscription. */
    public Builder<S, T> scheduler(Scheduler scheduler) {
      Objects.requireNonNull(scheduler, "scheduler");
      return scheduler(() -> scheduler);
    }

    /**
     * Opens every token scope on {@code stream} ({@link BufferPool#openScope(DeviceStream)}), for
     * steps that enqueue their kernels there: each token's buffers are handed back in stream
     * order, reusable by the next token at once without waiting for the device.
     */
    public Builder<S, T> stream(DeviceStream stream) {
      this.stream = Objects.requireNonNull(stream, "stream");
      return this;
    }

    /** The loop. */
    public DecodeLoop<S, T> build() {
      if (initialState == null) {
        throw new IllegalStateException("set the initial state with initialState(...) before build()");
      }
      return new DecodeLoop<>(this);
    }
  }
}
