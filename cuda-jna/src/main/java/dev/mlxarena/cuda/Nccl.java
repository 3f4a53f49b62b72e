package dev.mlxarena.cuda;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.mlxarena.DType;
import dev.mlxarena.DeviceUnavailableException;
import org.jspecify.annotations.Nullable;

/**
 * NCCL, NVIDIA's collectives across GPUs, as a library: its version, where it was loaded from,
 * unique ids for communicators, and group calls. Communicators are {@link NcclComm}s.
 *
 * <p>NCCL is not part of the driver: it is found like NVRTC and cuBLAS ({@code libnccl.so.2}
 * through {@link CudaLibraries}: {@code -Dmlxarena.cuda.libraryPath}, the toolkit, the pip layout
 * of {@code nvidia-nccl-cu13} ({@code nvidia/nccl/lib}), {@code $LD_LIBRARY_PATH}, the system
 * loader), at first use; when it is missing, every call here throws {@link
 * DeviceUnavailableException} listing the places tried. NCCL reads its settings from the
 * environment when it makes its first communicator ({@code NCCL_DEBUG}, {@code NCCL_NVLS_ENABLE},
 * ...): set them before starting the JVM.
 */
public final class Nccl {
  private Nccl() {}

  /**
   * NCCL's version code as {@code ncclGetVersion} gives it: {@code major * 10000 + minor * 100 +
   * patch} (22705 for 2.27.5; before 2.9, {@code major * 1000 + minor * 100 + patch}).
   *
   * @throws DeviceUnavailableException if NCCL cannot be loaded
   */
  public static int version() {
    return NcclNative.load().version();
  }

  /** The version as {@code major.minor.patch}, for example {@code 2.27.5}. */
  public static String versionString() {
    return versionString(version());
  }

  /** {@code code} (an {@code ncclGetVersion} code) as {@code major.minor.patch}. */
  static String versionString(int code) {
    if (code < 10000) {
      return code / 1000 + "." + code / 100 % 10 + "." + code % 100;
    }
    return code / 10000 + "." + code / 100 % 100 + "." + code % 100;
  }

  /** Where NCCL was loaded from. */
  public static String libraryPath() {
    return NcclNative.load().path();
  }

  /** A fresh unique id for {@link NcclComm#initRanks} ({@code ncclGetUniqueId}). */
  public static NcclUniqueId uniqueId() {
    NcclNative.UniqueId id = new NcclNative.UniqueId();
    check(api().ncclGetUniqueId(id), "ncclGetUniqueId", null, "");
    id.read();
    return new NcclUniqueId(id.internal);
  }

  /**
   * Runs {@code calls} between {@code ncclGroupStart} and {@code ncclGroupEnd}: collectives of
   * several ranks issued from one thread are enqueued together at the end, as NCCL requires (with
   * one thread per rank, no group is needed). The group is ended even when {@code calls} throws.
   */
  public static void group(Runnable calls) {
    NcclNative.load();
    check(NcclNative.ncclGroupStart(), "ncclGroupStart", null, "");
    RuntimeException failure = null;
    try {
      calls.run();
    } catch (RuntimeException e) {
      failure = e;
    }
    int rc = NcclNative.ncclGroupEnd();
    if (failure != null) {
      throw failure;
    }
    check(rc, "ncclGroupEnd", null, "");
  }

  /** NCCL's description of an {@code ncclResult_t}, from {@code ncclGetErrorString}. */
  public static String errorString(int result) {
    return api().ncclGetErrorString(result);
  }

  /** The C library's environment calls. */
  private interface LibC extends Library {
    @Nullable String getenv(String name);

    int setenv(String name, String value, int overwrite);
  }

  /**
   * Sets {@code name} to {@code value} in this process's environment unless it is set already, and
   * returns the value in force. NCCL reads its settings ({@code NCCL_*}) from the environment when
   * it makes its first communicator, and Java cannot change its own environment: this is how a
   * program chooses a default before that, for example {@code NCCL_NVLS_ENABLE=0} to keep NVLink
   * multicast off. Linux and macOS (NCCL runs on Linux).
   */
  public static String environmentDefault(String name, String value) {
    LibC c = Native.load("c", LibC.class);
    String now = c.getenv(name);
    if (now != null) {
      return now;
    }
    if (c.setenv(name, value, 0) != 0) {
      throw new IllegalStateException("setenv(" + name + ") failed: errno " + Native.getLastError());
    }
    String set = c.getenv(name);
    return set == null ? value : set;
  }

  /** The {@code ncclDataType_t} of {@code dtype}. */
  static int dataType(DType dtype) {
    switch (dtype) {
      case F32:
        return NcclNative.NCCL_FLOAT32;
      case BF16:
        return NcclNative.NCCL_BFLOAT16;
      case F16:
        return NcclNative.NCCL_FLOAT16;
      case F64:
        return NcclNative.NCCL_FLOAT64;
      case I32:
        return NcclNative.NCCL_INT32;
      case I64:
        return NcclNative.NCCL_INT64;
      default:
        throw new IllegalArgumentException("NCCL reduces f32, bf16, f16, f64, i32 and i64, not " + dtype.shortName());
    }
  }

  static NcclNative.Api api() {
    return NcclNative.load().api();
  }

  /**
   * Throws for any result other than {@code ncclSuccess}, with NCCL's description and its last
   * error (for {@code comm}, or the library's when null).
   */
  static void check(int rc, String call, @Nullable Pointer comm, String detail) {
    if (rc != NcclNative.NCCL_SUCCESS) {
      throw failure(rc, call, comm, detail);
    }
  }

  static NcclException failure(int rc, String call, @Nullable Pointer comm, String detail) {
    NcclNative.Api api = api();
    String last;
    try {
      last = api.ncclGetLastError(comm);
    } catch (UnsatisfiedLinkError e) {
      last = null; // NCCL before 2.13 has no last error
    }
    return new NcclException(call, rc, api.ncclGetErrorString(rc), last, detail);
  }
}
