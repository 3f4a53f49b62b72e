package dev.mlxarena.examples.demo;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.spi.Device;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A small Llama-style decoder on the CPU: token embedding, {@code layers} blocks of RMSNorm,
 * attention with rotary positions, grouped-query heads and a KV cache, and a SwiGLU feed-forward,
 * then a final norm, the logits and a greedy argmax. Weights come from {@link Weights} (the same
 * numbers the GPU model makes) into owned buffers, registered with the pool like real weights.
 *
 * <p>The arithmetic runs on the CPU over the buffers' host views, one method per operation (marked
 * KERNEL) doing what one GPU kernel does in {@link GpuTransformer}, in the same order and with the
 * same formulas, so that the two compute the same function up to rounding.
 *
 * <p>Every kernel writes its whole output before anything reads it, so results do not depend on
 * whether a scratch buffer is fresh (zeroed) or reused (holding an earlier token's bytes).
 */
final class TinyTransformer implements AutoCloseable {
  static final float EPS = 1e-5f;

  private final ModelConfig cfg;
  private final List<Buffer> owned = new ArrayList<>();
  private final Rope rope;
  private final Weights.Layout<Buffer> w;
  private @Nullable Consumer<float[]> logitsTap;

  TinyTransformer(Device device, ModelConfig cfg, long seed) {
    this.cfg = cfg;
    this.rope = Rope.of(cfg.headDim(), cfg.context());
    this.w = Weights.layout(cfg, t -> weights(device, seed, t), () -> ones(device, cfg.hidden()));
  }

  /** Registers every weight with {@code pool}: resident, never recycled. */
  void registerWith(BufferPool pool) {
    owned.forEach(pool::registerExisting);
  }

  /** Hands every step's logits to {@code tap} (a copy), for comparisons with the GPU model. */
  void tapLogits(@Nullable Consumer<float[]> tap) {
    this.logitsTap = tap;
  }

  private Buffer weights(Device device, long seed, Weights.Tensor t) {
    Buffer b = own(Buffer.allocOwned(device, t.count() * 4, DType.F32, t.count()));
    FloatBuffer values = floats(b);
    long s = Weights.tensorSeed(seed, t.index());
    for (int i = 0; i < t.count(); i++) {
      values.put(i, Weights.uniform(s, i, t.scale()));
    }
    return b;
  }

  private Buffer ones(Device device, int count) {
    Buffer b = own(Buffer.allocOwned(device, count * 4L, DType.F32, count));
    FloatBuffer values = floats(b);
    for (int i = 0; i < count; i++) {
      values.put(i, 1f);
    }
    return b;
  }

  private Buffer own(Buffer b) {
    owned.add(b);
    return b;
  }

  static FloatBuffer floats(Buffer b) {
    return b.asByteBuffer().asFloatBuffer();
  }

  private static float[] read(Buffer b, int n) {
    float[] out = new float[n];
    floats(b).get(0, out);
    return out;
  }

  /** The session's KV cache: per layer, rotated keys and values for every position. */
  static final class KvCache implements AutoCloseable {
    final Buffer[] keys;
    final Buffer[] values;

    KvCache(Device device, ModelConfig cfg) {
      keys = new Buffer[cfg.layers()];
      values = new Buffer[cfg.layers()];
      long n = (long) cfg.context() * cfg.kvDim();
      for (int l = 0; l < cfg.layers(); l++) {
        keys[l] = Buffer.allocOwned(device, n * 4, DType.F32, cfg.context(), cfg.kvDim());
        values[l] = Buffer.allocOwned(device, n * 4, DType.F32, cfg.context(), cfg.kvDim());
      }
    }

    @Override
    public void close() {
      for (int l = 0; l < keys.length; l++) {
        keys[l].close();
        values[l].close();
      }
    }
  }

  /** One decode step: the token at {@code pos} in, the greedy next token out. */
  int forward(int token, int pos, KvCache kv, Scratch s) {
    int h = cfg.hidden();
    int kvd = cfg.kvDim();
    int ffn = cfg.ffn();
    if (pos >= cfg.context()) {
      throw new IllegalStateException("position " + pos + " is past the " + cfg.context() + "-token context");
    }
    Buffer x = s.floats(h);
    embedLookup(token, x);
    for (int l = 0; l < cfg.layers(); l++) {
      Weights.Layer<Buffer> y = w.layers().get(l);
      s.params(l, pos, cfg.heads(), cfg.headDim());
      Buffer xn = s.floats(h);
      rmsNorm(x, y.attnNorm(), xn, h);
      Buffer q = s.floats(h);
      Buffer k = s.floats(kvd);
      Buffer v = s.floats(kvd);
      matVec(y.wq(), xn, q, h, h);
      matVec(y.wk(), xn, k, kvd, h);
      matVec(y.wv(), xn, v, kvd, h);
      Buffer qr = s.floats(h);
      ropeStoreKv(q, k, v, qr, kv, l, pos);
      Buffer scores = s.floats((long) cfg.heads() * cfg.context());
      attentionScores(qr, kv, l, pos + 1, scores);
      Buffer probs = s.floats((long) cfg.heads() * cfg.context());
      softmaxRows(scores, probs, pos + 1);
      Buffer attn = s.floats(h);
      attentionValues(probs, kv, l, pos + 1, attn);
      Buffer o = s.floats(h);
      matVec(y.wo(), attn, o, h, h);
      Buffer x2 = s.floats(h);
      add(x, o, x2, h);
      s.params(l, ffn);
      Buffer xn2 = s.floats(h);
      rmsNorm(x2, y.ffnNorm(), xn2, h);
      Buffer gate = s.floats(ffn);
      Buffer up = s.floats(ffn);
      matVec(y.wGate(), xn2, gate, ffn, h);
      matVec(y.wUp(), xn2, up, ffn, h);
      Buffer act = s.floats(ffn);
      swiGlu(gate, up, act, ffn);
      Buffer down = s.floats(h);
      matVec(y.wDown(), act, down, h, ffn);
      Buffer x3 = s.floats(h);
      add(x2, down, x3, h);
      x = x3;
    }
    Buffer xn = s.floats(h);
    rmsNorm(x, w.finalNorm(), xn, h);
    Buffer logits = s.floats(cfg.vocab());
    matVec(w.lmHead(), xn, logits, cfg.vocab(), h);
    Consumer<float[]> tap = logitsTap;
    if (tap != null) {
      tap.accept(read(logits, cfg.vocab()));
    }
    Buffer choice = s.params(0);
    return argmax(logits, choice, cfg.vocab());
  }

  // ---------------------------------------------------------------- KERNEL: each is one GPU kernel

  private void embedLookup(int token, Buffer out) {
    FloatBuffer e = floats(w.embed());
    FloatBuffer o = floats(out);
    int h = cfg.hidden();
    for (int i = 0; i < h; i++) {
      o.put(i, e.get(token * h + i));
    }
  }

  private static void rmsNorm(Buffer in, Buffer weight, Buffer out, int n) {
    float[] x = read(in, n);
    FloatBuffer w = floats(weight);
    FloatBuffer o = floats(out);
    double ss = 0;
    for (int i = 0; i < n; i++) {
      ss += x[i] * x[i];
    }
    float inv = 1.0f / (float) Math.sqrt((float) ss / n + EPS);
    for (int i = 0; i < n; i++) {
      o.put(i, x[i] * inv * w.get(i));
    }
  }

  private static void matVec(Buffer weight, Buffer in, Buffer out, int rows, int cols) {
    FloatBuffer w = floats(weight);
    float[] xs = read(in, cols);
    FloatBuffer o = floats(out);
    for (int r = 0; r < rows; r++) {
      float acc = 0;
      int base = r * cols;
      for (int c = 0; c < cols; c++) {
        acc += w.get(base + c) * xs[c];
      }
      o.put(r, acc);
    }
  }

  /** Rotates q into qr and k into the key cache at {@code pos}; copies v into the value cache. */
  private void ropeStoreKv(Buffer q, Buffer k, Buffer v, Buffer qr, KvCache kv, int layer, int pos) {
    int d = cfg.headDim();
    int kvd = cfg.kvDim();
    float[] qs = read(q, cfg.hidden());
    float[] ks = read(k, kvd);
    float[] rotated = new float[Math.max(cfg.hidden(), kvd)];
    for (int head = 0; head < cfg.heads(); head++) {
      rope.rotate(qs, head * d, pos, rotated, head * d);
    }
    floats(qr).put(0, rotated, 0, cfg.hidden());
    for (int head = 0; head < cfg.kvHeads(); head++) {
      rope.rotate(ks, head * d, pos, rotated, head * d);
    }
    floats(kv.keys[layer]).put(pos * kvd, rotated, 0, kvd);
    floats(kv.values[layer]).put(pos * kvd, read(v, kvd));
  }

  /** scores[head][t] = q_head . k_t / sqrt(headDim) for t < n; head reads key head head / group. */
  private void attentionScores(Buffer q, KvCache kv, int layer, int n, Buffer scores) {
    int d = cfg.headDim();
    int kvd = cfg.kvDim();
    int group = cfg.heads() / cfg.kvHeads();
    float[] qs = read(q, cfg.hidden());
    FloatBuffer kc = floats(kv.keys[layer]);
    FloatBuffer sc = floats(scores);
    float scale = (float) (1.0 / Math.sqrt(d));
    for (int head = 0; head < cfg.heads(); head++) {
      int kvHead = head / group;
      for (int t = 0; t < n; t++) {
        float dot = 0;
        for (int i = 0; i < d; i++) {
          dot += qs[head * d + i] * kc.get(t * kvd + kvHead * d + i);
        }
        sc.put(head * cfg.context() + t, dot * scale);
      }
    }
  }

  /** Each head's row of the first n scores: exp(s - max) / sum. */
  private void softmaxRows(Buffer scores, Buffer probs, int n) {
    FloatBuffer sc = floats(scores);
    FloatBuffer p = floats(probs);
    for (int head = 0; head < cfg.heads(); head++) {
      int row = head * cfg.context();
      float max = Float.NEGATIVE_INFINITY;
      for (int t = 0; t < n; t++) {
        max = Math.max(max, sc.get(row + t));
      }
      float sum = 0;
      for (int t = 0; t < n; t++) {
        float e = (float) Math.exp(sc.get(row + t) - max);
        p.put(row + t, e);
        sum += e;
      }
      for (int t = 0; t < n; t++) {
        p.put(row + t, p.get(row + t) / sum);
      }
    }
  }

  /** out[head][i] = sum over t < n of probs[head][t] * v_t[key head of head][i]. */
  private void attentionValues(Buffer probs, KvCache kv, int layer, int n, Buffer out) {
    int d = cfg.headDim();
    int kvd = cfg.kvDim();
    int group = cfg.heads() / cfg.kvHeads();
    FloatBuffer p = floats(probs);
    FloatBuffer vc = floats(kv.values[layer]);
    FloatBuffer o = floats(out);
    for (int head = 0; head < cfg.heads(); head++) {
      int kvHead = head / group;
      for (int i = 0; i < d; i++) {
        float acc = 0;
        for (int t = 0; t < n; t++) {
          acc += p.get(head * cfg.context() + t) * vc.get(t * kvd + kvHead * d + i);
        }
        o.put(head * d + i, acc);
      }
    }
  }

  private static void add(Buffer a, Buffer b, Buffer out, int n) {
    FloatBuffer x = floats(a);
    FloatBuffer y = floats(b);
    FloatBuffer o = floats(out);
    for (int i = 0; i < n; i++) {
      o.put(i, x.get(i) + y.get(i));
    }
  }

  private static void swiGlu(Buffer gate, Buffer up, Buffer out, int n) {
    FloatBuffer g = floats(gate);
    FloatBuffer u = floats(up);
    FloatBuffer o = floats(out);
    for (int i = 0; i < n; i++) {
      float a = g.get(i);
      o.put(i, a / (1f + (float) Math.exp(-a)) * u.get(i));
    }
  }

  private static int argmax(Buffer logits, Buffer choice, int n) {
    FloatBuffer l = floats(logits);
    int best = 0;
    for (int i = 1; i < n; i++) {
      if (l.get(i) > l.get(best)) {
        best = i;
      }
    }
    choice.putI32(0, best);
    return choice.getI32(0);
  }

  @Override
  public void close() {
    owned.forEach(Buffer::close);
    owned.clear();
  }
}
