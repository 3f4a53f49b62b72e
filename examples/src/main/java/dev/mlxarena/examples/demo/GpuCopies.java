package dev.mlxarena.examples.demo;

import dev.mlxarena.DType;
import dev.mlxarena.cuda.CudaStream;
import dev.mlxarena.cuda.PinnedHostBuffer;
import java.nio.ByteBuffer;

/**
 * Copies between host arrays and device memory in stream order, through pinned staging, for what
 * is not on the decode path: test inputs and outputs, and logits taps. F32 goes as is; BF16 is
 * converted with {@link Bf16}.
 */
final class GpuCopies {
  private GpuCopies() {}

  /** Waits for the stream, then returns {@code n} elements at {@code src} as floats. */
  static float[] toFloats(CudaStream stream, long src, int n, DType dtype) {
    long bytes = (long) n * dtype.byteSize();
    try (PinnedHostBuffer host = PinnedHostBuffer.allocate(stream.device(), bytes)) {
      stream.copyToHost(host, 0, src, bytes);
      stream.synchronize();
      ByteBuffer b = host.asByteBuffer();
      float[] out = new float[n];
      for (int i = 0; i < n; i++) {
        out[i] = dtype == DType.F32 ? b.getFloat(4 * i) : Bf16.toFloat(b.getShort(2 * i));
      }
      return out;
    }
  }

  /** Waits for the stream, then returns {@code n} ints at {@code src}. */
  static int[] toInts(CudaStream stream, long src, int n) {
    try (PinnedHostBuffer host = PinnedHostBuffer.allocate(stream.device(), 4L * n)) {
      stream.copyToHost(host, 0, src, 4L * n);
      stream.synchronize();
      int[] out = new int[n];
      for (int i = 0; i < n; i++) {
        out[i] = host.getInt(4L * i);
      }
      return out;
    }
  }

  /** Writes {@code values} at {@code dst} (BF16 rounded to nearest even) and waits for it. */
  static void fromFloats(CudaStream stream, long dst, float[] values, DType dtype) {
    long bytes = (long) values.length * dtype.byteSize();
    try (PinnedHostBuffer host = PinnedHostBuffer.allocate(stream.device(), bytes)) {
      ByteBuffer b = host.asByteBuffer();
      for (int i = 0; i < values.length; i++) {
        if (dtype == DType.F32) {
          b.putFloat(4 * i, values[i]);
        } else {
          b.putShort(2 * i, Bf16.fromFloat(values[i]));
        }
      }
      stream.copyToDevice(dst, host, 0, bytes);
      stream.synchronize();
    }
  }

  /** Writes {@code values} at {@code dst} and waits for it. */
  static void fromInts(CudaStream stream, long dst, int[] values) {
    try (PinnedHostBuffer host = PinnedHostBuffer.allocate(stream.device(), 4L * values.length)) {
      ByteBuffer b = host.asByteBuffer();
      for (int i = 0; i < values.length; i++) {
        b.putInt(4 * i, values[i]);
      }
      stream.copyToDevice(dst, host, 0, 4L * values.length);
      stream.synchronize();
    }
  }
}
