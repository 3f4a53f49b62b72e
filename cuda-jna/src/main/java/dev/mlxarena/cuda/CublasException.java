package dev.mlxarena.cuda;

import java.util.Map;

/**
 * A cuBLAS call failed: carries the call, the {@code cublasStatus_t} and its name, and what was
 * asked, for example {@code cublasGemmEx failed: CUBLAS_STATUS_NOT_SUPPORTED (15) [y = W x, W
 * bf16 2048 x 2048]}.
 */
public class CublasException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private static final Map<Integer, String> NAMES = Map.of(
      1, "CUBLAS_STATUS_NOT_INITIALIZED",
      3, "CUBLAS_STATUS_ALLOC_FAILED",
      7, "CUBLAS_STATUS_INVALID_VALUE",
      8, "CUBLAS_STATUS_ARCH_MISMATCH",
      11, "CUBLAS_STATUS_MAPPING_ERROR",
      13, "CUBLAS_STATUS_EXECUTION_FAILED",
      14, "CUBLAS_STATUS_INTERNAL_ERROR",
      15, "CUBLAS_STATUS_NOT_SUPPORTED",
      16, "CUBLAS_STATUS_LICENSE_ERROR");

  private final int status;

  CublasException(String call, int status, String detail) {
    super(call + " failed: " + statusName(status) + " (" + status + ")"
        + (detail.isEmpty() ? "" : " [" + detail + "]"));
    this.status = status;
  }

  /** The {@code cublasStatus_t}. */
  public int getStatus() {
    return status;
  }

  /** The status's name, for example {@code CUBLAS_STATUS_INVALID_VALUE}. */
  static String statusName(int status) {
    return status == 0 ? "CUBLAS_STATUS_SUCCESS" : NAMES.getOrDefault(status, "cublasStatus " + status);
  }

  static void check(int status, String call, String detail) {
    if (status != CublasNative.CUBLAS_STATUS_SUCCESS) {
      throw new CublasException(call, status, detail);
    }
  }
}
