/**
 * Kotlin extensions for mlx-arena ({@code dev.mlxarena.kotlin}): scopes as blocks, suspending scopes
 * and fence waits, decode loops as {@code Flow}s. The Kotlin standard library, kotlinx.coroutines
 * and the core and reactive modules appear in its signatures, so they are read transitively.
 */
module dev.mlxarena.kotlin {
  requires transitive dev.mlxarena.core;
  requires transitive dev.mlxarena.reactive;
  requires transitive kotlin.stdlib;
  requires transitive kotlinx.coroutines.core;
  requires kotlinx.coroutines.reactive;

  exports dev.mlxarena.kotlin;
}
