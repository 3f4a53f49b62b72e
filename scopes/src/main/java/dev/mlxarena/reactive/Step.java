package dev.mlxarena.reactive;

import java.util.Objects;

/**
 * What one {@link DecodeStep} returns: the state for the next step and the token to emit.
 *
 * @param state the next state
 * @param token the token produced by this step
 */
public record Step<S, T>(S state, T token) {

  /** Checks both parts are present: Reactive Streams carry no nulls. */
  public Step {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(token, "token");
  }

  /** Shorthand for the constructor, reads well from Kotlin and Java alike. */
  public static <S, T> Step<S, T> of(S state, T token) {
    return new Step<>(state, token);
  }
}
