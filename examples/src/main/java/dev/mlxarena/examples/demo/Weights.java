package dev.mlxarena.examples.demo;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The demo model's random weights, defined element by element so that the host and the GPU make
 * the same ones independently: element {@code i} of tensor {@code t} is {@code scale * (2u - 1)},
 * with {@code u} in [0, 1) the top 24 bits of a SplitMix64 hash of the tensor's seed and {@code
 * i}. The GPU's {@code init_uniform} kernel computes the same bits in {@code float}, so an F32
 * model on the GPU has exactly the host's weights, and a 2 GB BF16 model is made on the GPU in
 * milliseconds with nothing copied from the host.
 *
 * <p>Tensors are numbered in a fixed order: the embedding, then per layer {@code wq, wk, wv, wo,
 * wGate, wUp, wDown}, then the LM head. Scales are {@code 1 / sqrt(fan-in)} (1 for the
 * embedding). Norm weights are ones and are not numbered.
 */
final class Weights {
  private Weights() {}

  /** One random tensor: its number, element count and scale. */
  record Tensor(int index, String name, long count, float scale) {}

  /** One decoder layer's weights, whatever holds them (host buffers, device pointers). */
  record Layer<W>(W attnNorm, W wq, W wk, W wv, W wo, W ffnNorm, W wGate, W wUp, W wDown) {}

  /** A model's weights, whatever holds them. */
  record Layout<W>(W embed, List<Layer<W>> layers, W finalNorm, W lmHead) {}

  /**
   * Makes every weight of {@code cfg}: {@code random} for the numbered tensors, {@code ones} for
   * the norms (of {@code hidden} elements), in the order of the numbering.
   */
  static <W> Layout<W> layout(ModelConfig cfg, Function<Tensor, W> random, Supplier<W> ones) {
    Iterator<Tensor> t = of(cfg).iterator();
    W embed = random.apply(t.next());
    List<Layer<W>> layers = new ArrayList<>();
    for (int l = 0; l < cfg.layers(); l++) {
      W attnNorm = ones.get();
      W wq = random.apply(t.next());
      W wk = random.apply(t.next());
      W wv = random.apply(t.next());
      W wo = random.apply(t.next());
      W ffnNorm = ones.get();
      W wGate = random.apply(t.next());
      W wUp = random.apply(t.next());
      W wDown = random.apply(t.next());
      layers.add(new Layer<>(attnNorm, wq, wk, wv, wo, ffnNorm, wGate, wUp, wDown));
    }
    W finalNorm = ones.get();
    return new Layout<>(embed, List.copyOf(layers), finalNorm, random.apply(t.next()));
  }

  /** The model's random tensors, in their fixed order. */
  static List<Tensor> of(ModelConfig cfg) {
    int h = cfg.hidden();
    float byHidden = scale(h);
    List<Tensor> out = new ArrayList<>();
    out.add(new Tensor(0, "embed", (long) cfg.vocab() * h, 1f));
    for (int l = 0; l < cfg.layers(); l++) {
      int base = 1 + 7 * l;
      out.add(new Tensor(base, "wq" + l, (long) h * h, byHidden));
      out.add(new Tensor(base + 1, "wk" + l, (long) cfg.kvDim() * h, byHidden));
      out.add(new Tensor(base + 2, "wv" + l, (long) cfg.kvDim() * h, byHidden));
      out.add(new Tensor(base + 3, "wo" + l, (long) h * h, byHidden));
      out.add(new Tensor(base + 4, "wGate" + l, (long) cfg.ffn() * h, byHidden));
      out.add(new Tensor(base + 5, "wUp" + l, (long) cfg.ffn() * h, byHidden));
      out.add(new Tensor(base + 6, "wDown" + l, (long) h * cfg.ffn(), scale(cfg.ffn())));
    }
    out.add(new Tensor(1 + 7 * cfg.layers(), "lmHead", (long) cfg.vocab() * h, byHidden));
    return out;
  }

  private static float scale(int fanIn) {
    return (float) (1.0 / Math.sqrt(fanIn));
  }

  /** The seed of tensor {@code index} of a model made from {@code seed}. */
  static long tensorSeed(long seed, int index) {
    return mix64(seed ^ mix64(0x5EEDL << 32 | index));
  }

  /** Element {@code i} of the tensor with seed {@code tensorSeed}. */
  static float uniform(long tensorSeed, long i, float scale) {
    long z = mix64(tensorSeed ^ mix64(i));
    float u = (float) (z >>> 40) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * scale;
  }

  /** SplitMix64's finaliser, as the kernel has it. */
  static long mix64(long z) {
    z += 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
