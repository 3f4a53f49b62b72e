package dev.mlxarena.examples.demo;

/**
 * bf16, the upper half of an F32, as the kernels convert it: widening is a shift, narrowing rounds
 * to nearest even and keeps NaN a quiet NaN. The host references of the GPU tests round with it
 * wherever a kernel stores bf16.
 */
final class Bf16 {
  private Bf16() {}

  static float toFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  static short fromFloat(float value) {
    int f = Float.floatToRawIntBits(value);
    if ((f & 0x7fffffff) > 0x7f800000) {
      return (short) ((f >>> 16) | 0x40);
    }
    return (short) ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16);
  }

  /** {@code value} rounded to the nearest bf16, as a float. */
  static float round(float value) {
    return toFloat(fromFloat(value));
  }
}
