package dev.mlxarena.cuda;

import java.util.Objects;

/**
 * A compiled kernel source, ready for {@link CudaModule#load}: CUBIN for the GPU's own
 * architecture, or PTX that the driver finishes compiling when NVRTC does not know the GPU.
 */
public final class KernelImage {
  private final String name;
  private final String architecture;
  private final boolean cubin;
  private final byte[] bytes;
  private final String log;
  private final boolean cached;

  KernelImage(String name, String architecture, boolean cubin, byte[] bytes, String log, boolean cached) {
    this.name = Objects.requireNonNull(name, "name");
    this.architecture = Objects.requireNonNull(architecture, "architecture");
    this.cubin = cubin;
    this.bytes = bytes.clone();
    this.log = log;
    this.cached = cached;
  }

  /** The source's name. */
  public String name() {
    return name;
  }

  /** What it was compiled for: {@code sm_90} (CUBIN), or {@code compute_90} (PTX). */
  public String architecture() {
    return architecture;
  }

  /** Whether the image is CUBIN (machine code); else PTX. */
  public boolean isCubin() {
    return cubin;
  }

  /** The image's bytes (PTX without a terminating NUL). */
  public byte[] bytes() {
    return bytes.clone();
  }

  int size() {
    return bytes.length;
  }

  byte[] bytesUnsafe() {
    return bytes;
  }

  /** The compiler's log: warnings, or empty. */
  public String log() {
    return log;
  }

  /** Whether it came from the on-disk cache rather than from NVRTC. */
  public boolean fromDiskCache() {
    return cached;
  }

  @Override
  public String toString() {
    return "KernelImage[" + name + ", " + architecture + ", " + (cubin ? "CUBIN" : "PTX") + ", "
        + bytes.length + " B" + (cached ? ", from the disk cache" : "") + "]";
  }
}
