package dev.mlxarena.cuda;

import org.jspecify.annotations.Nullable;

/**
 * An NCCL call failed: carries the call, the {@code ncclResult_t}, its name, NCCL's description
 * of it, its last error message when it has one, and what was asked, for example {@code
 * ncclAllReduce failed: ncclInvalidArgument (4): invalid argument (run with NCCL_DEBUG=WARN for
 * details); last error: Invalid type 99 [4096 elements on rank 0 of 2]}.
 */
public class NcclException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String call;
  private final int result;

  NcclException(String call, int result, String description, @Nullable String lastError, String detail) {
    super(call + " failed: " + NcclNative.resultName(result) + " (" + result + "): " + description
        + (lastError == null || lastError.isBlank() ? "" : "; last error: " + lastError.trim())
        + (detail.isEmpty() ? "" : " [" + detail + "]"));
    this.call = call;
    this.result = result;
  }

  /** The NCCL function that failed. */
  public String getCall() {
    return call;
  }

  /** The {@code ncclResult_t}. */
  public int getResult() {
    return result;
  }
}
