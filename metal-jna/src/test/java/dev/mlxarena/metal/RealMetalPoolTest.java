package dev.mlxarena.metal;

import dev.mlxarena.PoolContractTest;
import dev.mlxarena.testing.DeviceHarness;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/**
 * The pool contract on real Metal. Runs on macOS (the macOS workflow); elsewhere it is skipped
 * with its reason. The failure contract runs on the simulation shim only.
 */
@EnabledOnOs(value = OS.MAC, disabledReason = "real Metal needs macOS on Apple Silicon")
class RealMetalPoolTest extends PoolContractTest {
  @Override
  protected DeviceHarness newHarness() {
    return new RealMetalHarness();
  }
}
