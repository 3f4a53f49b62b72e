package dev.mlxarena.docs;

import dev.mlxarena.Buffer;
import org.jspecify.annotations.Nullable;

/** The README's decoder state: the last token, the position, and the session's KV cache if any. */
public final class State {
  private final @Nullable Buffer kv;
  private final int position;
  private final int last;

  /** A fresh state over a KV cache allocated in the loop's session. */
  public State(Buffer kv) {
    this(kv, 0, 1);
  }

  private State(@Nullable Buffer kv, int position, int last) {
    this.kv = kv;
    this.position = position;
    this.last = last;
  }

  /** A fresh state without a KV cache. */
  public static State start() {
    return new State(null, 0, 1);
  }

  /** The state after {@code token}. */
  public State advance(int token) {
    return new State(kv, position + 1, token);
  }

  public int position() {
    return position;
  }

  public int last() {
    return last;
  }
}
