package dev.mlxarena.metal;

import dev.mlxarena.PoolContractTest;
import dev.mlxarena.testing.DeviceHarness;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/**
 * The pool contract on real Metal, in shared and in private storage (where every fill and copy is
 * a blit, cut to Metal's 4-byte alignment). Runs on macOS (the macOS workflow); elsewhere each
 * class is skipped with its reason. The failure contract runs on the simulation shim only.
 */
class RealMetalPoolTest {
  @Nested
  @EnabledOnOs(value = OS.MAC, disabledReason = "real Metal needs macOS on Apple Silicon")
  class SharedStorage extends PoolContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return new RealMetalHarness(StorageMode.SHARED);
    }
  }

  @Nested
  @EnabledOnOs(value = OS.MAC, disabledReason = "real Metal needs macOS on Apple Silicon")
  class PrivateStorage extends PoolContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return new RealMetalHarness(StorageMode.PRIVATE);
    }
  }
}
