package dev.mlxarena.testing;

import dev.mlxarena.spi.Device;
import org.jspecify.annotations.Nullable;

/**
 * What the contract tests need from a backend beyond the {@link Device} itself: how many raw
 * allocations are live (for leak checks) and, where the backend can, residency counters and
 * allocation-failure injection. One implementation per backend under test.
 */
public interface DeviceHarness {

  /** The device under test. */
  Device device();

  /** Raw allocations made and not yet freed. */
  int liveAllocations();

  /** Whether fresh allocations hold garbage before the pool zero-fills them. */
  boolean freshMemoryIsGarbage();

  /** Counters of the device's residency set, or {@code null} if it has none. */
  @Nullable ResidencyProbe residency();

  /** Fails the {@code n}-th allocation from now (1 = the next one). */
  void failNthAllocation(long n);

  /** Fails every allocation above {@code bytes}; {@code Long.MAX_VALUE} switches it off. */
  void failAbove(long bytes);
}
