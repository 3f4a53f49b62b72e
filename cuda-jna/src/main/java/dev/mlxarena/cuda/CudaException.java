package dev.mlxarena.cuda;

/**
 * A CUDA driver call failed: carries the call, the {@code CUresult}, its name and the driver's
 * message, for example {@code cuMemsetD8_v2 failed: CUDA_ERROR_INVALID_VALUE (1): invalid
 * argument}.
 */
public class CudaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String call;
  private final int code;

  CudaException(String call, int code, String detail) {
    super(call + " failed: " + CudaDriver.errorName(code) + " (" + code + "): "
        + CudaDriver.errorString(code) + (detail.isEmpty() ? "" : " [" + detail + "]"));
    this.call = call;
    this.code = code;
  }

  /** The driver function that failed. */
  public String getCall() {
    return call;
  }

  /** The {@code CUresult}. */
  public int getCode() {
    return code;
  }

  /** Throws for any result other than {@code CUDA_SUCCESS}. */
  static void check(int code, String call) {
    if (code != CudaDriver.CUDA_SUCCESS) {
      throw new CudaException(call, code, "");
    }
  }

  /** Throws for any result other than {@code CUDA_SUCCESS}, with what the call was about. */
  static void check(int code, String call, String detail) {
    if (code != CudaDriver.CUDA_SUCCESS) {
      throw new CudaException(call, code, detail);
    }
  }
}
