package dev.mlxarena.reactive;

import dev.mlxarena.Scope;

/**
 * One token of a {@link DecodeLoop}: reads the state, allocates its scratch from {@code token}
 * (recycled as soon as it returns), and returns the next state and the token it produced.
 *
 * @param <S> the decoder state (position, last token, session buffers, ...)
 * @param <T> the token type emitted downstream
 */
@FunctionalInterface
public interface DecodeStep<S, T> {

  /**
   * Runs one step. Buffers of {@code token} are valid only until this returns; keep nothing of
   * them in the result.
   *
   * @throws Exception to end the loop: the scope and session close, then the subscriber gets it
   */
  Step<S, T> apply(Scope token, S state) throws Exception;
}
