package dev.mlxarena.examples.demo;

/**
 * The shape of the demo transformer.
 *
 * @param vocab vocabulary size
 * @param hidden model width
 * @param layers decoder layers
 * @param heads attention heads ({@code hidden} must divide by it)
 * @param ffn feed-forward width
 * @param context the most positions the KV cache holds
 */
record ModelConfig(int vocab, int hidden, int layers, int heads, int ffn, int context) {

  ModelConfig {
    positive("vocab", vocab);
    positive("hidden", hidden);
    positive("layers", layers);
    positive("heads", heads);
    positive("ffn", ffn);
    positive("context", context);
    if (hidden % heads != 0) {
      throw new IllegalArgumentException(
          "--hidden " + hidden + " must be a multiple of the " + heads + " attention heads");
    }
  }

  private static void positive(String name, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException("--" + name + " must be at least 1, was " + value);
    }
  }

  int headDim() {
    return hidden / heads;
  }

  /** Bytes of weights (F32). */
  long weightBytes() {
    long perLayer = 2L * hidden + 4L * hidden * hidden + 3L * hidden * ffn;
    return 4L * (2L * vocab * hidden + hidden + layers * perLayer);
  }

  /** Bytes of the KV cache (F32). */
  long kvBytes() {
    return 4L * 2 * layers * (long) context * hidden;
  }
}
