package dev.mlxarena.metal;

/** The transfer contract on the strict simulation shim, which refuses unaligned private blits. */
class SimTransfersTest extends MetalTransfersContract {
  @Override
  MetalDevice open(StorageMode storage) {
    return MetalDevice.openWith(Shims.sim(), storage, true);
  }
}
