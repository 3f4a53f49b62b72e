package dev.mlxarena.cuda;

import java.util.List;

/**
 * NVRTC rejected a kernel source: the message carries the source's name, the architecture, the
 * options and the compiler's log, which says where and why.
 */
public class KernelCompileException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String log;

  KernelCompileException(String source, String architecture, List<String> options, String status, String log) {
    super("NVRTC could not compile " + source + " for " + architecture + " (" + status + "; options "
        + String.join(" ", options) + ")" + (log.isEmpty() ? "" : ":\n" + log));
    this.log = log;
  }

  /** The compiler's log. */
  public String getLog() {
    return log;
  }
}
