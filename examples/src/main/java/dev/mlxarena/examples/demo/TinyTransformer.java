package dev.mlxarena.examples.demo;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.spi.Device;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A small decoder-only transformer: token embedding, {@code layers} blocks of RMSNorm, multi-head
 * attention with a KV cache and a SwiGLU feed-forward, then a final norm and the logits. Weights
 * are drawn from a fixed seed into owned buffers, registered with the pool like real weights.
 *
 * <p>The arithmetic runs on the CPU over the buffers' host views. On a GPU backend each method
 * marked KERNEL is where a real kernel would be encoded instead: the buffers, their handles and
 * their lifetimes are already what a GPU implementation needs.
 *
 * <p>Every kernel writes its whole output before anything reads it, so results do not depend on
 * whether a scratch buffer is fresh (zeroed) or reused (holding an earlier token's bytes).
 */
final class TinyTransformer implements AutoCloseable {
  private final ModelConfig cfg;
  private final List<Buffer> owned = new ArrayList<>();
  private final Buffer embed;
  private final Buffer finalNorm;
  private final Buffer lmHead;
  private final Layer[] layers;

  private static final class Layer {
    Buffer attnNorm;
    Buffer wq;
    Buffer wk;
    Buffer wv;
    Buffer wo;
    Buffer ffnNorm;
    Buffer wGate;
    Buffer wUp;
    Buffer wDown;
  }

  TinyTransformer(Device device, ModelConfig cfg, long seed) {
    this.cfg = cfg;
    SplittableRandom rnd = new SplittableRandom(seed);
    int h = cfg.hidden();
    embed = weights(device, rnd, (long) cfg.vocab() * h, 1.0f);
    layers = new Layer[cfg.layers()];
    for (int l = 0; l < layers.length; l++) {
      Layer y = new Layer();
      y.attnNorm = ones(device, h);
      y.wq = weights(device, rnd, (long) h * h, h);
      y.wk = weights(device, rnd, (long) h * h, h);
      y.wv = weights(device, rnd, (long) h * h, h);
      y.wo = weights(device, rnd, (long) h * h, h);
      y.ffnNorm = ones(device, h);
      y.wGate = weights(device, rnd, (long) cfg.ffn() * h, h);
      y.wUp = weights(device, rnd, (long) cfg.ffn() * h, h);
      y.wDown = weights(device, rnd, (long) h * cfg.ffn(), cfg.ffn());
      layers[l] = y;
    }
    finalNorm = ones(device, h);
    lmHead = weights(device, rnd, (long) cfg.vocab() * h, h);
  }

  /** Registers every weight with {@code pool}: resident, never recycled. */
  void registerWith(BufferPool pool) {
    owned.forEach(pool::registerExisting);
  }

  private Buffer weights(Device device, SplittableRandom rnd, long count, float fanIn) {
    Buffer b = own(device.allocBuffer(count * 4, DType.F32, count));
    FloatBuffer w = floats(b);
    float scale = (float) (1.0 / Math.sqrt(fanIn));
    for (int i = 0; i < count; i++) {
      w.put(i, (float) (rnd.nextDouble() * 2 - 1) * scale);
    }
    return b;
  }

  private Buffer ones(Device device, int count) {
    Buffer b = own(device.allocBuffer(count * 4L, DType.F32, count));
    FloatBuffer w = floats(b);
    for (int i = 0; i < count; i++) {
      w.put(i, 1f);
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

  /** The session's KV cache: per layer, keys and values for every position. */
  static final class KvCache implements AutoCloseable {
    final Buffer[] keys;
    final Buffer[] values;

    KvCache(Device device, ModelConfig cfg) {
      keys = new Buffer[cfg.layers()];
      values = new Buffer[cfg.layers()];
      long n = (long) cfg.context() * cfg.hidden();
      for (int l = 0; l < cfg.layers(); l++) {
        keys[l] = device.allocBuffer(n * 4, DType.F32, cfg.context(), cfg.hidden());
        values[l] = device.allocBuffer(n * 4, DType.F32, cfg.context(), cfg.hidden());
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
    if (pos >= cfg.context()) {
      throw new IllegalStateException("position " + pos + " is past the " + cfg.context() + "-token context");
    }
    Buffer x = s.floats(h);
    embedLookup(token, x);
    for (int l = 0; l < layers.length; l++) {
      Layer y = layers[l];
      s.params(l, pos, cfg.heads(), cfg.headDim());
      Buffer xn = s.floats(h);
      rmsNorm(x, y.attnNorm, xn, h);
      Buffer q = s.floats(h);
      Buffer k = s.floats(h);
      Buffer v = s.floats(h);
      matVec(y.wq, xn, q, h, h);
      matVec(y.wk, xn, k, h, h);
      matVec(y.wv, xn, v, h, h);
      writeKv(kv, l, pos, k, v);
      Buffer scores = s.floats((long) cfg.heads() * cfg.context());
      Buffer attn = s.floats(h);
      attention(q, kv, l, pos, scores, attn);
      Buffer o = s.floats(h);
      matVec(y.wo, attn, o, h, h);
      Buffer x2 = s.floats(h);
      add(x, o, x2, h);
      s.params(l, cfg.ffn());
      Buffer xn2 = s.floats(h);
      rmsNorm(x2, y.ffnNorm, xn2, h);
      Buffer gate = s.floats(cfg.ffn());
      Buffer up = s.floats(cfg.ffn());
      matVec(y.wGate, xn2, gate, cfg.ffn(), h);
      matVec(y.wUp, xn2, up, cfg.ffn(), h);
      Buffer act = s.floats(cfg.ffn());
      swiGlu(gate, up, act, cfg.ffn());
      Buffer down = s.floats(h);
      matVec(y.wDown, act, down, h, cfg.ffn());
      Buffer x3 = s.floats(h);
      add(x2, down, x3, h);
      x = x3;
    }
    Buffer xn = s.floats(h);
    rmsNorm(x, finalNorm, xn, h);
    Buffer logits = s.floats(cfg.vocab());
    matVec(lmHead, xn, logits, cfg.vocab(), h);
    Buffer choice = s.params(0);
    return argmax(logits, choice, cfg.vocab());
  }

  // ---------------------------------------------------------------- KERNEL: each would be a GPU kernel

  private void embedLookup(int token, Buffer out) {
    FloatBuffer e = floats(embed);
    FloatBuffer o = floats(out);
    int h = cfg.hidden();
    for (int i = 0; i < h; i++) {
      o.put(i, e.get(token * h + i));
    }
  }

  private static void rmsNorm(Buffer in, Buffer weight, Buffer out, int n) {
    FloatBuffer x = floats(in);
    FloatBuffer w = floats(weight);
    FloatBuffer o = floats(out);
    double ss = 0;
    for (int i = 0; i < n; i++) {
      ss += x.get(i) * x.get(i);
    }
    float inv = (float) (1.0 / Math.sqrt(ss / n + 1e-5));
    for (int i = 0; i < n; i++) {
      o.put(i, x.get(i) * inv * w.get(i));
    }
  }

  private static void matVec(Buffer weight, Buffer in, Buffer out, int rows, int cols) {
    FloatBuffer w = floats(weight);
    FloatBuffer x = floats(in);
    FloatBuffer o = floats(out);
    float[] xs = new float[cols];
    x.get(0, xs);
    for (int r = 0; r < rows; r++) {
      float acc = 0;
      int base = r * cols;
      for (int c = 0; c < cols; c++) {
        acc += w.get(base + c) * xs[c];
      }
      o.put(r, acc);
    }
  }

  private void writeKv(KvCache kv, int layer, int pos, Buffer k, Buffer v) {
    int h = cfg.hidden();
    FloatBuffer kc = floats(kv.keys[layer]);
    FloatBuffer vc = floats(kv.values[layer]);
    FloatBuffer kb = floats(k);
    FloatBuffer vb = floats(v);
    for (int i = 0; i < h; i++) {
      kc.put(pos * h + i, kb.get(i));
      vc.put(pos * h + i, vb.get(i));
    }
  }

  private void attention(Buffer q, KvCache kv, int layer, int pos, Buffer scores, Buffer out) {
    int h = cfg.hidden();
    int d = cfg.headDim();
    FloatBuffer qb = floats(q);
    FloatBuffer kc = floats(kv.keys[layer]);
    FloatBuffer vc = floats(kv.values[layer]);
    FloatBuffer sc = floats(scores);
    FloatBuffer o = floats(out);
    float scale = (float) (1.0 / Math.sqrt(d));
    for (int head = 0; head < cfg.heads(); head++) {
      int row = head * cfg.context();
      float max = Float.NEGATIVE_INFINITY;
      for (int t = 0; t <= pos; t++) {
        float dot = 0;
        for (int i = 0; i < d; i++) {
          dot += qb.get(head * d + i) * kc.get(t * h + head * d + i);
        }
        dot *= scale;
        sc.put(row + t, dot);
        max = Math.max(max, dot);
      }
      float sum = 0;
      for (int t = 0; t <= pos; t++) {
        float e = (float) Math.exp(sc.get(row + t) - max);
        sc.put(row + t, e);
        sum += e;
      }
      for (int i = 0; i < d; i++) {
        float acc = 0;
        for (int t = 0; t <= pos; t++) {
          acc += sc.get(row + t) * vc.get(t * h + head * d + i);
        }
        o.put(head * d + i, acc / sum);
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
