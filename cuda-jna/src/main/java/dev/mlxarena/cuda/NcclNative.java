package dev.mlxarena.cuda;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import dev.mlxarena.DeviceUnavailableException;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The part of NCCL ({@code nccl.h}) this backend uses. The collective and the group calls run on
 * every layer of every token, so they are JNA direct mappings with primitive arguments only
 * (communicator, device pointers and stream as {@code long}s; {@code ncclDataType_t} and {@code
 * ncclRedOp_t} as {@code int}s); the rest (set-up, registration, errors) runs once per
 * communicator or per buffer and goes through an interface mapping, which also passes the unique
 * id by value. Loaded once per process from where {@link CudaLibraries} finds {@code libnccl.so.2}.
 */
final class NcclNative {
  static final int NCCL_SUCCESS = 0;
  static final int NCCL_INVALID_ARGUMENT = 4;
  static final int NCCL_UNIQUE_ID_BYTES = 128;

  /** {@code ncclDataType_t} values. */
  static final int NCCL_INT32 = 2;
  static final int NCCL_INT64 = 4;
  static final int NCCL_FLOAT16 = 6;
  static final int NCCL_FLOAT32 = 7;
  static final int NCCL_FLOAT64 = 8;
  static final int NCCL_BFLOAT16 = 9;

  /** The names of {@code ncclResult_t}, by value. */
  static final List<String> RESULT_NAMES = List.of(
      "ncclSuccess", "ncclUnhandledCudaError", "ncclSystemError", "ncclInternalError",
      "ncclInvalidArgument", "ncclInvalidUsage", "ncclRemoteError", "ncclInProgress", "ncclTimeout");

  /** {@code ncclUniqueId}: 128 opaque bytes, passed by value to {@code ncclCommInitRank}. */
  @Structure.FieldOrder("internal")
  public static class UniqueId extends Structure {
    public byte[] internal = new byte[NCCL_UNIQUE_ID_BYTES];

    /** The same layout passed by value. */
    public static final class ByValue extends UniqueId implements Structure.ByValue {}
  }

  /** The calls made once per communicator or buffer. */
  interface Api extends Library {
    int ncclGetVersion(IntByReference version);

    int ncclGetUniqueId(UniqueId id);

    /** {@code comms} has room for {@code ndev} handles. */
    int ncclCommInitAll(Pointer comms, int ndev, int[] devlist);

    int ncclCommInitRank(PointerByReference comm, int nranks, UniqueId.ByValue id, int rank);

    int ncclCommDestroy(Pointer comm);

    int ncclCommAbort(Pointer comm);

    int ncclCommCount(Pointer comm, IntByReference count);

    int ncclCommCuDevice(Pointer comm, IntByReference device);

    int ncclCommUserRank(Pointer comm, IntByReference rank);

    int ncclCommGetAsyncError(Pointer comm, IntByReference asyncError);

    int ncclCommRegister(Pointer comm, long buffer, long bytes, PointerByReference handle);

    int ncclCommDeregister(Pointer comm, @Nullable Pointer handle);

    String ncclGetErrorString(int result);

    @Nullable String ncclGetLastError(@Nullable Pointer comm);
  }

  /** The library: its interface mapping and where it was loaded from. */
  record Loaded(Api api, String path, int version) {}

  private static final LoadOnce<Loaded> LIBRARY = new LoadOnce<>("NCCL");

  private NcclNative() {}

  /**
   * Loads NCCL and registers the direct mappings, once.
   *
   * @throws DeviceUnavailableException if it cannot be found or loaded; the message lists where
   *     it was looked for
   */
  static Loaded load() {
    return LIBRARY.get(() -> {
      CudaLibraries.Loaded<NativeLibrary> lib = CudaLibraries.system().load(CudaLibraries.NCCL);
      Native.register(NcclNative.class, lib.library());
      Api api = Native.load(lib.opened(), Api.class);
      IntByReference v = new IntByReference();
      int rc = api.ncclGetVersion(v);
      if (rc != NCCL_SUCCESS) {
        throw new IllegalStateException("ncclGetVersion failed: " + resultName(rc) + " (" + rc + ")");
      }
      return new Loaded(api, lib.opened(), v.getValue());
    });
  }

  /** The name of an {@code ncclResult_t}, for example {@code ncclInvalidArgument}. */
  static String resultName(int result) {
    return result >= 0 && result < RESULT_NAMES.size() ? RESULT_NAMES.get(result) : "ncclResult " + result;
  }

  /** {@code ncclAllReduce}: enqueued on {@code stream}; returns once enqueued. */
  static native int ncclAllReduce(long send, long recv, long count, int datatype, int op, long comm, long stream);

  static native int ncclGroupStart();

  static native int ncclGroupEnd();
}
