package dev.mlxarena.cuda;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import dev.mlxarena.DeviceUnavailableException;

/**
 * The part of cuBLAS ({@code cublas_api.h}) {@link Cublas} uses, as JNA direct mappings: the
 * matrix calls run once per matrix-vector product of every token, so they take primitives only
 * (handles, device pointers and the host pointers of alpha and beta as {@code long}s; {@code
 * cudaDataType}, {@code cublasOperation_t} and friends as {@code int}s). Registered once against
 * the library {@link CudaLibraries} finds.
 */
final class CublasNative {
  static final int CUBLAS_STATUS_SUCCESS = 0;
  static final int CUBLAS_OP_N = 0;
  static final int CUBLAS_OP_T = 1;
  static final int CUBLAS_DEFAULT_MATH = 0;
  static final int CUBLAS_COMPUTE_32F = 68;
  static final int CUBLAS_GEMM_DEFAULT = -1;
  static final int CUDA_R_32F = 0;
  static final int CUDA_R_16F = 2;
  static final int CUDA_R_16BF = 14;

  private static final LoadOnce<String> LIBRARY = new LoadOnce<>("cuBLAS");

  private CublasNative() {}

  /**
   * Registers the natives, once.
   *
   * @return where cuBLAS was loaded from
   * @throws DeviceUnavailableException if it cannot be found or loaded; the message lists where
   *     it was looked for
   */
  static String load() {
    return LIBRARY.get(() -> {
      CudaLibraries.Loaded<NativeLibrary> lib = CudaLibraries.system().load(CudaLibraries.CUBLAS);
      Native.register(CublasNative.class, lib.library());
      return lib.opened();
    });
  }

  static native int cublasCreate_v2(LongByReference handle);

  static native int cublasDestroy_v2(long handle);

  static native int cublasGetVersion_v2(long handle, IntByReference version);

  static native int cublasSetStream_v2(long handle, long stream);

  static native int cublasSetMathMode(long handle, int mode);

  static native int cublasSetWorkspace_v2(long handle, long workspace, long bytes);

  static native int cublasGemmEx(
      long handle, int transa, int transb, int m, int n, int k, long alpha, long a, int aType,
      int lda, long b, int bType, int ldb, long beta, long c, int cType, int ldc, int computeType,
      int algo);

  static native int cublasSgemv_v2(
      long handle, int trans, int m, int n, long alpha, long a, int lda, long x, int incx,
      long beta, long y, int incy);

  static native int cublasTSTgemvStridedBatched(
      long handle, int trans, int m, int n, long alpha, long a, int lda, long strideA, long x,
      int incx, long strideX, long beta, long y, int incy, long strideY, int batchCount);
}
