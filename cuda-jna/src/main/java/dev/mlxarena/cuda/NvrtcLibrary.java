package dev.mlxarena.cuda;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import dev.mlxarena.DeviceUnavailableException;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * NVRTC through JNA. Interface mapping is enough here: compiling happens once per kernel source
 * and architecture, never on the decode path. Loaded once per process ({@link CudaLibraries}
 * finds it); a failed load is remembered and reported the same way each time.
 */
final class NvrtcLibrary implements Nvrtc {

  /** The part of {@code nvrtc.h} used here; {@code size_t} is 64-bit. */
  interface Api extends Library {
    int nvrtcVersion(IntByReference major, IntByReference minor);

    int nvrtcGetNumSupportedArchs(IntByReference count);

    int nvrtcGetSupportedArchs(int[] archs);

    int nvrtcCreateProgram(
        PointerByReference program, String source, String name, int numHeaders,
        @Nullable Pointer headers, @Nullable Pointer includeNames);

    int nvrtcCompileProgram(Pointer program, int numOptions, String[] options);

    int nvrtcGetProgramLogSize(Pointer program, LongByReference size);

    int nvrtcGetProgramLog(Pointer program, byte[] log);

    int nvrtcGetPTXSize(Pointer program, LongByReference size);

    int nvrtcGetPTX(Pointer program, byte[] ptx);

    int nvrtcGetCUBINSize(Pointer program, LongByReference size);

    int nvrtcGetCUBIN(Pointer program, byte[] cubin);

    int nvrtcDestroyProgram(PointerByReference program);

    String nvrtcGetErrorString(int result);
  }

  private static final LoadOnce<NvrtcLibrary> LIBRARY = new LoadOnce<>("NVRTC");

  private final Api api;
  private final String path;
  private final String version;
  private final int[] architectures;

  private NvrtcLibrary(Api api, String path) {
    this.api = api;
    this.path = path;
    IntByReference major = new IntByReference();
    IntByReference minor = new IntByReference();
    require(api.nvrtcVersion(major, minor), "nvrtcVersion");
    this.version = major.getValue() + "." + minor.getValue();
    IntByReference n = new IntByReference();
    require(api.nvrtcGetNumSupportedArchs(n), "nvrtcGetNumSupportedArchs");
    int[] archs = new int[n.getValue()];
    require(api.nvrtcGetSupportedArchs(archs), "nvrtcGetSupportedArchs");
    Arrays.sort(archs);
    this.architectures = archs;
  }

  /**
   * NVRTC, loaded on first use.
   *
   * @throws DeviceUnavailableException if it cannot be found or loaded; the message lists where
   *     it was looked for
   */
  static NvrtcLibrary load() {
    return LIBRARY.get(() -> {
      CudaLibraries.Loaded<NativeLibrary> lib = CudaLibraries.system().load(CudaLibraries.NVRTC);
      return new NvrtcLibrary(Native.load(lib.opened(), Api.class), lib.opened());
    });
  }

  /** Where the library was loaded from. */
  String path() {
    return path;
  }

  @Override
  public String version() {
    return version;
  }

  @Override
  public int[] architectures() {
    return architectures.clone();
  }

  @Override
  public Output compile(String source, String name, List<String> options) {
    PointerByReference program = new PointerByReference();
    int rc = api.nvrtcCreateProgram(program, source, name, 0, null, null);
    if (rc != 0) {
      return new Output(rc, api.nvrtcGetErrorString(rc), "", null, null);
    }
    Pointer p = program.getValue();
    try {
      rc = api.nvrtcCompileProgram(p, options.size(), options.toArray(new String[0]));
      String log = log(p);
      if (rc != 0) {
        return new Output(rc, api.nvrtcGetErrorString(rc), log, null, null);
      }
      LongByReference size = new LongByReference();
      byte[] cubin = null;
      if (api.nvrtcGetCUBINSize(p, size) == 0 && size.getValue() > 0) {
        cubin = new byte[Math.toIntExact(size.getValue())];
        require(api.nvrtcGetCUBIN(p, cubin), "nvrtcGetCUBIN");
      }
      require(api.nvrtcGetPTXSize(p, size), "nvrtcGetPTXSize");
      byte[] ptx = new byte[Math.toIntExact(size.getValue())];
      require(api.nvrtcGetPTX(p, ptx), "nvrtcGetPTX");
      return new Output(0, "NVRTC_SUCCESS", log, ptx, cubin);
    } finally {
      api.nvrtcDestroyProgram(program);
    }
  }

  private String log(Pointer program) {
    LongByReference size = new LongByReference();
    if (api.nvrtcGetProgramLogSize(program, size) != 0 || size.getValue() <= 1) {
      return "";
    }
    byte[] log = new byte[Math.toIntExact(size.getValue())];
    api.nvrtcGetProgramLog(program, log);
    return Native.toString(log).trim();
  }

  private void require(int rc, String call) {
    if (rc != 0) {
      throw new IllegalStateException(call + " failed: " + api.nvrtcGetErrorString(rc) + " (" + rc + ")");
    }
  }

  @Override
  public String toString() {
    return "NVRTC " + version + " (" + path + ")";
  }
}
