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
    try {
      // The fields are not yet assigned here: the sizes from the parameters.
      int kvDim = kvHeads * (hidden / heads);
      Math.addExact(Math.multiplyExact(4, weightCount(vocab, hidden, layers, kvDim, ffn)), kvBytes(4, layers, context, kvDim));
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("--layers " + layers + ", --hidden " + hidden + ", --vocab " + vocab
          + " and " + context + " positions: the model's size in bytes overflows a long");
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

  /** Number of weights (parameters); the constructor has checked that it fits in a long. */
  long weightCount() {
    return weightCount(vocab, hidden, layers, kvDim(), ffn);
  }

  private static long weightCount(int vocab, int hidden, int layers, int kvDim, int ffn) {
    long h = hidden;
    long perLayer = Math.addExact(Math.addExact(2 * h + 2 * h * h, 2 * h * kvDim), Math.multiplyExact(3 * h, ffn));
    return Math.addExact(2L * vocab * h + h, Math.multiplyExact(layers, perLayer));
  }

  /** Bytes of weights and KV cache at {@code elementBytes} per element; overflow throws {@link ArithmeticException}. */
  long modelBytes(int elementBytes) {
    return Math.addExact(weightBytes(elementBytes), kvBytes(elementBytes));
  }

  /** The shape in words, as the demo's header and chart title give it. */
  String describe() {
    return layers + " layers, hidden " + hidden + ", " + heads + " heads (" + kvHeads + " KV), FFN " + ffn
        + ", vocab " + vocab;
  }

  /** Bytes of weights in F32. */
  long weightBytes() {
    return weightBytes(4);
  }

  /** Bytes of weights at {@code elementBytes} per weight. */
  long weightBytes(int elementBytes) {
    return Math.multiplyExact(elementBytes, weightCount());
  }

  /** Bytes of the KV cache in F32. */
  long kvBytes() {
    return kvBytes(4);
  }

  /** Bytes of the KV cache at {@code elementBytes} per element. */
  long kvBytes(int elementBytes) {
    return kvBytes(elementBytes, layers, context, kvDim());
  }

  private static long kvBytes(int elementBytes, int layers, int context, int kvDim) {
    return Math.multiplyExact(Math.multiplyExact((long) elementBytes * 2 * layers, (long) context), kvDim);
  }
}
