package dev.mlxarena.docs;

import dev.mlxarena.Buffer;

/**
 * The README's model: writes deterministic logits into the step's buffer through its host view (as
 * a kernel would on the device) and returns the highest-scoring token.
 */
public final class Model {
  private final int vocab;

  Model(int vocab) {
    this.vocab = vocab;
  }

  /** One forward step from {@code state}: fills {@code logits} and returns the next token. */
  public int forward(State state, Buffer logits) {
    int n = (int) Math.min(vocab, logits.elementCount());
    int next = 0;
    for (int i = 0; i < n; i++) {
      float score = (i * 31 + state.last() * 17 + state.position()) % n;
      logits.putF32(i, score);
      next = score > logits.getF32(next) ? i : next;
    }
    return next;
  }
}
