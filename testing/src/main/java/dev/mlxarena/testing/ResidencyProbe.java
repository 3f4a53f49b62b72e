package dev.mlxarena.testing;

import dev.mlxarena.spi.DeviceBuffer;

/** Read-only counters of a residency set under test. */
public interface ResidencyProbe {
  long adds();

  long removes();

  long commits();

  boolean contains(DeviceBuffer buffer);

  int size();

  /** Whether every staged change has been committed. */
  boolean isClean();
}
