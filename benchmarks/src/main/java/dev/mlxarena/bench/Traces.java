package dev.mlxarena.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * Allocation traces of one decoded token, replayed by the benchmarks. Every trace and every token
 * of a shape has {@link #LENGTH} allocations, so figures per allocation compare directly.
 *
 * <h2>Decode trace</h2>
 * One token through a 32-layer mixture-of-experts decoder (hidden 4096, 32 query and 8 key/value
 * heads of 128, a 512-token context, FFN width 14336, 8 experts with 2 active, a 32768-token
 * vocabulary), in F32. Per layer, 54 allocations:
 * <ul>
 *   <li>attention: norm output, q (16 KiB), k and v (4 KiB), rotary tables (512 B), rotated q and
 *       k, scores, masked scores and probabilities (64 KiB each), softmax max and sum (128 B),
 *       attention output, output projection and residual (16 KiB);
 *   <li>feed-forward and MoE: norm output, router logits and probabilities (32 B), top-k indices
 *       and weights (8 B), a 1 MiB dispatch buffer, and per active expert gate, up and activation
 *       (56 KiB), down (16 KiB) and two parameter blocks; combine output and residual (16 KiB);
 *   <li>18 small kernel-parameter buffers from 16 B to 256 B.
 * </ul>
 * Then the head: embedding and final norm (16 KiB), logits and probabilities (128 KiB), and small
 * sampling buffers, to 1,750 allocations in all. Sizes run from 8 B to 1 MiB; the working set is
 * about 48 MiB.
 *
 * <h2>Small trace</h2>
 * 1,750 sizes drawn log-uniformly from 16 B to 16 KiB with a fixed seed: the range where Netty's
 * thread-local caches do best.
 *
 * <h2>Shapes</h2>
 * How a real decode trace changes from token to token. A shape is a ring of {@link #RING} tokens
 * of {@link #LENGTH} allocations each, replayed in turn; {@code static} is {@code RING} copies too,
 * so that every shape reads its sizes from as much memory.
 * <ul>
 *   <li>{@code static}: the decode trace, every token the same;
 *   <li>{@code growing}: the decode trace with the context advancing one position per token, from
 *       256 to 1,279 over the ring, so that the attention scores (heads x context x 4 bytes, three
 *       per layer) cross the 64, 128 and 256 KiB bucket boundaries; after the ring's last token a
 *       new sequence starts at 256;
 *   <li>{@code moe}: top-k routing over a batch: in each layer the two fixed experts' twelve
 *       buffers give way to 4 to 8 routed expert activations (56 KiB), their number drawn per
 *       token and layer from a fixed seed; the sampling scratch pads every token to 1,750;
 *   <li>{@code shuffled}: the decode trace's sizes in an order permuted per token from a fixed
 *       seed, as engines with dynamic graphs allocate;
 *   <li>{@code interleaved}: two scopes open at once on one thread, as a decode and a prefill
 *       stream: even allocations are the decode trace's first 875 on one scope, odd ones the same
 *       for a chunk of four prompt tokens (activations of 4 KiB and more four times larger) on the
 *       other.
 * </ul>
 */
public final class Traces {
  /** Allocations per token in every trace. */
  public static final int LENGTH = 1750;

  /** Tokens in the ring of every {@linkplain #shape shape}: the benchmarks replay them in turn. */
  public static final int RING = 1024;

  /** The trace shapes, static first. */
  public static final List<String> SHAPES =
      List.of("static", "growing", "moe", "shuffled", "interleaved");

  private static final int LAYERS = 32;
  private static final int CONTEXT = 512;
  private static final int[] FIXED_EXPERTS = {};

  private Traces() {}

  /** The decode trace: see the class comment. */
  public static long[] decode() {
    return decoder(CONTEXT, FIXED_EXPERTS);
  }

  /**
   * One token of the decoder in the class comment at context length {@code ctx}. Unless {@code
   * experts} is {@link #FIXED_EXPERTS}, layer {@code l}'s two experts give way to {@code
   * experts[l]} routed expert buffers. The sampling scratch at the end pads every token to {@link
   * #LENGTH}.
   */
  private static long[] decoder(int ctx, int[] experts) {
    List<Long> t = new ArrayList<>(LENGTH);
    long h = 4096 * 4;
    long kv = 1024 * 4;
    long scores = 32L * ctx * 4;
    long ffn = 14336L * 4;
    long[] params = {16, 32, 48, 64, 96, 128, 192, 256, 16, 16, 24, 32, 40, 64, 80, 128, 256, 64};
    for (int layer = 0; layer < LAYERS; layer++) {
      t.add(h); // attention norm output
      for (int i = 0; i < 8; i++) {
        t.add(params[i]);
      }
      t.add(h); // q
      t.add(kv); // k
      t.add(kv); // v
      t.add(512L); // rotary cos
      t.add(512L); // rotary sin
      t.add(h); // rotated q
      t.add(kv); // rotated k
      t.add(scores); // scores
      t.add(scores); // masked scores
      t.add(128L); // softmax max
      t.add(128L); // softmax sum
      t.add(scores); // probabilities
      t.add(h); // attention output
      t.add(h); // output projection
      t.add(h); // residual
      t.add(h); // FFN norm output
      t.add(32L); // router logits
      t.add(32L); // router probabilities
      t.add(8L); // top-k indices
      t.add(8L); // top-k weights
      t.add(1L << 20); // MoE dispatch buffer
      if (experts == FIXED_EXPERTS) {
        for (int e = 0; e < 2; e++) {
          t.add(ffn); // gate
          t.add(ffn); // up
          t.add(ffn); // activation
          t.add(h); // down
          t.add(64L); // expert parameters
          t.add(16L); // expert scale
        }
      } else {
        for (int e = 0; e < experts[layer]; e++) {
          t.add(ffn); // one routed expert's activation
        }
      }
      t.add(h); // combine
      t.add(h); // residual
      for (int i = 8; i < params.length; i++) {
        t.add(params[i]);
      }
    }
    t.add(h); // embedding
    t.add(h); // final norm
    t.add(32768L * 4); // logits
    t.add(32768L * 4); // probabilities
    for (int i = 0; t.size() < LENGTH; i++) {
      t.add(params[i % params.length]); // sampling scratch and parameters
    }
    return toArray(t);
  }

  /** The small trace: see the class comment. */
  public static long[] small() {
    SplittableRandom rnd = new SplittableRandom(42);
    long[] t = new long[LENGTH];
    double lo = Math.log(16);
    double hi = Math.log(16 * 1024);
    for (int i = 0; i < LENGTH; i++) {
      t[i] = Math.max(16, Math.round(Math.exp(lo + rnd.nextDouble() * (hi - lo))));
    }
    return t;
  }

  // ================================================================ shapes

  /** The ring of {@link #RING} tokens of the named shape: see the class comment. */
  public static long[][] shape(String name) {
    switch (name) {
      case "static":
        return ring(t -> decode());
      case "growing":
        return ring(t -> decoder(256 + t, FIXED_EXPERTS));
      case "moe":
        SplittableRandom routing = new SplittableRandom(17);
        return ring(t -> decoder(CONTEXT, routing.ints(LAYERS, 4, 9).toArray()));
      case "shuffled":
        SplittableRandom order = new SplittableRandom(23);
        return ring(t -> shuffle(decode(), order));
      case "interleaved":
        return ring(t -> interleave(decode()));
      default:
        throw new IllegalArgumentException("unknown shape '" + name + "': one of " + SHAPES);
    }
  }

  /** Whether the named shape runs two scopes, even allocations on one and odd on the other. */
  public static boolean twoScopes(String shape) {
    return "interleaved".equals(shape);
  }

  private static long[][] ring(IntFunction<long[]> token) {
    long[][] r = new long[RING][];
    for (int t = 0; t < RING; t++) {
      r[t] = token.apply(t);
    }
    return r;
  }

  private static long[] shuffle(long[] t, SplittableRandom rnd) {
    for (int i = t.length - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      long s = t[i];
      t[i] = t[j];
      t[j] = s;
    }
    return t;
  }

  /**
   * A decode stream's allocations (the first half of {@code decode}) alternating with a prefill
   * stream's: the same allocations for a chunk of four prompt tokens, so that activations of 4 KiB
   * and more are four times larger while parameters and statistics keep their size.
   */
  private static long[] interleave(long[] decode) {
    long[] t = new long[LENGTH];
    for (int i = 0; i < LENGTH / 2; i++) {
      long s = decode[i];
      t[2 * i] = s;
      t[2 * i + 1] = s >= 4096 ? 4 * s : s;
    }
    return t;
  }

  /** The trace named {@code name}: "decode" or "small". */
  public static long[] named(String name) {
    switch (name) {
      case "decode":
        return decode();
      case "small":
        return small();
      default:
        throw new IllegalArgumentException("unknown trace '" + name + "': decode or small");
    }
  }

  /** Prints the named trace, one size per line: {@code java -cp benchmarks.jar dev.mlxarena.bench.Traces decode}. */
  public static void main(String[] args) {
    for (long size : named(args.length == 0 ? "decode" : args[0])) {
      System.out.println(size);
    }
  }

  private static long[] toArray(List<Long> list) {
    if (list.size() != LENGTH) {
      throw new IllegalStateException("trace has " + list.size() + " allocations, not " + LENGTH);
    }
    long[] a = new long[list.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = list.get(i);
    }
    return a;
  }
}
