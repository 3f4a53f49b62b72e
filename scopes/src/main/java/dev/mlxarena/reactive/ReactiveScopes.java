package dev.mlxarena.reactive;

import dev.mlxarena.BufferPool;
import dev.mlxarena.Scope;
import java.util.Objects;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Publishers that own a {@link Scope}: it opens when the publisher is subscribed and closes
 * exactly once when the subscription completes, errors or is cancelled. Each subscription gets its
 * own scope.
 *
 * <p>Built on {@link Mono#usingWhen} / {@link Flux#usingWhen}, and so with their cancel semantics:
 * on cancel the scope closes as soon as the cancel signal has been passed upstream, without
 * waiting for work the body may still be running on another thread. A body that hands buffers to
 * blocking work elsewhere must finish that work before its publisher signals; for step-wise
 * generation where a cancel may arrive mid-step, use {@link DecodeLoop}, which defers the close
 * until the step has returned.
 */
public final class ReactiveScopes {
  private ReactiveScopes() {}

  /**
   * A {@link Mono} whose body runs in a fresh scope of {@code pool}, closed when the Mono ends.
   * The value must not hold the scope's buffers: they are stale once it is emitted.
   */
  public static <T> Mono<T> withScope(
      BufferPool pool, Function<? super Scope, ? extends Mono<? extends T>> body) {
    Objects.requireNonNull(pool, "pool");
    Objects.requireNonNull(body, "body");
    return Mono.usingWhen(
        Mono.fromCallable(pool::openScope),
        body,
        ReactiveScopes::close,
        (scope, error) -> close(scope),
        ReactiveScopes::close);
  }

  /** The {@link Flux} twin of {@link #withScope}: the scope lives until the Flux ends. */
  public static <T> Flux<T> withScopeMany(
      BufferPool pool, Function<? super Scope, ? extends Publisher<? extends T>> body) {
    Objects.requireNonNull(pool, "pool");
    Objects.requireNonNull(body, "body");
    return Flux.usingWhen(
        Mono.fromCallable(pool::openScope),
        body,
        ReactiveScopes::close,
        (scope, error) -> close(scope),
        ReactiveScopes::close);
  }

  private static Mono<Void> close(Scope scope) {
    return Mono.fromRunnable(scope::close);
  }
}
