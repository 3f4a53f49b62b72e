package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** cuBLAS matrix-vector products on the stream, against a CPU reference. */
@RequiresCuda
class CublasTest {

  @Test
  void matvecAndGemvMatchTheCpuInF32AndBf16() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        Cublas blas = Cublas.create(stream);
        BufferPool pool = BufferPool.create(gpu)) {
      assertTrue(blas.version() >= 110000, "cuBLAS " + blas.version());
      int rows = 300;
      int cols = 256;
      SplittableRandom rnd = new SplittableRandom(3);
      float[] w = new float[rows * cols];
      float[] x = new float[cols];
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) rnd.nextDouble(-1, 1);
      }
      for (int i = 0; i < cols; i++) {
        x[i] = (float) rnd.nextDouble(-1, 1);
      }
      for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
        float[] wq = dtype == DType.F32 ? w : roundBf16(w);
        float[] xq = dtype == DType.F32 ? x : roundBf16(x);
        float[] ref = new float[rows];
        double max = 0;
        for (int r = 0; r < rows; r++) {
          double acc = 0;
          for (int c = 0; c < cols; c++) {
            acc += (double) wq[r * cols + c] * xq[c];
          }
          ref[r] = (float) acc;
          max = Math.max(max, Math.abs(acc));
        }
        Buffer bw = upload(pool, dtype, wq);
        Buffer bx = upload(pool, dtype, xq);
        Buffer y1 = pool.alloc((long) rows * dtype.byteSize(), dtype, rows);
        Buffer y2 = pool.alloc((long) rows * dtype.byteSize(), dtype, rows);
        blas.matvec(dtype, bw.nativeHandle(), bx.nativeHandle(), y1.nativeHandle(), rows, cols);
        blas.gemv(dtype, bw.nativeHandle(), bx.nativeHandle(), y2.nativeHandle(), rows, cols);
        stream.synchronize();
        double tolerance = dtype == DType.F32 ? 1e-5 : 1e-2;
        for (Buffer y : new Buffer[] {y1, y2}) {
          float[] got = download(y, dtype, rows);
          double err = 0;
          for (int r = 0; r < rows; r++) {
            err = Math.max(err, Math.abs(got[r] - ref[r]) / max);
          }
          assertTrue(err < tolerance, dtype + ": relative error " + err);
        }
      }
    }
  }

  private static float[] roundBf16(float[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      int bits = Float.floatToRawIntBits(v[i]);
      bits += 0x7fff + ((bits >>> 16) & 1);
      out[i] = Float.intBitsToFloat(bits & 0xffff0000);
    }
    return out;
  }

  private static float[] download(Buffer b, DType dtype, int n) {
    float[] out = new float[n];
    if (dtype == DType.F32) {
      b.copyTo(out);
    } else {
      short[] bits = new short[n];
      b.copyTo(bits);
      for (int i = 0; i < n; i++) {
        out[i] = Float.intBitsToFloat((bits[i] & 0xffff) << 16);
      }
    }
    return out;
  }

  private static Buffer upload(BufferPool pool, DType dtype, float[] values) {
    Buffer b = pool.alloc((long) values.length * dtype.byteSize(), dtype, values.length);
    if (dtype == DType.F32) {
      b.copyFrom(values);
    } else {
      short[] bits = new short[values.length];
      for (int i = 0; i < values.length; i++) {
        bits[i] = (short) (Float.floatToRawIntBits(values[i]) >>> 16);
      }
      b.copyFrom(bits);
    }
    return b;
  }
}
