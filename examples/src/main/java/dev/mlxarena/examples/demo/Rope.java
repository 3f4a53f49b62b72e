package dev.mlxarena.examples.demo;

/**
 * Rotary position tables: for position {@code p} and pair {@code j < headDim / 2}, the cosine and
 * sine of {@code p * 10000^(-2j / headDim)}, computed once in double and stored as floats, so that
 * the host and the GPU rotate with the same numbers. Pairs are rotate-half pairs ({@code j, j +
 * headDim / 2}), as in Llama.
 */
final class Rope {
  static final double THETA = 10000.0;

  final int half;
  final float[] cos;
  final float[] sin;

  private Rope(int half, float[] cos, float[] sin) {
    this.half = half;
    this.cos = cos;
    this.sin = sin;
  }

  static Rope of(int headDim, int context) {
    int half = headDim / 2;
    float[] cos = new float[context * half];
    float[] sin = new float[context * half];
    for (int p = 0; p < context; p++) {
      for (int j = 0; j < half; j++) {
        double angle = p * Math.pow(THETA, -2.0 * j / headDim);
        cos[p * half + j] = (float) Math.cos(angle);
        sin[p * half + j] = (float) Math.sin(angle);
      }
    }
    return new Rope(half, cos, sin);
  }

  /** Rotates {@code in[base .. base + 2 * half)} at position {@code pos} into {@code out} at {@code outBase}. */
  void rotate(float[] in, int base, int pos, float[] out, int outBase) {
    for (int j = 0; j < half; j++) {
      float c = cos[pos * half + j];
      float s = sin[pos * half + j];
      float x1 = in[base + j];
      float x2 = in[base + j + half];
      out[outBase + j] = x1 * c - x2 * s;
      out[outBase + j + half] = x2 * c + x1 * s;
    }
  }
}
