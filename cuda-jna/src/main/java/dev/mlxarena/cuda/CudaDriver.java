package dev.mlxarena.cuda;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The part of the CUDA driver API ({@code cuda.h}) this backend uses, as JNA direct mappings.
 * {@code CUresult} is an {@code int}; {@code CUdeviceptr} and {@code size_t} are 64-bit {@code
 * long}s (this backend supports 64-bit platforms only); contexts, streams and events are opaque
 * pointers. The {@code _v2} entry points are the ones {@code cuda.h} maps the plain names to.
 *
 * <p>{@link #load()} registers the natives once; until it succeeds no method may be called.
 */
final class CudaDriver {
  static final int CUDA_SUCCESS = 0;
  static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
  static final int CUDA_ERROR_NOT_INITIALIZED = 3;
  static final int CUDA_ERROR_NO_DEVICE = 100;
  static final int CUDA_ERROR_NOT_READY = 600;
  static final int CU_MEMHOSTALLOC_PORTABLE = 0x01;
  static final int CU_MEMHOSTALLOC_DEVICEMAP = 0x02;
  static final int CU_STREAM_NON_BLOCKING = 0x1;
  static final int CU_EVENT_DEFAULT = 0x0;
  static final int CU_EVENT_DISABLE_TIMING = 0x2;
  static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
  static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
  static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
  static final int CU_JIT_ERROR_LOG_BUFFER = 5;
  static final int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
  static final int CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;
  static final int CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT = 5;
  static final int CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH = 6;
  static final int CU_MEMPOOL_ATTR_USED_MEM_CURRENT = 7;
  static final int CU_MEMPOOL_ATTR_USED_MEM_HIGH = 8;

  private static final List<String> NAMES =
      Platform.isWindows() ? List.of("nvcuda") : List.of("cuda", "libcuda.so.1");

  private static final Map<Integer, String> KNOWN_ERRORS = Map.of(
      1, "CUDA_ERROR_INVALID_VALUE",
      2, "CUDA_ERROR_OUT_OF_MEMORY",
      3, "CUDA_ERROR_NOT_INITIALIZED",
      100, "CUDA_ERROR_NO_DEVICE",
      209, "CUDA_ERROR_NO_BINARY_FOR_GPU",
      218, "CUDA_ERROR_INVALID_PTX",
      400, "CUDA_ERROR_INVALID_HANDLE",
      700, "CUDA_ERROR_ILLEGAL_ADDRESS",
      701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
      719, "CUDA_ERROR_LAUNCH_FAILED");

  private static volatile @Nullable Throwable loadFailure;
  private static volatile boolean loaded;
  /** The library the natives were registered against, once loaded. */
  private static volatile @Nullable NativeLibrary library;

  private CudaDriver() {}

  /**
   * Registers the natives against the first driver library found.
   *
   * @return {@code null} on success, else why the driver could not be loaded
   */
  static synchronized @Nullable String load() {
    if (loaded) {
      return null;
    }
    if (loadFailure != null) {
      return loadFailure.getMessage();
    }
    StringBuilder tried = new StringBuilder();
    for (String name : NAMES) {
      try {
        NativeLibrary lib = NativeLibrary.getInstance(name);
        Native.register(CudaDriver.class, lib);
        library = lib;
        loaded = true;
        return null;
      } catch (UnsatisfiedLinkError e) {
        tried.append(tried.length() == 0 ? "" : "; ").append(CudaLibraries.dlopenError(e.getMessage()));
      }
    }
    loadFailure = new UnsatisfiedLinkError(
        "no CUDA driver library (" + String.join(", ", NAMES) + ") could be loaded: " + tried);
    return loadFailure.getMessage();
  }

  static native int cuInit(int flags);

  static native int cuDriverGetVersion(IntByReference version);

  static native int cuDeviceGetCount(IntByReference count);

  static native int cuDeviceGet(IntByReference device, int ordinal);

  static native int cuDeviceGetName(byte[] name, int len, int device);

  static native int cuDeviceTotalMem_v2(LongByReference bytes, int device);

  static native int cuDevicePrimaryCtxRetain(PointerByReference context, int device);

  static native int cuDevicePrimaryCtxRelease_v2(int device);

  static native int cuCtxSetCurrent(Pointer context);

  static native int cuCtxSynchronize();

  static native int cuMemAlloc_v2(LongByReference dptr, long bytes);

  static native int cuMemFree_v2(long dptr);

  static native int cuMemHostAlloc(PointerByReference host, long bytes, int flags);

  static native int cuMemHostGetDevicePointer_v2(LongByReference dptr, Pointer host, int flags);

  static native int cuMemFreeHost(Pointer host);

  static native int cuMemsetD8_v2(long dptr, byte value, long count);

  static native int cuMemcpyHtoD_v2(long dst, Pointer src, long bytes);

  static native int cuMemcpyDtoH_v2(Pointer dst, long src, long bytes);

  static native int cuMemGetInfo_v2(LongByReference free, LongByReference total);

  static native int cuStreamCreate(PointerByReference stream, int flags);

  static native int cuStreamDestroy_v2(Pointer stream);

  static native int cuStreamSynchronize(Pointer stream);

  static native int cuEventCreate(PointerByReference event, int flags);

  static native int cuEventRecord(Pointer event, @Nullable Pointer stream);

  static native int cuEventQuery(Pointer event);

  static native int cuEventSynchronize(Pointer event);

  static native int cuEventDestroy_v2(Pointer event);

  /**
   * The GPU time between two completed events recorded with timing, in milliseconds. The plain
   * name, which every driver exports ({@code cuda.h} 12.8 and later map it to {@code _v2}).
   */
  static native int cuEventElapsedTime(float[] milliseconds, Pointer start, Pointer end);

  static native int cuDeviceGetAttribute(IntByReference value, int attribute, int device);

  static native int cuMemsetD32_v2(long dptr, int value, long count);

  static native int cuMemsetD32Async(long dptr, int value, long count, long stream);

  static native int cuMemsetD8Async(long dptr, byte value, long count, long stream);

  static native int cuMemcpyHtoDAsync_v2(long dst, long src, long bytes, long stream);

  static native int cuMemcpyDtoHAsync_v2(long dst, long src, long bytes, long stream);

  static native int cuMemcpyDtoDAsync_v2(long dst, long src, long bytes, long stream);

  /** {@code dptr} is the address of a {@code CUdeviceptr} the driver writes. */
  static native int cuMemAllocAsync(long dptr, long bytes, long stream);

  static native int cuMemFreeAsync(long dptr, long stream);

  static native int cuDeviceGetDefaultMemPool(PointerByReference pool, int device);

  static native int cuMemPoolSetAttribute(Pointer pool, int attribute, Pointer value);

  static native int cuMemPoolGetAttribute(Pointer pool, int attribute, Pointer value);

  static native int cuMemPoolTrimTo(Pointer pool, long minBytesToKeep);

  static native int cuModuleLoadDataEx(
      PointerByReference module, Pointer image, int numOptions, int[] options, Pointer optionValues);

  static native int cuModuleUnload(Pointer module);

  static native int cuModuleGetFunction(PointerByReference function, Pointer module, String name);

  /**
   * The launch: every handle and pointer as a {@code long}, so that a launch passes primitives
   * only. {@code kernelParams} is the address of an array of pointers, one per kernel parameter.
   */
  static native int cuLaunchKernel(
      long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
      int sharedMemBytes, long stream, long kernelParams, long extra);

  static native int cuGetErrorName(int error, PointerByReference name);

  static native int cuGetErrorString(int error, PointerByReference text);

  /** The driver library, for entry points registered apart ({@link CudaLaunchEx}); null before {@link #load()}. */
  static @Nullable NativeLibrary library() {
    return library;
  }

  /** Whether {@link #load()} succeeded, so that natives may be called. */
  static boolean isLoaded() {
    return loaded;
  }

  /**
   * The error's name, for example {@code CUDA_ERROR_OUT_OF_MEMORY}; from the driver when it is
   * loaded, else from a table of the errors this backend meets most (so messages stay readable in
   * code paths that run without a driver).
   */
  static String errorName(int code) {
    if (!loaded) {
      String known = KNOWN_ERRORS.get(code);
      return known != null ? known : "CUresult " + code;
    }
    PointerByReference p = new PointerByReference();
    return cuGetErrorName(code, p) == CUDA_SUCCESS && p.getValue() != null
        ? p.getValue().getString(0)
        : "CUresult " + code;
  }

  /** The driver's description of the error, or {@code "no driver loaded"} without one. */
  static String errorString(int code) {
    if (!loaded) {
      return "no driver loaded";
    }
    PointerByReference p = new PointerByReference();
    return cuGetErrorString(code, p) == CUDA_SUCCESS && p.getValue() != null
        ? p.getValue().getString(0)
        : "unknown error";
  }
}
