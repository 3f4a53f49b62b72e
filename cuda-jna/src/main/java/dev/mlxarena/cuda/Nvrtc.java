package dev.mlxarena.cuda;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The runtime compiler as {@link KernelCompiler} uses it: NVRTC itself ({@link NvrtcLibrary}), or
 * a stand-in where there is none (tests of the compiler's caching and error reporting).
 */
interface Nvrtc {

  /** NVRTC's version, for example {@code "13.0"}: part of every cache key. */
  String version();

  /** The real architectures it compiles for, as {@code 10 * major + minor}, ascending. */
  int[] architectures();

  /** Compiles; a compile error is a result with the compiler's log, not an exception. */
  Output compile(String source, String name, List<String> options);

  /**
   * What a compilation produced.
   *
   * @param status the {@code nvrtcResult} of the failing call, 0 on success
   * @param statusName its name, for example {@code NVRTC_ERROR_COMPILATION}
   * @param log the compiler's log (warnings on success)
   * @param ptx the PTX, on success
   * @param cubin the CUBIN, on success for a real architecture ({@code sm_XY}); else null
   */
  record Output(int status, String statusName, String log, byte @Nullable [] ptx, byte @Nullable [] cubin) {
    boolean ok() {
      return status == 0;
    }
  }
}
