package dev.mlxarena.cuda;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import dev.mlxarena.DType;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.DeviceUnavailableException;

/**
 * A cuBLAS handle bound to one {@link CudaStream}: its products are enqueued in order with the
 * stream's kernels.
 *
 * <h2>Matrix-vector products (batch-1 decode)</h2>
 * {@link #matvec} computes {@code y = W x} for a row-major weight {@code W[rows][cols]}, the shape
 * of every projection of a decoder at batch 1, with {@code cublasGemmEx}: {@code W} is, in cuBLAS's
 * column-major terms, a {@code cols x rows} matrix with leading dimension {@code cols}, so the call
 * is {@code op(A) = A^T}, {@code m = rows}, {@code n = 1}, {@code k = cols}. With {@code n = 1}
 * cuBLAS's heuristics pick its GEMV kernels, which stream {@code W} once and are bound by memory
 * bandwidth, as a matrix-vector product must be; a GEMM tile built for {@code n >= 8} would
 * compute mostly padding. {@code GemmEx} also serves both element types through one entry point,
 * where classic cuBLAS has no plain bf16 GEMV. {@link #gemv} runs the same product through the
 * GEMV entry points ({@code cublasSgemv}; {@code cublasTSTgemvStridedBatched} with one batch for
 * bf16) so that the two can be timed side by side.
 *
 * <p>Arithmetic is fp32 ({@code CUBLAS_COMPUTE_32F}) with the default math mode, which allows no
 * TF32: fp32 products match a CPU's to rounding; bf16 inputs and outputs accumulate in fp32.
 *
 * <p>cuBLAS gets its workspace from this handle ({@value #WORKSPACE_BYTES} bytes, what PyTorch
 * gives it on Hopper) instead of allocating its own behind the caller's back. A handle is used by
 * one thread at a time.
 */
public final class Cublas implements AutoCloseable {
  /** The workspace given to cuBLAS. */
  public static final long WORKSPACE_BYTES = 32L << 20;

  private final CudaStream stream;
  private final long handle;
  private final DeviceBuffer workspace;
  private final Memory scalars = new Memory(8);
  private final long one;
  private final long zero;
  private final int version;
  private boolean closed;

  private Cublas(CudaStream stream, long handle, DeviceBuffer workspace, int version) {
    this.stream = stream;
    this.handle = handle;
    this.workspace = workspace;
    this.version = version;
    scalars.setFloat(0, 1f);
    scalars.setFloat(4, 0f);
    this.one = Pointer.nativeValue(scalars);
    this.zero = one + 4;
  }

  /**
   * A handle whose work goes to {@code stream}.
   *
   * @throws DeviceUnavailableException if cuBLAS cannot be loaded; the message lists where it was
   *     looked for
   */
  public static Cublas create(CudaStream stream) {
    CublasNative.load();
    CudaDevice device = stream.device();
    device.makeCurrent();
    LongByReference h = new LongByReference();
    CublasException.check(CublasNative.cublasCreate_v2(h), "cublasCreate_v2", device.name());
    long handle = h.getValue();
    DeviceBuffer workspace = null;
    try {
      CublasException.check(CublasNative.cublasSetStream_v2(handle, stream.handle()), "cublasSetStream_v2", "");
      CublasException.check(CublasNative.cublasSetMathMode(handle, CublasNative.CUBLAS_DEFAULT_MATH),
          "cublasSetMathMode", "");
      workspace = device.allocate(WORKSPACE_BYTES);
      CublasException.check(CublasNative.cublasSetWorkspace_v2(handle, workspace.nativeHandle(), WORKSPACE_BYTES),
          "cublasSetWorkspace_v2", WORKSPACE_BYTES + " bytes");
      IntByReference v = new IntByReference();
      CublasException.check(CublasNative.cublasGetVersion_v2(handle, v), "cublasGetVersion_v2", "");
      return new Cublas(stream, handle, workspace, v.getValue());
    } catch (RuntimeException e) {
      CublasNative.cublasDestroy_v2(handle);
      if (workspace != null) {
        device.free(workspace);
      }
      throw e;
    }
  }

  /** cuBLAS's version as {@code major * 10000 + minor * 100 + patch}, for example 130001. */
  public int version() {
    return version;
  }

  /** The version as {@code major.minor.patch}, for example {@code 13.0.1}. */
  public String versionString() {
    return version / 10000 + "." + version / 100 % 100 + "." + version % 100;
  }

  /** Where cuBLAS was loaded from. */
  public static String libraryPath() {
    return CublasNative.load();
  }

  /**
   * Enqueues {@code y = W x} with {@code cublasGemmEx} (see the class comment).
   *
   * @param dtype {@link DType#F32} or {@link DType#BF16}: the type of {@code W}, {@code x} and
   *     {@code y}
   * @param w device pointer to {@code W[rows][cols]}, row-major
   * @param x device pointer to {@code x[cols]}
   * @param y device pointer to {@code y[rows]}
   */
  public void matvec(DType dtype, long w, long x, long y, int rows, int cols) {
    int type = dataType(dtype);
    requireOpen();
    stream.device().makeCurrent();
    int status = CublasNative.cublasGemmEx(handle, CublasNative.CUBLAS_OP_T, CublasNative.CUBLAS_OP_N,
        rows, 1, cols, one, w, type, cols, x, type, cols, zero, y, type, rows,
        CublasNative.CUBLAS_COMPUTE_32F, CublasNative.CUBLAS_GEMM_DEFAULT);
    if (status != CublasNative.CUBLAS_STATUS_SUCCESS) {
      throw new CublasException("cublasGemmEx", status, describe(dtype, rows, cols));
    }
  }

  /**
   * Enqueues {@code y = W x} like {@link #matvec}, through cuBLAS's GEMV entry points: {@code
   * cublasSgemv} for F32, {@code cublasTSTgemvStridedBatched} (bf16 in and out, fp32 compute)
   * with one batch for BF16.
   */
  public void gemv(DType dtype, long w, long x, long y, int rows, int cols) {
    dataType(dtype);
    requireOpen();
    stream.device().makeCurrent();
    int status;
    String call;
    if (dtype == DType.F32) {
      call = "cublasSgemv_v2";
      status = CublasNative.cublasSgemv_v2(handle, CublasNative.CUBLAS_OP_T, cols, rows, one, w, cols,
          x, 1, zero, y, 1);
    } else {
      call = "cublasTSTgemvStridedBatched";
      status = CublasNative.cublasTSTgemvStridedBatched(handle, CublasNative.CUBLAS_OP_T, cols, rows,
          one, w, cols, (long) rows * cols, x, 1, cols, zero, y, 1, rows, 1);
    }
    if (status != CublasNative.CUBLAS_STATUS_SUCCESS) {
      throw new CublasException(call, status, describe(dtype, rows, cols));
    }
  }

  private static int dataType(DType dtype) {
    switch (dtype) {
      case F32:
        return CublasNative.CUDA_R_32F;
      case BF16:
        return CublasNative.CUDA_R_16BF;
      default:
        throw new IllegalArgumentException("matrix-vector products take F32 or BF16, not " + dtype);
    }
  }

  private static String describe(DType dtype, int rows, int cols) {
    return "y = W x, W " + dtype.shortName() + " " + rows + " x " + cols;
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("this cuBLAS handle is closed");
    }
  }

  /** Destroys the handle and frees its workspace. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    stream.device().makeCurrent();
    int status = CublasNative.cublasDestroy_v2(handle);
    stream.synchronize();
    stream.device().free(workspace);
    CublasException.check(status, "cublasDestroy_v2", "");
  }
}
