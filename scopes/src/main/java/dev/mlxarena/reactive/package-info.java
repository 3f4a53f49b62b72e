/**
 * Reactive lifecycle scopes on Project Reactor: {@link dev.mlxarena.reactive.ReactiveScopes} opens
 * a {@link dev.mlxarena.Scope} per subscription and closes it however the subscription ends, and
 * {@link dev.mlxarena.reactive.DecodeLoop} runs token-by-token generation with one scope per
 * token, driven by demand and safe under cancellation from any thread.
 */
@NullMarked
package dev.mlxarena.reactive;

import org.jspecify.annotations.NullMarked;
