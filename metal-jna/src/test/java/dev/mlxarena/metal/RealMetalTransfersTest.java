package dev.mlxarena.metal;

import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/** The transfer contract on real Metal: unaligned ranges of private buffers through real blits. */
@EnabledOnOs(value = OS.MAC, disabledReason = "real Metal needs macOS on Apple Silicon")
class RealMetalTransfersTest extends MetalTransfersContract {
  @Override
  MetalDevice open(StorageMode storage) {
    return MetalDevice.openWith(Shims.metal(), storage, MetalDevice.residencyEnabled());
  }
}
