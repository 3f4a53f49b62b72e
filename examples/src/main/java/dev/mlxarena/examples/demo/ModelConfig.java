package dev.mlxarena.examples.demo;

/**
 * The shape of the demo transformer: a Llama-style decoder (RMSNorm, rotary positions,
 * grouped-query attention, SwiGLU).
 *
 * @param vocab vocabulary size
 * @param hidden model width
 * @param layers decoder layers
 * @param heads attention (query) heads ({@code hidden} must divide by it, into an even head size)
 * @param kvHeads key and value heads ({@code heads} must divide by it; equal for plain multi-head)
 * @param ffn feed-forward width
 * @param context the most positions the KV cache holds
 */
record ModelConfig(int vocab, int hidden, int layers, int heads, int kvHeads, int ffn, int context) {

  ModelConfig {
    positive("vocab", vocab);
    positive("hidden", hidden);
    positive("layers", layers);
    positive("heads", heads);
    positive("kv-heads", kvHeads);
    positive("ffn", ffn);
    positive("context", context);
    if (hidden % heads != 0) {
      throw new IllegalArgumentException(
          "--hidden " + hidden + " must be a multiple of the " + heads + " attention heads");
    }
    if ((hidden / heads) % 2 != 0) {
      throw new IllegalArgumentException("--hidden " + hidden + " over " + heads + " heads gives a head size of "
          + hidden / heads + ": rotary positions need an even one");
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "--heads " + heads + " must be a multiple of the " + kvHeads + " key/value heads");
    }
  }

  /** Plain multi-head attention: as many key/value heads as query heads. */
  ModelConfig(int vocab, int hidden, int layers, int heads, int ffn, int context) {
    this(vocab, hidden, layers, heads, heads, ffn, context);
  }

  /** The Llama-1B shape with a KV cache of {@code context} positions. */
  static ModelConfig llama1b(int context) {
    return new ModelConfig(32000, 2048, 16, 32, 8, 8192, context);
  }

  private static void positive(String name, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException("--" + name + " must be at least 1, was " + value);
    }
  }

  int headDim() {
    return hidden / heads;
  }

  /** Width of one position's keys (and values): all key/value heads. */
  int kvDim() {
    return kvHeads * headDim();
  }

  /** The same model with a KV cache of {@code positions} positions. */
  ModelConfig withContext(int positions) {
    return new ModelConfig(vocab, hidden, layers, heads, kvHeads, ffn, positions);
  }

  /** Number of weights (parameters). */
  long weightCount() {
    long perLayer = 2L * hidden + 2L * hidden * hidden + 2L * hidden * kvDim() + 3L * hidden * ffn;
    return 2L * vocab * hidden + hidden + layers * perLayer;
  }

  /** Bytes of weights in F32. */
  long weightBytes() {
    return weightBytes(4);
  }

  /** Bytes of weights at {@code elementBytes} per weight. */
  long weightBytes(int elementBytes) {
    return elementBytes * weightCount();
  }

  /** Bytes of the KV cache in F32. */
  long kvBytes() {
    return kvBytes(4);
  }

  /** Bytes of the KV cache at {@code elementBytes} per element. */
  long kvBytes(int elementBytes) {
    return (long) elementBytes * 2 * layers * (long) context * kvDim();
  }
}
