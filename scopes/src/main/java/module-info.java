/**
 * Reactive lifecycle scopes for mlx-arena: {@link dev.mlxarena.reactive.ReactiveScopes} and the
 * token-by-token {@link dev.mlxarena.reactive.DecodeLoop}, on Project Reactor.
 */
module dev.mlxarena.reactive {
  requires transitive dev.mlxarena.core;
  requires transitive reactor.core;
  requires transitive org.reactivestreams;
  requires static org.jspecify;

  exports dev.mlxarena.reactive;
}
